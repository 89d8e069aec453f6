/**
 * The node's front door: which adapter each HTTP request and upgrade goes to.
 * `/socket.io/` goes to the Socket.IO engine (after the per-address gate and
 * the Origin check, on both transports) or, with many nodes, to the node that
 * holds its Engine.IO session; `/ws` upgrades to the plain WebSocket endpoint
 * (after the same checks); SSE streams and polls pass the per-address gate
 * before any token work; everything else goes to Express.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { createNodeServer, type TlsConfig } from "../tls";
import { HSTS_HEADER } from "./http/security-headers";
import type { OriginPolicy } from "./http/origin";
import type { Forwarder } from "./socket/forwarding";
import type { ConnectionGate } from "./connection-rate";
import { endUpgrade, refuseRequest, refuseStream } from "./refusals";

export interface EntryOptions {
  tls: TlsConfig | undefined;
  /** The per-address connection gate (§13). */
  gate: ConnectionGate;
  origins: OriginPolicy;
  /** With many nodes: finds and reaches the owner of a Socket.IO session (no sticky sessions, §12). */
  forwarder: Forwarder | undefined;
  engine: {
    handleRequest(req: IncomingMessage, res: ServerResponse): void;
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  };
  ws: { handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void };
  api: (req: IncomingMessage, res: ServerResponse) => void;
  isDraining(): boolean;
}

const isSocketIoPath = (url: string | undefined) => url !== undefined && /^\/socket\.io\/?(\?|$)/.test(url);
const isWsPath = (url: string | undefined) => url !== undefined && /^\/ws(\?|$)/.test(url);
/**
 * SSE streams and long polls: they open a stream too, so the per-address connection rate covers them (§13). As
 * the router matches them: any case, with or without a trailing slash.
 */
const isStreamPath = (url: string | undefined) =>
  url !== undefined && /^\/api\/rooms\/[^/?]+\/(events|poll)\/?(\?|$)/i.test(url);

/** The HTTP(S) server of a node, routing as described above. */
export function createEntry(options: EntryOptions) {
  const { gate, origins, forwarder, engine } = options;
  const http = createNodeServer(options.tls, (req: IncomingMessage, res: ServerResponse) => {
    if (options.tls) res.setHeader("Strict-Transport-Security", HSTS_HEADER);
    if (isSocketIoPath(req.url)) {
      // Before anything else: a handshake flood must cost as little as possible.
      if (gate.refuseRequest(req, res)) return;
      if (!origins.isAllowed(req)) return refuseRequest(res, 403, "origin not allowed");
      // Even while draining: the session lives on, elsewhere.
      const owner = forwarder?.ownerOf(req);
      if (owner !== undefined) return forwarder!.forwardRequest(req, res, owner, () => engine.handleRequest(req, res));
      if (options.isDraining()) return refuseRequest(res, 503, "server is shutting down");
      return void engine.handleRequest(req, res);
    }
    // Before any token work, like the Socket.IO handshake.
    if (isStreamPath(req.url)) {
      if (gate.refuseRequest(req, res)) return;
      // A draining node holds no new stream or poll open (§12); the client retries, through the balancer, elsewhere.
      if (options.isDraining()) return refuseStream(req, res);
    }
    // `/ws` is WebSocket only: tell a plain GET (curl, or a proxy that drops the upgrade headers) so.
    if (isWsPath(req.url)) {
      res.writeHead(426, { "Content-Type": "application/json", Upgrade: "websocket" });
      return void res.end(
        JSON.stringify({ error: { code: "bad_request", message: "GET /ws needs a WebSocket upgrade" } }),
      );
    }
    options.api(req, res);
  });
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", destroyOnError);
    const plain = isWsPath(req.url);
    if (!plain && !isSocketIoPath(req.url)) return endUpgrade(socket, 404, "not_found", "no such route");
    if (gate.refuseUpgrade(req, socket)) return;
    if (!origins.isAllowed(req)) return endUpgrade(socket, 403, "forbidden", "origin not allowed");
    if (options.isDraining()) return endUpgrade(socket, 503, "unavailable", "server is shutting down");
    if (plain) return options.ws.handleUpgrade(req, socket, head);
    const owner = forwarder?.ownerOf(req);
    if (owner !== undefined) {
      return forwarder!.forwardUpgrade(req, socket, head, owner, () => engine.handleUpgrade(req, socket, head));
    }
    engine.handleUpgrade(req, socket, head);
  });
  return http;
}

/** One listener for every upgraded socket (`this` is the socket) rather than a closure per connection. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}
