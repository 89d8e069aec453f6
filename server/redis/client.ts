/**
 * Redis connections as the stores use them: fail fast while Redis is away
 * (no offline queue, a timeout on every command), reconnect by themselves with
 * a capped backoff, and turn every connection-level failure into
 * `StoreUnavailableError` so callers answer `unavailable` instead of hanging.
 */
import { createHash } from "node:crypto";
import { createClient, createCluster, ErrorReply, type RedisClientType, type RedisClusterType } from "redis";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";

/** A connection to one Redis, or to a Redis Cluster (commands routed by key, sharded pub/sub by channel). */
export type Redis = RedisClientType | RedisClusterType;

export function isCluster(client: Redis): client is RedisClusterType {
  return "masters" in client;
}

/** Sends a raw command; on a cluster it goes to the master of `firstKey` (or any node without one). */
export function command(client: Redis, firstKey: string | undefined, args: string[]): Promise<Reply> {
  if (isCluster(client)) return client.sendCommand(firstKey, false, args) as Promise<Reply>;
  return client.sendCommand(args) as Promise<Reply>;
}

/** Raw RESP2 replies as `sendCommand` returns them. */
export type Reply = string | number | null | Reply[];

export interface RedisConnectionOptions {
  /** One Redis (`REDIS_URL`). */
  url?: string;
  /** The seed nodes of a Redis Cluster (`REDIS_CLUSTER_NODES`, host:port each), instead of `url`. */
  clusterNodes?: readonly string[];
  /** Name shown by `CLIENT LIST`, to tell a node's connections apart. */
  name: string;
  /** Keep commands issued while disconnected and send them on reconnection (only for the Socket.IO adapter). @default false */
  offlineQueue?: boolean;
}

/** Backoff between reconnection attempts: doubling from 50 ms, capped at 2 s, with jitter so nodes do not retry in lockstep. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(retries, 10));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function createRedisConnection(options: RedisConnectionOptions, logger: Logger): Redis {
  const clientOptions = {
    name: options.name,
    // node-redis 6 speaks RESP3 by default; the scripts' raw replies are read as RESP2 shapes.
    RESP: 2 as const,
    disableOfflineQueue: !options.offlineQueue,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => reconnectDelay(retries) },
  };
  const client = (options.clusterNodes
    ? createCluster({
        rootNodes: options.clusterNodes.map((node) => ({ url: `redis://${node}` })),
        defaults: clientOptions,
        // A failover moves slots around: follow MOVED/ASK for as long as it takes.
        maxCommandRedirections: 32,
        // While a node's connection keeps failing, look for a new topology every second rather than after the
        // default 5 s: a failed master's slots (and its sharded subscriptions) move to the replica sooner.
        topologyRefreshOnReconnectionAttemptStrategy: 1000,
      })
    : createClient({ url: options.url, ...clientOptions })) as unknown as Redis;
  // node-redis emits `error` on every failed attempt; log the first of each outage, not a line every retry.
  let down = false;
  client.on("error", (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err: error, connection: options.name }, "redis connection lost; retrying");
  });
  client.on("ready", () => {
    if (down) logger.info({ connection: options.name }, "redis connection back");
    down = false;
  });
  return client;
}

/** Redis answers that mean "not now" rather than "wrong request". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MISCONF|READONLY|OOM|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

/** True when `error` is a reply Redis sent (a script or usage bug), as opposed to a connection failure. */
function isErrorReply(error: unknown): error is ErrorReply {
  return error instanceof ErrorReply;
}

/** Runs one store operation against Redis, with the failure mapping below. */
export type Guard = <T>(operation: () => Promise<T>) => Promise<T>;

/**
 * Makes the guard every store call goes through: connection failures,
 * transient replies and answers slower than `timeoutMs` become
 * `StoreUnavailableError`; other error replies are bugs and pass through (they
 * become `internal`). node-redis's own command timeout stops counting once a
 * command is written, so a server that hangs would otherwise hang the caller.
 * A command that timed out may still run later in Redis: callers that care
 * (presence, connections) undo it once Redis answers again.
 */
export function createGuard(timeoutMs: number): Guard {
  return async (operation) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError("storage did not answer in time, try again")),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([operation(), late]);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      if (isErrorReply(error) && !TRANSIENT_REPLY.test(error.message)) throw error;
      throw new StoreUnavailableError(undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A Lua script run by its SHA1, sent in full only when Redis does not know it yet (after a restart, say). */
export interface Script {
  run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply>;
}

export function defineScript(source: string): Script {
  const sha = createHash("sha1").update(source).digest("hex");
  return {
    async run(client, keys, args) {
      const tail = [String(keys.length), ...keys, ...args.map(String)];
      try {
        return await command(client, keys[0], ["EVALSHA", sha, ...tail]);
      } catch (error) {
        if (!(isErrorReply(error) && error.message.startsWith("NOSCRIPT"))) throw error;
        return await command(client, keys[0], ["EVAL", source, ...tail]);
      }
    },
  };
}

/** True while the connection can take commands (a cluster: while it is open; its nodes reconnect on their own). */
export function isUsable(client: Redis): boolean {
  return isCluster(client) ? client.isOpen : client.isReady;
}

/** Closes a client whatever its state: politely when connected, at once when Redis is away. */
export async function closeConnection(client: Redis): Promise<void> {
  if (!client.isOpen) return;
  if (!isUsable(client)) return void client.destroy();
  const timer = setTimeout(() => client.destroy(), 1000);
  try {
    await client.close();
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}
