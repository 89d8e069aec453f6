/**
 * The Redis bundle of stores (`REDIS_URL`, or `REDIS_CLUSTER_NODES` for a
 * Redis Cluster, §12): what makes many nodes one service. Four connections a
 * node (on a cluster, four cluster clients): commands (every store,
 * fail-fast), the room and user event subscriptions, and a publish/subscribe
 * pair for the Socket.IO adapter. While Redis is away every store call rejects
 * at once with `StoreUnavailableError` and `isReady()` is false; the
 * connections come back by themselves, and the node then re-registers and
 * repairs what it holds (nodes.redis.ts) and delivers what it missed (the bus
 * says it resumed; ../transport/room-order.ts reads the gap).
 */
import type { Config } from "../config";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";
import type { RecordStores, Stores } from "../stores";
import { closeConnection, createGuard, createRedisConnection, isCluster, isUsable, type Redis } from "./client";
import { createRedisBus } from "./bus.redis";
import { createRedisMessageStore } from "./messages.redis";
import { createRedisReadStore } from "./reads.redis";
import { createRedisOutbox } from "./outbox.redis";
import { createRedisBanStore } from "./bans.redis";
import { createKeys, type Keys } from "./keys";
import { createRedisConnectionRegistry, createRedisRateLimiter } from "./limits.redis";
import { createNodeLife } from "./nodes.redis";
import { createRedisPresenceStore } from "./presence.redis";
import { createSocketAdapter } from "./socket-adapter";
import { createRedisTypingStore } from "./typing.redis";
import { createReplicaWait } from "./replication";

export interface RedisStoreOptions {
  /** Put before every key and channel, so several deployments (or tests) can share one Redis. @default "huddle:" */
  prefix?: string;
  /** A Redis command not answered within this time fails as `unavailable`. @default 2000 */
  commandTimeoutMs?: number;
  /** How long start-up waits for Redis before going on, not ready, until Redis comes. @default 5000 */
  connectWaitMs?: number;
  /** Milliseconds since epoch, for heartbeats and typing sweeps. @default Date.now */
  now?: () => number;
  /** Messages and read state from elsewhere (PostgreSQL) instead of Redis; Redis keeps the rest. */
  records?: RecordStores;
}

export interface RedisStores extends Stores {
  readonly keys: Keys;
  /** The command connection (for tests and tools). */
  readonly client: Redis;
}

/**
 * Connects to `config.redisUrl` (or the cluster of `config.redisClusterNodes`)
 * and returns the stores over it. Resolves even when Redis is not reachable
 * yet (after `connectWaitMs`): the node then answers `unavailable` until Redis
 * comes.
 * @throws Error when neither is set.
 */
export async function createRedisStores(
  config: Config,
  logger: Logger,
  options: RedisStoreOptions = {},
): Promise<RedisStores> {
  const { redisUrl: url, redisClusterNodes: clusterNodes } = config;
  if (!url && !clusterNodes) throw new Error("createRedisStores needs REDIS_URL or REDIS_CLUSTER_NODES");
  const keys = createKeys(options.prefix);
  const now = options.now ?? Date.now;
  // While Redis is away every background task fails the same way; the connection logs the outage once.
  const onError = (error: unknown, context: string) =>
    error instanceof StoreUnavailableError
      ? logger.debug({ err: error, context }, "redis store task skipped: redis unavailable")
      : logger.warn({ err: error, context }, "redis store task failed");
  const guard = createGuard(options.commandTimeoutMs ?? 2000);
  const connection = (role: string, offlineQueue = false) =>
    createRedisConnection({ url, clusterNodes, name: `huddle-${config.nodeId}-${role}`, offlineQueue }, logger);
  const client = connection("commands");
  const subscriber = connection("events");
  const adapterPub = connection("adapter-pub", true);
  const adapterSub = connection("adapter-sub", true);

  const replicaWait = createReplicaWait({ client, guard, acks: config.redisReplicaAcks, logger });
  const redisMessages = createRedisMessageStore({
    client,
    guard,
    keys,
    historyMax: config.historyMax,
    idempotencyTtlMs: config.clientMsgIdTtlMs,
    webhooks: config.webhook && {
      due: (roomId, at) =>
        guard(() => client.zAdd(keys.webhookDue, { score: at, value: roomId }, { condition: "NX" })).then(() => {}),
    },
    replicated: replicaWait && ((roomId) => replicaWait(keys.room(roomId))),
    // The same buckets as messageLimiter below, so both paths spend one budget. A cluster keeps the user's
    // bucket in another slot than the room: there the budget is taken first, in its own step.
    budget: isCluster(client)
      ? undefined
      : {
          limit: { burst: config.rateBurst, perSecond: config.ratePerSec },
          bucket: (key) => keys.bucket("message", key),
        },
  });
  const bus = createRedisBus({ client, guard, subscriber, keys, onError });
  const presence = createRedisPresenceStore({ client, guard, keys, nodeId: config.nodeId });
  const records = options.records?.({ bus, presence }) ?? {
    messages: redisMessages,
    reads: createRedisReadStore({ client, guard, keys }),
    outbox: config.webhook ? createRedisOutbox({ client, guard, keys }) : undefined,
    bans: createRedisBanStore({ client, guard, keys }),
  };
  const connections = createRedisConnectionRegistry({ client, guard, keys, nodeId: config.nodeId });
  const typing = createRedisTypingStore({ client, guard, keys });
  const life = createNodeLife({
    client,
    guard,
    keys,
    nodeId: config.nodeId,
    bus,
    presence,
    connections,
    typing,
    ...config.presence,
    now,
    onError,
  });

  let closed = false;
  bus.start();
  const connected = Promise.all([
    client.connect(),
    subscriber.connect().then(() => bus.connected()),
    adapterPub.connect(),
    adapterSub.connect(),
  ]);
  connected.catch((error) => onError(error, "connect"));
  let waitTimer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    connected.then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => (waitTimer = setTimeout(() => resolve(false), options.connectWaitMs ?? 5000))),
  ]);
  clearTimeout(waitTimer);
  if (!waited) logger.warn("redis is not reachable yet: not ready until it is");

  // Each time the command connection comes back, re-register and repair at once rather than at the next beat.
  client.on("ready", () => {
    if (!closed) life.beat().catch((error) => onError(error, "heartbeat"));
  });
  await life.start();

  return {
    keys,
    client,
    bus,
    ...records,
    presence,
    typing,
    messageLimiter: createRedisRateLimiter({
      client,
      guard,
      keys,
      name: "message",
      limit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    }),
    joinLimiter: createRedisRateLimiter({ client, guard, keys, name: "join", limit: config.joinLimit }),
    typingLimiter: createRedisRateLimiter({
      client,
      guard,
      keys,
      name: "typing",
      limit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    }),
    connections,
    // A cluster needs the sharded adapter: classic pub/sub would carry every message to every shard.
    socketAdapter: createSocketAdapter(
      isCluster(client) ? "sharded" : config.redisAdapter,
      adapterPub,
      adapterSub,
      keys.prefix,
      logger,
    ),
    isReady: () => !closed && isUsable(client) && isUsable(subscriber) && life.healthy(),
    async shutdown() {
      await life.shutdown();
    },
    async close() {
      if (closed) return;
      closed = true;
      life.stop();
      await bus.close();
      await Promise.all([client, subscriber, adapterPub, adapterSub].map(closeConnection));
    },
  };
}
