/**
 * The webhook outbox in PostgreSQL (§11): events are rows written in the same
 * transaction as their change (append-batch.ts, messages.pg.ts). A claim takes
 * the oldest pending event of each room whose turn has come, with `FOR UPDATE
 * SKIP LOCKED` and a lease (`locked_until`): one node at a time, a dead node's
 * lease runs out, and a room's next event waits for its head.
 */
import type { Message } from "../../shared";
import type { FailedEvent, OutboxEntry, OutboxStore } from "../features/webhooks/outbox.store";
import type { WebhookEvent } from "../features/webhooks/webhook-event";
import type { Database } from "./database";

interface OutboxRow {
  [column: string]: unknown;
  id: string;
  webhook_id: string;
  room_id: string;
  type: WebhookEvent["type"];
  at: string;
  message: Message;
  attempts: number;
  first_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  failed_at: string | null;
}

const toEvent = (row: OutboxRow): WebhookEvent => ({
  id: row.webhook_id,
  roomId: row.room_id,
  type: row.type,
  at: Number(row.at),
  message: row.message,
});

/** The columns of an event row, for the queries that write them (append-batch.ts, messages.pg.ts). */
export const OUTBOX_INSERT = `INSERT INTO outbox (webhook_id, room_id, type, at, message)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[])`;

/** The parameters of OUTBOX_INSERT for `events`, in their order. */
export function outboxRows(events: WebhookEvent[]): unknown[] {
  return [
    events.map((e) => e.id),
    events.map((e) => e.roomId),
    events.map((e) => e.type),
    events.map((e) => e.at),
    events.map((e) => JSON.stringify(e.message)),
  ];
}

export function createPostgresOutbox(db: Database): OutboxStore {
  return {
    async claim(nodeId, now, limit, leaseMs) {
      const rows = await db.query<OutboxRow>(
        `WITH heads AS (
           SELECT DISTINCT ON (room_id) id FROM outbox WHERE state = 'pending' ORDER BY room_id, id),
         due AS (
           SELECT o.id FROM outbox o JOIN heads USING (id)
           WHERE o.next_at <= $1 AND (o.locked_until IS NULL OR o.locked_until < $1)
           ORDER BY o.next_at, o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED)
         UPDATE outbox SET locked_until = $1::bigint + $3::bigint, locked_by = $4 FROM due WHERE outbox.id = due.id
         RETURNING outbox.*`,
        [now, limit, leaseMs, nodeId],
      );
      return rows.map((row): OutboxEntry => ({
        event: toEvent(row),
        attempts: row.attempts,
        firstAttemptAt: row.first_attempt_at === null ? undefined : Number(row.first_attempt_at),
        handle: row.id,
      }));
    },
    async delivered(entry) {
      await db.query("DELETE FROM outbox WHERE id = $1", [entry.handle]);
    },
    async retry(entry, nextAt, status, error, now) {
      await db.query(
        `UPDATE outbox SET attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, $2),
           next_at = $3, locked_until = NULL, locked_by = NULL, last_status = $4, last_error = $5 WHERE id = $1`,
        [entry.handle, now, nextAt, status, error ?? null],
      );
    },
    async exhausted(entry, status, error, now) {
      await db.query(
        `UPDATE outbox SET state = 'failed', attempts = attempts + 1, failed_at = $2, locked_until = NULL,
           last_status = $3, last_error = $4 WHERE id = $1`,
        [entry.handle, now, status, error ?? null],
      );
    },
    async stats() {
      const [row] = await db.query<{ queued: string; oldest: string | null; failed: string }>(
        `SELECT count(*) FILTER (WHERE state = 'pending') AS queued, min(at) FILTER (WHERE state = 'pending') AS oldest,
                count(*) FILTER (WHERE state = 'failed') AS failed FROM outbox`,
      );
      return {
        queued: Number(row?.queued ?? 0),
        oldestAt: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
        failed: Number(row?.failed ?? 0),
      };
    },
    async failed(limit) {
      const rows = await db.query<OutboxRow>(
        "SELECT * FROM outbox WHERE state = 'failed' ORDER BY failed_at DESC LIMIT $1",
        [limit],
      );
      return rows.map((row): FailedEvent => ({
        event: toEvent(row),
        attempts: row.attempts,
        lastStatus: row.last_status ?? 0,
        lastError: row.last_error ?? undefined,
        failedAt: Number(row.failed_at),
      }));
    },
  };
}
