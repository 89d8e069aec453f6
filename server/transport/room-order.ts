/**
 * A room's changes in position order on this node, whatever order the bus
 * brings them in. Positions count a room's changes without gaps, so a
 * receiver knows exactly what it has not seen: with PostgreSQL, two nodes
 * publish after their commits and a later change can overtake an earlier one
 * on the way; a node can lose a publish when it dies between the commit and
 * the publish. An event past a gap waits a moment for the missing ones, then
 * the gap is read from the store (what changed after the last delivered
 * position, each message as it is now) and delivery goes on in order.
 *
 * Only rooms this node serves are followed (a member, an SSE stream, a long
 * poll): following subscribes to the room's events (`subscribe`, a bus that
 * carries rooms separately) and then reads the room's newest position from
 * the store, before the first member reads its history, so nothing committed
 * after it is missed or delivered out of order. A room is unsubscribed a
 * linger after its last listener left. When the bus lost its subscriptions
 * for a while, `catchUp` reads what each followed room missed. Events of
 * other rooms pass through.
 */
import type { RoomEvent } from "../core/bus";
import { comparePositions, formatPosition, parsePosition, type Position } from "../core/position";
import { eventPosition, missedAsEvents } from "../features/chat/missed";
import type { MessageStore } from "../features/chat/message.store";

export interface RoomOrderOptions {
  messages: Pick<MessageStore, "head" | "since" | "after">;
  /** Hands an event, in order, to this node's clients. */
  deliver(event: RoomEvent): void;
  /** How long an event past a gap waits for the missing ones before the store is read. @default 150 */
  gapWaitMs?: number;
  /** How long a room stays followed after its last listener left (a quick rejoin costs nothing). @default 5000 */
  lingerMs?: number;
  /** The most changes a gap fill reads; a longer gap is left to clients resuming with `since`. @default 1000 */
  maxGap?: number;
  /** Starts receiving a room's events from the bus; resolves once they flow. */
  subscribe?(roomId: string): Promise<void>;
  /** Stops receiving them (after the linger). */
  unsubscribe?(roomId: string): void;
  onError(error: unknown): void;
}

export interface RoomOrder {
  /** Starts (or keeps) following `roomId`; resolves once its starting position is known. */
  follow(roomId: string): Promise<void>;
  /** One listener fewer; the room is dropped after the linger once none is left. */
  unfollow(roomId: string): void;
  /** Resolves once the starting position of a followed room is known (at once for a room not followed). */
  ready(roomId: string): Promise<void>;
  /** An event from the bus. */
  push(event: RoomEvent): void;
  /** Reads what every followed room missed since its last delivered change (the bus dropped events meanwhile). */
  catchUp(): void;
  /** Rooms followed now (for metrics and tests). */
  followed(): number;
  close(): void;
}

/** The start of a room that had no change yet when it was followed: its first change is n = 1, of any epoch. */
const EMPTY: Position = { epoch: -1, n: 0 };

interface Followed {
  refs: number;
  /** The last position delivered (EMPTY before a new room's first change); undefined when unknown: the next goes. */
  last?: Position;
  starting: boolean;
  ready: Promise<void>;
  /** Events that came before the start was known, or past a gap: in position order. */
  held: RoomEvent[];
  gapTimer?: NodeJS.Timeout;
  filling: boolean;
  lingerTimer?: NodeJS.Timeout;
}

