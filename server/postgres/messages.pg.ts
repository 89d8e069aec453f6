/**
 * Messages in PostgreSQL, the store of record (§10): every message in its
 * current state, kept until retention removes it (`HISTORY_MAX` does not cap
 * it). A room's row holds its epoch and counters; every write of a room locks
 * that row first, so positions and seq are assigned in commit order, without
 * gaps, on every node. Sends go through a group-commit writer
 * (./batch-writer.ts, ./append-batch.ts); a change is a short transaction
 * that re-applies its rule under the lock. Events are published after the
 * commit, in position order; the bus puts a room's events back in order on
 * receivers (../redis/bus.redis.ts).
 */
import { ErrorCode, type Message } from "../../shared";
import type { RoomEventBus } from "../core/bus";
import { formatPosition, parsePosition } from "../core/position";
import { HuddleError } from "../errors";
import { toWire } from "../features/chat/message-rules";
import type { AppendResult, MessageDraft, MessageStore, Missed, Page } from "../features/chat/message.store";
import { runAppendBatch } from "./append-batch";
import { createBatchWriter } from "./batch-writer";
import type { Database } from "./database";
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from "./rows";
import { OUTBOX_INSERT, outboxRows } from "./outbox.pg";
import { webhookEvent } from "../features/webhooks/webhook-event";

export interface PostgresMessageOptions {
  db: Database;
  bus: RoomEventBus;
  /** The most sends committed in one transaction. @default 500 */
  maxBatch?: number;
  /** Record webhook events with each change, in its transaction (§11). */
  webhooks?: boolean;
  /** For the time of a change's webhook event. @default Date.now */
  now?: () => number;
}

const MAX_BIGINT = "9223372036854775807";
const wire = (row: MessageRow) => toWire(toMessage(row));
const notFound = (id: string) => new HuddleError(ErrorCode.NotFound, `no message ${id} in this room`);

export interface PostgresMessageStore extends MessageStore {
  /** Resolves once every send submitted so far is committed (or failed). */
  drain(): Promise<void>;
}

