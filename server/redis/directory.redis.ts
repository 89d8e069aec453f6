/**
 * The node directory in Redis (see core/node-directory.ts): one key per live
 * node, `<prefix>route:<tag>` → its advertised base URL, set with a TTL and
 * refreshed on the presence heartbeat's schedule, so a node that dies drops
 * out of the directory within the TTL. Lookups are cached in the process for a
 * few seconds (and a miss for one second), so forwarding a request costs a
 * Redis round trip only the first time a node sees another node's tag in that
 * window. While Redis is away a lookup answers from the last value it had.
 *
 * The key is named here, not in keys.ts: it is this module's alone, and
 * nothing else (the reaper's script included) reads it.
 */
import { isNodeTag, type NodeDirectory } from "../core/node-directory";
import { defineScript, type Guard, type Redis } from "./client";

// KEYS: the node's route key. ARGV: its URL. Deletes the key only if it still holds this node's URL.
const RELEASE = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export interface RedisDirectoryOptions {
  client: Redis;
  guard: Guard;
  /** The deployment's key prefix (keys.ts). */
  prefix: string;
  /** This node's tag. */
  tag: string;
  /** This node's base URL (`ADVERTISE_URL`). */
  url: string;
  /** How often the entry is refreshed. */
  refreshMs: number;
  /** How long an entry lives without a refresh. */
  ttlMs: number;
  /** How long a found URL is used before it is looked up again. @default 3000 */
  cacheMs?: number;
  /** How long "no such node" is remembered. @default 1000 */
  missCacheMs?: number;
  /** Most tags cached at once (crafted session ids must not grow the cache without bound). @default 1024 */
  maxCached?: number;
  /** @default Date.now */
  now?: () => number;
  onError(error: unknown, context: string): void;
}

export interface RedisDirectory extends NodeDirectory {
  /** Registers this node now and then every `refreshMs`. Resolves once the first attempt is done (even failed). */
  start(): Promise<void>;
}

interface CacheEntry {
  url: string | undefined;
  until: number;
}

export function createRedisDirectory(options: RedisDirectoryOptions): RedisDirectory {
  const { client, guard, tag, url } = options;
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 3000;
  const missCacheMs = options.missCacheMs ?? 1000;
  const maxCached = options.maxCached ?? 1024;
  const key = (of: string) => `${options.prefix}route:${of}`;
  const cache = new Map<string, CacheEntry>();
  const pending = new Map<string, Promise<string | undefined>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  const register = () => guard(() => client.set(key(tag), url, { expiration: { type: "PX", value: options.ttlMs } }));

  const remember = (of: string, found: string | undefined) => {
    if (cache.size >= maxCached && !cache.has(of)) {
      const at = now();
      for (const [cached, entry] of cache) if (entry.until <= at) cache.delete(cached);
      // Still full of fresh entries: drop the oldest.
      if (cache.size >= maxCached) cache.delete(cache.keys().next().value!);
    }
    cache.delete(of);
    cache.set(of, { url: found, until: now() + (found === undefined ? missCacheMs : cacheMs) });
  };

  const fetch = async (of: string): Promise<string | undefined> => {
    try {
      const found = await guard(() => client.get(key(of)));
      const valid = found !== null && isHttpUrl(found) ? found : undefined;
      remember(of, valid);
      return valid;
    } catch (error) {
      options.onError(error, "directory lookup");
      // Redis away: the last URL known for that node is the best guess (a dead one fails at connect).
      return cache.get(of)?.url;
    }
  };

  return {
    tag,
    async lookup(of) {
      if (of === tag) return url;
      if (!isNodeTag(of)) return undefined;
      const cached = cache.get(of);
      if (cached && cached.until > now()) return cached.url;
      let lookup = pending.get(of);
      if (!lookup) {
        lookup = fetch(of).finally(() => pending.delete(of));
        pending.set(of, lookup);
      }
      return lookup;
    },
    async start() {
      const loop = () => {
        if (stopped) return;
        timer = setTimeout(() => {
          register()
            .catch((error) => options.onError(error, "directory refresh"))
            .finally(loop);
        }, options.refreshMs);
        timer.unref();
      };
      await register().catch((error) => options.onError(error, "directory refresh"));
      loop();
    },
    stop,
    async shutdown() {
      stop();
      await guard(() => RELEASE.run(client, [key(tag)], [url])).catch((error) =>
        options.onError(error, "directory release"),
      );
    },
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const parsed = new URL(value);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}
