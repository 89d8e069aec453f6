/**
 * Verification against an identity provider's JWKS endpoint (`JWT_JWKS_URL`):
 * RS256/ES256 tokens whose `kid` names a key of the set. jose caches the set,
 * refetches it when a token names an unknown `kid` (key rotation), and never
 * more often than the cooldown, so a flood of bogus kids cannot hammer the
 * provider.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import type { Clock } from "../core/clock";

export interface JwksVerifierOptions {
  url: string;
  algorithms: readonly string[];
  issuer?: string;
  audience?: string;
  clock: Clock;
  /** Leeway on `exp`/`nbf`, seconds. */
  clockToleranceSec: number;
  /** Least time between two fetches of the set. @default 30000 */
  cooldownMs?: number;
  /** How long a fetched set is trusted before it is fetched again. @default 600000 */
  cacheMaxAgeMs?: number;
  /** @default 5000 */
  timeoutMs?: number;
}

export type JwksOutcome =
  { ok: true; claims: JWTPayload } | { ok: false; reason: "invalid" | "expired" | "unreachable" };

export interface JwksVerifier {
  verify(token: string): Promise<JwksOutcome>;
}

export function createJwksVerifier(options: JwksVerifierOptions): JwksVerifier {
  const keySet = createRemoteJWKSet(new URL(options.url), {
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  return {
    async verify(token) {
      let kid: unknown;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        return { ok: false, reason: "invalid" };
      }
      // Without a kid the token cannot be tied to one key of a rotating set.
      if (typeof kid !== "string" || kid === "") return { ok: false, reason: "invalid" };
      try {
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: [...options.algorithms],
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: options.clockToleranceSec,
          currentDate: new Date(options.clock.now()),
        });
        return { ok: true, claims: payload };
      } catch (error) {
        if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
        if (error instanceof errors.JWKSTimeout) return { ok: false, reason: "unreachable" };
        if (error instanceof errors.JOSEError) return { ok: false, reason: "invalid" };
        // fetch failures (connection refused, bad JSON) surface as plain errors.
        return { ok: false, reason: "unreachable" };
      }
    },
  };
}
