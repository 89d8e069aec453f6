/**
 * Read state in PostgreSQL (§9, §10): one row per user per room holds the
 * marker, the public position and when the room became the user's; the row
 * is the user's membership of the room list. Marking read is one statement
 * (an upsert that only moves forward); the unread count is the room's `seq`
 * minus the marker's; `rooms:list` is one query, bounded by its limit.
 */
import { ErrorCode, type ReadMarker, type RoomSummary } from "../../shared";
import { parsePosition } from "../core/position";
import { HuddleError } from "../errors";
import { toWire } from "../features/chat/message-rules";
import type { ReadStore } from "../features/reads/read.store";
import type { Database } from "./database";
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from "./rows";

export interface PostgresReadOptions {
  db: Database;
  /** The room's member count (presence lives in memory or Redis), for the broadcast limit. */
  members(roomId: string): Promise<number>;
}

const position = (epoch: string | null, pos: string | null) =>
  epoch === null || pos === null ? null : `${epoch}-${pos}`;

/**
 * SQL for when a room becomes one of user `userParam`'s rooms, at `nowParam` (ms): after the user's latest room
 * even when that one came in the same millisecond (or a node's clock is behind), so that `rooms:list` lists rooms
 * without messages the latest joined first (§9) rather than by room id. One index lookup (reads_user).
 */
const JOINED_AT = (userParam: string, nowParam: string) =>
  `greatest(${nowParam}::bigint, coalesce((SELECT max(joined_at) + 1 FROM reads WHERE user_id = ${userParam}), 0))`;

