/**
 * Webhooks on a node (§11), wired: the dispatcher over the stores' outbox,
 * its metrics (queued, delivered, failed, the oldest queued event's age, the
 * delivery lag) and a log line per failed attempt with its status. A node
 * without `WEBHOOK_URL` runs none of it.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "../../core/clock";
import type { Logger } from "../../logger";
import { startDispatcher, type Dispatcher } from "./dispatcher";
import type { FailedEvent, OutboxStore } from "./outbox.store";

export interface WebhookSettings {
  url: string;
  secret: string;
  timeoutMs: number;
  retryBaseMs: number;
  retryForMs: number;
}

export interface Webhooks {
  /** A change was stored somewhere: look for due events now. */
  poke(): void;
  /** The events that exhausted their retries, newest first. */
  failed(limit: number): Promise<FailedEvent[]>;
  close(): Promise<void>;
}

export function startWebhooks(options: {
  settings: WebhookSettings;
  outbox: OutboxStore;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  registry: Registry;
}): Webhooks {
  const { outbox, logger, registry } = options;
  const delivered = new Counter({
    name: "huddle_webhooks_delivered_total",
    help: "Webhook events delivered (a 2xx answer) by this node",
    registers: [registry],
  });
  const attemptsFailed = new Counter({
    name: "huddle_webhooks_attempts_failed_total",
    help: "Webhook delivery attempts that failed, by status (0: no answer in time, or no connection)",
    labelNames: ["status"],
    registers: [registry],
  });
  const lag = new Histogram({
    name: "huddle_webhooks_delivery_lag_seconds",
    help: "From the change to its webhook's delivery",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  // The outbox is shared by every node: these gauges tell the whole queue, read when scraped.
  let stats: Promise<Awaited<ReturnType<OutboxStore["stats"]>>> | undefined;
  const readStats = () => (stats ??= outbox.stats().finally(() => setTimeout(() => (stats = undefined), 1000).unref()));
  const gauge = (name: string, help: string, pick: (s: Awaited<ReturnType<OutboxStore["stats"]>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(pick(await readStats()));
        } catch {
          // Store away: the gauge keeps its last value; readiness tells the rest.
        }
      },
    });
  gauge("huddle_webhooks_queued", "Webhook events waiting to be delivered (all nodes)", (s) => s.queued);
  gauge(
    "huddle_webhooks_failed",
    "Webhook events that exhausted their retries, kept aside (all nodes)",
    (s) => s.failed,
  );
  gauge(
    "huddle_webhooks_oldest_queued_seconds",
    "Age of the oldest webhook event waiting to be delivered (0 when none)",
    (s) => (s.oldestAt === null ? 0 : Math.max(0, (options.clock.now() - s.oldestAt) / 1000)),
  );

  const dispatcher: Dispatcher = startDispatcher({
    outbox,
    url: options.settings.url,
    secret: options.settings.secret,
    nodeId: options.nodeId,
    clock: options.clock,
    timeoutMs: options.settings.timeoutMs,
    retryBaseMs: options.settings.retryBaseMs,
    retryForMs: options.settings.retryForMs,
    hooks: {
      onDelivered(_event, lagMs) {
        delivered.inc();
        lag.observe(lagMs / 1000);
      },
      onAttemptFailed(event, status, error, attempts) {
        attemptsFailed.inc({ status: String(status) });
        logger.warn(
          { webhookId: event.id, roomId: event.roomId, status, error, attempts },
          "webhook delivery failed; it will be retried",
        );
      },
      onExhausted(event) {
        logger.error(
          { webhookId: event.id, roomId: event.roomId },
          "webhook event exhausted its retries; kept as failed",
        );
      },
      onError: (error) => logger.warn({ err: error }, "webhook dispatcher"),
    },
  });
  return { poke: dispatcher.poke, failed: (limit) => outbox.failed(limit), close: () => dispatcher.close() };
}