export function createRoomOrder(options: RoomOrderOptions): RoomOrder {
  const gapWaitMs = options.gapWaitMs ?? 150;
  const rooms = new Map<string, Followed>();

  const hold = (room: Followed, event: RoomEvent, at: Position) => {
    const i = room.held.findIndex((e) => comparePositions(eventPosition(e)!, at) > 0);
    if (i < 0) room.held.push(event);
    else room.held.splice(i, 0, event);
  };

  /** Delivers what is next in order, holding the rest; true when something is still waiting past a gap. */
  const advance = (room: Followed): boolean => {
    while (room.held.length > 0) {
      const at = eventPosition(room.held[0]!)!;
      const last = room.last;
      if (last === EMPTY && at.n > 1) return true;
      if (last && at.epoch === last.epoch && at.n <= last.n) {
        room.held.shift(); // seen already
        continue;
      }
      if (last && at.epoch === last.epoch && at.n > last.n + 1) return true;
      // Next in line, or a new epoch (the room's store was reset): a fresh start.
      room.last = at;
      options.deliver(room.held.shift()!);
    }
    return false;
  };

  const fillGap = async (roomId: string, room: Followed) => {
    room.gapTimer = undefined;
    if (room.filling || rooms.get(roomId) !== room) return;
    room.filling = true;
    try {
      const from = room.last!;
      const max = options.maxGap ?? 1000;
      // A room that was empty has no position to read from: what it holds now is what was missed.
      const missed =
        from === EMPTY
          ? { messages: (await options.messages.after(roomId, "0-0", max)).messages, updates: [] }
          : await options.messages.since(roomId, formatPosition(from), max);
      if (missed) {
        for (const event of missedAsEvents(roomId, missed)) {
          const at = eventPosition(event)!;
          if (room.last === EMPTY || comparePositions(at, room.last!) > 0) {
            room.last = at;
            options.deliver(event);
          }
        }
        // Everything up to the newest change read is delivered: a message's rev covers its intermediate states.
        for (const m of [...missed.messages, ...missed.updates]) {
          const rev = parsePosition(m.rev);
          if (rev && comparePositions(rev, room.last!) > 0) room.last = rev;
        }
      } else {
        // Too far behind (or the position is gone): go on from the next event held; clients resume themselves.
        room.last = undefined;
      }
    } catch (error) {
      options.onError(error);
      room.last = undefined;
    } finally {
      room.filling = false;
    }
    if (advance(room)) room.gapTimer = setTimeout(() => void fillGap(roomId, room), gapWaitMs);
  };

  const start = (roomId: string, room: Followed) =>
    Promise.resolve(options.subscribe?.(roomId))
      // Not subscribed (the bus is away): the head is still right, and the bus catches up when it is back.
      .catch((error) => options.onError(error))
      .then(() => options.messages.head(roomId))
      .then((head) => {
        room.last = head === null ? EMPTY : parsePosition(head);
      })
      .catch((error) => options.onError(error))
      .finally(() => {
        room.starting = false;
        if (advance(room)) room.gapTimer ??= setTimeout(() => void fillGap(roomId, room), gapWaitMs);
      });

  return {
    follow(roomId) {
      let room = rooms.get(roomId);
      if (room) {
        room.refs++;
        clearTimeout(room.lingerTimer);
        room.lingerTimer = undefined;
        return room.ready;
      }
      room = { refs: 1, starting: true, ready: Promise.resolve(), held: [], filling: false };
      rooms.set(roomId, room);
      room.ready = start(roomId, room);
      return room.ready;
    },

    unfollow(roomId) {
      const room = rooms.get(roomId);
      if (!room || --room.refs > 0) return;
      room.lingerTimer = setTimeout(() => {
        if (rooms.get(roomId) !== room || room.refs > 0) return;
        clearTimeout(room.gapTimer);
        rooms.delete(roomId);
        options.unsubscribe?.(roomId);
      }, options.lingerMs ?? 5000);
      room.lingerTimer.unref();
    },

    push(event) {
      const at = eventPosition(event);
      const room = at && rooms.get(event.roomId);
      if (!at || !room) return options.deliver(event);
      hold(room, event, at);
      if (room.starting || room.filling) return;
      if (advance(room)) room.gapTimer ??= setTimeout(() => void fillGap(event.roomId, room), gapWaitMs);
    },

    catchUp() {
      for (const [roomId, room] of rooms) {
        // A room still starting reads its head after this; one with no known position leaves it to its clients.
        if (room.starting || room.last === undefined) continue;
        clearTimeout(room.gapTimer);
        room.gapTimer = setTimeout(() => void fillGap(roomId, room), 0);
      }
    },

    ready: (roomId) => rooms.get(roomId)?.ready ?? Promise.resolve(),
    followed: () => rooms.size,

    close() {
      for (const [roomId, room] of rooms) {
        clearTimeout(room.gapTimer);
        clearTimeout(room.lingerTimer);
        options.unsubscribe?.(roomId);
      }
      rooms.clear();
    },
  };
}
