/**
 * Who is in a room. Presence is per user: a user is a member while at least
 * one of their connections has joined, so two tabs make one member.
 */
import type { User } from "../../../shared";

export interface PresenceStore {
  /** Records that connection `connId` of `user` joined; true when it is the user's first in the room. */
  join(roomId: string, user: User, connId: string): Promise<boolean>;
  /** Records that connection `connId` left; true when it was the user's last in the room. */
  leave(roomId: string, userId: string, connId: string): Promise<boolean>;
  /** The room's members, each user once, in the order they joined. */
  members(roomId: string): Promise<User[]>;
  /** How many members the room has (without reading them: a read marker asks on every read, §9). */
  count(roomId: string): Promise<number>;
}

export function createMemoryPresenceStore(): PresenceStore {
  const rooms = new Map<string, Map<string, { user: User; connections: Set<string> }>>();
  return {
    async join(roomId, user, connId) {
      let members = rooms.get(roomId);
      if (!members) rooms.set(roomId, (members = new Map()));
      const member = members.get(user.id);
      if (member) {
        member.connections.add(connId);
        return false;
      }
      members.set(user.id, { user: { id: user.id, name: user.name }, connections: new Set([connId]) });
      return true;
    },
    async leave(roomId, userId, connId) {
      const members = rooms.get(roomId);
      const member = members?.get(userId);
      if (!members || !member || !member.connections.delete(connId)) return false;
      if (member.connections.size > 0) return false;
      members.delete(userId);
      if (members.size === 0) rooms.delete(roomId);
      return true;
    },
    async members(roomId) {
      return [...(rooms.get(roomId)?.values() ?? [])].map((member) => member.user);
    },
    async count(roomId) {
      return rooms.get(roomId)?.size ?? 0;
    },
  };
}
