/**
 * Reconnection delays: exponential backoff with "full jitter" and a cap
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 * Full jitter spreads a crowd of clients that lost the same server over the
 * whole window instead of having them all knock again at the same instant.
 */

export interface BackoffOptions {
  /** Window of the first retry. @default 500 */
  baseMs?: number;
  /** Upper bound of any window. @default 30000 */
  maxMs?: number;
  /** Growth of the window per attempt. @default 2 */
  factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 500, maxMs: 30_000, factor: 2 };

/**
 * The delay before retry number `attempt` (0 for the first retry): a uniformly
 * random whole number of milliseconds in `[0, min(maxMs, baseMs * factor^attempt)]`.
 * Pure: the randomness is injected.
 *
 * @example backoffDelay(3, { baseMs: 500, maxMs: 30000 }, () => 1) // 4000
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { baseMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const exponent = Math.max(0, Math.floor(attempt));
  // Capping before multiplying keeps the window finite even for a huge attempt count.
  const window = Math.min(maxMs, baseMs * Math.pow(factor, Math.min(exponent, 64)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(r * window);
}
