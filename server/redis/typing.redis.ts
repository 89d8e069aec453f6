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

// KEYS: typing, due, sequence. ARGV: userId, user JSON, expiresAt, due member.
// An entry that expired but was not removed yet (its node died) counts as not typing.
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
  order = redis.call('INCR', KEYS[3])
  fresh = 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ' ' .. order .. ' ' .. ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.max(0, tonumber(ARGV[3]) - now) + 60000)
return fresh
`);

// KEYS: typing, due. ARGV: userId, due member.
const STOP = defineScript(`
redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('HDEL', KEYS[1], ARGV[1])
`);

// KEYS: typing, due. ARGV: userId, now, due member. 1 when the entry had expired and was removed.
const EXPIRE = defineScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
if tonumber(string.match(current, '^(%d+) ')) > tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
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

  const expire = async (roomId: string, userId: string, now: number) =>
    (await guard(() =>
      EXPIRE.run(client, [keys.typing(roomId), keys.typingDue], [userId, Math.floor(now), dueMember(roomId, userId)]),
    )) === 1;

  return {
    async start(roomId, user, expiresAt) {
      const reply = await guard(() =>
        START.run(
          client,
          [keys.typing(roomId), keys.typingDue, keys.sequence],
          [user.id, JSON.stringify({ id: user.id, name: user.name }), Math.ceil(expiresAt), dueMember(roomId, user.id)],
        ),
      );
      return reply === 1;
    },

    async stop(roomId, userId) {
      const reply = await guard(() =>
        STOP.run(client, [keys.typing(roomId), keys.typingDue], [userId, dueMember(roomId, userId)]),
      );
      return reply === 1;
    },

    expire,

    async list(roomId, now) {
      const flat = (await guard(() => client.sendCommand(["HGETALL", keys.typing(roomId)]))) as string[];
      const entries: { order: number; user: User }[] = [];
      for (let i = 1; i < flat.length; i += 2) {
        const match = /^(\d+) (\d+) (.*)$/s.exec(flat[i]!);
        if (!match || Number(match[1]) <= now) continue;
        entries.push({ order: Number(match[2]), user: JSON.parse(match[3]!) as User });
      }
      return entries.sort((a, b) => a.order - b.order).map((entry) => entry.user);
    },

    async sweep(now, graceMs) {
      const due = (await guard(() =>
        client.sendCommand([
          "ZRANGEBYSCORE",
          keys.typingDue,
          "-inf",
          String(Math.floor(now - graceMs)),
          "LIMIT",
          "0",
          "100",
        ]),
      )) as string[];
      const changed = new Set<string>();
      for (const member of due) {
        const [roomId, userId] = JSON.parse(member) as [string, string];
        if (await expire(roomId, userId, now)) changed.add(roomId);
      }
      return [...changed];
    },
  };
}
