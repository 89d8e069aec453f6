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
  CLIENT_EVENT_NAMES,
  ErrorCode,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from "../../../shared";
import { AuthError, type Identity } from "../../auth/tokens";
import { createConnection } from "../../core/connection";
import type { Services } from "../../services";
import { createCommands, isClientEventName, type CommandTarget } from "../commands";
import { admitConnection, sessionInfo } from "../session";
import { createSerialQueue, defineHandler, type HandlerHooks } from "./define-handler";
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
  hooks: HandlerHooks & {
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

export function createSocketServer(options: SocketServerOptions): { io: HuddleServer; engine: Engine } {
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

  io.on("connection", (socket) => {
    const identity = identities.get(socket);
    if (!identity) return void socket.disconnect(true);
    releaseHandshakeRequest(socket);
    const conn = createConnection(`${nodeId}:${socket.id}`, identity);
    const user = identity.user;
    hooks.onConnectionCountChange(1);
    socket.join(userKey(user.id));
    socket.emit("session", sessionInfo(user, nodeId, options.typingTtlMs));
    const cancelExpiry = scheduleExpiry(identity, services.clock, () => {
      socket.emit("session:expired", {});
      socket.disconnect(true);
    });

    const target: CommandTarget = {
      conn,
      attach: (roomId) => void socket.join(roomKey(roomId)),
      detach: (roomId) => void socket.leave(roomKey(roomId)),
      isClosed: () => socket.disconnected,
    };
    const enqueue = createSerialQueue();
    for (const event of CLIENT_EVENT_NAMES) {
      socket.on(event, defineHandler(commands, event, target, enqueue) as never);
    }
    // An event the protocol does not know is still answered, so a client waiting on its ack is not left hanging.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (isClientEventName(event)) return;
      const ack = args[args.length - 1];
      if (typeof ack === "function") {
        ack({
          ok: false,
          error: { code: ErrorCode.BadRequest, message: `unknown event ${String(event).slice(0, 64)}` },
        });
      }
    });

    socket.on("disconnect", () => {
      cancelExpiry();
      hooks.onConnectionCountChange(-1);
      services.rooms.leaveAll(conn).catch((error) => hooks.onError(error, "disconnect"));
    });
  });

  return { io, engine };
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
