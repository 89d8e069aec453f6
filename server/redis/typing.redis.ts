/**
 * Typing in Redis: a hash per room (user id → "expiresAt order userJson") and
 * one sorted set of every entry by expiry. The node where a user typed ends
 * the entry when it expires (typing.service timers); the sorted set lets any
 * node find the entries whose node died before expiring them, so that
 * `typing:update` still tells the room (`sweep`).
 */
import type { User } from "../../shared";
import type { TypingStore } from "../features/typing/typing.store";
import { defineScript, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

// KEYS: typing, room counters. ARGV: userId, user JSON, expiresAt.
// An entry that expired but was not removed yet (its node died) counts as not typing. (The due index, another
// slot, is written by its own command.)
const START = defineScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = redis.call('HGET', KEYS[1], ARGV[1])
local order
if current then
  local expires, o = string.match(current, '^(%d+) (%d+) ')
  if tonumber(expires) > now then order = o end
end
local fresh = 0
if not order then
  order = redis.call('HINCRBY', KEYS[2], 't', 1)
  fresh = 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ' ' .. order .. ' ' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.max(0, tonumber(ARGV[3]) - now) + 60000)
return fresh
`);

// KEYS: typing. ARGV: userId, now. 1 when the entry had expired and was removed, 2 when it was already gone.
const EXPIRE = defineScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 2 end
if tonumber(string.match(current, '^(%d+) ')) > tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`);

export interface RedisTypingStore extends TypingStore {
  /**
   * Ends the entries still present `graceMs` after their expiry (their node
   * is gone) and returns the rooms whose typing set changed.
   */
  sweep(now: number, graceMs: number): Promise<string[]>;
}

export function createRedisTypingStore(options: { client: Redis; guard: Guard; keys: Keys }): RedisTypingStore {
  const { client, guard, keys } = options;
  const dueMember = (roomId: string, userId: string) => JSON.stringify([roomId, userId]);

  const expire = async (roomId: string, userId: string, now: number) => {
    const reply = await guard(() => EXPIRE.run(client, [keys.typing(roomId)], [userId, Math.floor(now)]));
    if (reply !== 0) await guard(() => client.zRem(keys.typingDue, dueMember(roomId, userId)));
    return reply === 1;
  };

  return {
    async start(roomId, user, expiresAt) {
      const at = Math.ceil(expiresAt);
      const [reply] = await Promise.all([
        guard(() =>
          START.run(
            client,
            [keys.typing(roomId), keys.room(roomId)],
            [user.id, JSON.stringify({ id: user.id, name: user.name }), at],
          ),
        ),
        guard(() => client.zAdd(keys.typingDue, { score: at, value: dueMember(roomId, user.id) })),
      ]);
      return reply === 1;
    },

    async stop(roomId, userId) {
      const [removed] = await Promise.all([
        guard(() => client.hDel(keys.typing(roomId), userId)),
        guard(() => client.zRem(keys.typingDue, dueMember(roomId, userId))),
      ]);
      return removed === 1;
    },

    expire,

    async list(roomId, now) {
      const all = await guard(() => client.hGetAll(keys.typing(roomId)));
      const entries: { order: number; user: User }[] = [];
      for (const value of Object.values(all)) {
        const match = /^(\d+) (\d+) (.*)$/s.exec(value);
        if (!match || Number(match[1]) <= now) continue;
        entries.push({ order: Number(match[2]), user: JSON.parse(match[3]!) as User });
      }
      return entries.sort((a, b) => a.order - b.order).map((entry) => entry.user);
    },

    async sweep(now, graceMs) {
      const due = await guard(() =>
        client.zRangeByScore(keys.typingDue, "-inf", Math.floor(now - graceMs), { LIMIT: { offset: 0, count: 100 } }),
      );
      const changed = new Set<string>();
      for (const member of due) {
        const [roomId, userId] = JSON.parse(member) as [string, string];
        if (await expire(roomId, userId, now)) changed.add(roomId);
      }
      return [...changed];
    },
  };
}
