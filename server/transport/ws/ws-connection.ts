/**
 * One plain WebSocket client (§6), from the upgrade to the close:
 *
 *   waiting (no token in the URL: the first frame must be `auth`, within the
 *   auth timeout) → admitting (version, token, connection cap; frames that
 *   arrive meanwhile are held) → open (./ws-session.ts) → closed (rooms
 *   left, connection slot released).
 *
 * Refusals close with the §1 code as the close code and its message as the
 * reason.
 */
import type { IncomingMessage } from "node:http";
import { WebSocket, type RawData } from "ws";
import { ConnectErrorCode, CONNECT_ERROR_MESSAGES } from "../../../shared";
import { AuthError } from "../../auth/tokens";
import { admitConnection, type Admission, type AdmitOptions, type Credentials } from "../session";
import { parseFrame } from "./ws-frames";
import { startWsSession, type WsSession, type WsSessionDeps } from "./ws-session";

/** Close code for a handshake that failed on our side (a store unreachable): RFC 6455 "Try Again Later". */
const CLOSE_UNAVAILABLE = 1013;

export interface WsConnectionHooks {
  onConnectionRefused(code: number): void;
  onConnectionCountChange(delta: number): void;
  /** A frame over the payload limit closed the connection (1009). */
  onTooLarge?(): void;
  onError(error: unknown, context: string): void;
}

export interface WsConnectionDeps extends WsSessionDeps {
  admission: AdmitOptions;
  authTimeoutMs: number;
  hooks: WsConnectionHooks;
}

export interface WsConnectionHandle {
  /** Resolves once every request received so far has been answered. */
  settled(): Promise<void>;
}

/** Serves `ws` until it closes; `connId` is unique across nodes. */
export function serveWsConnection(
  ws: WebSocket,
  req: IncomingMessage,
  connId: string,
  deps: WsConnectionDeps,
): WsConnectionHandle {
  const { hooks } = deps;
  let state: "waiting" | "admitting" | "open" | "closed" = "waiting";
  // A function, so that TypeScript does not narrow `state` across the awaits that may change it.
  const isClosed = () => state === "closed";
  let held: Array<[RawData, boolean]> = [];
  let opened: { session: WsSession; admission: Admission } | undefined;

  const closeWith = (code: number, reason: string) => {
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  };
  const refuse = (code: ConnectErrorCode | typeof CLOSE_UNAVAILABLE) => {
    // Frames still arriving while the close handshake runs are ignored from here on.
    state = "closed";
    hooks.onConnectionRefused(code === CLOSE_UNAVAILABLE ? 503 : code);
    closeWith(code, code === CLOSE_UNAVAILABLE ? "Service unavailable" : CONNECT_ERROR_MESSAGES[code]);
  };

  const admit = async (credentials: Credentials) => {
    state = "admitting";
    let admission: Admission;
    try {
      admission = await admitConnection(deps.admission, credentials, connId);
    } catch (error) {
      if (isClosed()) return;
      if (error instanceof AuthError) return refuse(error.code);
      hooks.onError(error, "ws handshake");
      return refuse(CLOSE_UNAVAILABLE);
    }
    // Gone while its slot was being taken: give the slot back at once.
    if (isClosed()) return void admission.release();
    state = "open";
    hooks.onConnectionCountChange(1);
    const session = startWsSession(ws, connId, admission.identity, deps);
    opened = { session, admission };
    const pending = held;
    held = [];
    for (const [raw, isBinary] of pending) if (!isClosed()) session.receive(raw, isBinary);
  };

  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const queryToken = query.get("token");
  const queryVersion = query.get("v") ?? undefined;
  const authTimer =
    queryToken === null || queryToken === ""
      ? setTimeout(() => refuse(ConnectErrorCode.AuthenticationRequired), deps.authTimeoutMs)
      : undefined;
  authTimer?.unref();

  ws.on("message", (raw, isBinary) => {
    if (state === "open") return opened?.session.receive(raw, isBinary);
    if (state === "admitting") return void held.push([raw, isBinary]);
    if (state !== "waiting") return;
    clearTimeout(authTimer);
    const frame = parseFrame(raw, isBinary);
    if (frame.kind !== "auth") return refuse(ConnectErrorCode.AuthenticationRequired);
    void admit({ token: frame.token, v: frame.v !== undefined ? frame.v : queryVersion });
  });
  // Errors (an oversized or malformed frame) are followed by a close; without a listener they would throw.
  ws.on("error", (error: Error & { code?: string }) => {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") hooks.onTooLarge?.();
  });
  ws.on("close", () => {
    state = "closed";
    held = [];
    clearTimeout(authTimer);
    if (!opened) return;
    hooks.onConnectionCountChange(-1);
    void opened.admission.release();
    opened.session.end().catch((error) => hooks.onError(error, "ws close"));
  });

  if (!authTimer) void admit({ token: queryToken, v: queryVersion });
  return { settled: () => opened?.session.settled() ?? Promise.resolve() };
}
