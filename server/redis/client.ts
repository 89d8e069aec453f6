/**
 * Redis connections as the stores use them: fail fast while Redis is away
 * (no offline queue, a timeout on every command), reconnect by themselves with
 * a capped backoff, and turn every connection-level failure into
 * `StoreUnavailableError` so callers answer `unavailable` instead of hanging.
 */
import { createHash } from "node:crypto";
import { createClient, ErrorReply, type RedisClientType } from "redis";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";

export type Redis = RedisClientType;

/** Raw RESP2 replies as `sendCommand` returns them. */
export type Reply = string | number | null | Reply[];

export interface RedisConnectionOptions {
  url: string;
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
  const client = createClient({
    url: options.url,
    name: options.name,
    disableOfflineQueue: !options.offlineQueue,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => reconnectDelay(retries) },
  }) as unknown as Redis;
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
        return (await client.sendCommand(["EVALSHA", sha, ...tail])) as Reply;
      } catch (error) {
        if (!(isErrorReply(error) && error.message.startsWith("NOSCRIPT"))) throw error;
        return (await client.sendCommand(["EVAL", source, ...tail])) as Reply;
      }
    },
  };
}

/** Closes a client whatever its state: politely when connected, at once when Redis is away. */
export async function closeConnection(client: Redis): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) return void client.destroy();
  const timer = setTimeout(() => client.destroy(), 1000);
  try {
    await client.close();
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}
