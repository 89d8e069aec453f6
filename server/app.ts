/**
 * `createApp(config, deps)`: one Huddle node, composed from its parts: the
 * stores, the services over them, the Socket.IO and `/ws` transports, the
 * delivery of room events to this node's connections, webhooks, the HTTP API,
 * and the front door that routes each request and upgrade to one of them
 * (transport/entry.ts). Nothing here reads the environment or holds global
 * state, so a test can run many apps in one process.
 */
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { KeySetFetchError, KeySetUnavailableError } from "./auth/jwks";
import type { Config } from "./config";
import { systemClock, type Clock } from "./core/clock";
import { createLogger, type Logger } from "./logger";
import { createMetrics } from "./metrics";
import { createServices, type Services } from "./services";
import type { Stores } from "./stores";
import { memoryStores } from "./store-factory";
import { createLocalDelivery } from "./transport/delivery";
import { createHttpApi } from "./transport/http/http-api";
import { createOriginPolicy } from "./transport/http/origin";
import { createSocketServer, type HuddleServer } from "./transport/socket/socket-server";
import { createForwarder } from "./transport/socket/forwarding";
import type { CommandHooks } from "./transport/commands";
import { createWsEndpoint } from "./transport/ws/ws-endpoint";
import { createEntry } from "./transport/entry";
import { roomKey } from "./transport/socket/room-keys";
import { createProtection } from "./transport/protection";
import { watchSocketIo } from "./transport/slow-consumers";
import { startWebhooks } from "./features/webhooks/webhooks";
import { randomBytes } from "node:crypto";
import { createInternalServer } from "./transport/http/internal-server";
import { holdSlot } from "./transport/session";

export interface AppDeps {
  logger?: Logger;
  clock?: Clock;
  /** The stores to use; by default the in-memory ones (the Redis ones come from `createRedisStores`). */
  stores?: Stores;
  /** Where the built web client is. @default the web/ of the build this bundle is part of, else dist/web */
  webRoot?: string;
  /** SSE heartbeat interval. @default 15000 */
  sseHeartbeatMs?: number;
  /** `/ws` server ping interval; a client that answered neither of the last two pings is ended. @default 25000 */
  wsPingIntervalMs?: number;
  /** How long a `/ws` client without `?token=` has to send its `auth` frame. @default 5000 */
  wsAuthTimeoutMs?: number;
  /** How often each connection's unsent output is compared with `MAX_BUFFERED_BYTES`. @default 250 */
  slowConsumerSweepMs?: number;
}

export interface App {
  readonly http: HttpServer;
  readonly io: HuddleServer;
  readonly services: Services;
  readonly logger: Logger;
  /**
   * Listens on `port` (0 for any) and resolves with the port taken; with `INTERNAL_PORT` set, listens there too
   * (see `internalPort`).
   */
  listen(port?: number, host?: string): Promise<number>;
  /** The internal port taken (metrics, health), once listening with `INTERNAL_PORT` set. */
  readonly internalPort: number | undefined;
  /** Ready to serve: stores reachable and not draining. */
  isReady(): boolean;
  /**
   * Stops taking connections, tells connected clients to reconnect elsewhere,
   * removes this node's entries from shared stores and closes everything.
   */
  close(): Promise<void>;
}

