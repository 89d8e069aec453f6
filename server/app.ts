/**
 * `createApp(config, deps)`: one Huddle node. It owns the HTTP server and
 * routes each request to the right adapter: `/socket.io/` to the Socket.IO
 * engine (after the Origin check, on both transports), everything else to
 * Express. Nothing here reads the environment or holds global state, so a test
 * can run many apps in one process.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import type { Config } from "./config";
import { systemClock, type Clock } from "./core/clock";
import { createLogger, type Logger } from "./logger";
import { createMetrics } from "./metrics";
import { createServices, type Services } from "./services";
import { createMemoryStores, type Stores } from "./stores";
import { createLocalDelivery } from "./transport/delivery";
import { createHttpApi } from "./transport/http/http-api";
import { createOriginPolicy } from "./transport/http/origin";
import { createSocketServer, type HuddleServer } from "./transport/socket/socket-server";
import { roomKey } from "./transport/socket/room-keys";

export interface AppDeps {
  logger?: Logger;
  clock?: Clock;
  /** The stores to use; by default the in-memory ones (the Redis ones come from `createRedisStores`). */
  stores?: Stores;
  /** Where the built web client is. @default dist/web beside the repo root */
  webRoot?: string;
  /** SSE heartbeat interval. @default 15000 */
  sseHeartbeatMs?: number;
}

export interface App {
  readonly http: HttpServer;
  readonly io: HuddleServer;
  readonly services: Services;
  readonly logger: Logger;
  /** Listens on `port` (0 for any) and resolves with the port taken. */
  listen(port?: number, host?: string): Promise<number>;
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
  const stores =
    deps.stores ??
    createMemoryStores({
      historyMax: config.historyMax,
      messageLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
      typingLimit: { burst: config.rateBurst, perSecond: config.ratePerSec },
    });
  const logError = (error: unknown, context = "internal") => logger.error({ err: error, context }, "unexpected error");
  let io: HuddleServer | undefined;
  const countRooms = () => {
    let rooms = 0;
    for (const name of io?.of("/").adapter.rooms.keys() ?? []) if (name.startsWith(roomKey(""))) rooms++;
    return rooms;
  };
  const metrics = createMetrics({ nodeId: config.nodeId, countRooms });
  const services = createServices(
    config,
    stores,
    clock,
    (error) => logError(error, "background"),
    () => metrics.messages.inc(),
  );
  const origins = createOriginPolicy(config.corsOrigins);
  let draining = false;

  const socketServer = createSocketServer({
    services,
    nodeId: config.nodeId,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    maxPayloadBytes: config.maxPayloadBytes,
    typingTtlMs: config.typingTtlMs,
    hooks: {
      onOutcome(event, startedAt, ack, thrown) {
        metrics.ackLatency.observe({ event }, Number(process.hrtime.bigint() - startedAt) / 1e9);
        if (!ack.ok) {
          metrics.errors.inc({ code: ack.error.code });
          if (ack.error.code === "internal" || ack.error.code === "unavailable") {
            logger.warn({ event, code: ack.error.code, err: thrown }, "event failed");
          }
        }
      },
      onConnectionRefused: (code) => metrics.connectionsRefused.inc({ code: String(code) }),
      onConnectionCountChange: (delta) => metrics.connections.inc({ transport: "socket.io" }, delta),
      onError: logError,
    },
  });
  io = socketServer.io;
  const { engine } = socketServer;
  const delivery = createLocalDelivery(stores.bus, io);

  const api = createHttpApi({
    services,
    delivery,
    metrics,
    origins,
    historyMax: config.historyMax,
    maxPayloadBytes: config.maxPayloadBytes,
    webRoot: deps.webRoot ?? join(__dirname, "..", "dist", "web"),
    isReady: () => !draining && stores.isReady(),
    sseHeartbeatMs: deps.sseHeartbeatMs,
    onInternalError: (error) => logError(error, "http"),
  });

  const isSocketIoPath = (url: string | undefined) => url !== undefined && /^\/socket\.io\/?(\?|$)/.test(url);
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (isSocketIoPath(req.url)) {
      if (!origins.isAllowed(req)) return refuseRequest(res, 403, "origin not allowed");
      if (draining) return refuseRequest(res, 503, "server is shutting down");
      return void engine.handleRequest(req, res);
    }
    api(req, res);
  });
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (!isSocketIoPath(req.url)) return refuseUpgrade(socket, 404, "Not Found");
    if (!origins.isAllowed(req)) return refuseUpgrade(socket, 403, "Forbidden");
    if (draining) return refuseUpgrade(socket, 503, "Service Unavailable");
    engine.handleUpgrade(req, socket, head);
  });

  return {
    http,
    io,
    services,
    logger,
    isReady: () => !draining && stores.isReady(),
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          http.off("error", reject);
          resolve((http.address() as AddressInfo).port);
        });
      });
    },
    async close() {
      if (draining) return;
      draining = true;
      // Closing each socket from the server side tells socket.io-client to reconnect (to another node behind the balancer).
      io?.local.disconnectSockets(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await stores.shutdown().catch((error) => logError(error, "shutdown"));
      services.close();
      delivery.close();
      engine.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await stores.close().catch((error) => logError(error, "close"));
    },
  };
}

function refuseRequest(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ error: { code: status === 403 ? "forbidden" : "unavailable", message } }));
}

function refuseUpgrade(socket: Duplex, status: number, reason: string) {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
