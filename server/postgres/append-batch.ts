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
import { formatPosition, parsePosition } from "../core/position";
import { HuddleError } from "../errors";
import type { AppendResult, MessageDraft } from "../features/chat/message.store";
import type { Outcome } from "./batch-writer";
import type { Database } from "./database";
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from "./rows";
import { OUTBOX_INSERT, outboxRows } from "./outbox.pg";
import { webhookEvent } from "../features/webhooks/webhook-event";

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

  const stored = await db.transaction(async (query) => {
    const roomIds = [...new Set(drafts.map((d) => d.roomId))].sort();
    await query(
      "INSERT INTO rooms (room_id, epoch) SELECT id, nextval('room_epochs') FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING",
      [roomIds],
    );
    const rooms = new Map(
      (
        await query<{ room_id: string; epoch: string; pos: string; seq: string }>(
          "SELECT room_id, epoch, pos, seq FROM rooms WHERE room_id = ANY($1) ORDER BY room_id FOR UPDATE",
          [roomIds],
        )
      ).map((r) => [r.room_id, { epoch: Number(r.epoch), pos: Number(r.pos), seq: Number(r.seq) }]),
    );

    // Sends of a clientMsgId stored before: their first message, in its current state.
    const keyed = drafts.filter((d, i) => d.clientMsgId !== undefined && !following.has(i));
    const existing = new Map<string, Message>();
    if (keyed.length > 0) {
      const rows = await query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS}, r.epoch FROM messages m JOIN rooms r USING (room_id)
         JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(room_id, user_id, client_msg_id)
           ON m.room_id = k.room_id AND m.user_id = k.user_id AND m.client_msg_id = k.client_msg_id`,
        [keyed.map((d) => d.roomId), keyed.map((d) => d.user.id), keyed.map((d) => d.clientMsgId)],
      );
      for (const row of rows) existing.set(`${row.room_id}\n${row.user_id}\n${row.client_msg_id}`, toMessage(row));
    }

    // Replies must answer a message of their room.
    const replies = drafts.filter((d) => d.replyTo !== undefined);
    const answered = new Set<string>();
    if (replies.length > 0) {
      const targets = replies.map((d) => ({ roomId: d.roomId, position: parsePosition(d.replyTo!) }));
      const known = targets.filter((t) => t.position && rooms.get(t.roomId)?.epoch === t.position.epoch);
      const rows = await query<{ room_id: string; pos: string }>(
        `SELECT m.room_id, m.pos FROM messages m
         JOIN unnest($1::text[], $2::bigint[]) AS t(room_id, pos) ON m.room_id = t.room_id AND m.pos = t.pos`,
        [known.map((t) => t.roomId), known.map((t) => t.position!.n)],
      );
      for (const row of rows) answered.add(`${row.room_id}\n${rooms.get(row.room_id)!.epoch}-${row.pos}`);
    }

    const fresh: { index: number; message: Message }[] = [];
    drafts.forEach((draft, i) => {
      if (following.has(i)) return;
      const first = existing.get(idempotencyKey(draft) ?? "");
      if (first) return void (outcomes[i] = { ok: true, value: { message: first, duplicate: true } });
      if (draft.replyTo !== undefined && !answered.has(`${draft.roomId}\n${draft.replyTo}`)) {
        const error = new HuddleError(ErrorCode.NotFound, `replyTo: no message ${draft.replyTo} in this room`);
        return void (outcomes[i] = { ok: false, error });
      }
      const room = rooms.get(draft.roomId)!;
      const id = formatPosition({ epoch: room.epoch, n: ++room.pos });
      const message: Message = {
        id,
        roomId: draft.roomId,
        user: { id: draft.user.id, name: draft.user.name },
        text: draft.text,
        ts: draft.ts,
        seq: ++room.seq,
        rev: id,
      };
      if (draft.clientMsgId !== undefined) message.clientMsgId = draft.clientMsgId;
      if (draft.replyTo !== undefined) message.replyTo = draft.replyTo;
      fresh.push({ index: i, message });
    });
    if (fresh.length === 0) return fresh;

    const column = <T>(pick: (m: Message) => T) => fresh.map(({ message }) => pick(message));
    await query(
      `INSERT INTO messages (room_id, pos, seq, rev, user_id, user_name, text, ts, client_msg_id, reply_to)
       SELECT room_id, pos, seq, pos, user_id, user_name, text, ts, client_msg_id, reply_to
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                   $8::text[], $9::text[])
         AS v(room_id, pos, seq, user_id, user_name, text, ts, client_msg_id, reply_to)`,
      [
        column((m) => m.roomId),
        column((m) => parsePosition(m.id)!.n),
        column((m) => m.seq),
        column((m) => m.user.id),
        column((m) => m.user.name),
        column((m) => m.text),
        column((m) => m.ts),
        column((m) => m.clientMsgId ?? null),
        column((m) => m.replyTo ?? null),
      ],
    );
    const counters = [...rooms.entries()];
    await query(
      `UPDATE rooms SET pos = v.pos, seq = v.seq
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(room_id, pos, seq) WHERE rooms.room_id = v.room_id`,
      [counters.map(([id]) => id), counters.map(([, r]) => r.pos), counters.map(([, r]) => r.seq)],
    );
    // An author's own message moves their read marker (and public position) to it: the last of theirs wins.
    const authored = new Map(fresh.map(({ message }) => [`${message.roomId}\n${message.user.id}`, message]));
    const marks = [...authored.values()];
    await query(
      `UPDATE reads SET read_seq = v.seq, read_pos = v.pos, public_seq = v.seq, public_pos = v.pos
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS v(room_id, user_id, seq, pos)
       WHERE reads.room_id = v.room_id AND reads.user_id = v.user_id`,
      [
        marks.map((m) => m.roomId),
        marks.map((m) => m.user.id),
        marks.map((m) => m.seq),
        marks.map((m) => parsePosition(m.id)!.n),
      ],
    );
    // Webhook events (§11) are written with the messages: committed together, or not at all.
    if (webhooks) {
      const events = fresh.map(({ message }) => webhookEvent("message.created", message, message.ts));
      await query(OUTBOX_INSERT, outboxRows(events));
    }
    return fresh;
  });

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
