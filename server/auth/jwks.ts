/**
 * An identity provider's JSON Web Key Set (`JWT_JWKS_URL`), as the key
 * source of token verification: RS256/ES256 tokens whose `kid` names a key
 * of the set.
 *
 * - The set is fetched on first use and cached; it is fetched again when it
 *   is older than `maxAgeMs` (keys the provider removed stop working), and
 *   when a token names a `kid` the cached set lacks (key rotation).
 * - Fetches are rate limited: never two within `cooldownMs`, whatever
 *   triggered them and whether they succeeded, so a flood of tokens with
 *   made-up kids cannot hammer the provider (or this node). Concurrent
 *   triggers share one fetch.
 * - A failed fetch keeps the keys already held (stale but usable: the
 *   provider being down must not log everyone out), is reported once through
 *   `onFetchError`, and leaves verification to the held keys. Only with no
 *   keys at all is a token answered {@link KeySetUnavailableError}: the
 *   server cannot tell whether it is valid, so clients are told to retry
 *   (`unavailable`), not that their token is bad.
 *
 * jose's `createRemoteJWKSet` does most of this, but a failed refresh of a
 * stale set fails every verification, and failed fetches are not rate
 * limited; hence this small cache over `createLocalJWKSet`.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { ErrorCode } from "../../shared";
import { HuddleError } from "../errors";

/** No key set could be fetched yet: a token can be neither accepted nor refused. Answered `unavailable`. */
export class KeySetUnavailableError extends HuddleError {
  constructor(retryAfterMs: number) {
    super(ErrorCode.Unavailable, "the identity provider's keys cannot be fetched, try again", retryAfterMs);
  }
}

/** A fetch of the key set failed; `message` says why (never a key). */
export class KeySetFetchError extends Error {
  override readonly name = "KeySetFetchError";
}

export interface RemoteKeySetOptions {
  url: string;
  /** Least time between two fetches. @default 30000 */
  cooldownMs?: number;
  /** Age past which the set is fetched again before use. @default 600000 */
  maxAgeMs?: number;
  /** @default 5000 */
  timeoutMs?: number;
  /** Wall-clock milliseconds. */
  now(): number;
  /** A fetch failed (at most once per cooldown): the caller logs it. */
  onFetchError(error: KeySetFetchError): void;
}

export interface RemoteKeySet {
  /** The key-resolving function `jwtVerify` takes. @throws KeySetUnavailableError with no key set held */
  readonly getKey: JWTVerifyGetKey;
}

/** The biggest key set accepted: real ones are a few kilobytes. */
const MAX_SET_BYTES = 1024 * 1024;

export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  const cooldownMs = options.cooldownMs ?? 30_000;
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let pending: Promise<void> | undefined;
  // For log lines: never the credentials a URL may carry.
  const shownUrl = withoutCredentials(options.url);

  /** Fetches the set unless one fetch is running (joined) or the last began less than `cooldownMs` ago. */
  const refresh = (): Promise<void> => {
    if (pending) return pending;
    const now = options.now();
    if (now - attemptedAt < cooldownMs) return Promise.resolve();
    attemptedAt = now;
    pending = fetchKeySet(options.url, timeoutMs)
      .then((set) => createLocalJWKSet(set))
      .then(
        (keys) => {
          local = keys;
          fetchedAt = options.now();
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error.message : String(error);
          options.onFetchError(new KeySetFetchError(`fetching the key set from ${shownUrl} failed: ${reason}`));
        },
      )
      .finally(() => (pending = undefined));
    return pending;
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!local || options.now() - fetchedAt >= maxAgeMs) await refresh();
    if (!local) throw new KeySetUnavailableError(Math.max(1000, attemptedAt + cooldownMs - options.now()));
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A kid the cached set lacks: the provider may have rotated its keys. Look again (rate limited).
      await refresh();
      return local(header, token);
    }
  };
  return { getKey };
}

async function fetchKeySet(url: string, timeoutMs: number): Promise<JSONWebKeySet> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
    const name = error instanceof Error ? error.name : "";
    throw new Error(name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : String(cause ?? error));
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const length = Number(response.headers.get("content-length"));
  if (length > MAX_SET_BYTES) {
    await response.body?.cancel();
    throw new Error(`the set is larger than ${MAX_SET_BYTES} bytes`);
  }
  const text = await response.text();
  if (text.length > MAX_SET_BYTES) throw new Error(`the set is larger than ${MAX_SET_BYTES} bytes`);
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch {
    throw new Error("the answer is not JSON");
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "object" && key !== null)) {
    throw new Error('the answer is not a JSON Web Key Set ({ "keys": [...] })');
  }
  return set as JSONWebKeySet;
}

function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  parsed.search = "";
  return parsed.href;
}
