/**
 * Limits that hold across nodes: a token bucket per user (one Lua script, so
 * two nodes taking from the same bucket at once cannot both take the last
 * token), and the per-user connection cap (a set of connection ids per user,
 * plus per node the entries it holds, for its reaping). Like presence, the
 * registry remembers locally what this node holds, to put it back when Redis
 * returns empty and to retry releases that failed while Redis was away.
 */
import type { ConnectionRegistry } from "../features/limits/connection-registry";
import { retryAfterMs, type RateLimit, type RateLimiter } from "../features/limits/rate-limiter";
import { defineScript, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

/**
 * Lua that takes one token from the bucket at `key` (burst, rate and now are Lua expressions), leaving
 * `taken` (boolean) and `tokens` (what is left) as locals. Shared with the message store's send script,
 * which takes the sender's token in the same round trip as it stores the message.
 */
export function takeTokenLua(key: string, burst: string, rate: string, now: string): string {
  return `
local burst, rate, now = tonumber(${burst}), tonumber(${rate}), tonumber(${now})
local saved = redis.call('HMGET', ${key}, 't', 'a')
local tokens, at = tonumber(saved[1]), tonumber(saved[2])
if not tokens then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local taken = tokens >= 1
if taken then tokens = tokens - 1 end
redis.call('HSET', ${key}, 't', string.format('%.17g', tokens), 'a', string.format('%.17g', at))
redis.call('PEXPIRE', ${key}, math.ceil(burst * 1000 / rate) + 1000)
`;
}

// KEYS: bucket. ARGV: burst, perSecond, now. Returns {1} when a token was taken, else {0, tokens left}.
// Numbers travel as strings: Redis would truncate a Lua float to an integer.
const TAKE = defineScript(`
${takeTokenLua("KEYS[1]", "ARGV[1]", "ARGV[2]", "ARGV[3]")}
if taken then return {1} end
return {0, string.format('%.17g', tokens)}
`);

/** A token bucket per key in Redis; `name` keeps separate budgets (messages, typing) apart. */
export function createRedisRateLimiter(options: {
  client: Redis;
  guard: Guard;
  keys: Keys;
  name: string;
  limit: RateLimit;
}): RateLimiter {
  const { client, guard, keys, name, limit } = options;
  return {
    async take(key, now) {
      const reply = (await guard(() =>
        TAKE.run(client, [keys.bucket(name, key)], [limit.burst, limit.perSecond, now]),
      )) as [number, string?];
      if (reply[0] === 1) return { ok: true };
      return { ok: false, retryAfterMs: retryAfterMs(Number(reply[1]), limit.perSecond) };
    },
  };
}

// KEYS: user connections. ARGV: connId, max. 1 when registered. (The node's record of the entry, under {nodes},
// is another slot: it is written by its own command, before this, and removed again on a refusal.)
const ACQUIRE = defineScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`);

export interface HeldConnection {
  userId: string;
  connId: string;
}

export interface RedisConnectionRegistry extends ConnectionRegistry {
  held(): HeldConnection[];
  pendingReleases(): HeldConnection[];
  retryRelease(connection: HeldConnection): Promise<void>;
  /** Registers a connection this node holds again, whatever the cap (it is open already). */
  restore(connection: HeldConnection): Promise<void>;
  forgetAll(): void;
}

export function createRedisConnectionRegistry(options: {
  client: Redis;
  guard: Guard;
  keys: Keys;
  nodeId: string;
}): RedisConnectionRegistry {
  const { client, guard, keys, nodeId } = options;
  const held = new Map<string, HeldConnection>();
  const pending = new Map<string, HeldConnection>();
  /** One connection's entry, as the reaper decodes it: [userId, connId]. */
  const entryOf = (userId: string, connId: string) => JSON.stringify([userId, connId]);

  // The node's record and the user's set are two slots: both commands go at once (one round trip), the record
  // sent first so that on one Redis it always lands first; a node that dies in between is reaped, which removes
  // whatever of the pair got through.
  const acquire = async (userId: string, connId: string, max: number) => {
    const entry = entryOf(userId, connId);
    const [, reply] = await Promise.all([
      guard(() => client.sAdd(keys.nodeConnections(nodeId), entry)),
      guard(() => ACQUIRE.run(client, [keys.userConnections(userId)], [connId, max])),
    ]);
    if (reply !== 1) await guard(() => client.sRem(keys.nodeConnections(nodeId), entry));
    return reply === 1;
  };
  const release = async (userId: string, connId: string) => {
    await Promise.all([
      guard(() => client.sRem(keys.userConnections(userId), connId)),
      guard(() => client.sRem(keys.nodeConnections(nodeId), entryOf(userId, connId))),
    ]);
  };

  return {
    async acquire(userId, connId, max) {
      const key = entryOf(userId, connId);
      pending.delete(key);
      try {
        const ok = await acquire(userId, connId, max);
        if (ok) held.set(key, { userId, connId });
        return ok;
      } catch (error) {
        // An acquire that timed out may still run in Redis: give the slot back once Redis answers.
        pending.set(key, { userId, connId });
        throw error;
      }
    },
    async release(userId, connId) {
      const key = entryOf(userId, connId);
      held.delete(key);
      try {
        await release(userId, connId);
      } catch (error) {
        pending.set(key, { userId, connId });
        throw error;
      }
    },
    held: () => [...held.values()],
    pendingReleases: () => [...pending.values()],
    async retryRelease({ userId, connId }) {
      const key = entryOf(userId, connId);
      // Acquired again meanwhile: that acquire wins.
      if (!pending.has(key)) return;
      await release(userId, connId);
      pending.delete(key);
    },
    async restore({ userId, connId }) {
      await acquire(userId, connId, Number.MAX_SAFE_INTEGER);
      if (!held.has(entryOf(userId, connId))) await release(userId, connId);
    },
    forgetAll() {
      held.clear();
      pending.clear();
    },
  };
}
