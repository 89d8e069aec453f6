/**
 * The life of a node in Redis: a heartbeat key with a TTL, refreshed
 * periodically; a reaper that every node runs, which finds nodes whose
 * heartbeat expired, claims one (a key with a TTL: one reaper at a time) and
 * removes what it held (presence room by room, telling each room of the users
 * whose last connection was there; connections user by user), then the node.
 *
 * When the heartbeat finds this node missing from the node set (Redis came
 * back empty, or another node reaped this one during a partition longer than
 * the TTL), the node puts back what it holds and announces it again.
 */
import type { RoomEventBus } from "../core/bus";
import { defineScript, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";
import type { RedisConnectionRegistry } from "./limits.redis";
import type { RedisPresenceStore } from "./presence.redis";
import type { RedisTypingStore } from "./typing.redis";
import { LEAVE_SCRIPT } from "./presence.redis";

// KEYS: nodes, heartbeat. ARGV: nodeId, ttlMs. 1 when the node was not registered.
const HEARTBEAT = defineScript(`
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return redis.call('SADD', KEYS[1], ARGV[1])
`);

// KEYS: nodes, the node's heartbeat, its reaping claim, its presence entries, its connection entries (all
// {nodes}). ARGV: node, reaper, claim ms, force. Without force, claims the node only when its heartbeat
// expired and nobody claimed it; answers {0}, or {1, presence entries, connection entries}.
const CLAIM = defineScript(`
if ARGV[4] ~= '1' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {0} end
  if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {0} end
end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {0} end
redis.call('DEL', KEYS[2])
return {1, redis.call('SMEMBERS', KEYS[4]), redis.call('SMEMBERS', KEYS[5])}
`);

// KEYS: nodes, the node's presence entries, connection entries, reaping claim. ARGV: node.
const FORGET_NODE = defineScript(`
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
`);

/** How long a claim on a dead node lasts: a reaper that dies meanwhile leaves the work to another after it. */
const REAP_CLAIM_MS = 30_000;

export interface NodeLifeOptions {
  client: Redis;
  guard: Guard;
  keys: Keys;
  nodeId: string;
  bus: RoomEventBus;
  presence: RedisPresenceStore;
  connections: RedisConnectionRegistry;
  typing: RedisTypingStore;
  /** @default 3000 */
  heartbeatMs: number;
  /** @default 10000 */
  ttlMs: number;
  /** @default 5000 */
  reapMs: number;
  /** How long after putting its members back a node waits before announcing them. @default heartbeatMs */
  announceDelayMs?: number;
  now(): number;
  onError(error: unknown, context: string): void;
}

export interface NodeLife {
  /** Starts the loops and registers this node (clearing what an earlier process with its id left). */
  start(): Promise<void>;
  /** Runs a heartbeat now (Redis just came back); resolves once done. */
  beat(): Promise<void>;
  /** True while the last heartbeat reached Redis. */
  healthy(): boolean;
  /** Looks for dead nodes now. */
  reap(): Promise<void>;
  /** Stops the loops and removes this node's entries, publishing the leaves. */
  shutdown(): Promise<void>;
  stop(): void;
}

/** How long past its expiry a typing entry must be before any node ends it on behalf of its own node. */
const TYPING_SWEEP_GRACE_MS = 1000;

export function createNodeLife(options: NodeLifeOptions): NodeLife {
  const { client, guard, keys, nodeId, bus, presence, connections, typing } = options;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let reapTimer: NodeJS.Timeout | undefined;
  let healthy = false;
  let registered = false;
  let stopped = false;
  /** Redis just came back: give the other nodes one TTL to beat again before judging them dead. */
  let reapNotBefore = 0;
  let beating: Promise<void> | undefined;
  const announcing = new Set<NodeJS.Timeout>();

  /**
   * Removes what a dead node held, one slot at a time (a cluster forbids one script over many): its presence
   * entries room by room (each telling the room of a user who left), its connections user by user, then the node.
   * Every step can be redone: a reaper that dies is followed by another once its claim runs out.
   */
  const reapNode = async (node: string, force: boolean) => {
    const claimed = (await guard(() =>
      CLAIM.run(
        client,
        [keys.nodes, keys.heartbeat(node), keys.reaping(node), keys.nodePresence(node), keys.nodeConnections(node)],
        [node, nodeId, REAP_CLAIM_MS, force ? 1 : 0],
      ),
    )) as [number, string[]?, string[]?];
    if (claimed[0] !== 1) return;
    for (const raw of claimed[1] ?? []) {
      const [roomId, userId, connId] = JSON.parse(raw) as [string, string, string];
      const head = `{"type":"presence","roomId":${JSON.stringify(roomId)},"change":"leave","user":`;
      await guard(() =>
        LEAVE_SCRIPT.run(
          client,
          [keys.members(roomId), keys.names(roomId), keys.presenceConnections(roomId, userId)],
          [userId, connId, "0", keys.roomEvents(roomId), head],
        ),
      );
    }
    for (const raw of claimed[2] ?? []) {
      const [userId, connId] = JSON.parse(raw) as [string, string];
      await guard(() => client.sRem(keys.userConnections(userId), connId));
    }
    await guard(() =>
      FORGET_NODE.run(
        client,
        [keys.nodes, keys.nodePresence(node), keys.nodeConnections(node), keys.reaping(node)],
        [node],
      ),
    );
  };

  /** Puts back what this node holds and retries what failed while Redis was away. */
  const repair = async (restore: boolean) => {
    for (const entry of presence.pendingLeaves()) {
      const user = await presence.retryLeave(entry);
      if (user) await bus.publish({ type: "presence", roomId: entry.roomId, change: "leave", user });
    }
    for (const connection of connections.pendingReleases()) await connections.retryRelease(connection);
    if (!restore) return;
    for (const connection of connections.held()) await connections.restore(connection);
    const rejoined = [];
    for (const entry of presence.held()) if (await presence.restore(entry)) rejoined.push(entry);
    announceLater(rejoined);
  };

  /**
   * Tells the rooms about the members put back, a little later: the other
   * nodes lost Redis at the same time and their subscriptions may not be back
   * yet (pub/sub keeps nothing for them). Members who left meanwhile are skipped.
   */
  const announceLater = (rejoined: ReturnType<RedisPresenceStore["held"]>) => {
    if (rejoined.length === 0) return;
    const timer = setTimeout(() => {
      announcing.delete(timer);
      const still = new Set(presence.held());
      const rooms = new Set(rejoined.map((entry) => entry.roomId));
      (async () => {
        for (const entry of rejoined) {
          if (!still.has(entry)) continue;
          await bus.publish({ type: "presence", roomId: entry.roomId, change: "join", user: entry.user });
        }
        // Typing state did not survive either: correct what clients show.
        for (const roomId of rooms) {
          await bus.publish({ type: "typing", roomId, users: await typing.list(roomId, options.now()) });
        }
      })().catch((error) => options.onError(error, "announce"));
    }, options.announceDelayMs ?? options.heartbeatMs);
    timer.unref();
    announcing.add(timer);
  };

  const heartbeat = async () => {
    try {
      // A process that had this node id before and died is reaped by no one while this one beats: clear it first.
      if (!registered) await reapNode(nodeId, true);
      const missing =
        (await guard(() => HEARTBEAT.run(client, [keys.nodes, keys.heartbeat(nodeId)], [nodeId, options.ttlMs]))) === 1;
      registered = true;
      const wasHealthy = healthy;
      healthy = true;
      if (!wasHealthy) reapNotBefore = options.now() + options.ttlMs;
      await repair(missing);
    } catch (error) {
      healthy = false;
      throw error;
    }
  };

  const beat = () => {
    beating ??= heartbeat().finally(() => (beating = undefined));
    return beating;
  };

  const reap = async () => {
    if (!healthy || options.now() < reapNotBefore) return;
    const nodes = await guard(() => client.sMembers(keys.nodes));
    for (const node of nodes) if (node !== nodeId) await reapNode(node, false);
    const rooms = await typing.sweep(options.now(), TYPING_SWEEP_GRACE_MS);
    for (const roomId of rooms) {
      await bus.publish({ type: "typing", roomId, users: await typing.list(roomId, options.now()) });
    }
  };

  const loop = (run: () => Promise<void>, everyMs: number, context: string, set: (t: NodeJS.Timeout) => void) => {
    const next = () => {
      if (stopped) return;
      const timer = setTimeout(() => {
        run()
          .catch((error) => options.onError(error, context))
          .finally(next);
      }, everyMs);
      timer.unref();
      set(timer);
    };
    next();
  };

  const stop = () => {
    stopped = true;
    clearTimeout(heartbeatTimer);
    clearTimeout(reapTimer);
    for (const timer of announcing) clearTimeout(timer);
    announcing.clear();
  };

  return {
    async start() {
      loop(beat, options.heartbeatMs, "heartbeat", (t) => (heartbeatTimer = t));
      loop(reap, options.reapMs, "reaper", (t) => (reapTimer = t));
      // Redis may be away at start-up: the loop registers this node once it is back.
      await beat().catch((error) => options.onError(error, "heartbeat"));
    },
    beat,
    healthy: () => healthy,
    reap,
    async shutdown() {
      stop();
      await beating?.catch(() => {});
      await repair(false).catch((error) => options.onError(error, "shutdown"));
      await reapNode(nodeId, true);
      presence.forgetAll();
      connections.forgetAll();
    },
    stop,
  };
}
