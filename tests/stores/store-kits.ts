/**
 * The store implementations the contract suite runs over. A kit is two
 * "nodes" over the same data: for memory, the same bundle twice; for Redis,
 * two bundles with their own node ids and connections, sharing a private
 * redis-server and a key prefix no other test uses; for PostgreSQL, two Redis
 * bundles whose messages and read state are in a private PostgreSQL database
 * (the many-nodes shape of §10), each node with its own pool.
 */
import type { RoomEvent } from "../../server/core/bus";
import { loadConfig, type Config } from "../../server/config";
import { createLogger } from "../../server/logger";
import { createRedisStores, type RedisStores } from "../../server/redis/redis-stores";
import { createPostgresRecords, type PostgresRecords } from "../../server/postgres/pg-stores";
import { createMemoryStores, type Stores } from "../../server/stores";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startSharedRedis, type SharedRedis } from "../helpers/shared-redis";
import { TEST_SECRET } from "../helpers/tokens";

export type Kind = "memory" | "redis" | "postgres";
/** Every store of record: messages and read state. */
export const KINDS: Kind[] = ["memory", "redis", "postgres"];
/** Where presence, typing and limits live (PostgreSQL holds none of them). */
export const EPHEMERAL_KINDS: Kind[] = ["memory", "redis"];

export interface Kit {
  /** The stores of node one. */
  readonly a: Stores;
  /** The stores of node two, over the same data. */
  readonly b: Stores;
  /** Every bus event node one delivered, in order. */
  readonly events: RoomEvent[];
  /** Every bus event node two delivered, in order. */
  readonly eventsB: RoomEvent[];
  readonly config: Config;
  /** Both nodes follow these rooms (a Redis bus carries only the rooms a node follows, §12). */
  follow(...roomIds: string[]): Promise<void>;
  close(): Promise<void>;
}

let counter = 0;
const open = new Set<Kit>();

export function kitConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", HISTORY_MAX: "1000", ...env });
}

/** Redis bundle for one "node"; intervals short so that reaping happens within a test. */
export function redisStores(
  config: Config,
  prefix: string,
  options: { connectWaitMs?: number; records?: PostgresRecords["records"] } = {},
) {
  return createRedisStores(config, createLogger({ level: "silent", nodeId: config.nodeId }), {
    prefix,
    commandTimeoutMs: 1000,
    ...options,
  });
}

/** A Redis bundle whose messages and read state are in PostgreSQL at `databaseUrl`; closing it closes both. */
async function postgresNode(config: Config, prefix: string, databaseUrl: string): Promise<Stores> {
  const logger = createLogger({ level: "silent", nodeId: config.nodeId });
  const postgres = await createPostgresRecords({ ...config, databaseUrl }, logger);
  const stores = await redisStores(config, prefix, { records: postgres.records });
  return {
    ...stores,
    isReady: () => stores.isReady() && postgres.isReady(),
    async close() {
      await stores.close();
      await postgres.close();
    },
  };
}

/** Where a kit's Redis is: the environment that points a node at it (REDIS_URL or REDIS_CLUSTER_NODES). */
export type KitRedis = Pick<SharedRedis, "env">;

export async function openKit(
  kind: Kind,
  redis: KitRedis | undefined,
  env: Record<string, string> = {},
  postgres?: TestPostgres,
): Promise<Kit> {
  const config = kitConfig({ ...env, ...redis?.env });
  let a: Stores;
  let b: Stores;
  if (kind === "memory") {
    a = b = createMemoryStores({
      historyMax: config.historyMax,
      clientMsgIdTtlMs: config.clientMsgIdTtlMs,
      messageLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
      typingLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    });
  } else if (kind === "redis") {
    if (!redis) throw new Error("a Redis kit needs the test's redis-server");
    const prefix = `t${process.pid}-${++counter}:`;
    a = await redisStores(kitConfig({ ...env, ...redis.env, NODE_ID: `${prefix}a` }), prefix);
    b = await redisStores(kitConfig({ ...env, ...redis.env, NODE_ID: `${prefix}b` }), prefix);
  } else {
    if (!redis || !postgres) throw new Error("a PostgreSQL kit needs the test's redis-server and PostgreSQL");
    const prefix = `t${process.pid}-${++counter}:`;
    const database = await postgres.createDatabase();
    const node = (id: string) =>
      postgresNode(kitConfig({ ...env, ...redis.env, NODE_ID: `${prefix}${id}` }), prefix, database);
    [a, b] = await Promise.all([node("a"), node("b")]);
  }
  const events: RoomEvent[] = [];
  const eventsB: RoomEvent[] = [];
  a.bus.subscribe((event) => events.push(event));
  if (b !== a) b.bus.subscribe((event) => eventsB.push(event));
  else a.bus.subscribe((event) => eventsB.push(event));
  const kit: Kit = {
    a,
    b,
    events,
    eventsB,
    config,
    async follow(...roomIds) {
      await Promise.all([a, b].flatMap((stores) => roomIds.map((roomId) => stores.bus.followRoom?.(roomId))));
    },
    async close() {
      open.delete(kit);
      for (const stores of new Set([a, b])) {
        await stores.shutdown().catch(() => {});
        await stores.close();
      }
    },
  };
  open.add(kit);
  return kit;
}

export async function closeKits(): Promise<void> {
  await Promise.all([...open].map((kit) => kit.close()));
}

export type { RedisStores };

/**
 * A private redis-server and PostgreSQL for a contract test file: started before its tests, and stopped after
 * every kit the file opened is closed. Returns a function that opens a kit of a kind over them.
 */
export function useContractServers(): (kind: Kind, env?: Record<string, string>) => Promise<Kit> {
  let redis: SharedRedis | undefined;
  let postgres: TestPostgres | undefined;
  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startSharedRedis(), startPostgres()]);
  }, 60_000);
  afterAll(async () => {
    await closeKits();
    await redis?.stop();
    await postgres?.destroy();
  });
  return (kind, env = {}) => openKit(kind, redis, env, postgres);
}

/** Only the private Redis, for the Redis-only files (no PostgreSQL started). */
export function useContractRedis(): () => SharedRedis {
  let redis: SharedRedis | undefined;
  beforeAll(async () => {
    redis = await startSharedRedis();
  }, 60_000);
  afterAll(async () => {
    await closeKits();
    await redis?.stop();
  });
  return () => redis!;
}
