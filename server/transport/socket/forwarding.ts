/**
 * No sticky sessions (§12): a Socket.IO request that reaches a node other than
 * the one holding its Engine.IO session is forwarded to that node.
 *
 * An Engine.IO session lives in the memory of the node that made it: every
 * long-polling GET and POST of it, and its upgrade to WebSocket, must be
 * served there. Session ids carry their node's tag (core/node-directory.ts),
 * so any node can tell where a request belongs by its `sid` alone; the node
 * directory gives that node's base URL. Then:
 *
 * - a polling GET or POST is sent on over HTTP (kept-alive connections to the
 *   other node), with its headers, and the answer streamed back;
 * - a WebSocket upgrade is written to the other node as it came, and the two
 *   TCP connections are then joined byte for byte (the 101, the frames).
 *
 * A forwarded request carries `X-Huddle-Forwarded` and is never forwarded
 * again, wherever its `sid` points. A tag that no live node has, a node that
 * cannot be reached, or one that fails before answering: the request is
 * handed to this node's own engine, which does not know the session and
 * answers as Engine.IO does, 400 `{"code":1,"message":"Session ID unknown"}`,
 * and the client starts a new session. The address connected to is always one
 * the directory holds (a node's `ADVERTISE_URL`), never one from the request.
 *
 * A polling GET must never be lost silently: the owner counts what it wrote in
 * an answer as delivered, so if that answer does not reach the client, the
 * client must see the poll fail (and start a new session, resuming with
 * `since`) rather than poll again in the same session. Two retries would hide
 * it: ours (a GET resent after its connection broke) and the balancer's (nginx
 * passes an idempotent request to the next node when one closes the connection
 * before the answer's headers). So a GET is resent only while this node is
 * not closing, and a closing node (`close`) answers each forwarded request
 * still waiting for the owner with a 503 instead of dropping its connection,
 * refuses new ones the same way, and lets answers already coming back finish.
 *
 * `X-Forwarded-For`: the owner must see the same client as the node that
 * forwards. With `TRUST_PROXY=N` (N > 0) both nodes take the N-th entry from
 * the right of the list after adding their TCP peer, so the list goes on as it
 * came (this node stands in for the balancer's own connection). With
 * `TRUST_PROXY=0` the client is the TCP peer, which is appended, as any proxy
 * does (the owner, trusting no proxy, still counts the forwarding node; the
 * per-address connection rate is not concerned: it counts handshakes, which
 * carry no `sid` and are never forwarded).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Duplex } from "node:stream";
import { sessionTag, type NodeDirectory } from "../../core/node-directory";

/** Set on every request a node forwards; a request carrying it is served where it lands. */
export const FORWARDED_HEADER = "x-huddle-forwarded";

export type ForwardKind = "polling" | "websocket";
/** `ok`: answered by the owner; `unknown`: no live node has the tag; `failed`: the owner could not be reached or broke off. */
export type ForwardOutcome = "ok" | "unknown" | "failed";

export interface ForwarderOptions {
  directory: NodeDirectory;
  /** `TRUST_PROXY`. */
  trustProxyHops: number;
  /** A connection to another node not established within this is given up. @default 3000 */
  connectTimeoutMs?: number;
  /**
   * A forwarded request or tunnel with nothing sent either way for this long is ended. Above Engine.IO's
   * heartbeat (25 s + 20 s), so only a dead peer trips it. @default 90000
   */
  idleTimeoutMs?: number;
  onForwarded?(kind: ForwardKind, outcome: ForwardOutcome): void;
  /**
   * Another node forwarded here a request of a session this node did not issue: some node's directory entry (its
   * `ADVERTISE_URL`) points at this node. Called at most once a minute.
   */
  onMisrouted?(tag: string): void;
}

export interface Forwarder {
  /**
   * The tag of the node that holds the session of this `/socket.io/` request, when that is another node and the
   * request may be forwarded there; undefined when it is served here (no `sid`, a `sid` of this node or of no
   * node, or a request another node already forwarded).
   */
  ownerOf(req: IncomingMessage): string | undefined;
  /** Forwards a polling request to the node tagged `owner`; `serveHere` answers it if that node is unknown or away. */
  forwardRequest(req: IncomingMessage, res: ServerResponse, owner: string, serveHere: () => void): void;
  /** Joins a WebSocket upgrade to the node tagged `owner`; `serveHere` answers it if that node is unknown or away. */
  forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, owner: string, serveHere: () => void): void;
  /**
   * The node is closing: ends every tunnel, answers 503 to the polling requests still waiting for their owner (and
   * to any forwarded from now on), lets the answers already coming back finish (for up to `settleMs`), then ends
   * every connection to other nodes.
   */
  close(settleMs?: number): Promise<void>;
}