export function createPostgresReadStore(options: PostgresReadOptions): ReadStore {
  const { db } = options;
  return {
    async enter(roomId, user, now) {
      const [row] = await db.query<{
        epoch: string | null;
        last_seq: string | null;
        inserted_seq: string | null;
        inserted_pos: string | null;
        read_seq: string | null;
        read_pos: string | null;
      }>(
        `WITH r AS (SELECT epoch, seq FROM rooms WHERE room_id = $1),
              newest AS (SELECT pos FROM messages WHERE room_id = $1 ORDER BY pos DESC LIMIT 1),
              ins AS (
                INSERT INTO reads (room_id, user_id, user_name, read_seq, read_pos, joined_at)
                VALUES ($1, $2, $3, coalesce((SELECT seq FROM r), 0), (SELECT pos FROM newest), ${JOINED_AT("$2", "$4")})
                ON CONFLICT (room_id, user_id) DO NOTHING
                RETURNING read_seq, read_pos)
         SELECT (SELECT epoch FROM r) AS epoch, (SELECT seq FROM r) AS last_seq,
                (SELECT read_seq FROM ins) AS inserted_seq, (SELECT read_pos FROM ins) AS inserted_pos,
                x.read_seq, x.read_pos
         FROM (SELECT 1) one LEFT JOIN reads x ON x.room_id = $1 AND x.user_id = $2`,
        [roomId, user.id, user.name, now],
      );
      const lastSeq = Number(row?.last_seq ?? 0);
      const first = row?.inserted_seq !== null && row?.inserted_seq !== undefined;
      const readSeq = Number((first ? row!.inserted_seq : row?.read_seq) ?? 0);
      const readPos = first ? row!.inserted_pos : (row?.read_pos ?? null);
      return { readUpTo: position(row?.epoch ?? null, readPos), unread: first ? 0 : lastSeq - readSeq, first };
    },

    async markRead(roomId, user, upTo, isPrivate, now) {
      const target = parsePosition(upTo);
      const notFound = () => new HuddleError(ErrorCode.NotFound, `upTo: no message ${upTo} in this room`);
      if (!target) throw notFound();
      const rows = await db.query<{
        epoch: string;
        last_seq: string;
        target_seq: string;
        old_read: string | null;
        old_public: string | null;
        read_seq: string;
        read_pos: string;
        public_seq: string;
        public_pos: string | null;
      }>(
        `WITH t AS (
           SELECT m.seq, m.pos, r.epoch, r.seq AS last_seq FROM messages m JOIN rooms r USING (room_id)
           WHERE m.room_id = $1 AND m.pos = $2 AND r.epoch = $3),
         -- The row as this statement's snapshot has it (a lock here would skip the row the upsert below changes).
         -- Two reads racing may both report a move: the extra read:updated carries the same marker.
         old AS (SELECT read_seq, public_seq FROM reads WHERE room_id = $1 AND user_id = $4),
         up AS (
           INSERT INTO reads AS x (room_id, user_id, user_name, read_seq, read_pos, public_seq, public_pos, joined_at)
           SELECT $1, $4, $5, t.seq, t.pos, CASE WHEN $6 THEN 0 ELSE t.seq END, CASE WHEN $6 THEN NULL ELSE t.pos END,
             ${JOINED_AT("$4", "$7")}
           FROM t
           ON CONFLICT (room_id, user_id) DO UPDATE SET
             read_seq = greatest(x.read_seq, excluded.read_seq),
             read_pos = CASE WHEN excluded.read_seq > x.read_seq THEN excluded.read_pos ELSE x.read_pos END,
             public_seq = CASE WHEN NOT $6 AND excluded.read_seq > x.public_seq THEN excluded.read_seq ELSE x.public_seq END,
             public_pos = CASE WHEN NOT $6 AND excluded.read_seq > x.public_seq THEN excluded.read_pos ELSE x.public_pos END
           RETURNING read_seq, read_pos, public_seq, public_pos)
         SELECT t.epoch, t.last_seq, t.seq AS target_seq, old.read_seq AS old_read, old.public_seq AS old_public, up.*
         FROM t CROSS JOIN up LEFT JOIN old ON true`,
        [roomId, target.n, target.epoch, user.id, user.name, isPrivate, now],
      );
      const row = rows[0];
      if (!row) throw notFound();
      const readSeq = Number(row.read_seq);
      const publicSeq = Number(row.public_seq);
      return {
        readUpTo: `${row.epoch}-${row.read_pos}`,
        readSeq,
        unread: Number(row.last_seq) - readSeq,
        moved: row.old_read === null || readSeq > Number(row.old_read),
        publicMoved: !isPrivate && (row.old_public === null ? publicSeq > 0 : publicSeq > Number(row.old_public)),
        publicUpTo: position(row.epoch, row.public_pos),
        publicSeq,
        members: await options.members(roomId),
      };
    },

    async reads(roomId, limit) {
      const rows = await db.query<{
        user_id: string;
        user_name: string;
        public_seq: string;
        public_pos: string;
        epoch: string;
      }>(
        `SELECT x.user_id, x.user_name, x.public_seq, x.public_pos, r.epoch FROM reads x JOIN rooms r USING (room_id)
         WHERE x.room_id = $1 AND x.public_pos IS NOT NULL ORDER BY x.public_seq DESC, x.user_id LIMIT $2`,
        [roomId, limit],
      );
      return rows.map((row): ReadMarker => ({
        user: { id: row.user_id, name: row.user_name },
        readUpTo: `${row.epoch}-${row.public_pos}`,
        readSeq: Number(row.public_seq),
      }));
    },

    async rooms(userId, limit) {
      const rows = await db.query<
        MessageRow & {
          room: string;
          read_seq: string;
          read_pos: string | null;
          last_seq: string | null;
          room_epoch: string | null;
        }
      >(
        `SELECT x.room_id AS room, x.read_seq, x.read_pos, r.seq AS last_seq, r.epoch AS room_epoch,
                ${MESSAGE_COLUMNS}, r.epoch
         FROM reads x LEFT JOIN rooms r ON r.room_id = x.room_id
         LEFT JOIN LATERAL (SELECT * FROM messages WHERE room_id = x.room_id ORDER BY pos DESC LIMIT 1) m ON true
         WHERE x.user_id = $1
         ORDER BY m.ts DESC NULLS LAST, x.joined_at DESC, x.room_id
         LIMIT $2`,
        [userId, limit],
      );
      return rows.map((row): RoomSummary => ({
        roomId: row.room,
        readUpTo: position(row.room_epoch, row.read_pos),
        unread: Number(row.last_seq ?? 0) - Number(row.read_seq),
        lastMessage: row.pos === null ? null : toWire(toMessage(row)),
      }));
    },

    async forget(roomId, userId) {
      const rows = await db.query("DELETE FROM reads WHERE room_id = $1 AND user_id = $2 RETURNING 1", [
        roomId,
        userId,
      ]);
      return rows.length > 0;
    },
  };
}
