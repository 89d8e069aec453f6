/**
 * The single-node message store: per room an array of messages in creation
 * order, trimmed to `historyMax`, and the room's counters (`seq`, position,
 * and the floor below which positions are no longer covered). Changes replace
 * a message's object, so a message handed out (or published) never changes
 * under its holder.
 */
import { ErrorCode, type Message } from "../../../shared";
import type { RoomEventBus } from "../../core/bus";
import { changeIndex, formatPosition, parsePosition } from "../../core/position";
import { HuddleError } from "../../errors";
import { toWire } from "./message-rules";
import type { AppendResult, MessageDraft, MessageStore, Missed, Page } from "./message.store";
import { webhookEvent, type WebhookEvent } from "../webhooks/webhook-event";

export interface MemoryMessageOptions {
  bus: RoomEventBus;
  /** Told of each message as it is stored, in the same step (the read state moves the author's marker). */
  onAuthored?: (message: Message) => void;
  /** Where webhook events are recorded, in the same step as their change; absent without webhooks. */
  outbox?: { record(event: WebhookEvent): void };
  /** For the time of a change's webhook event. @default Date.now */
  now?: () => number;
  /** Messages kept a room. @default 1000 */
  historyMax?: number;
  /** How long a `clientMsgId` is remembered after its message. @default 10 min */
  idempotencyTtlMs?: number;
}

/**
 * A room's retained messages are `messages[first..]`, with their creation positions in `ns[first..]` (sorted,
 * for binary search). Trimming the oldest clears its slot and moves `first`; the cleared prefix is cut off once
 * it is as long as the history, so an append costs O(1).
 */
interface Room {
  epoch: number;
  /** The last position taken. */
  pos: number;
  /** The last seq taken. */
  seq: number;
  /** Positions up to this one are no longer covered: a message after them was trimmed. */
  floor: number;
  messages: Message[];
  ns: number[];
  first: number;
  /** `${userId}\n${clientMsgId}` → the first message (its creation position, and its first state) and when to forget it. */
  sent: Map<string, { n: number; message: Message; expiresAt: number }>;
}

/** Synchronous reads for the read state that shares this node's memory (./../reads/read.memory.ts). */
export interface LocalMessages {
  /** Message `id` of the room in its stored state, or undefined. */
  message(roomId: string, id: string): Message | undefined;
  /** The room's last seq (0 when it has no message). */
  lastSeq(roomId: string): number;
  /** The room's newest message, or undefined. */
  newest(roomId: string): Message | undefined;
}

export interface MemoryMessageStore extends MessageStore {
  readonly local: LocalMessages;
}

