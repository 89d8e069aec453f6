/** Who is typing in a room, each entry with its own expiry. */
import type { User } from "../../../shared";

export interface TypingStore {
  /** Marks `user` typing until `expiresAt`; true when they were not typing before. */
  start(roomId: string, user: User, expiresAt: number): Promise<boolean>;
  /** Ends `userId`'s typing; true when they were typing. */
  stop(roomId: string, userId: string): Promise<boolean>;
  /** Ends `userId`'s typing if it expired by `now` (and was not renewed); true when it did. */
  expire(roomId: string, userId: string, now: number): Promise<boolean>;
  /** The users typing at `now`, in the order they started. */
  list(roomId: string, now: number): Promise<User[]>;
}

export function createMemoryTypingStore(): TypingStore {
  const rooms = new Map<string, Map<string, { user: User; expiresAt: number }>>();
  const remove = (roomId: string, userId: string) => {
    const typing = rooms.get(roomId);
    if (!typing?.delete(userId)) return false;
    if (typing.size === 0) rooms.delete(roomId);
    return true;
  };
  return {
    async start(roomId, user, expiresAt) {
      let typing = rooms.get(roomId);
      if (!typing) rooms.set(roomId, (typing = new Map()));
      const entry = typing.get(user.id);
      if (entry) {
        entry.expiresAt = expiresAt;
        return false;
      }
      typing.set(user.id, { user: { id: user.id, name: user.name }, expiresAt });
      return true;
    },
    async stop(roomId, userId) {
      return remove(roomId, userId);
    },
    async expire(roomId, userId, now) {
      const entry = rooms.get(roomId)?.get(userId);
      if (!entry || entry.expiresAt > now) return false;
      return remove(roomId, userId);
    },
    async list(roomId, now) {
      const typing = rooms.get(roomId);
      if (!typing) return [];
      return [...typing.values()].filter((entry) => entry.expiresAt > now).map((entry) => entry.user);
    },
  };
}
