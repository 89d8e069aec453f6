/**
 * The Socket.IO adapter: the handshake (version, token, connection cap:
 * ../session.ts), the session a socket gets, token expiry on live sockets,
 * and the six client events handed to the shared commands (../commands.ts),
 * with Socket.IO rooms as the way a socket follows a room. The engine is not
 * attached to the HTTP server: the app routes `/socket.io/` requests and upgrades to it after
 * its Origin check, which Socket.IO's own `allowRequest` cannot answer with a
 * 403 on the WebSocket upgrade.
 */
import { EventEmitter } from "node:events";
import { ServerResponse } from "node:http";
import { Server as Engine, type Socket as EngineConnection } from "engine.io";
import { Server, type Socket } from "socket.io";
import {
  ErrorCode,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from "../../../shared";
import { AuthError, type Identity } from "../../auth/tokens";
import { createConnection, type Connection } from "../../core/connection";
import { newSessionId } from "../../core/node-directory";
import type { Services } from "../../services";
import { createCommands, isClientEventName, type CommandHooks, type CommandTarget } from "../commands";
import { admitConnection, releaseConnection, sessionInfo } from "../session";
import { roomKey } from "./room-keys";
import { scheduleExpiry } from "./expiry";

export type HuddleServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type HuddleSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface SocketServerOptions {
  services: Services;
  nodeId: string;
  /**
   * This node's tag in the node directory: when set, Engine.IO session ids start with it, so that any node can
   * forward a request of a session here (forwarding.ts). Unset (one node): Engine.IO's own ids.
   */
  nodeTag?: string;
  maxConnectionsPerUser: number;
  maxPayloadBytes: number;
  typingTtlMs: number;
  /** Resolves once this node follows a room a socket just joined (the local delivery's `ready`). */
  roomReady(roomId: string): Promise<void>;
  hooks: CommandHooks & {
    onConnectionRefused(code: number): void;
    onConnectionCountChange(delta: number): void;
    /** A packet over `maxPayloadBytes` closed a connection. */
    onTooLarge?(): void;
    onError(error: unknown, context: string): void;
  };
}

export { isSupportedVersion } from "../session";

/**
 * Engine.IO closes a connection whose packet is over `maxHttpBufferSize` with "transport error" and, as the
 * description, "payload too large" (polling) or ws's "Max payload size exceeded" (WebSocket).
 */
function isOversized(description: unknown): boolean {
  return description instanceof Error && /payload too large|max payload size exceeded/i.test(description.message);
}

export interface SocketServer {
  io: HuddleServer;
  engine: Engine;
  /** Resolves once every event received so far has been answered, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
  /** Closes every connection's transport, so that its client reconnects (elsewhere, behind a balancer). */
  closeTransports(): void;
  /** Takes `userId`'s sockets on this node out of `roomId`, telling them why (a ban, §11). */
  expel(roomId: string, userId: string): void;
}

export function createSocketServer(options: SocketServerOptions): SocketServer {
  const { services, nodeId, hooks } = options;
  const engine = new Engine({
    maxHttpBufferSize: options.maxPayloadBytes,
    perMessageDeflate: false,
    httpCompression: false,
    // The app has already refused disallowed origins; echo the allowed ones for cross-origin polling.
    cors: { origin: true, credentials: true },
  });
  const { nodeTag } = options;
  if (nodeTag !== undefined) engine.generateId = () => newSessionId(nodeTag);
  const io: HuddleServer = new Server({ serveClient: false, cleanupEmptyChildNamespaces: true });
  io.bind(engine);
  engine.use(releaseUpgradeResponse);
  engine.on("connection", (conn: EngineConnection) => void conn.on("close", onEngineClose));
  function onEngineClose(_reason: string, description?: unknown) {
    if (isOversized(description)) hooks.onTooLarge?.();
  }

  const commands = createCommands(services, hooks);
  const admission = { services, maxConnectionsPerUser: options.maxConnectionsPerUser, onError: hooks.onError };
  const connectionId = (socket: HuddleSocket) => `${nodeId}:${socket.id}`;

  io.use(async (socket, next) => {
    try {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      const query = socket.handshake.query;
      const token = auth.token !== undefined && auth.token !== "" ? auth.token : query.token;
      const { identity, release } = await admitConnection(
        admission,
        { token, v: auth.v ?? query.v },
        connectionId(socket),
      );
      if (socket.conn.readyState !== "open") {
        // Gone during the handshake: no "disconnect" will follow to give the slot back, so give it back now.
        void release();
        return next(new Error("connection closed during the handshake"));
      }
      // From here the slot is given back by the socket's "disconnect" (onDisconnect), which also covers a
      // namespace-level disconnect that leaves the Engine.IO connection open.
      socket.data = identity;
      next();
    } catch (error) {
      const refusal = error instanceof AuthError ? error : undefined;
      if (!refusal) hooks.onError(error, "handshake");
      const err = Object.assign(new Error(refusal?.message ?? "Service unavailable"), {
        data: refusal?.data ?? { code: ErrorCode.Unavailable, message: "Service unavailable" },
      });
      hooks.onConnectionRefused(refusal?.code ?? 503);
      next(err);
    }
  });

  const sessions = new WeakMap<HuddleSocket, SocketSession>();
  // Events received and not answered yet, so that a drain can let them finish.
  let pending = 0;
  const drained = new Set<() => void>();

  // One listener function for every socket (`this` is the socket): per-socket closures for each event were a
  // good part of Huddle's memory per idle connection.
  function onEvent(this: HuddleSocket, event: unknown, ...args: unknown[]) {
    const session = sessions.get(this);
    if (!session) return;
    const last = args[args.length - 1];
    const ack = typeof last === "function" ? (last as (response: unknown) => void) : undefined;
    if (!isClientEventName(event)) {
      // An event the protocol does not know is still answered, so a client waiting on its ack is not left hanging.
      ack?.({
        ok: false,
        error: { code: ErrorCode.BadRequest, message: `unknown event ${String(event).slice(0, 64)}` },
      });
      return;
    }
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    pending++;
    session.enqueue(async () => {
      const response = await commands.execute(event, payload, session);
      try {
        ack?.(response);
      } catch {
        // An ack to a socket that just closed: nothing left to tell.
      }
      if (--pending === 0) for (const wake of drained) wake();
    });
  }

  function onDisconnect(this: HuddleSocket) {
    const session = sessions.get(this);
    if (!session) return;
    sessions.delete(this);
    session.cancelExpiry();
    hooks.onConnectionCountChange(-1);
    const { conn } = session;
    void releaseConnection(admission, conn.identity.user.id, conn.id);
    services.rooms.leaveAll(conn).catch((error) => hooks.onError(error, "disconnect"));
  }

  function onExpired(socket: HuddleSocket) {
    socket.emit("session:expired", {});
    socket.disconnect(true);
  }

  io.on("connection", (socket) => {
    const identity = socket.data as Identity | undefined;
    if (!identity?.user) return void socket.disconnect(true);
    releaseHandshakeRequest(socket);
    const session = new SocketSession(socket, createConnection(connectionId(socket), identity), options.roomReady);
    sessions.set(socket, session);
    hooks.onConnectionCountChange(1);
    socket.emit("session", sessionInfo(identity.user, nodeId, options.typingTtlMs));
    if (identity.exp !== undefined) {
      session.cancelExpiry = scheduleExpiry(identity, services.clock, () => onExpired(socket));
    }
    socket.onAny(onEvent);
    socket.on("disconnect", onDisconnect);
  });

  return {
    io,
    engine,
    expel(roomId, userId) {
      const namespace = io.of("/");
      for (const id of [...(namespace.adapter.rooms.get(roomKey(roomId)) ?? [])]) {
        const socket = namespace.sockets.get(id);
        const session = socket && sessions.get(socket);
        if (!socket || !session || session.conn.identity.user.id !== userId) continue;
        socket.emit("room:removed", { roomId, reason: "banned" });
        // In the socket's queue, after what it already sent: then the room is left as by room:leave.
        session.enqueue(() =>
          services.rooms
            .leave(session.conn, roomId, () => session.detach(roomId))
            .catch((e) => hooks.onError(e, "ban")),
        );
      }
    },
    closeTransports() {
      for (const socket of io.of("/").sockets.values()) {
        const transport = socket.conn.transport as unknown as { name: string; writable: boolean };
        // A polling client between two polls cannot be sent the close packet now, and Engine.IO would keep the
        // connection (and a timer) up to 30 s waiting for its next poll: discard it instead, and that poll gets
        // "session ID unknown", on which the client reconnects just the same.
        socket.conn.close(transport.name === "polling" && !transport.writable);
      }
    },
    settled(timeoutMs) {
      if (pending === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          drained.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        drained.add(wake);
      });
    },
  };
}

