/**
 * The Socket.IO adapter: the handshake (version, token, connection cap), the
 * session a socket gets, token expiry on live sockets, and the six client
 * events mapped onto the core services. The engine is not attached to the
 * HTTP server: the app routes `/socket.io/` requests and upgrades to it after
 * its Origin check, which Socket.IO's own `allowRequest` cannot answer with a
 * 403 on the WebSocket upgrade.
 */
import { Server as Engine } from "engine.io";
import { Server, type Socket } from "socket.io";
import {
  CLIENT_EVENT_NAMES,
  ConnectErrorCode,
  ErrorCode,
  HistoryPayloadSchema,
  JoinPayloadSchema,
  LeavePayloadSchema,
  Limits,
  PROTOCOL_VERSION,
  SendPayloadSchema,
  TypingPayloadSchema,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from "../../../shared";
import { AuthError, type Identity } from "../../auth/tokens";
import { createConnection } from "../../core/connection";
import type { Services } from "../../services";
import { defineHandler, type HandlerHooks } from "./define-handler";
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
    onError(error: unknown, context: string): void;
  };
}

/** Reads `v` as the protocol version: absent means 1. */
export function isSupportedVersion(v: unknown): boolean {
  return v === undefined || v === null || v === PROTOCOL_VERSION || v === String(PROTOCOL_VERSION);
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

  const identities = new WeakMap<HuddleSocket, Identity>();

  io.use(async (socket, next) => {
    try {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      const query = socket.handshake.query;
      if (!isSupportedVersion(auth.v ?? query.v)) throw new AuthError(ConnectErrorCode.UnsupportedVersion);
      const token = auth.token !== undefined && auth.token !== "" ? auth.token : query.token;
      const identity = services.verifier.verify(token);
      const connId = `${nodeId}:${socket.id}`;
      const acquired = await services.stores.connections.acquire(
        identity.user.id,
        connId,
        options.maxConnectionsPerUser,
      );
      if (!acquired) throw new AuthError(ConnectErrorCode.TooManyConnections);
      // Released when the underlying connection closes, which also covers a client gone before the handshake ends.
      socket.conn.once("close", () => {
        services.stores.connections.release(identity.user.id, connId).catch((e) => hooks.onError(e, "release"));
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
    const conn = createConnection(`${nodeId}:${socket.id}`, identity);
    const { rooms, chat, typing } = services;
    const user = identity.user;
    hooks.onConnectionCountChange(1);
    socket.join(userKey(user.id));
    socket.emit("session", {
      user,
      nodeId,
      protocol: PROTOCOL_VERSION,
      limits: { maxMessageLength: Limits.messageMaxLength, typingTtlMs: options.typingTtlMs },
    });
    const cancelExpiry = scheduleExpiry(identity, services.clock, () => {
      socket.emit("session:expired", {});
      socket.disconnect(true);
    });

    const on = (event: string, handler: (...args: unknown[]) => void) => socket.on(event as never, handler as never);
    on(
      "room:join",
      defineHandler(
        "room:join",
        JoinPayloadSchema,
        async (payload) => {
          const key = roomKey(payload.roomId);
          const result = await rooms.join(conn, payload, () => socket.join(key));
          // Disconnected while joining: the disconnect handler ran before the room was recorded.
          if (socket.disconnected) await rooms.leaveAll(conn);
          return result;
        },
        hooks,
      ),
    );
    on(
      "room:leave",
      defineHandler(
        "room:leave",
        LeavePayloadSchema,
        async ({ roomId }) => {
          await rooms.leave(conn, roomId, () => socket.leave(roomKey(roomId)));
          return {};
        },
        hooks,
      ),
    );
    on(
      "message:send",
      defineHandler(
        "message:send",
        SendPayloadSchema,
        async (payload) => {
          rooms.assertJoined(conn, payload.roomId);
          const { message } = await chat.send(user, payload);
          return { message };
        },
        hooks,
      ),
    );
    on(
      "typing:start",
      defineHandler(
        "typing:start",
        TypingPayloadSchema,
        async ({ roomId }) => {
          rooms.assertJoined(conn, roomId);
          await typing.start(user, roomId);
          return {};
        },
        hooks,
      ),
    );
    on(
      "typing:stop",
      defineHandler(
        "typing:stop",
        TypingPayloadSchema,
        async ({ roomId }) => {
          rooms.assertJoined(conn, roomId);
          await typing.stop(user.id, roomId);
          return {};
        },
        hooks,
      ),
    );
    on(
      "room:history",
      defineHandler(
        "room:history",
        HistoryPayloadSchema,
        async ({ roomId, before, limit }) => {
          rooms.assertJoined(conn, roomId);
          return chat.page(roomId, { before, limit });
        },
        hooks,
      ),
    );
    // An event the protocol does not know is still answered, so a client waiting on its ack is not left hanging.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === "string" && (CLIENT_EVENT_NAMES as string[]).includes(event)) return;
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
      rooms.leaveAll(conn).catch((error) => hooks.onError(error, "disconnect"));
    });
  });

  return { io, engine };
}
