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
import { createRedisStores } from "./redis/redis-stores";
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
      ? await createRedisStores(config, logger, { records })
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
