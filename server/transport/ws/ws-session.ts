/**
 * An admitted plain WebSocket client (§6): `session` first, then requests
 * answered by acks, live events of the rooms it joined, and token expiry.
 * Requests go to the shared commands and live events come from the local
 * delivery; all state lives in the services' stores, so the client is a full
 * member of its rooms on every node.
 */
import { WebSocket, type RawData } from "ws";
import { ConnectErrorCode, CONNECT_ERROR_MESSAGES } from "../../../shared";
import type { Identity } from "../../auth/tokens";
import { createConnection } from "../../core/connection";
import type { Services } from "../../services";
import type { CommandTarget, Commands } from "../commands";
import type { LocalDelivery, RoomListener } from "../delivery";
import { sessionInfo } from "../session";
import { shouldDropTyping } from "../slow-consumers";
import { scheduleExpiry } from "../socket/expiry";
import { errorFrame, eventFrame, parseFrame, type ServerFrame } from "./ws-frames";

export interface WsSessionDeps {
  services: Services;
  delivery: LocalDelivery;
  commands: Commands;
  nodeId: string;
  typingTtlMs: number;
  /** Typing updates are skipped while more than half of this is queued for the client. */
  maxBufferedBytes: number;
  onError(error: unknown, context: string): void;
}

export interface WsSession {
  /** Handles one frame from the client. */
  receive(raw: RawData, isBinary: boolean): void;
  /** Resolves once every request received so far has been answered. */
  settled(): Promise<void>;
  /** The socket closed: stop events, leave every room (presence, typing). */
  end(): Promise<void>;
}

/** Starts the session of an admitted client: sends `session` and arms the token's expiry. */
export function startWsSession(ws: WebSocket, connId: string, identity: Identity, deps: WsSessionDeps): WsSession {
  const conn = createConnection(connId, identity);
  const following = new Map<string, () => void>();
  let ended = false;
  let inFlight: Promise<void> = Promise.resolve();

  const send = (frame: ServerFrame | undefined) => {
    if (frame && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };
  const target: CommandTarget = {
    conn,
    attach(roomId) {
      if (ended || following.has(roomId)) return deps.delivery.ready(roomId);
      const listener: RoomListener = {
        userId: identity.user.id,
        onEvent(event) {
          // Behind: typing updates (ephemeral, corrected by the next) go first. The sweep of ../slow-consumers.ts
          // disconnects the client if it falls further behind.
          if (event.type === "typing" && shouldDropTyping(ws.bufferedAmount, deps.maxBufferedBytes)) return;
          send(eventFrame(event));
          // Banned from the room (§11): out of it at once, as if it had left.
          if (event.type === "ban") {
            deps.services.rooms.leave(conn, roomId, () => target.detach(roomId)).catch((e) => deps.onError(e, "ban"));
          }
        },
      };
      following.set(roomId, deps.delivery.listen(roomId, listener));
      return deps.delivery.ready(roomId);
    },
    detach(roomId) {
      following.get(roomId)?.();
      following.delete(roomId);
    },
    isClosed: () => ended,
  };

  // One at a time, in arrival order: a client may send `room:join` and `message:send` back to back (a shell
  // script does), and the send must find the room joined.
  const enqueue = (run: () => Promise<void>) => {
    inFlight = inFlight.then(run).catch((error: unknown) => deps.onError(error, "ws request"));
  };

  send({ type: "session", data: sessionInfo(identity.user, deps.nodeId, deps.typingTtlMs) });
  // The user's own read markers (§9) reach every connection of theirs, whatever rooms it joined.
  const stopUserEvents = deps.delivery.listenUser(identity.user.id, { onEvent: (event) => send(eventFrame(event)) });
  const cancelExpiry = scheduleExpiry(identity, deps.services.clock, () => {
    send({ type: "session:expired", data: {} });
    const code = ConnectErrorCode.TokenExpired;
    if (ws.readyState === WebSocket.OPEN) ws.close(code, CONNECT_ERROR_MESSAGES[code]);
  });

  return {
    receive(raw, isBinary) {
      const frame = parseFrame(raw, isBinary);
      switch (frame.kind) {
        case "invalid":
          return send(errorFrame(frame.message));
        case "ping":
          return send({ type: "pong" });
        case "auth":
          return send(errorFrame("already authenticated"));
        case "request":
          return enqueue(async () => {
            // Closing (the client left, or this node is shutting down): the ack could not be delivered, so do not run it.
            if (ws.readyState !== WebSocket.OPEN) return;
            const ack = await deps.commands.execute(frame.type, frame.data, target);
            send({ type: "ack", id: frame.id, data: ack });
          });
      }
    },
    settled: () => inFlight,
    async end() {
      ended = true;
      cancelExpiry();
      stopUserEvents();
      for (const stop of following.values()) stop();
      following.clear();
      await deps.services.rooms.leaveAll(conn);
    },
  };
}
