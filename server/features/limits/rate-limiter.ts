/**
 * Token-bucket rate limits: a burst of `burst` events, refilled at
 * `perSecond`. Keyed by user so the budget is the user's, not the connection's.
 */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

export interface RateLimiter {
  /** Takes one token from `key`'s bucket, or says how long until one is available. */
  take(key: string, now: number): Promise<RateDecision>;
}

export interface RateLimit {
  /** @default 20 */
  burst: number;
  /** @default 5 */
  perSecond: number;
}

/** Milliseconds until a bucket holding `tokens` has one whole token. */
export function retryAfterMs(tokens: number, perSecond: number): number {
  return Math.max(1, Math.ceil(((1 - tokens) * 1000) / perSecond));
}

export function createMemoryRateLimiter(limit: RateLimit): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const msToFull = (limit.burst * 1000) / limit.perSecond;
  let lastSweep = 0;
  return {
    async take(key, now) {
      // A bucket that has refilled completely holds no information: drop those now and then so memory stays bounded.
      if (now - lastSweep > Math.max(msToFull, 60_000)) {
        for (const [k, b] of buckets) if (now - b.at >= msToFull) buckets.delete(k);
        lastSweep = now;
      }
      const bucket = buckets.get(key) ?? { tokens: limit.burst, at: now };
      const tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.perSecond) / 1000);
      if (tokens < 1) {
        buckets.set(key, { tokens, at: now });
        return { ok: false, retryAfterMs: retryAfterMs(tokens, limit.perSecond) };
      }
      buckets.set(key, { tokens: tokens - 1, at: now });
      return { ok: true };
    },
  };
}
