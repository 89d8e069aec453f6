/**
 * `createApp(config, deps)`: one Huddle node. It owns the HTTP server and
 * routes each request to the right adapter: `/socket.io/` to the Socket.IO
 * engine (after the Origin check, on both transports), or, with many nodes, to
 * the node that holds its Engine.IO session (forwarding.ts), `/ws` upgrades to the
 * plain WebSocket endpoint (after the same check), everything else to
 * Express. Nothing here reads the environment or holds global state, so a test
 * can run many apps in one process.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
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
import { roomKey } from "./transport/socket/room-keys";
import { createProtection } from "./transport/protection";
import { endUpgrade, refuseRequest, refuseStream } from "./transport/refusals";
import { watchSocketIo } from "./transport/slow-consumers";
import { HSTS_HEADER } from "./transport/http/security-headers";
import { createNodeServer } from "./tls";
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
  let delivery: ReturnType<typeof createLocalDelivery> | undefined;
  const socketServer = createSocketServer({
    services,
    nodeId: config.nodeId,
    nodeTag: stores.directory?.tag,
    roomReady: (roomId) => delivery?.ready(roomId) ?? Promise.resolve(),
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    maxPayloadBytes: config.maxPayloadBytes,
    typingTtlMs: config.typingTtlMs,
    hooks: {
      ...commandHooks,
      onConnectionRefused: (code) => metrics.connectionsRefused.inc({ code: String(code) }),
      onConnectionCountChange: (delta) => metrics.connections.inc({ transport: "socket.io" }, delta),
      onTooLarge: () => protection.onTooLarge("socket.io"),
      onError: logError,
    },
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
    hooks: {
      ...commandHooks,
      onConnectionRefused: (code) => metrics.connectionsRefused.inc({ code: String(code) }),
      onConnectionCountChange: (delta) => metrics.connections.inc({ transport: "ws" }, delta),
      onTooLarge: () => protection.onTooLarge("ws"),
      onError: logError,
    },
  });

  const internal = config.internalPort === undefined ? undefined : createInternalServer({ isReady, metrics });
  let internalPort: number | undefined;
  // SSE streams and waiting polls take connection slots of their user, like sockets (§13).
  const slots = { services, maxConnectionsPerUser: config.maxConnectionsPerUser, onError: logError };
  let slotCounter = 0;
  const slotPrefix = `${config.nodeId}:http:${randomBytes(4).toString("hex")}`;
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

  const isSocketIoPath = (url: string | undefined) => url !== undefined && /^\/socket\.io\/?(\?|$)/.test(url);
  const isWsPath = (url: string | undefined) => url !== undefined && /^\/ws(\?|$)/.test(url);
  /**
   * SSE streams and long polls: they open a stream too, so the per-address connection rate covers them (§13). As
   * the router matches them: any case, with or without a trailing slash.
   */
  const isStreamPath = (url: string | undefined) =>
    url !== undefined && /^\/api\/rooms\/[^/?]+\/(events|poll)\/?(\?|$)/i.test(url);
  const http = createNodeServer(config.tls, (req: IncomingMessage, res: ServerResponse) => {
    if (config.tls) res.setHeader("Strict-Transport-Security", HSTS_HEADER);
    if (isSocketIoPath(req.url)) {
      // Before anything else: a handshake flood must cost as little as possible.
      if (protection.gate.refuseRequest(req, res)) return;
      if (!origins.isAllowed(req)) return refuseRequest(res, 403, "origin not allowed");
      // Even while draining: the session lives on, elsewhere.
      const owner = forwarder?.ownerOf(req);
      if (owner !== undefined) return forwarder!.forwardRequest(req, res, owner, () => engine.handleRequest(req, res));
      if (draining) return refuseRequest(res, 503, "server is shutting down");
      return void engine.handleRequest(req, res);
    }
    // Before any token work, like the Socket.IO handshake.
    if (isStreamPath(req.url)) {
      if (protection.gate.refuseRequest(req, res)) return;
      // A draining node holds no new stream or poll open (§12); the client retries, through the balancer, elsewhere.
      if (draining) return refuseStream(req, res);
    }
    // `/ws` is WebSocket only: tell a plain GET (curl, or a proxy that drops the upgrade headers) so.
    if (isWsPath(req.url)) {
      res.writeHead(426, { "Content-Type": "application/json", Upgrade: "websocket" });
      return void res.end(
        JSON.stringify({ error: { code: "bad_request", message: "GET /ws needs a WebSocket upgrade" } }),
      );
    }
    api(req, res);
  });
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", destroyOnError);
    const plain = isWsPath(req.url);
    if (!plain && !isSocketIoPath(req.url)) return endUpgrade(socket, 404, "not_found", "no such route");
    if (protection.gate.refuseUpgrade(req, socket)) return;
    if (!origins.isAllowed(req)) return endUpgrade(socket, 403, "forbidden", "origin not allowed");
    if (draining) return endUpgrade(socket, 503, "unavailable", "server is shutting down");
    if (plain) return wsEndpoint.handleUpgrade(req, socket, head);
    const owner = forwarder?.ownerOf(req);
    if (owner !== undefined) {
      return forwarder!.forwardUpgrade(req, socket, head, owner, () => engine.handleUpgrade(req, socket, head));
    }
    engine.handleUpgrade(req, socket, head);
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
      forwarder?.close();
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

/** One listener for every upgraded socket (`this` is the socket) rather than a closure per connection. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}
