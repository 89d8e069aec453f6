/**
 * Bans (§11): who is kept out of which room, until when (null: until lifted).
 * They live in the store of record (PostgreSQL, else Redis, else memory);
 * one entry per (room, user), a new ban replacing the old one.
 */
import type { Ban } from "../../../shared";

export interface BanStore {
  /** Records (or replaces) the ban. */
  ban(ban: Ban, now: number): Promise<void>;
  /** Lifts the ban; true when there was one. */
  lift(roomId: string, userId: string): Promise<boolean>;
  /** The room's bans in force at `now`. */
  list(roomId: string, now: number): Promise<Ban[]>;
}

export function createMemoryBanStore(): BanStore {
  const rooms = new Map<string, Map<string, Ban>>();
  return {
    async ban(ban) {
      let room = rooms.get(ban.roomId);
      if (!room) rooms.set(ban.roomId, (room = new Map()));
      room.set(ban.userId, { ...ban });
    },
    async lift(roomId, userId) {
      return rooms.get(roomId)?.delete(userId) ?? false;
    },
    async list(roomId, now) {
      const room = rooms.get(roomId);
      if (!room) return [];
      const live: Ban[] = [];
      for (const [userId, ban] of room) {
        // Expired bans are forgotten as they are met.
        if (ban.until !== null && ban.until <= now) room.delete(userId);
        else live.push({ ...ban });
      }
      return live;
    },
  };
}
