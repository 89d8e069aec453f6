/**
 * The per-address limit on new connections (`CONNECT_RATE_PER_IP`,
 * `CONNECT_BURST_PER_IP`): a token bucket per client address, checked before
 * any handshake work (no token is verified, no store is touched), so a flood
 * of handshakes from one address costs the node almost nothing. A refused
 * handshake is answered HTTP 429 with `Retry-After`, on a polling request
 * and on a WebSocket upgrade alike.
 *
 * What counts as a new connection: a Socket.IO handshake (`GET /socket.io/`
 * without `sid`, over polling, or a WebSocket upgrade without `sid`) and a
 * `/ws` upgrade. Requests of an established Engine.IO session (they carry
 * its `sid`) are never counted, nor is the upgrade of a polling session.
 *
 * Limits are per node: behind the nginx template a client address always
 * lands on the same node, so a per-node bucket is a per-address bucket.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { endUpgrade } from "./refusals";

export interface ConnectionRateOptions {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many connections an address may open at once. */
  burst: number;
  /** Proxies in front that append to `X-Forwarded-For` (`TRUST_PROXY`). @default 0 */
  trustProxyHops?: number;
  /** @default Date.now */
  now?: () => number;
  /** A connection was refused (for the metric). */
  onRefused(): void;
  /**
   * Called once, for the first request with `X-Forwarded-For` while no proxy is trusted: if a proxy of ours sets
   * it, every client behind it shares that proxy's budget, and `TRUST_PROXY` should say so.
   */
  onUntrustedForwarded?(): void;
}

export interface ConnectionGate {
  /** For a request to `/socket.io/`: answers 429 and returns true when it is a handshake over the limit. */
  refuseRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** For an upgrade to `/socket.io/` or `/ws`: answers 429 and returns true when it is over the limit. */
  refuseUpgrade(req: IncomingMessage, socket: Duplex): boolean;
}

/** Lets everything through: `CONNECT_RATE_PER_IP=0`. */
export const openGate: ConnectionGate = { refuseRequest: () => false, refuseUpgrade: () => false };

export function createConnectionGate(options: ConnectionRateOptions): ConnectionGate {
  const take = createAddressBuckets(options.perSecond, options.burst, options.now ?? Date.now);
  const hops = options.trustProxyHops ?? 0;
  let hinted = false;
  /** Milliseconds to wait when refused, else undefined. */
  const check = (req: IncomingMessage): number | undefined => {
    if (hops === 0 && !hinted && req.headers["x-forwarded-for"] !== undefined) {
      hinted = true;
      options.onUntrustedForwarded?.();
    }
    const wait = take(bucketKey(clientAddress(req, hops)));
    if (wait !== undefined) options.onRefused();
    return wait;
  };
  return {
    refuseRequest(req, res) {
      if (req.method !== "GET" || hasSid(req.url)) return false;
      const wait = check(req);
      if (wait === undefined) return false;
      res.writeHead(429, { "Content-Type": "application/json", "Retry-After": retryAfterSeconds(wait) });
      res.end(
        JSON.stringify({ error: { code: "rate_limited", message: "too many new connections from your address" } }),
      );
      return true;
    },
    refuseUpgrade(req, socket) {
      if (hasSid(req.url)) return false;
      const wait = check(req);
      if (wait === undefined) return false;
      endUpgrade(socket, 429, "rate_limited", "too many new connections from your address", {
        "Retry-After": retryAfterSeconds(wait),
      });
      return true;
    },
  };
}

const hasSid = (url: string | undefined) => url !== undefined && /[?&]sid=/.test(url);
const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

/**
 * The address a request comes from. With `hops` trusted proxies in front, each appended the address it saw to
 * `X-Forwarded-For`, so the client is `hops` entries from the right of the list (the nginx template sets
 * `$proxy_add_x_forwarded_for`: whatever the client sent, then the client's address). Entries further left were
 * written by the client and prove nothing.
 */
export function clientAddress(req: IncomingMessage, hops: number): string {
  const peer = normalize(req.socket.remoteAddress ?? "unknown");
  if (hops === 0) return peer;
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  // [client-written..., addresses appended by our proxies..., the TCP peer (the last proxy)]
  const chain = [...forwarded, peer];
  return normalize(chain[Math.max(0, chain.length - 1 - hops)]!);
}

/** IPv4 clients of a dual-stack socket appear as `::ffff:1.2.3.4`. */
const normalize = (address: string) => (address.startsWith("::ffff:") ? address.slice(7) : address);

/**
 * The bucket of an address: the address itself for IPv4, its /64 for IPv6 (one subscriber usually holds a
 * whole /64, and could otherwise open a connection from each of its addresses).
 */
export function bucketKey(address: string): string {
  if (!address.includes(":")) return address;
  const [head = "", tail] = address.split("%")[0]!.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Token buckets keyed by address; returns undefined when a token was taken, else the milliseconds until one is
 * available. Buckets that have refilled completely carry no information and are swept now and then, so the map
 * holds only the addresses seen within the last few seconds.
 */
function createAddressBuckets(perSecond: number, burst: number, now: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const msToFull = (burst * 1000) / perSecond;
  let lastSweep = now();
  return (address: string): number | undefined => {
    const at = now();
    if (at - lastSweep > Math.max(msToFull, 10_000)) {
      for (const [key, bucket] of buckets) if (at - bucket.at >= msToFull) buckets.delete(key);
      lastSweep = at;
    }
    const bucket = buckets.get(address);
    const tokens = bucket ? Math.min(burst, bucket.tokens + ((at - bucket.at) * perSecond) / 1000) : burst;
    if (tokens < 1) {
      buckets.set(address, { tokens, at });
      return Math.ceil(((1 - tokens) * 1000) / perSecond);
    }
    buckets.set(address, { tokens: tokens - 1, at });
    return undefined;
  };
}
