/**
 * Webhook delivery (§11): every node runs one dispatcher over the shared
 * outbox. It claims the oldest pending event of each room (a lease: one node
 * at a time), POSTs it signed with Standard Webhooks (`standardwebhooks`:
 * `webhook-id`, `webhook-timestamp` of the attempt, `webhook-signature`), and
 * settles it: a 2xx within the timeout delivers it, anything else (another
 * status, a redirect, no answer) is retried with growing delays — the first
 * within 10 s — until `retryForMs` after the first attempt, then kept aside
 * as failed. Acks never wait for any of this.
 */
import { Webhook } from "standardwebhooks";
import type { Clock } from "../../core/clock";
import type { OutboxEntry, OutboxStore } from "./outbox.store";
import { webhookBody, type WebhookEvent } from "./webhook-event";
import { createPoster, type PostOutcome } from "./http-post";

export interface DispatcherOptions {
  outbox: OutboxStore;
  url: string;
  /** `whsec_` and the base64 key. */
  secret: string;
  nodeId: string;
  clock: Clock;
  /** An answer slower than this is a failed attempt. @default 10000 */
  timeoutMs?: number;
  /** The first retry's delay; each next one is 4× longer, up to 8 hours. @default 5000 */
  retryBaseMs?: number;
  /** How long after its first attempt an event is retried before it is kept aside as failed. @default 24 h */
  retryForMs?: number;
  /** Events in flight at once on this node (of different rooms). @default 16 */
  concurrency?: number;
  /** How often an idle dispatcher looks for due events (a recorded event wakes it at once). @default 500 */
  pollMs?: number;
  hooks?: {
    onDelivered?(event: WebhookEvent, lagMs: number): void;
    onAttemptFailed?(event: WebhookEvent, status: number, error: string | undefined, attempts: number): void;
    onExhausted?(event: WebhookEvent): void;
    onError?(error: unknown): void;
  };
}

export interface Dispatcher {
  /** Something was recorded: look for due events now rather than at the next poll. */
  poke(): void;
  /** Stops claiming and gives up the attempts in flight (they are retried); resolves once they are settled. */
  close(): Promise<void>;
}

const MAX_DELAY_MS = 8 * 60 * 60 * 1000;

/** The delay before retry `attempt` (1 for the first retry). */
export function retryDelay(attempt: number, baseMs: number): number {
  return Math.min(MAX_DELAY_MS, baseMs * 4 ** (attempt - 1));
}

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { outbox, clock } = options;
  const hooks = options.hooks ?? {};
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retryBaseMs = options.retryBaseMs ?? 5000;
  const retryForMs = options.retryForMs ?? 24 * 60 * 60 * 1000;
  const concurrency = options.concurrency ?? 16;
  const signer = new Webhook(options.secret);
  // Longer than an attempt can take, so a live node never loses its lease mid-attempt.
  const leaseMs = timeoutMs + 5000;
  let inFlight = 0;
  let closed = false;
  let ticking = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const settling = new Set<Promise<void>>();
  // Closed by close(): a draining node does not wait up to timeoutMs for a receiver that does not answer.
  const poster = createPoster(options.url);

  const send = (event: WebhookEvent): Promise<PostOutcome> => {
    const body = webhookBody(event);
    // One timestamp for the header and the signature: this attempt's time (receivers check it is recent).
    const seconds = Math.floor(clock.now() / 1000);
    const signature = signer.sign(event.id, new Date(seconds * 1000), body);
    return poster.post(
      {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": String(seconds),
        "webhook-signature": signature,
      },
      body,
      timeoutMs,
    );
  };

  const attempt = async (entry: OutboxEntry) => {
    const { status, error } = await send(entry.event);
    const now = clock.now();
    if (status >= 200 && status < 300) {
      await outbox.delivered(entry);
      hooks.onDelivered?.(entry.event, now - entry.event.at);
      return;
    }
    const attempts = entry.attempts + 1;
    hooks.onAttemptFailed?.(entry.event, status, error, attempts);
    if (now - (entry.firstAttemptAt ?? now) >= retryForMs) {
      await outbox.exhausted(entry, status, error, now);
      hooks.onExhausted?.(entry.event);
    } else {
      await outbox.retry(entry, now + retryDelay(attempts, retryBaseMs), status, error, now);
    }
  };

  const tick = async () => {
    if (closed) return;
    if (ticking) return void (again = true);
    ticking = true;
    clearTimeout(timer);
    try {
      do {
        again = false;
        const room = concurrency - inFlight;
        if (room <= 0) break;
        const entries = await outbox.claim(options.nodeId, clock.now(), room, leaseMs);
        for (const entry of entries) {
          inFlight++;
          const settled: Promise<void> = attempt(entry)
            .catch((e) => hooks.onError?.(e))
            .finally(() => {
              inFlight--;
              settling.delete(settled);
              // The room's next event may be due now.
              void tick();
            });
          settling.add(settled);
        }
      } while (again);
    } catch (error) {
      hooks.onError?.(error);
    } finally {
      ticking = false;
      if (!closed) {
        timer = setTimeout(() => void tick(), options.pollMs ?? 500);
        timer.unref();
      }
    }
  };
  void tick();

  return {
    poke: () => void tick(),
    async close() {
      closed = true;
      clearTimeout(timer);
      // Settled as failed attempts: the lease is released and the event retried, by another node if this one is gone.
      poster.close();
      await Promise.all(settling);
    },
  };
}
