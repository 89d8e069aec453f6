/**
 * The token settings of the configuration (§1 "The token", §7): where keys
 * come from (`JWT_SECRET`, `JWT_PUBLIC_KEY`, their `_FILE` forms for docker
 * secrets, or an identity provider's `JWT_JWKS_URL`), which algorithms are
 * accepted, and the issuer and audience checked. `loadConfig` calls this;
 * problems are collected, never thrown, so that one start-up error names
 * every bad variable. Secret values never appear in a problem.
 */
import { createPublicKey, createSecretKey, randomBytes } from "node:crypto";
import type { Algorithm } from "jsonwebtoken";
import { hidePassword } from "../logger";

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
] as const;

export interface JwtConfig {
  /** HMAC secret, when HS* tokens are accepted. */
  readonly secret?: string;
  /** PEM public key, when RS*, PS* or ES* tokens are accepted. */
  readonly publicKey?: string;
  /** An identity provider's JSON Web Key Set: RS*, PS* and ES* tokens are verified against it (`kid` required). */
  readonly jwks?: {
    readonly url: string;
    /** Least time between two fetches of the set (an unknown `kid` triggers one). @default 30000 */
    readonly cooldownMs: number;
  };
  /** The only `alg` values accepted. */
  readonly algorithms: readonly Algorithm[];
  readonly issuer?: string;
  readonly audience?: string;
  /** True when the secret was made up at start-up because none was configured. */
  readonly ephemeral: boolean;
}

/** What `readJwtConfig` needs from `loadConfig`: trimmed variables, integers, and file reading. */
export interface ConfigReader {
  read(name: string): string | undefined;
  integer(name: string, fallback: number, min: number, max: number): number;
  /** Reads a file as UTF-8; throws when it cannot. */
  readFile(path: string): string;
}

export function readJwtConfig(
  env: ConfigReader,
  production: boolean,
  problems: string[],
  warnings: string[],
): JwtConfig {
  // Secrets are taken verbatim except for surrounding whitespace (a trailing newline from a file is common).
  let secret = readSecret(env, "JWT_SECRET", problems);
  // PEM text often arrives through env files with literal "\n" sequences.
  const publicKey = readSecret(env, "JWT_PUBLIC_KEY", problems)?.replace(/\\n/g, "\n");
  const jwks = readJwks(env, problems, warnings);
  let ephemeral = false;

  if (publicKey !== undefined && jwks !== undefined) {
    problems.push("JWT_PUBLIC_KEY and JWT_JWKS_URL cannot both be set: use one source of public keys");
  }
  if (secret === undefined && publicKey === undefined && jwks === undefined) {
    if (production) {
      problems.push("JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set when NODE_ENV=production");
    }
    secret = randomBytes(32).toString("base64url");
    ephemeral = true;
  }
  if (secret !== undefined && !ephemeral) {
    try {
      createSecretKey(Buffer.from(secret));
    } catch {
      problems.push("JWT_SECRET is not a usable secret");
    }
    // Weak, but the protocol only asks for a secret: warn rather than refuse to start.
    if (Buffer.byteLength(secret) < 32)
      warnings.push("JWT_SECRET is shorter than 32 bytes: use a longer random secret");
  }
  let keyType: string | undefined;
  if (publicKey !== undefined) {
    try {
      keyType = createPublicKey(publicKey).asymmetricKeyType;
    } catch {
      problems.push("JWT_PUBLIC_KEY is not a PEM public key");
    }
  }

  const defaults: Algorithm[] = [];
  if (secret !== undefined) defaults.push("HS256");
  if (publicKey !== undefined || jwks !== undefined) defaults.push("RS256", "ES256");
  const algorithmsRaw = env.read("JWT_ALGORITHMS");
  const algorithms =
    algorithmsRaw === undefined
      ? defaults
      : (algorithmsRaw
          .split(",")
          .map((a) => a.trim().toUpperCase())
          .filter(Boolean) as Algorithm[]);
  for (const algorithm of algorithms) {
    const hmac = (HMAC_ALGORITHMS as readonly string[]).includes(algorithm);
    const asymmetric = (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm);
    if (!hmac && !asymmetric) {
      problems.push(
        `JWT_ALGORITHMS has an unsupported algorithm "${algorithm}" (use ${[...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS].join(", ")})`,
      );
    } else if (hmac && secret === undefined) {
      problems.push(`JWT_ALGORITHMS lists ${algorithm}, which needs JWT_SECRET`);
    } else if (asymmetric && publicKey === undefined && jwks === undefined) {
      problems.push(`JWT_ALGORITHMS lists ${algorithm}, which needs JWT_PUBLIC_KEY or JWT_JWKS_URL`);
    } else if (asymmetric && keyType !== undefined && !keyFits(algorithm, keyType) && algorithmsRaw !== undefined) {
      problems.push(`JWT_ALGORITHMS lists ${algorithm}, which does not fit the ${keyType} key in JWT_PUBLIC_KEY`);
    }
  }
  if (algorithms.length === 0) problems.push("JWT_ALGORITHMS must list at least one algorithm");

  return Object.freeze({
    secret,
    publicKey,
    jwks,
    algorithms: Object.freeze(algorithms),
    issuer: env.read("JWT_ISSUER"),
    audience: env.read("JWT_AUDIENCE"),
    ephemeral,
  });
}

/**
 * `name`, or the contents of the file `name_FILE` names (docker and Kubernetes mount secrets as files).
 * Setting both is refused: which one wins would be a guess.
 */
function readSecret(env: ConfigReader, name: string, problems: string[]): string | undefined {
  const direct = env.read(name);
  const path = env.read(`${name}_FILE`);
  if (path === undefined) return direct;
  if (direct !== undefined) {
    problems.push(`${name} and ${name}_FILE are both set: set one of them`);
    return undefined;
  }
  let text: string;
  try {
    text = env.readFile(path).trim();
  } catch (error) {
    problems.push(`${name}_FILE cannot be read (${JSON.stringify(path)}: ${errorCode(error)})`);
    return undefined;
  }
  if (text === "") {
    problems.push(`${name}_FILE names an empty file (${JSON.stringify(path)})`);
    return undefined;
  }
  return text;
}

function readJwks(env: ConfigReader, problems: string[], warnings: string[]): JwtConfig["jwks"] {
  const raw = env.read("JWT_JWKS_URL");
  const cooldownMs = env.integer("JWT_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`JWT_JWKS_URL must be an http(s):// URL (got ${JSON.stringify(hidePassword(raw))})`);
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    problems.push(`JWT_JWKS_URL must be an http(s):// URL (got ${JSON.stringify(hidePassword(raw))})`);
    return undefined;
  }
  // Whoever can change the key set in transit can sign any token. Plain HTTP is fine on a private network
  // (a sidecar, a compose service), so this is a warning, not a refusal.
  if (url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) {
    warnings.push("JWT_JWKS_URL uses plain http: anyone on the path could substitute keys; use https");
  }
  return Object.freeze({ url: url.href, cooldownMs });
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}

function keyFits(algorithm: string, keyType: string): boolean {
  if (algorithm.startsWith("ES")) return keyType === "ec";
  return keyType === "rsa" || keyType === "rsa-pss";
}