export function createApp(config: Config, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const clock = deps.clock ?? systemClock;
  const stores = deps.stores ?? memoryStores(config);
  const logError = (error: unknown, context = "internal") => {
    // Refusals while the identity provider is unreachable: the failed fetch itself was logged, once.
    if (error instanceof KeySetUnavailableError) return;
    logger.error({ err: error, context }, "unexpected error");
  };
  let io: HuddleServer | undefined;
  const countRooms = () => {
    let rooms = 0;
    for (const name of io?.of("/").adapter.rooms.keys() ?? []) if (name.startsWith(roomKey(""))) rooms++;
    return rooms;
  };
  const metrics = createMetrics({ nodeId: config.nodeId, countRooms, countFollowed: () => delivery?.followed() ?? 0 });
  const services = createServices(
    config,
    stores,
    clock,
    (error) => (error instanceof KeySetFetchError ? logger.warn(error.message) : logError(error, "background")),
    () => metrics.messages.inc(),
  );
  const protection = createProtection(config, metrics, logger, { slowConsumerSweepMs: deps.slowConsumerSweepMs });
  const origins = createOriginPolicy(config.corsOrigins);
  let draining = false;
  const isReady = () => !draining && stores.isReady();

  const commandHooks: CommandHooks = {
    onOutcome(event, startedAt, ack, thrown) {
      metrics.ackLatency.observe({ event }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      if (!ack.ok) {
        metrics.errors.inc({ code: ack.error.code });
        if (ack.error.code === "internal" || ack.error.code === "unavailable") {
          logger.warn({ event, code: ack.error.code, err: thrown }, "event failed");
        }
      }
    },
  };
  /** What a connection-holding transport reports, counted per transport. */
  const transportHooks = (transport: "socket.io" | "ws") => ({
    ...commandHooks,
    onConnectionRefused: (code: number) => metrics.connectionsRefused.inc({ code: String(code) }),
    onConnectionCountChange: (delta: number) => metrics.connections.inc({ transport }, delta),
    onTooLarge: () => protection.onTooLarge(transport),
    onError: logError,
  });
  let delivery: ReturnType<typeof createLocalDelivery> | undefined;
  const socketServer = createSocketServer({
    services,
    nodeId: config.nodeId,
    nodeTag: stores.directory?.tag,
    roomReady: (roomId) => delivery?.ready(roomId) ?? Promise.resolve(),
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    maxPayloadBytes: config.maxPayloadBytes,
    typingTtlMs: config.typingTtlMs,
    hooks: transportHooks("socket.io"),
  });
  io = socketServer.io;
  watchSocketIo(io, protection.slowConsumers);
  const { engine } = socketServer;
  // Many nodes: a Socket.IO request of a session held by another node is forwarded there (no sticky sessions, §12).
  const forwarder =
    stores.directory &&
    createForwarder({
      directory: stores.directory,
      trustProxyHops: config.trustProxyHops,
      onForwarded: (transport, outcome) => metrics.forwarded.inc({ transport, outcome }),
      onMisrouted: (tag) =>
        logger.warn(
          { tag, advertiseUrl: config.advertiseUrl },
          "another node forwarded here a request of a session this node did not issue: some node's ADVERTISE_URL " +
            "points at this node (each node needs its own, reachable from the others)",
        ),
    });
  if (stores.socketAdapter) io.adapter(stores.socketAdapter);
  const webhooks =
    config.webhook && stores.outbox
      ? startWebhooks({
          settings: config.webhook,
          outbox: stores.outbox,
          nodeId: config.nodeId,
          clock,
          logger,
          registry: metrics.registry,
        })
      : undefined;
  delivery = createLocalDelivery(stores.bus, io, {
    messages: stores.messages,
    onError: (error) => logError(error, "delivery"),
    onBan: (roomId, userId) => socketServer.expel(roomId, userId),
    onModeration: (event) => services.moderation.forget(event.roomId),
    // A change anywhere may have a webhook event due: look now rather than at the next poll.
    onChange: webhooks && (() => webhooks.poke()),
  });
  const wsEndpoint = createWsEndpoint({
    services,
    delivery,
    nodeId: config.nodeId,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    maxPayloadBytes: config.maxPayloadBytes,
    typingTtlMs: config.typingTtlMs,
    pingIntervalMs: deps.wsPingIntervalMs,
    authTimeoutMs: deps.wsAuthTimeoutMs,
    maxBufferedBytes: config.maxBufferedBytes,
    watch: protection.slowConsumers.watch,
    hooks: transportHooks("ws"),
  });

  const internal = config.internalPort === undefined ? undefined : createInternalServer({ isReady, metrics });
  let internalPort: number | undefined;
  // SSE streams and waiting polls take connection slots of their user, like sockets (§13).
  const slots = { services, maxConnectionsPerUser: config.maxConnectionsPerUser, onError: logError };
  let slotCounter = 0;
  const slotPrefix = `${config.nodeId}:http:${randomBytes(4).toString("hex")}`;
  // Aborted when the node starts draining: waiting polls are answered at once (§12).
  const drainSignal = new AbortController();
  const api = createHttpApi({
    services,
    holdSlot: (userId) => holdSlot(slots, userId, `${slotPrefix}-${++slotCounter}`),
    serveMetrics: internal === undefined,
    failedWebhooks: webhooks?.failed,
    delivery,
    metrics,
    origins,
    historyMax: config.historyMax,
    maxPayloadBytes: config.maxPayloadBytes,
    webRoot: deps.webRoot ?? defaultWebRoot(),
    isReady,
    draining: drainSignal.signal,
    sseHeartbeatMs: deps.sseHeartbeatMs,
    maxBufferedBytes: config.maxBufferedBytes,
    watch: protection.slowConsumers.watch,
    onInternalError: (error) => logError(error, "http"),
    logger,
  });

  const http = createEntry({
    tls: config.tls,
    gate: protection.gate,
    origins,
    forwarder,
    engine,
    ws: wsEndpoint,
    api,
    isDraining: () => draining,
  });

  return {
    http,
    io,
    services,
    logger,
    isReady,
    get internalPort() {
      return internalPort;
    },
    async listen(port = config.port, host = config.host) {
      // A start-up failure names the variables to fix (an unknown HOST, a PORT in use), on one line.
      const naming = (names: string, at: number) => (error: Error) => {
        throw new Error(`cannot listen on ${host}:${at} (${names}): ${error.message}`, { cause: error });
      };
      const taken = await new Promise<number>((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          http.off("error", reject);
          resolve((http.address() as AddressInfo).port);
        });
      }).catch(naming("PORT, HOST", port));
      if (internal) {
        internalPort = await internal
          .listen(config.internalPort!, host)
          .catch(naming("INTERNAL_PORT, HOST", config.internalPort!));
      }
      return taken;
    },
    async close() {
      if (draining) return;
      draining = true;
      drainSignal.abort();
      protection.close();
      // Acks in flight are answered first (bounded). Then each connection's transport is closed: socket.io-client
      // reads that as "transport close" and reconnects (to another node behind the balancer), whereas a Socket.IO
      // disconnect from the server ("io server disconnect") would leave it disconnected for good.
      const wsClosed = wsEndpoint.close(3000);
      await socketServer.settled(3000);
      socketServer.closeTransports();
      // WebSockets of other nodes' sessions through this one: their clients reconnect through the balancer.
      // Forwarded polls still waiting are answered 503 (their clients start new sessions and resume).
      await forwarder?.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await wsClosed;
      await webhooks?.close();
      await stores.shutdown().catch((error) => logError(error, "shutdown"));
      services.close();
      delivery.close();
      engine.close();
      http.closeAllConnections();
      await internal?.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await stores.close().catch((error) => logError(error, "close"));
    },
  };
}

/**
 * The bundle runs from its build's real path, dist/builds/<hash>/server.js (see scripts/build.mjs), with
 * that build's web client beside it: serving that one keeps a node on the client it was built with when
 * a later start switches dist/current. Run from the sources (tests), __dirname is server/: dist/web.
 */
function defaultWebRoot(): string {
  const beside = join(__dirname, "web");
  return existsSync(beside) ? beside : join(__dirname, "..", "dist", "web");
}
