/**
 * Joining and leaving rooms (§3 `room:join`, `room:leave`; §4 presence):
 * the access check of the `rooms` claim, per-user presence, and the history a
 * joiner gets, resumed from `since` when the gap can be filled.
 */
import { ErrorCode, Limits, type JoinResult } from "../../../shared";
import { canAccessRoom } from "../../auth/tokens";
import type { RoomEventBus } from "../../core/bus";
import type { Clock } from "../../core/clock";
import type { Connection } from "../../core/connection";
import { forbidden, HuddleError, notJoined } from "../../errors";
import type { MessageStore } from "../chat/message.store";
import type { TypingStore } from "../typing/typing.store";
import type { TypingService } from "../typing/typing.service";
import type { ReadsService } from "../reads/reads.service";
import type { ModerationService } from "../moderation/moderation.service";
import type { RateLimiter } from "../limits/rate-limiter";
import type { PresenceStore } from "./presence.store";

export interface RoomsServiceOptions {
  presence: PresenceStore;
  /** Rooms one connection may be in at once (§13). @default 100 */
  maxRoomsPerConnection?: number;
  /** The per-user `room:join` budget (§13); a join of a room the connection is already in spends nothing. */
  joinLimiter?: RateLimiter;
  reads: ReadsService;
  moderation: ModerationService;
  messages: MessageStore;
  typingStore: TypingStore;
  typing: TypingService;
  bus: RoomEventBus;
  clock: Clock;
}

export interface RoomsService {
  /**
   * Joins `conn` to the room. `attach` is called once access is granted and
   * before history is read, so the transport starts receiving live events
   * first: a message stored meanwhile may arrive twice (clients dedupe by id)
   * but is never missed.
   * @throws HuddleError forbidden when the token does not allow the room, or the user is banned from it.
   */
  join(conn: Connection, input: { roomId: string; since?: string }, attach: () => Promise<void>): Promise<JoinResult>;
  /** Leaves the room; a room not joined is fine. `detach` stops live events. */
  leave(conn: Connection, roomId: string, detach: () => void): Promise<void>;
  /** Leaves every room the connection joined. */
  leaveAll(conn: Connection): Promise<void>;
  /** @throws HuddleError not_joined unless `conn` joined `roomId`. */
  assertJoined(conn: Connection, roomId: string): void;
  /** @throws HuddleError forbidden unless the token allows `roomId`. */
  assertAccess(identity: Connection["identity"], roomId: string): void;
}

export function createRoomsService(options: RoomsServiceOptions): RoomsService {
  const { presence, messages, typingStore, typing, bus, clock, reads, moderation } = options;
  const maxRooms = options.maxRoomsPerConnection ?? 100;

  const assertAccess = (identity: Connection["identity"], roomId: string) => {
    if (!canAccessRoom(identity, roomId)) throw forbidden(roomId);
  };

  /** What a joiner gets: with a `since` the gap can be filled from, every change after it; else the latest 50. */
  const historyFor = async (roomId: string, since: string | undefined) => {
    if (since !== undefined) {
      const missed = await messages.since(roomId, since, Limits.resumeMax);
      if (missed) return { history: missed.messages, updates: missed.updates, resumed: true };
    }
    const latest = await messages.latest(roomId, Limits.joinHistory);
    return { history: latest.messages, updates: [], resumed: false };
  };

  const leaveRoom = async (conn: Connection, roomId: string) => {
    const { user } = conn.identity;
    conn.joined.delete(roomId);
    const last = await presence.leave(roomId, user.id, conn.id);
    await typing.stop(user.id, roomId);
    if (last) await bus.publish({ type: "presence", roomId, change: "leave", user });
  };

  return {
    assertAccess,
    assertJoined(conn, roomId) {
      if (!conn.joined.has(roomId)) throw notJoined(roomId);
    },

    async join(conn, input, attach) {
      const { roomId } = input;
      const { user } = conn.identity;
      await moderation.assertAllowed(conn.identity, roomId);
      if (!conn.joined.has(roomId)) {
        // Refused here, a join leaves nothing behind: no membership, presence, marker or room-list entry.
        if (conn.joined.size >= maxRooms) {
          throw new HuddleError(
            ErrorCode.LimitExceeded,
            `you are in too many rooms: a connection may be in ${maxRooms} at once; leave one first`,
          );
        }
        const decision = await options.joinLimiter?.take(user.id, clock.now());
        if (decision && !decision.ok) {
          throw new HuddleError(ErrorCode.RateLimited, "you are joining rooms too fast", decision.retryAfterMs);
        }
      }
      const first = await presence.join(roomId, user, conn.id);
      conn.joined.add(roomId);
      await attach();
      if (first) await bus.publish({ type: "presence", roomId, change: "join", user });
      const [members, typingUsers, past, read] = await Promise.all([
        presence.members(roomId),
        typingStore.list(roomId, clock.now()),
        historyFor(roomId, input.since),
        reads.enter(user, roomId),
      ]);
      return {
        roomId,
        members,
        typing: typingUsers,
        history: past.history,
        resumed: past.resumed,
        updates: past.updates,
        readUpTo: read.readUpTo,
        unread: read.unread,
      };
    },

    async leave(conn, roomId, detach) {
      if (!conn.joined.has(roomId)) return;
      detach();
      await leaveRoom(conn, roomId);
    },

    async leaveAll(conn) {
      const rooms = [...conn.joined];
      await Promise.allSettled(rooms.map((roomId) => leaveRoom(conn, roomId)));
    },
  };
}
