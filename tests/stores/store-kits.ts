/**
 * The store implementations the contract suite runs over. A kit is two
 * "nodes" over the same data: for memory, the same bundle twice; for Redis,
 * two bundles with their own node ids and connections, sharing a private
 * redis-server and a key prefix no other test uses.
 */
import type { RoomEvent } from "../../server/core/bus";
import { loadConfig, type Config } from "../../server/config";
import { createLogger } from "../../server/logger";
import { createRedisStores, type RedisStores } from "../../server/redis/redis-stores";
import { createMemoryStores, type Stores } from "../../server/stores";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { TEST_SECRET } from "../helpers/tokens";

export type Kind = "memory" | "redis";
export const KINDS: Kind[] = ["memory", "redis"];

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
  close(): Promise<void>;
}

let counter = 0;
const open = new Set<Kit>();

export function kitConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", HISTORY_MAX: "1000", ...env });
}

/** Redis bundle for one "node"; intervals short so that reaping happens within a test. */
export function redisStores(config: Config, prefix: string, options: { connectWaitMs?: number } = {}) {
  return createRedisStores(config, createLogger({ level: "silent", nodeId: config.nodeId }), {
    prefix,
    commandTimeoutMs: 1000,
    ...options,
  });
}

export async function openKit(
  kind: Kind,
  redis: TestRedis | undefined,
  env: Record<string, string> = {},
): Promise<Kit> {
  const config = kitConfig({ ...env, ...(redis ? { REDIS_URL: redis.url } : {}) });
  let a: Stores;
  let b: Stores;
  if (kind === "memory") {
    a = b = createMemoryStores({
      historyMax: config.historyMax,
      clientMsgIdTtlMs: config.clientMsgIdTtlMs,
      messageLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
      typingLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    });
  } else {
    if (!redis) throw new Error("a Redis kit needs the test's redis-server");
    const prefix = `t${process.pid}-${++counter}:`;
    a = await redisStores(kitConfig({ ...env, REDIS_URL: redis.url, NODE_ID: `${prefix}a` }), prefix);
    b = await redisStores(kitConfig({ ...env, REDIS_URL: redis.url, NODE_ID: `${prefix}b` }), prefix);
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
 * A private redis-server for a contract test file: started before its tests, and stopped after every kit
 * the file opened is closed. Returns the running server (call it inside hooks and tests).
 */
export function useContractRedis(): () => TestRedis {
  let redis: TestRedis | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await closeKits();
    await redis?.stop();
  });
  return () => redis!;
}
