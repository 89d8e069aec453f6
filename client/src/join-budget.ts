/**
 * Re-joins every room after a reconnect within the user's join budget (§13:
 * `JOIN_RATE_BURST`, then `JOIN_RATE_PER_SEC`, per user across all nodes).
 * All are asked at once; those refused `rate_limited` are not dropped (a
 * reconnect must bring back every room) but asked again one at a time, each
 * after the wait the server gave: asking them all again together would only
 * spend the budget again and be refused again.
 */
import { HuddleClientError } from "./errors";
import { toClientError } from "./request";

/** Times one room past the budget is asked again before its refusal is final. */
const PACED_ATTEMPTS = 10;

/**
 * @param join one `room:join` of the room
 * @param current false once the connection this is for is gone: the waits end, the rest fail `disconnected`
 */
export async function joinAllPaced<T>(
  ids: readonly string[],
  join: (roomId: string) => Promise<T>,
  current: () => boolean,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = await Promise.allSettled(ids.map((roomId) => join(roomId)));
  for (const [i, result] of results.entries()) {
    if (result.status === "fulfilled" || toClientError(result.reason).code !== "rate_limited") continue;
    results[i] = await settle(joinPaced(ids[i]!, toClientError(result.reason), join, current));
  }
  return results;
}

async function joinPaced<T>(
  roomId: string,
  refusal: HuddleClientError,
  join: (roomId: string) => Promise<T>,
  current: () => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(refusal.retryAfterMs ?? 1000, 50)));
    if (!current()) throw new HuddleClientError("disconnected", "the connection changed while waiting to re-join");
    try {
      return await join(roomId);
    } catch (error) {
      refusal = toClientError(error);
      if (refusal.code !== "rate_limited" || attempt >= PACED_ATTEMPTS) throw refusal;
    }
  }
}

const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
  promise.then(
    (value) => ({ status: "fulfilled", value }),
    (reason: unknown) => ({ status: "rejected", reason }),
  );
