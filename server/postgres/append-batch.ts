/**
 * One group commit of sends (§10): every draft of the batch in one
 * transaction. The rooms' rows are locked first, in room order (two nodes'
 * batches cannot deadlock), so positions and seq follow the counters without
 * gaps; a clientMsgId already stored (by this batch, an earlier one or
 * another node) answers its first message and takes no position; a `replyTo`
 * that is not a message of the room fails its draft alone. Messages are
 * published once the transaction has committed, in position order.
 */
import { ErrorCode, type Message } from "../../shared";
import type { RoomEventBus } from "../core/bus";
import { parsePosition } from "../core/position";
import { HuddleError } from "../errors";
import type { AppendResult, MessageDraft } from "../features/chat/message.store";
import type { Outcome } from "./batch-writer";
import type { Database } from "./database";
import { toMessage, type MessageRow } from "./rows";
import { OUTBOX_INSERT, outboxRows } from "./outbox.pg";
import { webhookEvent } from "../features/webhooks/webhook-event";

/** A row of huddle_append: a stored message, or the first message of a repeated clientMsgId. */
type AppendRow = MessageRow & { idx: number; duplicate: boolean };

const idempotencyKey = (d: MessageDraft) =>
  d.clientMsgId === undefined ? undefined : `${d.roomId}\n${d.user.id}\n${d.clientMsgId}`;

export async function runAppendBatch(
  db: Database,
  bus: RoomEventBus,
  drafts: MessageDraft[],
  webhooks = false,
): Promise<Outcome<AppendResult>[]> {
  const outcomes: (Outcome<AppendResult> | undefined)[] = new Array(drafts.length);
  /** Index of the first draft of each idempotency key in this batch: later ones follow its outcome. */
  const firstOf = new Map<string, number>();
  const followers: [index: number, first: number][] = [];
  drafts.forEach((draft, i) => {
    const key = idempotencyKey(draft);
    if (key === undefined) return;
    const first = firstOf.get(key);
    if (first === undefined) firstOf.set(key, i);
    else followers.push([i, first]);
  });
  const following = new Set(followers.map(([i]) => i));

  // The firsts of each key, and drafts without one, in batch order: the function numbers them in this order.
  const sent = drafts.map((draft, i) => ({ draft, i })).filter(({ i }) => !following.has(i));
  const column = <T>(pick: (d: MessageDraft) => T) => sent.map(({ draft }) => pick(draft));
  const replyTo = sent.map(({ draft }) => (draft.replyTo === undefined ? undefined : parsePosition(draft.replyTo)));
  const params = [
    column((d) => d.roomId),
    column((d) => d.user.id),
    column((d) => d.user.name),
    column((d) => d.text),
    column((d) => d.ts),
    column((d) => d.clientMsgId ?? null),
    column((d) => d.replyTo ?? null),
    replyTo.map((p) => p?.epoch ?? null),
    replyTo.map((p) => p?.n ?? null),
  ];
  // One statement: rooms locked in room order, duplicates found, positions taken, messages, counters and the
  // authors' markers written (migration 3). Alone it is its own transaction, committed before it answers; with
  // webhooks the events join it in one transaction (§11).
  const APPEND = "SELECT * FROM huddle_append($1, $2, $3, $4, $5, $6, $7, $8, $9)";
  const rows = webhooks
    ? await db.transaction(async (query) => {
        const appended = await query<AppendRow>(APPEND, params);
        const events = appended
          .filter((row) => !row.duplicate)
          .map((row) => toMessage(row))
          .map((message) => webhookEvent("message.created", message, message.ts));
        if (events.length > 0) await query(OUTBOX_INSERT, outboxRows(events));
        return appended;
      })
    : await db.query<AppendRow>(APPEND, params);

  const stored: { index: number; message: Message }[] = [];
  for (const row of rows) {
    const index = sent[row.idx - 1]!.i;
    const message = toMessage(row);
    if (row.duplicate) outcomes[index] = { ok: true, value: { message, duplicate: true } };
    else stored.push({ index, message });
  }
  // Neither stored nor a duplicate: its replyTo is not a message of the room.
  const storedAt = new Set(stored.map(({ index }) => index));
  for (const { draft, i } of sent) {
    if (outcomes[i] === undefined && !storedAt.has(i)) {
      const error = new HuddleError(ErrorCode.NotFound, `replyTo: no message ${draft.replyTo} in this room`);
      outcomes[i] = { ok: false, error };
    }
  }
  // Batch order: within a room, position order.
  stored.sort((a, b) => a.index - b.index);

  // Committed: the acks may go, and the rooms hear of each message, published in position order without waiting
  // one by one (a connection keeps the order of its commands). A publish that fails leaves the message stored:
  // receivers fill the gap from the store when the room's next event shows it (../redis/bus.redis.ts).
  const published = stored.map(({ index, message }) => {
    outcomes[index] = { ok: true, value: { message, duplicate: false } };
    return bus.publish({ type: "message", roomId: message.roomId, message }).catch(() => {});
  });
  await Promise.all(published);
  for (const [i, first] of followers) {
    const outcome = outcomes[first]!;
    outcomes[i] = outcome.ok ? { ok: true, value: { message: outcome.value.message, duplicate: true } } : outcome;
  }
  return outcomes as Outcome<AppendResult>[];
}
