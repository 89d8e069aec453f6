/**
 * The deployment shape, from the configuration (§10, §7): one node in memory;
 * one node with PostgreSQL (durable, no Redis); many nodes with Redis; many
 * nodes with Redis and PostgreSQL. Redis, when set, carries the bus,
 * presence, typing and limits; PostgreSQL, when set, holds messages and read
 * state.
 */
import type { Config } from "./config";
import type { Logger } from "./logger";
import { createPostgresRecords } from "./postgres/pg-stores";
import { createRedisStores, type RedisStores } from "./redis/redis-stores";
import { createRedisDirectory } from "./redis/directory.redis";
import { createGuard } from "./redis/client";
import { newNodeTag } from "./core/node-directory";
import { StoreUnavailableError } from "./errors";
import { createMemoryStores, type RecordStores, type Stores } from "./stores";

/** The stores of one node in memory, as the configuration sets them (and with another store of record, if given). */
export function memoryStores(config: Config, records?: RecordStores): Stores {
  return createMemoryStores({
    historyMax: config.historyMax,
    clientMsgIdTtlMs: config.clientMsgIdTtlMs,
    messageLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    typingLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    joinLimit: config.joinLimit,
    records,
    webhooks: config.webhook !== undefined,
  });
}

export async function createStores(config: Config, logger: Logger): Promise<Stores> {
  const postgres = config.databaseUrl ? await createPostgresRecords(config, logger) : undefined;
  const records = postgres?.records;
  const base =
    config.redisUrl || config.redisClusterNodes
      ? await withDirectory(config, logger, await createRedisStores(config, logger, { records }))
      : memoryStores(config, records);
  if (!postgres) return base;
  return {
    ...base,
    isReady: () => base.isReady() && postgres.isReady(),
    async shutdown() {
      await postgres.drain();
      await base.shutdown();
    },
    async close() {
      await base.close();
      await postgres.close();
    },
  };
}

/**
 * Many nodes: the Redis stores plus this node's entry in the node directory (its tag and `ADVERTISE_URL`), so that
 * Socket.IO requests of its sessions are forwarded to it from any node (§12: no sticky sessions).
 */
export async function withDirectory(config: Config, logger: Logger, redis: RedisStores): Promise<Stores> {
  const directory = createRedisDirectory({
    client: redis.client,
    guard: createGuard(2000),
    prefix: redis.keys.prefix,
    tag: newNodeTag(),
    url: config.advertiseUrl,
    refreshMs: config.presence.heartbeatMs,
    ttlMs: config.presence.ttlMs,
    onError: (error, context) =>
      error instanceof StoreUnavailableError
        ? logger.debug({ err: error, context }, "node directory: redis unavailable")
        : logger.warn({ err: error, context }, "node directory task failed"),
  });
  await directory.start();
  logger.info({ tag: directory.tag, advertiseUrl: config.advertiseUrl }, "registered in the node directory");
  return {
    ...redis,
    directory,
    async shutdown() {
      await directory.shutdown();
      await redis.shutdown();
    },
    async close() {
      directory.stop();
      await redis.close();
    },
  };
}
