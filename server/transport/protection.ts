/**
 * A node's protections against abusive or broken clients, wired to their
 * metrics and log lines in one place (the app only plugs them in):
 *
 * | limit | setting | refused or dropped, counted in |
 * | --- | --- | --- |
 * | new connections per address | `CONNECT_RATE_PER_IP`, `CONNECT_BURST_PER_IP` | HTTP 429; `huddle_connections_refused_total{code="429"}` |
 * | connections per user | `MAX_CONNECTIONS_PER_USER` | 4029; `huddle_connections_refused_total{code="4029"}` |
 * | message budget | `RATE_BURST`, `RATE_PER_SEC` | `rate_limited`; `huddle_errors_total{code="rate_limited"}` |
 * | payload size | `MAX_PAYLOAD_BYTES` | `too_large` / close 1009; `huddle_errors_total{code="too_large"}` |
 * | unsent output | `MAX_BUFFERED_BYTES` | disconnected; `huddle_slow_consumers_disconnected_total{transport}` |
 *
 * Log lines name the user id and the figures, never a token or message text.
 */
import type { Config } from "../config";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import { createConnectionGate, openGate, type ConnectionGate } from "./connection-rate";
import { createSlowConsumerGuard, type SlowConsumerGuard } from "./slow-consumers";

export interface Protection {
  readonly gate: ConnectionGate;
  readonly slowConsumers: SlowConsumerGuard;
  /** A packet or frame over `MAX_PAYLOAD_BYTES` closed a connection. */
  onTooLarge(transport: "socket.io" | "ws"): void;
  close(): void;
}

export function createProtection(
  config: Pick<Config, "connectRate" | "trustProxyHops" | "maxBufferedBytes" | "maxPayloadBytes">,
  metrics: Metrics,
  logger: Logger,
  options: { slowConsumerSweepMs?: number } = {},
): Protection {
  const gate = config.connectRate
    ? createConnectionGate({
        ...config.connectRate,
        trustProxyHops: config.trustProxyHops,
        onRefused: () => metrics.connectionsRefused.inc({ code: "429" }),
        onUntrustedForwarded: () =>
          logger.warn(
            "connections arrive with X-Forwarded-For but TRUST_PROXY is 0: the connection limit counts the TCP peer. " +
              "If a proxy you run (such as the nginx template) sets the header, set TRUST_PROXY=1, or all its clients share one budget",
          ),
      })
    : openGate;
  const slowConsumers = createSlowConsumerGuard({
    maxBufferedBytes: config.maxBufferedBytes,
    sweepMs: options.slowConsumerSweepMs,
    onDropped(connection, bytes) {
      metrics.slowConsumersDisconnected.inc({ transport: connection.transport });
      logger.warn(
        {
          transport: connection.transport,
          user: connection.userId,
          bufferedBytes: bytes,
          max: config.maxBufferedBytes,
        },
        "slow consumer disconnected: its unsent output passed MAX_BUFFERED_BYTES",
      );
    },
    onSweep(lagging) {
      for (const [transport, count] of Object.entries(lagging)) metrics.slowConsumersLagging.set({ transport }, count);
    },
  });
  return {
    gate,
    slowConsumers,
    onTooLarge(transport) {
      metrics.errors.inc({ code: "too_large" });
      logger.info({ transport, max: config.maxPayloadBytes }, "connection closed: a packet passed MAX_PAYLOAD_BYTES");
    },
    close: () => slowConsumers.close(),
  };
}