/** Headers of one hop only (RFC 9110 §7.6.1), plus ours, which a forwarder sets itself. */
const NOT_FORWARDED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "x-forwarded-for",
  FORWARDED_HEADER,
]);
const NOT_RETURNED = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "trailer"]);

/**
 * A closing node's answer to a forwarded poll: a failure the client sees (Engine.IO drops the session on any
 * status but 200) and the balancer passes on as it is (nginx retries on a broken connection, not on a 503).
 */
function refuseClosing(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  res.writeHead(503, { "Content-Type": "application/json", Connection: "close" });
  res.end(JSON.stringify({ error: { code: "unavailable", message: "server is shutting down" } }));
}

/** A forwarded polling request in flight. */
interface InFlight {
  res: ServerResponse;
  upstream: ReturnType<typeof httpRequest>;
  /** The owner's answer is coming back. */
  answered: boolean;
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const { directory } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 90_000;
  const count = options.onForwarded ?? (() => {});
  // Kept-alive connections to the other nodes. The agent's timeout must differ from the requests' own (below) for
  // Node to apply each, and be set at all for Node to honour the owner's `Keep-Alive: timeout=5` (it closes an idle
  // connection a second before the owner would, so a request is not written to a connection being closed).
  const agentOptions = { keepAlive: true, timeout: idleTimeoutMs + 1000, scheduling: "lifo" as const };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const tunnels = new Set<Duplex>();
  const inFlight = new Set<InFlight>();
  let closing = false;
  let settled: (() => void) | undefined;
  const done = (entry: InFlight) => {
    inFlight.delete(entry);
    if (settled && ![...inFlight].some((e) => e.answered)) settled();
  };
  const parsed = new Map<string, URL>();
  let misroutedAt = -Infinity;

  const forwardedFor = (req: IncomingMessage): string => {
    const header = req.headers["x-forwarded-for"];
    const list = Array.isArray(header) ? header.join(", ") : (header ?? "");
    if (options.trustProxyHops > 0 && list !== "") return list;
    const peer = req.socket.remoteAddress ?? "unknown";
    return list === "" ? peer : `${list}, ${peer}`;
  };

  /** The base URL of `owner`, or undefined (after serving the request here) when no live node has that tag. */
  const resolve = async (owner: string, kind: ForwardKind): Promise<URL | undefined> => {
    const base = await directory.lookup(owner);
    if (base === undefined || owner === directory.tag) {
      count(kind, "unknown");
      return undefined;
    }
    let url = parsed.get(base);
    if (!url) {
      url = new URL(base);
      // Few nodes, but a directory entry may change: keep the map small all the same.
      if (parsed.size >= 64) parsed.clear();
      parsed.set(base, url);
    }
    return url;
  };

  return {
    ownerOf(req) {
      const sid = sidOf(req.url);
      const tag = sid === undefined ? undefined : sessionTag(sid);
      if (tag === undefined || tag === directory.tag) return undefined;
      if (req.headers[FORWARDED_HEADER] !== undefined) {
        if (options.onMisrouted && Date.now() - misroutedAt > 60_000) {
          misroutedAt = Date.now();
          options.onMisrouted(tag);
        }
        return undefined;
      }
      return tag;
    },

    forwardRequest(req, res, owner, serveHere) {
      if (closing) return refuseClosing(res);
      void resolve(owner, "polling").then(
        (base) => {
          if (!base) return serveHere();
          if (closing) return refuseClosing(res);
          const headers: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(req.headers)) {
            if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
          }
          headers["x-forwarded-for"] = forwardedFor(req);
          headers[FORWARDED_HEADER] = directory.tag;
          const https = base.protocol === "https:";
          const send = (retry: boolean) => {
            const upstream = (https ? httpsRequest : httpRequest)({
              protocol: base.protocol,
              hostname: base.hostname,
              port: base.port || (https ? 443 : 80),
              method: req.method,
              path: req.url,
              headers,
              agent: https ? httpsAgent : httpAgent,
              timeout: idleTimeoutMs,
            });
            const entry: InFlight = { res, upstream, answered: false };
            inFlight.add(entry);
            onConnectTimeout(upstream, connectTimeoutMs);
            upstream.on("timeout", () => upstream.destroy(new Error("forwarded request idle for too long")));
            upstream.on("response", (answer) => {
              entry.answered = true;
              const back: Record<string, string | string[]> = {};
              for (const [name, value] of Object.entries(answer.headers)) {
                if (value !== undefined && !NOT_RETURNED.has(name)) back[name] = value;
              }
              res.writeHead(answer.statusCode ?? 502, back);
              answer.pipe(res);
              answer.on("error", () => res.destroy());
              answer.on("end", () => count("polling", "ok"));
            });
            upstream.on("error", (error: NodeJS.ErrnoException) => {
              done(entry);
              // Already answered here (close() refused it).
              if (res.writableEnded) return;
              if (entry.answered || res.headersSent) return void res.destroy();
              // Ended by close(): the owner may have answered already; the client must see this poll fail.
              if (closing) return refuseClosing(res);
              // A kept-alive connection the owner closed just as it was reused: a GET has no body to lose, try once more.
              if (retry && upstream.reusedSocket && req.method === "GET" && error.code === "ECONNRESET") {
                return send(false);
              }
              count("polling", "failed");
              if (!res.destroyed) serveHere();
            });
            // The client went away before the answer ended: so does the forwarded request (the owner sees the poll
            // closed, as it would have directly).
            res.on("close", () => {
              done(entry);
              if (!res.writableFinished) upstream.destroy();
            });
            if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") upstream.end();
            else req.pipe(upstream);
          };
          send(true);
        },
        () => res.destroy(),
      );
    },

