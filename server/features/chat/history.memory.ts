/** The single-node history store: an array a room, trimmed to `historyMax`. */
import type { Message } from "../../../shared";
import type { RoomEventBus } from "../../core/bus";
import { compareIds, formatMessageId, nextMessageId, parseMessageId, type ParsedId } from "../../core/message-id";
import type { HistoryStore, MessageDraft, Page } from "./history.store";

export interface MemoryHistoryOptions {
  bus: RoomEventBus;
  /** Messages kept a room. @default 1000 */
  historyMax?: number;
  /** How long a `clientMsgId` is remembered after its message. @default 24 h */
  idempotencyTtlMs?: number;
}

/**
 * A room's retained history is `messages[first..]` (and `ids[first..]`, their parsed ids). Trimming the oldest
 * clears its slot and moves `first`; the cleared prefix is cut off once it is as long as the history, so an
 * append costs O(1) where a splice per append moved the whole array (half of a send's CPU with full rooms).
 */
interface Room {
  messages: Message[];
  ids: ParsedId[];
  first: number;
  last?: ParsedId;
  /** `${userId}\n${clientMsgId}` → the first message and when to forget it. */
  sent: Map<string, { message: Message; expiresAt: number }>;
}

export function createMemoryHistoryStore(options: MemoryHistoryOptions): HistoryStore {
  const historyMax = options.historyMax ?? 1000;
  const idempotencyTtlMs = options.idempotencyTtlMs ?? 24 * 60 * 60 * 1000;
  const rooms = new Map<string, Room>();

  const roomOf = (roomId: string): Room => {
    let room = rooms.get(roomId);
    if (!room) {
      room = { messages: [], ids: [], first: 0, sent: new Map() };
      rooms.set(roomId, room);
    }
    return room;
  };

  /** Index of the first retained message newer than `id` (binary search). */
  const firstAfter = (room: Room, id: ParsedId): number => {
    let lo = room.first;
    let hi = room.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(room.ids[mid]!, id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  /** Index of the first retained message not older than `id`. */
  const firstNotBefore = (room: Room, id: ParsedId): number => {
    let lo = room.first;
    let hi = room.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(room.ids[mid]!, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const trimOldest = (room: Room) => {
    // Cleared so the message can be collected; nothing reads below `first`.
    (room.messages as unknown[])[room.first] = undefined;
    (room.ids as unknown[])[room.first] = undefined;
    room.first++;
    if (room.first >= historyMax) {
      room.messages.splice(0, room.first);
      room.ids.splice(0, room.first);
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

  return {
    async append(draft: MessageDraft) {
      const room = roomOf(draft.roomId);
      forgetExpired(room, draft.ts);
      const key = draft.clientMsgId === undefined ? undefined : `${draft.user.id}\n${draft.clientMsgId}`;
      if (key !== undefined) {
        const first = room.sent.get(key);
        if (first) return { message: first.message, duplicate: true };
      }
      const id = nextMessageId(room.last, draft.ts);
      room.last = id;
      const message: Message = {
        id: formatMessageId(id),
        roomId: draft.roomId,
        user: { id: draft.user.id, name: draft.user.name },
        text: draft.text,
        ts: draft.ts,
      };
      if (draft.clientMsgId !== undefined) message.clientMsgId = draft.clientMsgId;
      room.messages.push(message);
      room.ids.push(id);
      if (room.messages.length - room.first > historyMax) trimOldest(room);
      if (key !== undefined) room.sent.set(key, { message, expiresAt: draft.ts + idempotencyTtlMs });
      // Published before this call returns, so bus order is store order.
      await options.bus.publish({ type: "message", roomId: draft.roomId, message });
      return { message, duplicate: false };
    },

    async latest(roomId, limit) {
      const room = rooms.get(roomId);
      if (!room) return { messages: [], more: false };
      const start = Math.max(room.first, room.messages.length - limit);
      return { messages: room.messages.slice(start), more: start > room.first };
    },

    async before(roomId, beforeId, limit): Promise<Page> {
      const room = rooms.get(roomId);
      const position = parseMessageId(beforeId);
      if (!room || !position) return { messages: [], more: false };
      const end = firstNotBefore(room, position);
      const start = Math.max(room.first, end - limit);
      return { messages: room.messages.slice(start, end), more: start > room.first };
    },

    async after(roomId, afterId, limit): Promise<Page> {
      const room = rooms.get(roomId);
      const position = parseMessageId(afterId);
      if (!room || !position) return { messages: [], more: false };
      const start = firstAfter(room, position);
      const end = Math.min(room.messages.length, start + limit);
      return { messages: room.messages.slice(start, end), more: end < room.messages.length };
    },

    async since(roomId, id, max) {
      const room = rooms.get(roomId);
      const position = parseMessageId(id);
      if (!room || !position) return null;
      const start = firstAfter(room, position);
      const known = start > room.first && compareIds(room.ids[start - 1]!, position) === 0;
      if (!known || room.messages.length - start > max) return null;
      return room.messages.slice(start);
    },

    async findSent(roomId, userId, clientMsgId) {
      return rooms.get(roomId)?.sent.get(`${userId}\n${clientMsgId}`)?.message ?? null;
    },

    async newestId(roomId) {
      const room = rooms.get(roomId);
      return room && room.messages.length > room.first ? room.messages[room.messages.length - 1]!.id : null;
    },
  };
}
