/** Ends a live connection when its token expires (§1: `exp` plus 30 s of leeway). */
import { msUntilExpiry, type Identity } from "../../auth/tokens";
import type { Clock } from "../../core/clock";

// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): wait in steps instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `onExpired` when the identity's token expires; returns the cancel function. */
export function scheduleExpiry(identity: Identity, clock: Clock, onExpired: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const remaining = msUntilExpiry(identity, clock.now());
    if (remaining === undefined) return;
    if (remaining <= 0) return onExpired();
    timer = setTimeout(remaining > MAX_TIMER_MS ? arm : onExpired, Math.min(remaining, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
