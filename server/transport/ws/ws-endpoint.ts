/**
 * `GET /ws` (§6): the plain WebSocket endpoint for clients without a
 * Socket.IO client. It shares the port with Socket.IO: `ws` runs in
 * `noServer` mode and the app hands it the upgrades of `/ws` after its Origin
 * and draining checks. This module owns the upgrade, the liveness pings and
 * the shutdown; each client is served by ./ws-connection.ts.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { Services } from "../../services";
import { createCommands, type CommandHooks } from "../commands";
import type { WatchedConnection } from "../slow-consumers";
import type { LocalDelivery } from "../delivery";
import { serveWsConnection, type WsConnectionHandle, type WsConnectionHooks } from "./ws-connection";

export interface WsEndpointOptions {
  services: Services;
  delivery: LocalDelivery;
  nodeId: string;
  maxConnectionsPerUser: number;
  /** Largest frame accepted; a larger one closes the connection with 1009. */
  maxPayloadBytes: number;
  typingTtlMs: number;
  /** How often the server pings each client; one that answered neither of the last two is ended. @default 25000 */
  pingIntervalMs?: number;
  /** How long a client without `?token=` has to send its `auth` frame. @default 5000 */
  authTimeoutMs?: number;
  /** A client with more unsent output than this is behind (typing updates skipped past half). @default 1048576 */
  maxBufferedBytes?: number;
  /** Registers a client with the slow-consumer sweep; returns the function that unregisters it. */
  watch?: (connection: WatchedConnection) => () => void;
  hooks: CommandHooks & WsConnectionHooks;
}

export interface WsEndpoint {
  /** Completes a WebSocket upgrade the app has already checked (path, Origin, draining). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Stops the pings, lets the requests in flight be answered (for up to `drainMs`), then closes every
   * client with 1001 so they reconnect elsewhere; resolves when all are gone.
   */
  close(drainMs?: number): Promise<void>;
}

/** How long `close()` waits for clients to answer the close frame before cutting them off. */
const CLOSE_GRACE_MS = 500;

export function createWsEndpoint(options: WsEndpointOptions): WsEndpoint {
  const { hooks } = options;
  const pingIntervalMs = options.pingIntervalMs ?? 25_000;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const deps = {
    services: options.services,
    delivery: options.delivery,
    commands: createCommands(options.services, hooks),
    admission: {
      services: options.services,
      maxConnectionsPerUser: options.maxConnectionsPerUser,
      onError: hooks.onError,
    },
    nodeId: options.nodeId,
    typingTtlMs: options.typingTtlMs,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    authTimeoutMs: options.authTimeoutMs ?? 5000,
    hooks,
    onError: hooks.onError,
  };
  // Unique across nodes and across restarts of a node that keeps its NODE_ID.
  const idPrefix = `${options.nodeId}:ws:${randomBytes(4).toString("hex")}`;
  let counter = 0;
  /** Each open client, with how many pings in a row it has left unanswered. */
  const clients = new Map<WebSocket, { unanswered: number; handle: WsConnectionHandle }>();

  const heartbeat = setInterval(() => {
    for (const [ws, client] of clients) {
      if (client.unanswered >= 2) {
        ws.terminate();
        continue;
      }
      client.unanswered++;
      ws.ping();
    }
  }, pingIntervalMs);
  heartbeat.unref();

  return {
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const client = { unanswered: 0, handle: serveWsConnection(ws, req, `${idPrefix}-${++counter}`, deps) };
        clients.set(ws, client);
        ws.on("pong", () => (client.unanswered = 0));
        const unwatch = options.watch?.({
          transport: "ws",
          bufferedBytes: () => ws.bufferedAmount,
          drop: () => ws.terminate(),
        });
        ws.on("close", () => {
          clients.delete(ws);
          unwatch?.();
        });
      });
    },
    async close(drainMs = 3000) {
      clearInterval(heartbeat);
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...clients.values()].map((client) => client.handle.settled())),
        new Promise((resolve) => (drainTimer = setTimeout(resolve, drainMs))),
      ]);
      clearTimeout(drainTimer);
      const open = [...clients.keys()];
      const gone = open.map((ws) => new Promise<void>((resolve) => ws.once("close", () => resolve())));
      for (const ws of open) ws.close(1001, "Server shutting down");
      const grace = setTimeout(() => open.forEach((ws) => ws.terminate()), CLOSE_GRACE_MS);
      await Promise.all(gone);
      clearTimeout(grace);
      wss.close();
    },
  };
}
