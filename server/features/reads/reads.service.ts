/**
 * Read state (§9 `room:read`, `room:reads`, `rooms:list`, `room:leave` with
 * `forget`, and the join's `readUpTo` / `unread`): markers move forward only,
 * and every move is told to the user's own sockets on every node; a public
 * move is told to the room too, unless the room has more members than
 * `READ_BROADCAST_MAX_MEMBERS`. Moves of one user in one room are coalesced
 * to one `read:updated` a second (./read-coalescer.ts).
 */
import { Limits, type ReadMarker, type RoomSummary, type User } from "../../../shared";
import type { RoomEventBus } from "../../core/bus";
import type { Clock } from "../../core/clock";
import { parsePosition } from "../../core/position";
import { notAMessage } from "../../errors";
import { createReadCoalescer } from "./read-coalescer";
import type { EnterResult, ReadStore } from "./read.store";

export interface ReadsServiceOptions {
  store: ReadStore;
  bus: RoomEventBus;
  clock: Clock;
  /** Rooms with more members do not broadcast public markers. @default 100 */
  broadcastMaxMembers: number;
  /** @default 1000 */
  coalesceMs?: number;
  onError?: (error: unknown) => void;
}

export interface ReadsService {
  /** A join: makes the room one of the user's on the first one; answers the marker and the unread count. */
  enter(user: User, roomId: string): Promise<EnterResult>;
  /** Moves the user's marker forward to `upTo`, publicly unless `isPrivate`. */
  markRead(user: User, roomId: string, upTo: string, isPrivate: boolean): Promise<{ readUpTo: string; unread: number }>;
  /** The room's public markers, highest first (at most 100). */
  reads(roomId: string): Promise<ReadMarker[]>;
  /** The user's rooms, newest activity first (at most 200). */
  rooms(userId: string): Promise<RoomSummary[]>;
  /** Removes the room and its marker from the user's rooms. */
  forget(userId: string, roomId: string): Promise<void>;
  close(): void;
}

export function createReadsService(options: ReadsServiceOptions): ReadsService {
  const { store, bus, clock } = options;
  const coalescer = createReadCoalescer(
    (event) => void bus.publish(event).catch((error) => options.onError?.(error)),
    options.coalesceMs,
  );

  return {
    enter: (user, roomId) => store.enter(roomId, user, clock.now()),

    async markRead(user, roomId, upTo, isPrivate) {
      if (!parsePosition(upTo)) throw notAMessage("upTo");
      const marked = await store.markRead(roomId, user, upTo, isPrivate, clock.now());
      if (marked.moved || marked.publicMoved) {
        const told = marked.publicMoved && marked.members <= options.broadcastMaxMembers;
        coalescer.push({
          type: "read",
          roomId,
          user: { id: user.id, name: user.name },
          readUpTo: marked.readUpTo,
          readSeq: marked.readSeq,
          ...(told && { public: { readUpTo: marked.publicUpTo!, readSeq: marked.publicSeq } }),
        });
      }
      return { readUpTo: marked.readUpTo, unread: marked.unread };
    },

    reads: (roomId) => store.reads(roomId, Limits.readsMax),
    rooms: (userId) => store.rooms(userId, Limits.roomsListMax),
    async forget(userId, roomId) {
      await store.forget(roomId, userId);
    },
    close: () => coalescer.close(),
  };
}
