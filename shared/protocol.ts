/**
 * Constants of the Huddle wire protocol v1 (../shared/spec/PROTOCOL.md in the
 * steering repo). Everything here is part of the public contract: the server,
 * the web client and the tests import it, and so may any app that embeds us.
 */

export const PROTOCOL_VERSION = 1 as const;

/**
 * The revision of protocol v1 this code speaks. Revision 2 added message changes, read state, moderation and
 * limits without breaking a revision-1 client; the server tells its revision in `session`.
 */
export const PROTOCOL_REVISION = 2 as const;

/** Error codes carried in `{ ok: false, error: { code } }` acks and HTTP error bodies. */
export const ErrorCode = {
  BadRequest: "bad_request",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  NotFound: "not_found",
  NotJoined: "not_joined",
  RateLimited: "rate_limited",
  TooLarge: "too_large",
  Unavailable: "unavailable",
  Internal: "internal",
  /** A fixed limit was reached (rooms per connection, connections per user): retrying soon will not help. */
  LimitExceeded: "limit_exceeded",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each error code (§5). */
export const HTTP_STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_joined: 409,
  rate_limited: 429,
  too_large: 413,
  unavailable: 503,
  internal: 500,
  limit_exceeded: 429,
};

/** Codes of a refused connection: `connect_error` `err.data.code`, and `/ws` close codes. */
export const ConnectErrorCode = {
  AuthenticationRequired: 4001,
  InvalidToken: 4002,
  TokenExpired: 4003,
  UnsupportedVersion: 4010,
  TooManyConnections: 4029,
} as const;
export type ConnectErrorCode = (typeof ConnectErrorCode)[keyof typeof ConnectErrorCode];

/** The human text that goes with each connect error code (`err.message`). */
export const CONNECT_ERROR_MESSAGES: Readonly<Record<ConnectErrorCode, string>> = {
  4001: "Authentication required",
  4002: "Invalid token",
  4003: "Token expired",
  4010: "Unsupported protocol version",
  4029: "Too many connections",
};

/** Fixed limits of protocol v1. */
export const Limits = {
  roomIdMaxLength: 64,
  messageMaxLength: 4000,
  clientMsgIdMaxLength: 64,
  /** Messages returned by `room:join` without `since`, and after a gap that could not be filled. */
  joinHistory: 50,
  /** The most messages `room:join` with `since` will return to fill a gap. */
  resumeMax: 500,
  pageDefault: 50,
  pageMax: 100,
  pollMax: 100,
  pollTimeoutDefaultSec: 25,
  pollTimeoutMaxSec: 30,
  sseHeartbeatMs: 15_000,
  /** Clock leeway when checking a token's `exp`. */
  tokenLeewaySec: 30,
  /** Different emojis one message may carry. */
  maxEmojis: 20,
  /** Code points of one emoji (`"👍"`, `":ship:"`). */
  emojiMaxLength: 16,
  /** User ids listed per reaction (the first to react, oldest first); `count` has them all. */
  reactionUserIds: 20,
  /** Public read markers `room:reads` answers. */
  readsMax: 100,
  /** Rooms `rooms:list` answers. */
  roomsListMax: 200,
  banReasonMaxLength: 200,
  /** The longest ban with an end: one year. */
  banMaxDurationSec: 31_536_000,
} as const;
