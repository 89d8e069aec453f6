/**
 * Configuration: read once from the environment at start-up, validated, frozen
 * and passed down. Nothing else in the server reads `process.env`.
 *
 * Every variable of PROTOCOL.md §7, plus `LOG_LEVEL`. A bad value stops
 * start-up with a {@link ConfigError} whose message is one line naming each
 * offending variable.
 */
import { createPublicKey, createSecretKey, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Algorithm } from "jsonwebtoken";

export type Env = Readonly<Record<string, string | undefined>>;

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
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export interface JwtConfig {
  /** HMAC secret, when HS* tokens are accepted. */
  readonly secret?: string;
  /** PEM public key, when RS*, PS* or ES* tokens are accepted. */
  readonly publicKey?: string;
  /** The only `alg` values accepted. */
  readonly algorithms: readonly Algorithm[];
  readonly issuer?: string;
  readonly audience?: string;
  /** True when the secret was made up at start-up because none was configured. */
  readonly ephemeral: boolean;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Unset: one node, everything in memory. */
  readonly redisUrl?: string;
  readonly nodeId: string;
  readonly production: boolean;
  readonly jwt: JwtConfig;
  /** `POST /api/token` is served. */
  readonly devTokens: boolean;
  /** Origins allowed besides same-origin: exact strings, or "*" for any. */
  readonly corsOrigins: "*" | readonly string[];
  readonly maxConnectionsPerUser: number;
  readonly rateBurst: number;
  readonly ratePerSec: number;
  readonly historyMax: number;
  readonly typingTtlMs: number;
  readonly maxPayloadBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Things that work but deserve an operator's attention; `main.ts` logs them at start-up. */
  readonly warnings: readonly string[];
  /** Socket.IO Redis adapter: classic pub/sub, or sharded pub/sub (Redis 7+). */
  readonly redisAdapter: "classic" | "sharded";
  /** Node heartbeats in Redis: refresh interval, time-to-live, and how often dead nodes are looked for. */
  readonly presence: { readonly heartbeatMs: number; readonly ttlMs: number; readonly reapMs: number };
}