export function createPostgresMessageStore(options: PostgresMessageOptions): PostgresMessageStore {
  const { db, bus } = options;
  const writer = createBatchWriter<MessageDraft, AppendResult>({
    run: (drafts) => runAppendBatch(db, bus, drafts, options.webhooks),
    maxBatch: options.maxBatch,
  });

  const roomOf = async (roomId: string) =>
    (
      await db.query<{ epoch: string; pos: string; seq: string; floor: string }>(
        "SELECT epoch, pos, seq, floor FROM rooms WHERE room_id = $1",
        [roomId],
      )
    )[0];

  const get = async (roomId: string, id: string): Promise<Message | null> => {
    const position = parsePosition(id);
    if (!position) return null;
    const rows = await db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS}, r.epoch FROM messages m JOIN rooms r USING (room_id)
       WHERE m.room_id = $1 AND m.pos = $2 AND r.epoch = $3`,
      [roomId, position.n, position.epoch],
    );
    return rows[0] ? toMessage(rows[0]) : null;
  };

  /** A page bounded by a position of the room (an older epoch is before everything, a newer one after). */
  const page = async (roomId: string, direction: "before" | "after" | "latest", position: string, limit: number) => {
    const parsed = parsePosition(position) ?? { epoch: 0, n: 0 };
    const bound = `CASE WHEN $4::bigint < r.epoch THEN ${direction === "before" ? "0" : "-1"}
                        WHEN $4::bigint > r.epoch THEN ${MAX_BIGINT} ELSE $3::bigint END`;
    const where = direction === "after" ? `m.pos > ${bound}` : `m.pos < ${bound}`;
    const rows = await db.query<MessageRow>(
      direction === "latest"
        ? `SELECT ${MESSAGE_COLUMNS}, r.epoch FROM messages m JOIN rooms r USING (room_id)
           WHERE m.room_id = $1 ORDER BY m.pos DESC LIMIT $2`
        : `SELECT ${MESSAGE_COLUMNS}, r.epoch FROM messages m JOIN rooms r USING (room_id)
           WHERE m.room_id = $1 AND ${where} ORDER BY m.pos ${direction === "after" ? "ASC" : "DESC"} LIMIT $2`,
      direction === "latest" ? [roomId, limit + 1] : [roomId, limit + 1, parsed.n, parsed.epoch],
    );
    const messages = rows.slice(0, limit).map(wire);
    return {
      messages: direction === "after" ? messages : messages.reverse(),
      more: rows.length > limit,
    } satisfies Page;
  };

  /** Messages created after `n`, and older ones changed after it (up to `last`, exclusive when cut), as §8 reads them. */
  const missed = async (roomId: string, position: string, max: number, cut: boolean) => {
    const parsed = parsePosition(position);
    if (!parsed) return null;
    const room = await roomOf(roomId);
    if (!room || String(parsed.epoch) !== room.epoch || parsed.n <= Number(room.floor) || parsed.n > Number(room.pos)) {
      return null;
    }
    const created = await db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS}, $3::bigint AS epoch FROM messages m
       WHERE m.room_id = $1 AND m.pos > $2 ORDER BY m.pos LIMIT $4`,
      [roomId, parsed.n, room.epoch, max + 1],
    );
    let cursor = Number(room.pos);
    const wasCut = created.length > max;
    if (wasCut) {
      if (!cut) return null;
      created.length = max;
      cursor = Number(created[created.length - 1]!.pos);
    }
    const changed = await db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS}, $3::bigint AS epoch FROM messages m
       WHERE m.room_id = $1 AND m.pos <= $2 AND m.rev > $2 AND m.rev ${wasCut ? "<" : "<="} $4
       ORDER BY m.rev LIMIT $5`,
      [roomId, parsed.n, room.epoch, cursor, max + 1],
    );
    if (!cut && created.length + changed.length > max) return null;
    return {
      messages: created.map(wire),
      updates: changed.slice(0, max).map(wire),
      cursor: formatPosition({ epoch: parsed.epoch, n: cursor }),
    };
  };

  return {
    append: (draft) => writer.submit(draft),

    async change(roomId, id, rule, beforeCommit) {
      // Checked first without a lock: refusals and changes that change nothing cost no transaction.
      const before = await get(roomId, id);
      if (!before) throw notFound(id);
      if (rule(before) === null) return { message: toWire(before), changed: false };
      await beforeCommit?.();
      const position = parsePosition(id)!;
      const result = await db.transaction(async (query) => {
        // The room's row first, as every write of the room: changes are applied in one order.
        const [room] = await query<{ epoch: string; pos: string }>(
          "SELECT epoch, pos FROM rooms WHERE room_id = $1 FOR UPDATE",
          [roomId],
        );
        const [row] = await query<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS}, $3::bigint AS epoch FROM messages m WHERE m.room_id = $1 AND m.pos = $2`,
          [roomId, position.n, room?.epoch ?? "0"],
        );
        if (!room || !row || room.epoch !== String(position.epoch)) throw notFound(id);
        const current = toMessage(row);
        const next = rule(current);
        if (next === null) return { message: current, changed: false };
        const rev = Number(room.pos) + 1;
        await query("UPDATE rooms SET pos = $2 WHERE room_id = $1", [roomId, rev]);
        await query(
          `UPDATE messages SET rev = $3, text = $4, edited_at = $5, deleted = $6, reply_to = $7, reactions = $8
           WHERE room_id = $1 AND pos = $2`,
          [
            roomId,
            position.n,
            rev,
            next.text,
            next.editedAt ?? null,
            next.deleted === true,
            next.replyTo ?? null,
            next.reactions ? JSON.stringify(next.reactions) : null,
          ],
        );
        const changed = { ...next, rev: formatPosition({ epoch: position.epoch, n: rev }) };
        if (options.webhooks) {
          const event = webhookEvent("message.updated", toWire(changed), (options.now ?? Date.now)());
          await query(OUTBOX_INSERT, outboxRows([event]));
        }
        return { message: changed, changed: true };
      });
      if (!result.changed) return { message: toWire(result.message), changed: false };
      const message = toWire(result.message);
      // Committed: a failed publish leaves the change stored, and receivers fill the gap from the store.
      await bus.publish({ type: "update", roomId, message }).catch(() => {});
      return { message, changed: true };
    },

    async get(roomId, id) {
      const message = await get(roomId, id);
      return message && toWire(message);
    },

    latest: (roomId, limit) => page(roomId, "latest", "0-0", limit),
    before: (roomId, position, limit) =>
      parsePosition(position)
        ? page(roomId, "before", position, limit)
        : Promise.resolve({ messages: [], more: false }),
    after: (roomId, position, limit) =>
      parsePosition(position) ? page(roomId, "after", position, limit) : Promise.resolve({ messages: [], more: false }),

    async since(roomId, position, max): Promise<Missed | null> {
      const result = await missed(roomId, position, max, false);
      return result && { messages: result.messages, updates: result.updates };
    },
    pollFrom: (roomId, position, limit) => missed(roomId, position, limit, true),

    async findSent(roomId, userId, clientMsgId) {
      const rows = await db.query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS}, r.epoch FROM messages m JOIN rooms r USING (room_id)
         WHERE m.room_id = $1 AND m.user_id = $2 AND m.client_msg_id = $3`,
        [roomId, userId, clientMsgId],
      );
      return rows[0] ? wire(rows[0]) : null;
    },

    async head(roomId) {
      const room = await roomOf(roomId);
      return room && room.pos !== "0" ? `${room.epoch}-${room.pos}` : null;
    },

    drain: () => writer.drain(),
  };
}
