/**
 * Prometheus metrics (`GET /metrics`), on a registry of this app instance
 * (never prom-client's global one, so one process can hold many apps).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  readonly connections: Gauge<"transport">;
  readonly rooms: Gauge;
  readonly roomsFollowed: Gauge;
  readonly messages: Counter;
  readonly errors: Counter<"code">;
  readonly ackLatency: Histogram<"event">;
  readonly connectionsRefused: Counter<"code">;
  readonly slowConsumersDisconnected: Counter<"transport">;
  readonly slowConsumersLagging: Gauge<"transport">;
  readonly forwarded: Counter<"transport" | "outcome">;
}

export function createMetrics(options: {
  nodeId: string;
  countRooms: () => number;
  /** Rooms whose events this node receives (a member, a stream or a poll here, or lingering; §12). */
  countFollowed?: () => number;
}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: options.nodeId });
  // Includes nodejs_eventloop_lag_seconds and its percentiles, the event-loop lag of §5. Those percentiles come
  // from a timer that samples the loop's delay: every 10 ms by default, 100 wake-ups a second that cost an idle node
  // about 2 ms of CPU a second (half of what it spends); every 100 ms still catches any stall worth reporting.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return {
    registry,
    connections: new Gauge({
      name: "huddle_connections",
      help: "Open client connections on this node, by transport",
      labelNames: ["transport"],
      registers: [registry],
    }),
    rooms: new Gauge({
      name: "huddle_rooms",
      help: "Rooms with at least one connection on this node",
      registers: [registry],
      collect() {
        this.set(options.countRooms());
      },
    }),
    roomsFollowed: new Gauge({
      name: "huddle_bus_rooms_followed",
      help: "Rooms whose events this node receives from the bus: those it serves, and those lingering after",
      registers: [registry],
      collect() {
        this.set(options.countFollowed?.() ?? 0);
      },
    }),
    messages: new Counter({
      name: "huddle_messages_sent_total",
      help: "Messages stored (and broadcast) by this node, duplicates excluded",
      registers: [registry],
    }),
    errors: new Counter({
      name: "huddle_errors_total",
      help: "Requests answered with an error, by protocol error code",
      labelNames: ["code"],
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: "huddle_connections_refused_total",
      help: "Connections refused at the handshake, by 40xx code (429: CONNECT_RATE_PER_IP, 503: a store or the identity provider unreachable)",
      labelNames: ["code"],
      registers: [registry],
    }),
    slowConsumersDisconnected: new Counter({
      name: "huddle_slow_consumers_disconnected_total",
      help: "Connections disconnected because their unsent output exceeded MAX_BUFFERED_BYTES, by transport",
      labelNames: ["transport"],
      registers: [registry],
    }),
    slowConsumersLagging: new Gauge({
      name: "huddle_slow_consumers_lagging",
      help: "Connections past half of MAX_BUFFERED_BYTES (typing updates are not sent to them), by transport",
      labelNames: ["transport"],
      registers: [registry],
    }),
    forwarded: new Counter({
      name: "huddle_socketio_forwarded_total",
      help: "Socket.IO requests (polling) and upgrades (websocket) of a session held by another node, sent on to it; outcome ok, unknown (no live node has the session's tag: answered Session ID unknown) or failed (the node could not be reached)",
      labelNames: ["transport", "outcome"],
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: "huddle_ack_latency_seconds",
      help: "Time from receiving a client event to sending its ack",
      labelNames: ["event"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
