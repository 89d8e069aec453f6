/**
 * The Socket.IO adapter: the handshake (version, token, connection cap:
 * ../session.ts), the session a socket gets, token expiry on live sockets,
 * and the six client events handed to the shared commands (../commands.ts),
 * with Socket.IO rooms as the way a socket follows a room. The engine is not
 * attached to the HTTP server: the app routes `/socket.io/` requests and upgrades to it after
 * its Origin check, which Socket.IO's own `allowRequest` cannot answer with a
 * 403 on the WebSocket upgrade.
 */
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
import type { Services } from "../../services";
import { createCommands, isClientEventName, type CommandHooks, type CommandTarget } from "../commands";
import { admitConnection, sessionInfo } from "../session";
import { roomKey, userKey } from "./room-keys";
import { scheduleExpiry } from "./expiry";

export type HuddleServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type HuddleSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface SocketServerOptions {
  services: Services;
  nodeId: string;
  maxConnectionsPerUser: number;
  maxPayloadBytes: number;
  typingTtlMs: number;
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
  const io: HuddleServer = new Server({ serveClient: false, cleanupEmptyChildNamespaces: true });
  io.bind(engine);
  engine.on("connection", (conn: EngineConnection) => {
    conn.once("close", (_reason: string, description?: unknown) => {
      if (isOversized(description)) hooks.onTooLarge?.();
    });
  });

  const identities = new WeakMap<HuddleSocket, Identity>();
  const commands = createCommands(services, hooks);
  const admission = { services, maxConnectionsPerUser: options.maxConnectionsPerUser, onError: hooks.onError };

  io.use(async (socket, next) => {
    try {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      const query = socket.handshake.query;
      const token = auth.token !== undefined && auth.token !== "" ? auth.token : query.token;
      const { identity, release } = await admitConnection(
        admission,
        { token, v: auth.v ?? query.v },
        `${nodeId}:${socket.id}`,
      );
      // Released when the socket disconnects (a namespace disconnect leaves the Engine.IO connection open for the
      // next CONNECT), or when the underlying connection closes, which covers a client gone before the handshake ends.
      const onConnClose = () => void release();
      socket.conn.once("close", onConnClose);
      socket.once("disconnect", () => {
        socket.conn.off("close", onConnClose);
        void release();
      });
      identities.set(socket, identity);
      socket.data = { user: identity.user, rooms: identity.rooms, exp: identity.exp };
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
    session.cancelExpiry();
    hooks.onConnectionCountChange(-1);
    services.rooms.leaveAll(session.conn).catch((error) => hooks.onError(error, "disconnect"));
  }

  function onExpired(socket: HuddleSocket) {
    socket.emit("session:expired", {});
    socket.disconnect(true);
  }

  io.on("connection", (socket) => {
    const identity = identities.get(socket);
    if (!identity) return void socket.disconnect(true);
    releaseHandshakeRequest(socket);
    const session = new SocketSession(socket, createConnection(`${nodeId}:${socket.id}`, identity));
    sessions.set(socket, session);
    hooks.onConnectionCountChange(1);
    socket.join(userKey(identity.user.id));
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
  socket.handshake.headers = {};
}

const noop = () => {};

/**
 * What the commands see of one socket: its connection, how it follows rooms,
 * and a queue so that its events run one at a time, in arrival order (a client
 * may emit `room:join` and `message:send` back to back without waiting, and the
 * send must find the room joined even when the join waits on Redis). Methods
 * live on the prototype: no closures per socket.
 */
class SocketSession implements CommandTarget {
  cancelExpiry: () => void = noop;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: HuddleSocket,
    readonly conn: Connection,
  ) {}

  attach(roomId: string): void {
    void this.socket.join(roomKey(roomId));
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
