/** Bans in PostgreSQL (§10, §11): the `bans` table, one row per (room, user). */
import type { Ban } from "../../shared";
import type { BanStore } from "../features/moderation/ban.store";
import type { Database } from "./database";

export function createPostgresBanStore(db: Database): BanStore {
  return {
    async ban(ban, now) {
      await db.query(
        `INSERT INTO bans (room_id, user_id, until, reason, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
           created_at = excluded.created_at`,
        [ban.roomId, ban.userId, ban.until, ban.reason ?? null, now],
      );
    },
    async lift(roomId, userId) {
      return (
        (await db.query("DELETE FROM bans WHERE room_id = $1 AND user_id = $2 RETURNING 1", [roomId, userId])).length >
        0
      );
    },
    async list(roomId, now) {
      const rows = await db.query<{ user_id: string; until: string | null; reason: string | null }>(
        "SELECT user_id, until, reason FROM bans WHERE room_id = $1 AND (until IS NULL OR until > $2) ORDER BY created_at",
        [roomId, now],
      );
      return rows.map((row) => ({
        roomId,
        userId: row.user_id,
        until: row.until === null ? null : Number(row.until),
        ...(row.reason !== null && { reason: row.reason }),
      }));
    },
  };
}
