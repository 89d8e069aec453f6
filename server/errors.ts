/**
 * One error type for everything the core refuses, and one normaliser that
 * turns any thrown value into the wire shape. Stacks and causes never leave
 * the process: the normaliser only copies code, message and retryAfterMs.
 */
import { ErrorCode, type WireError } from "../shared";

export class HuddleError extends Error {
  override readonly name = "HuddleError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The store behind a service could not be reached; the caller should answer `unavailable`. */
export class StoreUnavailableError extends HuddleError {
  constructor(message = "storage is unavailable, try again", options?: { cause?: unknown }) {
    super(ErrorCode.Unavailable, message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export const badRequest = (message: string) => new HuddleError(ErrorCode.BadRequest, message);
export const forbidden = (roomId: string) =>
  new HuddleError(ErrorCode.Forbidden, `your token does not allow room ${roomId}`);
/** An id of a form no message has: `not_found` like any unknown id (§2), without echoing what may be a long string. */
export const notAMessage = (name: string) =>
  new HuddleError(ErrorCode.NotFound, `${name}: no such message in this room`);
export const notJoined = (roomId: string) => new HuddleError(ErrorCode.NotJoined, `join room ${roomId} first`);

/** Turns anything thrown into the error of an `Err` ack; unknown failures become `internal`. */
export function toWireError(thrown: unknown): WireError {
  if (thrown instanceof HuddleError) {
    const wire: WireError = { code: thrown.code, message: thrown.message };
    if (thrown.retryAfterMs !== undefined) wire.retryAfterMs = thrown.retryAfterMs;
    return wire;
  }
  return { code: ErrorCode.Internal, message: "internal error" };
}
