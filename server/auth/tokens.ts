/**
 * Token verification (§1 "The token"): the one place that decides who a
 * connection or request is. Algorithms are pinned per configuration and each
 * algorithm family gets its own key, so `none` and HS/RS confusion cannot
 * pass. Tokens are never logged.
 *
 * Verification is asynchronous because keys may come from an identity
 * provider's key set (./jwks.ts), fetched over the network when a token names
 * a key not seen yet. HS* tokens and `JWT_PUBLIC_KEY` need no I/O.
 */
import { createPublicKey, createSecretKey, randomUUID, type KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import jwt from "jsonwebtoken";
import { ConnectErrorCode, CONNECT_ERROR_MESSAGES, Limits, type User } from "../../shared";
import type { Clock } from "../core/clock";
import type { JwtConfig } from "./jwt-config";
import { createRemoteKeySet, KeySetUnavailableError, type KeySetFetchError, type RemoteKeySet } from "./jwks";

/** Who is behind a verified token. */
export interface Identity {
  readonly user: User;
  /** Room ids or `prefix*` patterns the user may join; null means every room. */
  readonly rooms: readonly string[] | null;
  /** Expiry in seconds since epoch, when the token has one. */
  readonly exp?: number;
  /** The token says `"role": "moderator"` (§11): may delete any message and ban, in the rooms it may access. */
  readonly moderator?: boolean;
}

/** A refused token or handshake; `code` is one of the 40xx codes of §1. */
export class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(readonly code: ConnectErrorCode) {
    super(CONNECT_ERROR_MESSAGES[code]);
  }
  /** The `err.data` a refused Socket.IO client receives. */
  get data(): { code: ConnectErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export interface TokenVerifier {
  /**
   * @throws AuthError 4001 when no token is given, 4002 when it is invalid, 4003 when expired.
   * @throws KeySetUnavailableError (`unavailable`) when the identity provider's keys could never be fetched.
   */
  verify(token: unknown): Promise<Identity>;
}

export interface TokenVerifierHooks {
  /** Fetching `JWT_JWKS_URL` failed (reported at most once per cooldown). */
  onKeySetError?(error: KeySetFetchError): void;
}

export function createTokenVerifier(config: JwtConfig, clock: Clock, hooks: TokenVerifierHooks = {}): TokenVerifier {
  const accepted = new Set<string>(config.algorithms);
  // Key objects made once: given a string, jsonwebtoken parses it on every verify (first trying it as a PEM
  // public key), which was a third of the CPU of a handshake.
  const secretKey: KeyObject | undefined =
    config.secret === undefined ? undefined : createSecretKey(Buffer.from(config.secret));
  const publicKey: KeyObject | undefined =
    config.publicKey === undefined ? undefined : createPublicKey(config.publicKey);
  const keySet = config.jwks
    ? createRemoteKeySet({
        url: config.jwks.url,
        cooldownMs: config.jwks.cooldownMs,
        now: () => clock.now(),
        onFetchError: (error) => hooks.onKeySetError?.(error),
      })
    : undefined;
  return {
    async verify(token) {
      if (token === undefined || token === null || token === "") {
        throw new AuthError(ConnectErrorCode.AuthenticationRequired);
      }
      if (typeof token !== "string") throw new AuthError(ConnectErrorCode.InvalidToken);
      const decoded = jwt.decode(token, { complete: true });
      const algorithm = decoded?.header.alg;
      if (typeof algorithm !== "string" || !accepted.has(algorithm)) {
        throw new AuthError(ConnectErrorCode.InvalidToken);
      }
      if (keySet && !algorithm.startsWith("HS")) {
        return identityOf(await verifyWithKeySet(token, algorithm, decoded?.header.kid, keySet, config, clock));
      }
      const key = algorithm.startsWith("HS") ? secretKey : publicKey;
      if (key === undefined) throw new AuthError(ConnectErrorCode.InvalidToken);
      let claims: jwt.JwtPayload | string;
      try {
        claims = jwt.verify(token, key, {
          algorithms: [algorithm as jwt.Algorithm],
          issuer: config.issuer,
          audience: config.audience,
          clockTolerance: Limits.tokenLeewaySec,
          clockTimestamp: Math.floor(clock.now() / 1000),
        });
      } catch (error) {
        if (error instanceof jwt.TokenExpiredError) throw new AuthError(ConnectErrorCode.TokenExpired);
        throw new AuthError(ConnectErrorCode.InvalidToken);
      }
      return identityOf(claims);
    },
  };
}

/** RS*, PS* and ES* tokens of an identity provider: the key is the one of the key set that `kid` names. */
async function verifyWithKeySet(
  token: string,
  algorithm: string,
  kid: unknown,
  keySet: RemoteKeySet,
  config: JwtConfig,
  clock: Clock,
): Promise<object> {
  // Without a kid the token cannot be tied to one key of a rotating set.
  if (typeof kid !== "string" || kid === "") throw new AuthError(ConnectErrorCode.InvalidToken);
  try {
    const { payload } = await jwtVerify(token, keySet.getKey, {
      algorithms: [algorithm],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: Limits.tokenLeewaySec,
      currentDate: new Date(clock.now()),
    });
    return payload;
  } catch (error) {
    if (error instanceof KeySetUnavailableError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new AuthError(ConnectErrorCode.TokenExpired);
    // Bad signature, unknown kid, wrong iss/aud, malformed claims.
    throw new AuthError(ConnectErrorCode.InvalidToken);
  }
}

function identityOf(claims: object | string): Identity {
  if (typeof claims !== "object" || !("sub" in claims) || typeof claims.sub !== "string" || claims.sub.length === 0) {
    throw new AuthError(ConnectErrorCode.InvalidToken);
  }
  const { rooms, name, exp, role } = claims as { rooms?: unknown; name?: unknown; exp?: unknown; role?: unknown };
  if (rooms !== undefined && (!Array.isArray(rooms) || !rooms.every((r) => typeof r === "string"))) {
    throw new AuthError(ConnectErrorCode.InvalidToken);
  }
  const displayName = typeof name === "string" && name.trim() !== "" ? name.trim() : claims.sub;
  return {
    user: { id: claims.sub, name: displayName },
    rooms: rooms === undefined ? null : Object.freeze([...(rooms as string[])]),
    exp: typeof exp === "number" ? exp : undefined,
    ...(role === "moderator" && { moderator: true }),
  };
}

/** True when the `rooms` claim lets the user into `roomId`: an exact id, or a `prefix*` pattern. */
export function canAccessRoom(identity: Pick<Identity, "rooms">, roomId: string): boolean {
  if (identity.rooms === null) return true;
  return identity.rooms.some((allowed) =>
    allowed.endsWith("*") ? roomId.startsWith(allowed.slice(0, -1)) : allowed === roomId,
  );
}

/** Milliseconds until a live connection with this identity must be ended, or undefined when the token never expires. */
export function msUntilExpiry(identity: Identity, now: number): number | undefined {
  if (identity.exp === undefined) return undefined;
  return Math.max(0, identity.exp * 1000 + Limits.tokenLeewaySec * 1000 - now);
}

export interface DevTokenIssuer {
  issue(name: string): { token: string; user: User };
}

/** How long a dev token lives. Long enough for a working day; the web client fetches a new one after. */
const DEV_TOKEN_TTL_SEC = 12 * 60 * 60;

/** Signs tokens for `POST /api/token`. Each sign-in is a new user, even under a name already in use. */
export function createDevTokenIssuer(config: JwtConfig, clock: Clock): DevTokenIssuer {
  const secret = config.secret;
  if (secret === undefined) throw new Error("dev tokens need an HMAC secret");
  const algorithm = (config.algorithms.find((a) => a.startsWith("HS")) ?? "HS256") as jwt.Algorithm;
  return {
    issue(name) {
      const user = { id: `u-${randomUUID()}`, name };
      const iat = Math.floor(clock.now() / 1000);
      const claims: jwt.JwtPayload = { sub: user.id, name, iat, exp: iat + DEV_TOKEN_TTL_SEC };
      if (config.issuer !== undefined) claims.iss = config.issuer;
      if (config.audience !== undefined) claims.aud = config.audience;
      return { token: jwt.sign(claims, secret, { algorithm }), user };
    },
  };
}
