/**
 * Admitting a connection, whatever its transport (Socket.IO, plain
 * WebSocket): the protocol version, the token, and the per-user connection
 * cap (§1), in that order; and the `session` a connection gets first (§4).
 * Both adapters call these, so a user's connections of either kind count
 * together toward `MAX_CONNECTIONS_PER_USER`; SSE streams and long polls take
 * their slots too (`holdSlot`, §13).
 */
import {
  ConnectErrorCode,
  ErrorCode,
  Limits,
  PROTOCOL_REVISION,
  PROTOCOL_VERSION,
  type SessionInfo,
  type User,
} from "../../shared";
import { AuthError, type Identity } from "../auth/tokens";
import { HuddleError } from "../errors";
import type { Services } from "../services";

/** Reads `v` as the protocol version: absent means 1. */
export function isSupportedVersion(v: unknown): boolean {
  return v === undefined || v === null || v === PROTOCOL_VERSION || v === String(PROTOCOL_VERSION);
}

export interface Credentials {
  token: unknown;
  /** The protocol version the client asked for; absent means 1. */
  v?: unknown;
}

export interface Admission {
  identity: Identity;
  /** Gives the connection's slot back; never rejects (failures go to `onError`). */
  release(): Promise<void>;
}

export interface AdmitOptions {
  services: Services;
  maxConnectionsPerUser: number;
  onError(error: unknown, context: string): void;
}

/**
 * Checks the version and the token and takes one of the user's connection
 * slots under `connId` (unique across nodes).
 * @throws AuthError 4010, 4001, 4002, 4003 or 4029; anything else means a store or the identity provider failed.
 */
export async function admitConnection(
  options: AdmitOptions,
  credentials: Credentials,
  connId: string,
): Promise<Admission> {
  if (!isSupportedVersion(credentials.v)) throw new AuthError(ConnectErrorCode.UnsupportedVersion);
  const identity = await options.services.verifier.verify(credentials.token);
  const { connections } = options.services.stores;
  const acquired = await connections.acquire(identity.user.id, connId, options.maxConnectionsPerUser);
  if (!acquired) throw new AuthError(ConnectErrorCode.TooManyConnections);
  return { identity, release: () => releaseConnection(options, identity.user.id, connId) };
}

/**
 * Takes one of the user's connection slots for an SSE stream or a waiting long poll (§13): they count toward
 * `MAX_CONNECTIONS_PER_USER` with the sockets, on every node, while open. Resolves with the function that gives
 * the slot back (never rejects).
 * @throws HuddleError limit_exceeded when the user already holds the maximum.
 */
export async function holdSlot(options: AdmitOptions, userId: string, connId: string): Promise<() => Promise<void>> {
  const acquired = await options.services.stores.connections.acquire(userId, connId, options.maxConnectionsPerUser);
  if (!acquired) {
    throw new HuddleError(
      ErrorCode.LimitExceeded,
      `too many open connections: at most ${options.maxConnectionsPerUser} per user, streams and polls included`,
    );
  }
  return () => releaseConnection(options, userId, connId);
}

/** Gives back the slot `admitConnection` took (what `Admission.release` does, for a caller that keeps no closure). */
export function releaseConnection(options: AdmitOptions, userId: string, connId: string): Promise<void> {
  return options.services.stores.connections.release(userId, connId).catch((e) => options.onError(e, "release"));
}

/** The `session` event: the first thing a connection receives. */
export function sessionInfo(user: User, nodeId: string, typingTtlMs: number): SessionInfo {
  return {
    user,
    nodeId,
    protocol: PROTOCOL_VERSION,
    revision: PROTOCOL_REVISION,
    limits: { maxMessageLength: Limits.messageMaxLength, typingTtlMs },
  };
}
