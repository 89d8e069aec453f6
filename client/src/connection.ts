/**
 * Drives the socket's connection: first connect, reconnects with backoff
 * (socket.io's own reconnection is off, so the wait is visible in the state),
 * and token refresh — on `session:expired`, and on a handshake refused as
 * 4001/4002/4003, once per failure streak so a bad `getToken` cannot loop.
 * What to do once connected (re-join rooms, flush the outbox) is the
 * client's; it reports that through `onConnect` / `onDisconnect`.
 */
import { ConnectErrorCode } from "../../shared/protocol";
import { backoffDelay, type BackoffOptions } from "./backoff";
import type { StateMachine } from "./connection-state";
import { HuddleClientError, type ClientErrorCode } from "./errors";
import { describeError } from "./request";
import type { HuddleSocket, TokenReason } from "./types";

export interface ConnectionDriverOptions {
  socket: HuddleSocket;
  machine: StateMachine;
  getToken(context: { reason: TokenReason }): string | Promise<string>;
  backoff?: BackoffOptions;
  random: () => number;
  now: () => number;
  /** A failure worth reporting that no call is waiting for. */
  onError(error: HuddleClientError): void;
  /** The socket is up: bring the rooms back, then set the state to connected. */
  onConnect(): void;
  /** The socket went down (for whatever reason): forget everything tied to that connection. */
  onDisconnect(): void;
}

export interface ConnectionDriver {
  /** The token the next handshake sends. */
  readonly token: string | undefined;
  /** Connects now, with a fresh attempt count. */
  start(): void;
  /** While waiting to reconnect (or offline): try now. */
  retryNow(): void;
  /** Drops the current connection and reconnects through the backoff. */
  restart(error: HuddleClientError): void;
  close(): void;
}

const AUTH_CODES: ReadonlySet<number> = new Set([
  ConnectErrorCode.AuthenticationRequired,
  ConnectErrorCode.InvalidToken,
  ConnectErrorCode.TokenExpired,
]);

/** The client's error code for a refused handshake. */
function refusalCode(code: number): ClientErrorCode {
  if (AUTH_CODES.has(code)) return "auth";
  if (code === ConnectErrorCode.UnsupportedVersion) return "unsupported";
  // A fixed limit (§13), not a rate: waiting for a budget to refill does not help, closing another connection does.
  if (code === ConnectErrorCode.TooManyConnections) return "limit_exceeded";
  return "unavailable";
}

export function createConnectionDriver(options: ConnectionDriverOptions): ConnectionDriver {
  const { socket, machine } = options;
  let token: string | undefined;
  let stopped = false;
  let attempt = 0;
  /** The token was refreshed since the last successful connection: a second refusal is final. */
  let refreshedThisStreak = false;
  let expiredNotice = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  function startAttempt() {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (stopped) return;
    machine.set({ status: "connecting" });
    if (token !== undefined) return void socket.connect();
    refreshToken("initial");
  }

  function refreshToken(reason: TokenReason) {
    machine.set({ status: "connecting" });
    Promise.resolve()
      .then(() => options.getToken({ reason }))
      .then(
        (fresh) => {
          if (stopped) return;
          token = fresh;
          socket.connect();
        },
        (error: unknown) => {
          goOffline("auth", new HuddleClientError("auth", `could not get a token: ${describeError(error)}`));
        },
      );
  }

  function scheduleRetry(error?: HuddleClientError) {
    if (stopped || retryTimer !== undefined) return;
    const delayMs = backoffDelay(attempt, options.backoff, options.random);
    attempt++;
    machine.set({ status: "reconnecting", attempt, delayMs, nextAttemptAt: options.now() + delayMs, error });
    retryTimer = setTimeout(startAttempt, delayMs);
  }

  function goOffline(reason: "auth" | "unsupported", error: HuddleClientError) {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (stopped) return;
    machine.set({ status: "offline", reason, error });
    options.onError(error);
  }

  socket.on("connect", () => {
    attempt = 0;
    refreshedThisStreak = false;
    options.onConnect();
  });

  socket.on("connect_error", (err: Error & { data?: { code?: unknown } }) => {
    if (stopped) return;
    const code = typeof err.data?.code === "number" ? err.data.code : undefined;
    if (code === undefined) return scheduleRetry(new HuddleClientError("disconnected", err.message));
    const error = new HuddleClientError(refusalCode(code), err.message, { connectCode: code });
    if (error.code === "unsupported") return goOffline("unsupported", error);
    if (error.code === "auth") {
      if (refreshedThisStreak) return goOffline("auth", error);
      refreshedThisStreak = true;
      return refreshToken(code === ConnectErrorCode.TokenExpired ? "expired" : "invalid");
    }
    options.onError(error);
    scheduleRetry(error);
  });

  socket.on("session:expired", () => {
    expiredNotice = true;
  });

  socket.on("disconnect", (reason) => {
    options.onDisconnect();
    if (stopped) return;
    if (expiredNotice) {
      expiredNotice = false;
      refreshedThisStreak = true;
      return refreshToken("expired");
    }
    scheduleRetry(new HuddleClientError("disconnected", reason));
  });

  return {
    get token() {
      return token;
    },
    start() {
      if (stopped || socket.connected) return;
      attempt = 0;
      startAttempt();
    },
    retryNow() {
      const status = machine.get().status;
      if (stopped || (status !== "reconnecting" && status !== "offline")) return;
      attempt = 0;
      refreshedThisStreak = false;
      startAttempt();
    },
    restart(error) {
      if (stopped) return;
      socket.disconnect();
      scheduleRetry(error);
    },
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      socket.disconnect();
    },
  };
}
