/**
 * Moderation (§11): moderators (a token with `"role": "moderator"`) ban users
 * from the rooms their token may access, list bans and lift them. A ban takes
 * the user's connections out of the room on every node (a `ban` event on the
 * bus) and, until it ends, refuses the user's joins, sends, changes, REST
 * calls, SSE streams and polls for the room with `forbidden`.
 *
 * Whether a user is banned is asked on every way into a room, so each node
 * keeps a room's bans in memory for a few seconds, and forgets them at once
 * when a ban or a lift is announced on the bus.
 */
import { ErrorCode, type Ban, type BanBody } from "../../../shared";
import { canAccessRoom, type Identity } from "../../auth/tokens";
import type { RoomEventBus } from "../../core/bus";
import type { Clock } from "../../core/clock";
import { forbidden, HuddleError } from "../../errors";
import type { BanStore } from "./ban.store";

export interface ModerationOptions {
  store: BanStore;
  bus: RoomEventBus;
  clock: Clock;
  /** How long a node trusts the bans it read for a room. @default 5000 */
  cacheMs?: number;
  /** Rooms whose bans a node keeps. @default 10000 */
  maxCachedRooms?: number;
}

export interface ModerationService {
  /** @throws HuddleError forbidden when the token does not allow the room or the user is banned from it. */
  assertAllowed(identity: Pick<Identity, "user" | "rooms">, roomId: string): Promise<void>;
  /** @throws HuddleError forbidden when the user is banned from the room. */
  assertNotBanned(userId: string, roomId: string): Promise<void>;
  /** @throws HuddleError forbidden unless `identity` is a moderator whose token allows the room. */
  assertModerator(identity: Identity, roomId: string): void;
  ban(moderator: Identity, roomId: string, body: BanBody): Promise<Ban>;
  lift(moderator: Identity, roomId: string, userId: string): Promise<void>;
  list(moderator: Identity, roomId: string): Promise<Ban[]>;
  /** A ban was made or lifted somewhere: the next check reads the room's bans again. */
  forget(roomId: string): void;
}

export function createModerationService(options: ModerationOptions): ModerationService {
  const { store, bus, clock } = options;
  const cacheMs = options.cacheMs ?? 5000;
  const maxRooms = options.maxCachedRooms ?? 10_000;
  /** roomId → when read, and the bans then in force by user id (until, null for no end). */
  const cache = new Map<string, { readAt: number; bans: Promise<Map<string, number | null>> }>();

  const bansOf = (roomId: string) => {
    const now = clock.now();
    const cached = cache.get(roomId);
    if (cached && now - cached.readAt < cacheMs) return cached.bans;
    const bans = store.list(roomId, now).then((list) => new Map(list.map((ban) => [ban.userId, ban.until])));
    // A failed read is not kept: the next check tries again.
    bans.catch(() => cache.get(roomId)?.bans === bans && cache.delete(roomId));
    cache.delete(roomId);
    cache.set(roomId, { readAt: now, bans });
    if (cache.size > maxRooms) cache.delete(cache.keys().next().value!);
    return bans;
  };

  const assertModerator = (identity: Identity, roomId: string) => {
    if (!canAccessRoom(identity, roomId)) throw forbidden(roomId);
    if (!identity.moderator) throw new HuddleError(ErrorCode.Forbidden, "only a moderator can do that");
  };

  const assertNotBanned = async (userId: string, roomId: string) => {
    const until = (await bansOf(roomId)).get(userId);
    if (until === undefined || (until !== null && until <= clock.now())) return;
    throw new HuddleError(ErrorCode.Forbidden, `you are banned from room ${roomId}`);
  };

  return {
    async assertAllowed(identity, roomId) {
      if (!canAccessRoom(identity, roomId)) throw forbidden(roomId);
      await assertNotBanned(identity.user.id, roomId);
    },
    assertNotBanned,
    assertModerator,

    async ban(moderator, roomId, body) {
      assertModerator(moderator, roomId);
      const now = clock.now();
      const ban: Ban = {
        roomId,
        userId: body.userId,
        until: body.durationSec === undefined ? null : now + body.durationSec * 1000,
        ...(body.reason !== undefined && { reason: body.reason }),
      };
      await store.ban(ban, now);
      cache.delete(roomId);
      await bus.publish({ type: "ban", ...ban });
      return ban;
    },

    async lift(moderator, roomId, userId) {
      assertModerator(moderator, roomId);
      await store.lift(roomId, userId);
      cache.delete(roomId);
      await bus.publish({ type: "unban", roomId, userId });
    },

    async list(moderator, roomId) {
      assertModerator(moderator, roomId);
      return store.list(roomId, clock.now());
    },

    forget: (roomId) => void cache.delete(roomId),
  };
}