/**
 * Lets the first HTTP request of a connection be collected once the handshake
 * is done: Engine.IO and Socket.IO keep it for the socket's whole life (with its
 * headers twice), a few KiB per idle connection that nothing here reads again.
 * This is the "discard the initial request" advice of Socket.IO's memory-usage
 * guide, applied after our middleware has read the token and version from it.
 */
function releaseHandshakeRequest(socket: HuddleSocket): void {
  // Socket.IO's own `socket.request` is a getter over this one.
  (socket.conn as unknown as { request: unknown }).request = null;
  (socket as { handshake: unknown }).handshake = RELEASED_HANDSHAKE;
}

const RELEASED_HANDSHAKE = Object.freeze({
  headers: Object.freeze({}),
  query: Object.freeze({}),
  auth: Object.freeze({}),
  time: "",
  address: "",
  xdomain: false,
  secure: false,
  issued: 0,
  url: "",
});

/**
 * Engine.IO wraps an upgrade's socket in a response object for its middlewares and listens to the socket's
 * "close" for it: that listener keeps the response, and through it the upgrade request, for the connection's
 * whole life. This middleware (the last, and run before the upgrade completes) removes it.
 */
function releaseUpgradeResponse(req: unknown, res: unknown, next: (error?: Error) => void): void {
  const socket = (res as { socket?: unknown }).socket;
  if (!(res instanceof ServerResponse) && socket instanceof EventEmitter) {
    // The response's listener is the last one added, with `once` (a wrapper with a `listener` property): a
    // change in Engine.IO that breaks this leaves the listener in place (tests/hardening/idle-memory.test.ts).
    const listeners = socket.rawListeners("close");
    const responseListener = listeners[listeners.length - 1];
    if (typeof responseListener === "function" && "listener" in responseListener) {
      socket.removeListener("close", responseListener as (...args: unknown[]) => void);
    }
  }
  next();
}

const noop = () => {};
/** Where every session's queue starts (one shared promise rather than one per socket). */
const SETTLED = Promise.resolve();

/**
 * What the commands see of one socket: its connection, how it follows rooms,
 * and a queue so that its events run one at a time, in arrival order (a client
 * may emit `room:join` and `message:send` back to back without waiting, and the
 * send must find the room joined even when the join waits on Redis). Methods
 * live on the prototype: no closures per socket.
 */
class SocketSession implements CommandTarget {
  cancelExpiry: () => void = noop;
  private tail: Promise<void> = SETTLED;

  constructor(
    private readonly socket: HuddleSocket,
    readonly conn: Connection,
    private readonly roomReady: (roomId: string) => Promise<void>,
  ) {}

  attach(roomId: string): Promise<void> {
    void this.socket.join(roomKey(roomId));
    return this.roomReady(roomId);
  }

  detach(roomId: string): void {
    void this.socket.leave(roomKey(roomId));
  }

  isClosed(): boolean {
    return this.socket.disconnected;
  }

  /** Runs `task` after the ones before it; a failed task does not stop the next. */
  enqueue(task: () => Promise<void>): void {
    this.tail = this.tail.then(task, task);
  }
}
