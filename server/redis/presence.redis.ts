/**
 * Presence in Redis, per user across nodes: a room's members (a sorted set in
 * join order, and their names), the connections through which each user is
 * in the room, and, per node, the entries that node holds so that they can be
 * removed in one step when the node goes away (reaper.redis.ts).
 *
 * The store also remembers locally what this node holds: to put it back when
 * Redis returns empty or after another node reaped this one by mistake (a
 * long partition), and to retry the leaves that failed while Redis was away.
 */
import type { User } from "../../shared";
import type { PresenceStore } from "../features/rooms/presence.store";
import { defineScript, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

// KEYS: members, names, connections, room counters. ARGV: userId, user JSON, connId.
// Returns 1 when this is the user's first connection in the room. (The node's record of the entry, under
// {nodes}, is written before this script by its own command: one script may only touch one slot.)
const JOIN = defineScript(`
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], redis.call('HINCRBY', KEYS[4], 'j', 1), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`);

// KEYS: members, names, connections. ARGV: userId, connId, retry, channel ('' for none), event head.
// Returns the user JSON when this was the user's last connection in the room, else 0; on a retry,
// -1 when the connection was already gone and the user is not a member (an earlier attempt that
// timed out on this side may have run after all). With a channel (the reaper's), the room is told
// in the same step.
export const LEAVE_SCRIPT = defineScript(`
if redis.call('SREM', KEYS[3], ARGV[2]) == 0 then
  if ARGV[3] == '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
  return 0
end
if redis.call('SCARD', KEYS[3]) > 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local user = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if user and ARGV[4] ~= '' then redis.call('SPUBLISH', ARGV[4], ARGV[5] .. user .. '}') end
return user or '{}'
`);
const LEAVE = LEAVE_SCRIPT;

// KEYS: members, names. The members' user JSON in join order.
const MEMBERS = defineScript(`
local out = {}
for i, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[i] = redis.call('HGET', KEYS[2], id) or ''
end
return out
`);

export interface PresenceEntry {
  roomId: string;
  user: User;
  connId: string;
}

export interface RedisPresenceStore extends PresenceStore {
  /** What this node holds now, as it told Redis. */
  held(): PresenceEntry[];
  /** Joins and leaves that failed while Redis was away (they may have run after all), to undo or redo. */
  pendingLeaves(): PresenceEntry[];
  /** Retries one pending leave; resolves with the user when the room should be told they left. */
  retryLeave(entry: PresenceEntry): Promise<User | undefined>;
  /** Records `entry` again (idempotent); true when it made the user a member again. */
  restore(entry: PresenceEntry): Promise<boolean>;
  /** Forgets everything held locally (after this node's entries were removed from Redis). */
  forgetAll(): void;
}

export function createRedisPresenceStore(options: {
  client: Redis;
  guard: Guard;
  keys: Keys;
  nodeId: string;
}): RedisPresenceStore {
  const { client, guard, keys, nodeId } = options;
  const held = new Map<string, PresenceEntry>();
  /** Entries to remove once Redis answers; `announce` when the failed call was a leave the room must hear of. */
  const pending = new Map<string, { entry: PresenceEntry; announce: boolean }>();
  /** One connection's entry, as the reaper decodes it: [roomId, userId, connId]. */
  const entryOf = (roomId: string, userId: string, connId: string) => JSON.stringify([roomId, userId, connId]);

  const join = async (entry: PresenceEntry) => {
    const { roomId, user, connId } = entry;
    // The node's record and the room are two slots: both go at once, the record sent first; should the node die
    // in between, its reaper removes whatever of the join reached the room.
    const [, reply] = await Promise.all([
      guard(() => client.sAdd(keys.nodePresence(nodeId), entryOf(roomId, user.id, connId))),
      guard(() =>
        JOIN.run(
          client,
          [keys.members(roomId), keys.names(roomId), keys.presenceConnections(roomId, user.id), keys.room(roomId)],
          [user.id, JSON.stringify({ id: user.id, name: user.name }), connId],
        ),
      ),
    ]);
    return reply === 1;
  };

  const leave = async (roomId: string, userId: string, connId: string, retry = false) => {
    const [reply] = await Promise.all([
      guard(() =>
        LEAVE.run(
          client,
          [keys.members(roomId), keys.names(roomId), keys.presenceConnections(roomId, userId)],
          [userId, connId, retry ? "1" : "0", "", ""],
        ),
      ),
      guard(() => client.sRem(keys.nodePresence(nodeId), entryOf(roomId, userId, connId))),
    ]);
    if (reply === -1) return "gone" as const;
    if (typeof reply !== "string") return undefined;
    const user = JSON.parse(reply) as Partial<User>;
    return { id: user.id ?? userId, name: user.name ?? userId };
  };

  return {
    async join(roomId, user, connId) {
      const entry = { roomId, user: { id: user.id, name: user.name }, connId };
      const key = entryOf(roomId, user.id, connId);
      pending.delete(key);
      try {
        const first = await join(entry);
        held.set(key, entry);
        return first;
      } catch (error) {
        // A join that timed out may still run in Redis: undo it once Redis answers.
        pending.set(key, { entry, announce: false });
        throw error;
      }
    },

    async leave(roomId, userId, connId) {
      const key = entryOf(roomId, userId, connId);
      const entry = held.get(key);
      held.delete(key);
      try {
        const left = await leave(roomId, userId, connId);
        return left !== undefined && left !== "gone";
      } catch (error) {
        // Redis is away: the entry would outlive the connection; remove it when Redis is back.
        if (entry) pending.set(key, { entry, announce: true });
        throw error;
      }
    },

    async members(roomId) {
      const reply = (await guard(() =>
        MEMBERS.run(client, [keys.members(roomId), keys.names(roomId)], []),
      )) as string[];
      return reply.filter((json) => json !== "").map((json) => JSON.parse(json) as User);
    },

    count: (roomId) => guard(() => client.zCard(keys.members(roomId))),

    held: () => [...held.values()],
    pendingLeaves: () => [...pending.values()].map((p) => p.entry),

    async retryLeave(entry) {
      const key = entryOf(entry.roomId, entry.user.id, entry.connId);
      const failed = pending.get(key);
      // Joined again meanwhile: that join wins.
      if (!failed) return undefined;
      const announce = failed.announce;
      const left = await leave(entry.roomId, entry.user.id, entry.connId, true);
      pending.delete(key);
      if (left === "gone") return announce ? entry.user : undefined;
      return left;
    },

    async restore(entry) {
      const key = entryOf(entry.roomId, entry.user.id, entry.connId);
      const first = await join(entry);
      // Left while it was being restored: undo, so the leave wins.
      if (!held.has(key)) {
        await leave(entry.roomId, entry.user.id, entry.connId);
        return false;
      }
      return first;
    },

    forgetAll() {
      held.clear();
      pending.clear();
    },
  };
}
