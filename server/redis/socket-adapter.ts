/**
 * The Socket.IO Redis adapter, so that cluster-wide Socket.IO operations
 * (`io.fetchSockets()`, `io.serverSideEmit()`, a broadcast without `local`)
 * reach every node. Room events do not go through it: they travel on the
 * room-event bus (bus.redis.ts), in history order, and each node emits them
 * with `io.local`.
 *
 * The adapter gets its own pair of connections, with the offline queue on: it
 * subscribes and publishes without awaiting, so a command refused while Redis
 * is away would be an unhandled rejection, which ends the process. The
 * wrapper below gives each of those promises a handler.
 */
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import type { Logger } from "../logger";
import type { Redis } from "./client";

export type AdapterKind = "classic" | "sharded";

/** `io.adapter(...)` accepts this. */
export type SocketAdapterFactory = ReturnType<typeof createAdapter>;

/** The client methods the adapters call without handling the promise they return. */
const FIRE_AND_FORGET = new Set([
  "publish",
  "sPublish",
  "subscribe",
  "pSubscribe",
  "sSubscribe",
  "unsubscribe",
  "pUnsubscribe",
  "sUnsubscribe",
]);

function catchingRejections(client: Redis, logger: Logger): Redis {
  return new Proxy(client, {
    get(target, property) {
      // The client's methods and getters use private fields: always run them on the client itself.
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || property === "constructor") return value;
      if (typeof property !== "string" || !FIRE_AND_FORGET.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          result.catch((error) => logger.debug({ err: error, command: property }, "socket.io adapter command failed"));
        }
        return result;
      };
    },
  });
}

/**
 * @param kind `classic` (PUBLISH/PSUBSCRIBE) or `sharded` (SPUBLISH/SSUBSCRIBE, Redis 7+).
 * @param prefix put before the adapter's channels, like every key of this node's stores.
 */
export function createSocketAdapter(
  kind: AdapterKind,
  pub: Redis,
  sub: Redis,
  prefix: string,
  logger: Logger,
): SocketAdapterFactory {
  const safePub = catchingRejections(pub, logger);
  const safeSub = catchingRejections(sub, logger);
  if (kind === "sharded") {
    // "static": two channels a namespace. Our rooms are not broadcast through the adapter, so
    // subscribing to a channel per room (the default "dynamic") would only cost subscriptions.
    return createShardedAdapter(safePub, safeSub, {
      channelPrefix: `${prefix}socket.io`,
      subscriptionMode: "static",
    }) as unknown as SocketAdapterFactory;
  }
  return createAdapter(safePub, safeSub, { key: `${prefix}socket.io` });
}