export function createMemoryMessageStore(options: MemoryMessageOptions): MemoryMessageStore {
  const historyMax = options.historyMax ?? 1000;
  const idempotencyTtlMs = options.idempotencyTtlMs ?? 10 * 60 * 1000;
  const rooms = new Map<string, Room>();
  /** Epochs are microseconds, and each room's is unique in this store. */
  let lastEpoch = 0;

  const roomFor = (roomId: string, now: number): Room => {
    let room = rooms.get(roomId);
    if (!room) {
      lastEpoch = Math.max(Math.floor(now) * 1000, lastEpoch + 1);
      room = { epoch: lastEpoch, pos: 0, seq: 0, floor: 0, messages: [], ns: [], first: 0, sent: new Map() };
      rooms.set(roomId, room);
    }
    return room;
  };

  /** Index of the first retained message created after change `n`. */
  const firstAfter = (room: Room, n: number): number => {
    let lo = room.first;
    let hi = room.ns.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (room.ns[mid]! <= n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  /** Index of the retained message created at change `n`, or -1. */
  const indexOf = (room: Room, n: number): number => {
    const i = firstAfter(room, n) - 1;
    return i >= room.first && room.ns[i] === n ? i : -1;
  };

  /** The index of message `id` of the room, or -1 when it is not one (any other form, another epoch, trimmed). */
  const find = (room: Room | undefined, id: string): number => {
    const position = parsePosition(id);
    if (!room || !position || position.epoch !== room.epoch) return -1;
    return indexOf(room, position.n);
  };

  const trimOldest = (room: Room) => {
    // Anyone resuming from before the trimmed message would miss it.
    room.floor = Math.max(room.floor, room.ns[room.first]!);
    (room.messages as unknown[])[room.first] = undefined;
    (room.ns as unknown[])[room.first] = undefined;
    room.first++;
    if (room.first >= historyMax) {
      room.messages.splice(0, room.first);
      room.ns.splice(0, room.first);
      room.first = 0;
    }
  };

  const forgetExpired = (room: Room, now: number) => {
    // Map iteration is insertion order, which is expiry order: stop at the first live entry.
    for (const [key, entry] of room.sent) {
      if (entry.expiresAt > now) break;
      room.sent.delete(key);
    }
  };

  const sentOf = (room: Room | undefined, key: string): Message | null => {
    const entry = room?.sent.get(key);
    if (!room || !entry) return null;
    const i = indexOf(room, entry.n);
    return toWire(i < 0 ? entry.message : room.messages[i]!);
  };

  const page = (room: Room, start: number, end: number, more: boolean): Page => ({
    messages: room.messages.slice(start, end).map(toWire),
    more,
  });

  const store: MemoryMessageStore = {
    local: {
      message(roomId, id) {
        const room = rooms.get(roomId);
        const i = find(room, id);
        return i < 0 ? undefined : room!.messages[i];
      },
      lastSeq: (roomId) => rooms.get(roomId)?.seq ?? 0,
      newest(roomId) {
        const room = rooms.get(roomId);
        return room && room.messages.length > room.first ? room.messages[room.messages.length - 1] : undefined;
      },
    },
    async append(draft: MessageDraft): Promise<AppendResult> {
      const room = roomFor(draft.roomId, draft.ts);
      forgetExpired(room, draft.ts);
      const key = draft.clientMsgId === undefined ? undefined : `${draft.user.id}\n${draft.clientMsgId}`;
      if (key !== undefined) {
        const first = sentOf(room, key);
        if (first) return { message: first, duplicate: true };
      }
      if (draft.replyTo !== undefined && find(room, draft.replyTo) < 0) {
        throw new HuddleError(ErrorCode.NotFound, `replyTo: no message ${draft.replyTo} in this room`);
      }
      const n = ++room.pos;
      const id = formatPosition({ epoch: room.epoch, n });
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
      room.messages.push(message);
      room.ns.push(n);
      if (room.messages.length - room.first > historyMax) trimOldest(room);
      if (key !== undefined) room.sent.set(key, { n, message, expiresAt: draft.ts + idempotencyTtlMs });
      options.onAuthored?.(message);
      options.outbox?.record(webhookEvent("message.created", message, draft.ts));
      // Published before this call returns, so bus order is store order.
      await options.bus.publish({ type: "message", roomId: draft.roomId, message });
      return { message, duplicate: false };
    },

    async change(roomId, id, rule, beforeCommit) {
      let guarded = false;
      for (;;) {
        const room = rooms.get(roomId);
        const i = find(room, id);
        if (!room || i < 0) throw new HuddleError(ErrorCode.NotFound, `no message ${id} in this room`);
        const current = room.messages[i]!;
        const next = rule(current);
        if (next === null) return { message: toWire(current), changed: false };
        if (beforeCommit && !guarded) {
          guarded = true;
          await beforeCommit();
          // Another change may have landed while the budget was taken: apply the rule again to what is current.
          continue;
        }
        const n = ++room.pos;
        const changed: Message = { ...next, rev: formatPosition({ epoch: room.epoch, n }) };
        room.messages[i] = changed;
        const message = toWire(changed);
        options.outbox?.record(webhookEvent("message.updated", message, (options.now ?? Date.now)()));
        await options.bus.publish({ type: "update", roomId, message });
        return { message, changed: true };
      }
    },

    async get(roomId, id) {
      const room = rooms.get(roomId);
      const i = find(room, id);
      return i < 0 ? null : toWire(room!.messages[i]!);
    },

    async latest(roomId, limit) {
      const room = rooms.get(roomId);
      if (!room) return { messages: [], more: false };
      const start = Math.max(room.first, room.messages.length - limit);
      return page(room, start, room.messages.length, start > room.first);
    },

    async before(roomId, position, limit) {
      const room = rooms.get(roomId);
      const parsed = parsePosition(position);
      if (!room || !parsed) return { messages: [], more: false };
      const end = firstAfter(room, changeIndex(parsed, room.epoch) - 1);
      const start = Math.max(room.first, end - limit);
      return page(room, start, end, start > room.first);
    },

    async after(roomId, position, limit) {
      const room = rooms.get(roomId);
      const parsed = parsePosition(position);
      if (!room || !parsed) return { messages: [], more: false };
      const start = firstAfter(room, changeIndex(parsed, room.epoch));
      const end = Math.min(room.messages.length, start + limit);
      return page(room, start, end, end < room.messages.length);
    },

    async since(roomId, position, max): Promise<Missed | null> {
      const room = rooms.get(roomId);
      const parsed = parsePosition(position);
      if (!room || !parsed || parsed.epoch !== room.epoch || parsed.n <= room.floor || parsed.n > room.pos) return null;
      const start = firstAfter(room, parsed.n);
      const created = room.messages.length - start;
      if (created > max) return null;
      const updates: Message[] = [];
      // At most historyMax messages are kept: a scan is cheaper than keeping a second order.
      for (let i = room.first; i < start; i++) {
        const message = room.messages[i]!;
        if (parsePosition(message.rev)!.n > parsed.n) updates.push(message);
      }
      if (created + updates.length > max) return null;
      updates.sort((a, b) => parsePosition(a.rev)!.n - parsePosition(b.rev)!.n);
      return { messages: room.messages.slice(start).map(toWire), updates: updates.map(toWire) };
    },

    async pollFrom(roomId, position, limit) {
      const room = rooms.get(roomId);
      const parsed = parsePosition(position);
      if (!room || !parsed || parsed.epoch !== room.epoch || parsed.n <= room.floor || parsed.n > room.pos) return null;
      const start = firstAfter(room, parsed.n);
      const end = Math.min(room.messages.length, start + limit);
      const cut = end < room.messages.length;
      // Cut: only what happened before the last message returned, which is where the next poll starts.
      const upTo = cut ? room.ns[end - 1]! : room.pos;
      const updates: Message[] = [];
      for (let i = room.first; i < start; i++) {
        const rev = parsePosition(room.messages[i]!.rev)!.n;
        if (rev > parsed.n && rev < upTo + (cut ? 0 : 1)) updates.push(room.messages[i]!);
      }
      updates.sort((a, b) => parsePosition(a.rev)!.n - parsePosition(b.rev)!.n);
      return {
        messages: room.messages.slice(start, end).map(toWire),
        updates: updates.map(toWire),
        cursor: formatPosition({ epoch: room.epoch, n: upTo }),
      };
    },

    async findSent(roomId, userId, clientMsgId) {
      return sentOf(rooms.get(roomId), `${userId}\n${clientMsgId}`);
    },

    async head(roomId) {
      const room = rooms.get(roomId);
      return room && room.pos > 0 ? formatPosition({ epoch: room.epoch, n: room.pos }) : null;
    },
  };
  return store;
}
