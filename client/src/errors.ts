/**
 * The one error type the client rejects with. Every failure — an `{ ok: false }`
 * ack, a timeout, a dropped connection, a refused handshake — is normalised
 * here, so an app has a single `code` to switch on.
 */
import type { ErrorCode } from "../../shared/protocol";
import type { WireError } from "../../shared/events";

/**
 * `ErrorCode` values come from the server (§2 of the protocol); the others are the client's own:
 * - `timeout`: no answer within `ackTimeoutMs`;
 * - `disconnected`: the connection dropped before the answer came;
 * - `closed`: `client.close()` was called;
 * - `auth`: the server refused the token and `getToken()` could not give a better one;
 * - `unsupported`: the server does not speak this protocol version (the connection is refused), or, for a
 *   call, it serves an older revision that lacks it (see `HuddleSession.revision`).
 */
export type ClientErrorCode = ErrorCode | "timeout" | "disconnected" | "closed" | "auth" | "unsupported";

export class HuddleClientError extends Error {
  override readonly name = "HuddleClientError";
  readonly code: ClientErrorCode;
  /** With `rate_limited`: how long to wait before sending again. */
  readonly retryAfterMs?: number;
  /** With a refused connection: the protocol's connect error code (4001, 4002, 4003, 4010, 4029). */
  readonly connectCode?: number;

  constructor(code: ClientErrorCode, message: string, extra: { retryAfterMs?: number; connectCode?: number } = {}) {
    super(message);
    this.code = code;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
    if (extra.connectCode !== undefined) this.connectCode = extra.connectCode;
  }

  static fromWire(error: WireError): HuddleClientError {
    return new HuddleClientError(error.code, error.message, { retryAfterMs: error.retryAfterMs });
  }
}

/** Whether a failed call may succeed if simply made again on a new connection. */
export const isTransient = (error: unknown): boolean =>
  error instanceof HuddleClientError && (error.code === "timeout" || error.code === "disconnected");