/** One or more environment variables are wrong. `message` is a single line naming each of them. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    // One line whatever the values were: a process manager shows the first line of stderr.
    super(`invalid configuration: ${problems.join("; ").replace(/\s*[\r\n]+\s*/g, " ")}`);
  }
}

/**
 * Reads and validates the configuration.
 * @throws ConfigError listing every bad variable.
 */
export function loadConfig(env: Env, defaults: { hostname?: string; pid?: number } = {}): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = /^(\d+\.?\d*|\.\d+)$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name} must be a number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };
  const flag = (name: string): boolean | undefined => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return undefined;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    problems.push(`${name} must be 1 or 0 (got ${JSON.stringify(raw)})`);
    return undefined;
  };

  const production = read("NODE_ENV") === "production";
  const port = integer("PORT", 3000, 0, 65535);
  const host = read("HOST") ?? "0.0.0.0";

  const redisUrl = read("REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    problems.push(`REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(redisUrl)})`);
  }

  const jwt = readJwtConfig(read, production, problems, warnings);
  const devTokensFlag = flag("DEV_TOKENS");
  const devTokens = devTokensFlag ?? jwt.ephemeral;
  if (devTokens && jwt.secret === undefined) {
    problems.push("DEV_TOKENS=1 needs JWT_SECRET to sign tokens with (a public key cannot sign)");
  }

  const corsRaw = read("CORS_ORIGINS");
  let corsOrigins: "*" | string[] = [];
  if (corsRaw === "*") corsOrigins = "*";
  else if (corsRaw !== undefined) {
    corsOrigins = corsRaw
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean);
    const bad = corsOrigins.filter((origin) => !isOrigin(origin));
    if (bad.length > 0) {
      problems.push(
        `CORS_ORIGINS must list origins like https://chat.example.com, or be * (bad: ${bad.map((o) => JSON.stringify(o)).join(", ")})`,
      );
    }
  }

  const logLevelRaw = read("LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(logLevelRaw)})`);
  }

  const config: Config = {
    port,
    host,
    redisUrl,
    nodeId: read("NODE_ID") ?? `${defaults.hostname ?? hostname()}-${defaults.pid ?? process.pid}`,
    production,
    jwt,
    devTokens,
    corsOrigins,
    maxConnectionsPerUser: integer("MAX_CONNECTIONS_PER_USER", 20, 1, 1_000_000),
    rateBurst: integer("RATE_BURST", 20, 1, 1_000_000),
    ratePerSec: number("RATE_PER_SEC", 5, 0.001, 1_000_000),
    historyMax: integer("HISTORY_MAX", 1000, 1, 10_000_000),
    typingTtlMs: integer("TYPING_TTL_MS", 5000, 100, 3_600_000),
    maxPayloadBytes: integer("MAX_PAYLOAD_BYTES", 65536, 1024, 100 * 1024 * 1024),
    logLevel: logLevelRaw as Config["logLevel"],
    warnings: Object.freeze(warnings),
    redisAdapter: read("REDIS_ADAPTER") === "sharded" ? "sharded" : "classic",
    presence: Object.freeze({
      heartbeatMs: integer("PRESENCE_HEARTBEAT_MS", 3000, 50, 60_000),
      ttlMs: integer("PRESENCE_TTL_MS", 10_000, 200, 300_000),
      reapMs: integer("PRESENCE_REAP_MS", 5000, 50, 60_000),
    }),
  };
  if (!["classic", "sharded", undefined].includes(read("REDIS_ADAPTER"))) {
    problems.push(`REDIS_ADAPTER must be classic or sharded (got "${read("REDIS_ADAPTER")}")`);
  }
  if (config.presence.ttlMs <= config.presence.heartbeatMs) {
    problems.push("PRESENCE_TTL_MS must be longer than PRESENCE_HEARTBEAT_MS");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function readJwtConfig(
  read: (name: string) => string | undefined,
  production: boolean,
  problems: string[],
  warnings: string[],
): JwtConfig {
  // Secrets are taken verbatim except for surrounding whitespace (a trailing newline from a file is common).
  let secret = read("JWT_SECRET");
  // PEM text often arrives through env files with literal "\n" sequences.
  const publicKey = read("JWT_PUBLIC_KEY")?.replace(/\\n/g, "\n");
  let ephemeral = false;

  if (secret === undefined && publicKey === undefined) {
    if (production) {
      problems.push("JWT_SECRET or JWT_PUBLIC_KEY must be set when NODE_ENV=production");
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
  if (publicKey !== undefined) defaults.push("RS256", "ES256");
  const algorithmsRaw = read("JWT_ALGORITHMS");
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
    } else if (asymmetric && publicKey === undefined) {
      problems.push(`JWT_ALGORITHMS lists ${algorithm}, which needs JWT_PUBLIC_KEY`);
    } else if (asymmetric && keyType !== undefined && !keyFits(algorithm, keyType) && algorithmsRaw !== undefined) {
      problems.push(`JWT_ALGORITHMS lists ${algorithm}, which does not fit the ${keyType} key in JWT_PUBLIC_KEY`);
    }
  }
  if (algorithms.length === 0) problems.push("JWT_ALGORITHMS must list at least one algorithm");

  return Object.freeze({
    secret,
    publicKey,
    algorithms: Object.freeze(algorithms),
    issuer: read("JWT_ISSUER"),
    audience: read("JWT_AUDIENCE"),
    ephemeral,
  });
}

function keyFits(algorithm: string, keyType: string): boolean {
  if (algorithm.startsWith("ES")) return keyType === "ec";
  return keyType === "rsa" || keyType === "rsa-pss";
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    // A "*" inside a host would parse, but origins match exactly: it could never match what a browser sends.
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value && !value.includes("*");
  } catch {
    return false;
  }
}