    forwardUpgrade(req, socket, head, owner, serveHere) {
      void resolve(owner, "websocket").then(
        (base) => {
          if (!base) return serveHere();
          if (socket.destroyed) return;
          const https = base.protocol === "https:";
          const port = Number(base.port || (https ? 443 : 80));
          const upstream: Socket = https
            ? tlsConnect({ host: base.hostname, port, servername: base.hostname })
            : netConnect({ host: base.hostname, port });
          let connected = false;
          upstream.setTimeout(connectTimeoutMs);
          upstream.on("timeout", () => upstream.destroy(new Error("tunnel to the owner idle for too long")));
          upstream.on("error", () => {
            if (connected) return;
            count("websocket", "failed");
            if (!socket.destroyed) serveHere();
          });
          upstream.once(https ? "secureConnect" : "connect", () => {
            connected = true;
            // The client gave up while this node connected.
            if (socket.destroyed) return void upstream.destroy();
            upstream.setNoDelay(true);
            upstream.setTimeout(idleTimeoutMs);
            if ("setNoDelay" in socket) (socket as Socket).setNoDelay(true);
            upstream.write(upgradeRequest(req, forwardedFor(req), directory.tag));
            if (head.length > 0) upstream.write(head);
            tunnels.add(socket);
            socket.pipe(upstream).pipe(socket);
            const end = () => {
              tunnels.delete(socket);
              socket.destroy();
              upstream.destroy();
            };
            socket.once("close", end);
            upstream.once("close", end);
            // Errors end the tunnel through "close"; the client socket already has the app's error listener.
            upstream.on("error", () => {});
            count("websocket", "ok");
          });
        },
        () => socket.destroy(),
      );
    },

    async close(settleMs = 1000) {
      closing = true;
      for (const socket of tunnels) socket.destroy();
      tunnels.clear();
      // Still waiting for the owner: whatever it writes from now on would be lost with this node, so the client is
      // told, and the owner sees the poll closed.
      for (const entry of [...inFlight]) {
        if (entry.answered) continue;
        inFlight.delete(entry);
        entry.upstream.destroy();
        refuseClosing(entry.res);
      }
      // An answer coming back holds what the owner counts as delivered: let it through rather than cut it before
      // its headers reach the balancer (which would then poll another node, in the same session).
      if ([...inFlight].some((e) => e.answered)) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          settled = resolve;
          timer = setTimeout(resolve, settleMs);
        });
        clearTimeout(timer);
      }
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * The `sid` query parameter of a request URL, decoded as Engine.IO decodes it (URLSearchParams); the common case,
 * one of our ids with nothing to decode, without building the whole parameter list.
 */
export function sidOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const match = /[?&]sid=([^&#]*)/.exec(url);
  if (!match) return undefined;
  if (/^[A-Za-z0-9._-]*$/.test(match[1]!)) return match[1];
  return new URLSearchParams(url.slice(url.indexOf("?") + 1)).get("sid") ?? undefined;
}

/** The upgrade request as it came (same line, same headers in order), with our X-Forwarded-For and mark. */
function upgradeRequest(req: IncomingMessage, forwardedFor: string, tag: string): string {
  const lines = [`${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1`];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === "x-forwarded-for" || name === FORWARDED_HEADER) continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  lines.push(`X-Forwarded-For: ${forwardedFor}`, `X-Huddle-Forwarded: ${tag}`, "", "");
  return lines.join("\r\n");
}

/** Gives up a forwarded request whose connection is not established within `ms` (a kept-alive one is at once). */
function onConnectTimeout(request: ReturnType<typeof httpRequest>, ms: number): void {
  request.once("socket", (socket: Socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => request.destroy(new Error("could not reach the node holding the session")), ms);
    socket.once("connect", () => clearTimeout(timer));
    socket.once("close", () => clearTimeout(timer));
  });
}
