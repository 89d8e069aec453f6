/**
 * Configuration: read once from the environment at start-up, validated, frozen
 * and passed down. Nothing else in the server reads `process.env`.
 *
 * Every variable is listed, with its default and meaning, in docs/operations.md
 * (tests/docs/docs-consistency.test.ts checks that each one read here is
 * there). A bad value stops start-up with a {@link ConfigError} whose message
 * is one line naming each offending variable.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { readJwtConfig, type ConfigReader, type JwtConfig } from "./auth/jwt-config";
import { readTlsConfig, type TlsConfig } from "./tls";
import { readWebhookConfig, type WebhookConfig } from "./features/webhooks/webhook-config";
import { hidePassword } from "./logger";

export type { JwtConfig } from "./auth/jwt-config";

export type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Unset: one node, everything in memory. */
  readonly redisUrl?: string;
  /** A Redis Cluster's seed nodes (host:port each), instead of `redisUrl` (§12). */
  readonly redisClusterNodes?: readonly string[];
  /** Set: PostgreSQL is the store of record for messages and read state (§10). */
  readonly databaseUrl?: string;
  /** With a database: messages older than this many days are removed; unset keeps them forever. */
  readonly historyRetentionDays?: number;
  readonly nodeId: string;
  readonly production: boolean;
  readonly jwt: JwtConfig;
  /** `POST /api/token` is served. */
  readonly devTokens: boolean;
  /** Origins allowed besides same-origin: exact strings, or "*" for any. */
  readonly corsOrigins: "*" | readonly string[];
  readonly maxConnectionsPerUser: number;
  /** Rooms one Socket.IO or /ws connection may be in at once (§13). */
  readonly maxRoomsPerConnection: number;
  /** The per-user `room:join` budget across nodes (§13). */
  readonly joinLimit: { readonly burst: number; readonly perSecond: number };
  /** When set, `/metrics` is served only on this port (404 on `PORT`); `/healthz` and `/readyz` on both (§13). */
  readonly internalPort?: number;
  readonly rateBurst: number;
  readonly ratePerSec: number;
  readonly historyMax: number;
  readonly typingTtlMs: number;
  /** How long a `clientMsgId` is remembered (a retry within it returns the first message). */
  readonly clientMsgIdTtlMs: number;
  /** Rooms with more members than this do not broadcast public read markers (§9). */
  readonly readBroadcastMaxMembers: number;
  /** Signed webhooks (§11): where to POST, the `whsec_` secret, and the retry settings; unset: none. */
  readonly webhook?: WebhookConfig;
  readonly maxPayloadBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Things that work but deserve an operator's attention; `main.ts` logs them at start-up. */
  readonly warnings: readonly string[];
  /** Socket.IO Redis adapter: classic pub/sub, or sharded pub/sub (Redis 7+). */
  readonly redisAdapter: "classic" | "sharded";
  /**
   * Replicas that must have a message (or change) before it is acknowledged (Redis `WAIT`), so that a failover
   * loses nothing acknowledged. Default 1 on a Redis Cluster, 0 on a single Redis.
   */
  readonly redisReplicaAcks: number;
  /** HTTPS and WSS with this certificate and key; unset: plain HTTP. */
  readonly tls?: TlsConfig;
  /** A connection whose unsent output exceeds this is disconnected; typing updates stop past half of it. */
  readonly maxBufferedBytes: number;
  /** New connections per client address: token bucket; undefined when turned off. */
  readonly connectRate?: { readonly perSecond: number; readonly burst: number };
  /** Proxies in front that append to `X-Forwarded-For` (0: the TCP peer is the client). */
  readonly trustProxyHops: number;
  /**
   * Where the other nodes reach this one (`ADVERTISE_URL`, an http:// or https:// base URL, no path): with Redis,
   * Socket.IO requests of this node's sessions that land on another node are forwarded here.
   */
  readonly advertiseUrl: string;
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
export function loadConfig(
  env: Env,
  defaults: { hostname?: string; pid?: number; readFile?: (path: string) => string } = {},
): Config {
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
  if (redisUrl !== undefined && !(/^rediss?:\/\/[^\s]+$/.test(redisUrl) && hasHost(redisUrl))) {
    problems.push(`REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(hidePassword(redisUrl))})`);
  }

  const clusterRaw = read("REDIS_CLUSTER_NODES");
  const redisClusterNodes = clusterRaw
    ?.split(",")
    .map((node) => node.trim())
    .filter(Boolean);
  if (redisClusterNodes !== undefined) {
    const bad = redisClusterNodes.filter((node) => {
      const port = /^[^\s:/]+:(\d{1,5})$/.exec(node)?.[1];
      return port === undefined || Number(port) < 1 || Number(port) > 65535;
    });
    if (redisClusterNodes.length === 0 || bad.length > 0) {
      problems.push(
        `REDIS_CLUSTER_NODES must be a comma-separated list of host:port (got ${JSON.stringify(clusterRaw)})`,
      );
    } else if (redisUrl !== undefined) {
      problems.push("REDIS_CLUSTER_NODES and REDIS_URL are alternatives: set one of them");
    }
  }

  const databaseUrl = read("DATABASE_URL");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl)) {
    problems.push(
      `DATABASE_URL must be a postgres:// or postgresql:// URL (got ${JSON.stringify(hidePassword(databaseUrl))})`,
    );
  }
  const retentionRaw = read("HISTORY_RETENTION_DAYS");
  const historyRetentionDays = retentionRaw === undefined ? undefined : integer("HISTORY_RETENTION_DAYS", 0, 1, 36_500);
  if (historyRetentionDays !== undefined && databaseUrl === undefined) {
    warnings.push("HISTORY_RETENTION_DAYS has no effect without DATABASE_URL (history is capped by HISTORY_MAX)");
  }

  const reader: ConfigReader = {
    read,
    integer,
    readFile: defaults.readFile ?? ((path) => readFileSync(path, "utf8")),
  };
  const jwt = readJwtConfig(reader, production, problems, warnings);
  const webhook = readWebhookConfig(reader, problems, warnings);
  const tls = readTlsConfig(reader, problems);
  // Generous: a carrier-grade NAT or an office puts many users behind one address, and all of them reconnect at
  // once after a deploy. A flood is thousands a second; 50 a second per address makes it harmless.
  const connectPerSecond = number("CONNECT_RATE_PER_IP", 50, 0, 1_000_000);
  // "`0` turns it off" (§7) is said of the pair: a burst of 0 lets nothing through, so it means off too.
  const connectBurst = integer("CONNECT_BURST_PER_IP", 200, 0, 1_000_000);
  const trustProxyRaw = read("TRUST_PROXY")?.toLowerCase();
  let trustProxyHops = 0;
  if (trustProxyRaw === "true" || trustProxyRaw === "yes" || trustProxyRaw === "on") trustProxyHops = 1;
  else if (trustProxyRaw !== "false" && trustProxyRaw !== "no" && trustProxyRaw !== "off") {
    trustProxyHops = integer("TRUST_PROXY", 0, 0, 10);
  }
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

  const advertiseRaw = read("ADVERTISE_URL");
  let advertiseUrl = `http://${defaults.hostname ?? hostname()}:${port}`;
  if (advertiseRaw !== undefined) {
    if (isBaseUrl(advertiseRaw)) advertiseUrl = new URL(advertiseRaw).origin;
    else {
      problems.push(
        `ADVERTISE_URL must be an http:// or https:// URL with a host and no path, query or credentials, such as http://huddle-1:3000 (got ${JSON.stringify(advertiseRaw)})`,
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
    redisClusterNodes: redisClusterNodes && Object.freeze(redisClusterNodes),
    databaseUrl,
    historyRetentionDays,
    nodeId: read("NODE_ID") ?? `${defaults.hostname ?? hostname()}-${defaults.pid ?? process.pid}`,
    production,
    jwt,
    devTokens,
    corsOrigins,
    maxConnectionsPerUser: integer("MAX_CONNECTIONS_PER_USER", 20, 1, 1_000_000),
    maxRoomsPerConnection: integer("MAX_ROOMS_PER_CONNECTION", 100, 1, 100_000),
    joinLimit: Object.freeze({
      burst: integer("JOIN_RATE_BURST", 50, 1, 1_000_000),
      perSecond: number("JOIN_RATE_PER_SEC", 10, 0.001, 1_000_000),
    }),
    internalPort: read("INTERNAL_PORT") === undefined ? undefined : integer("INTERNAL_PORT", 0, 0, 65535),
    rateBurst: integer("RATE_BURST", 20, 1, 1_000_000),
    ratePerSec: number("RATE_PER_SEC", 5, 0.001, 1_000_000),
    historyMax: integer("HISTORY_MAX", 1000, 1, 10_000_000),
    typingTtlMs: integer("TYPING_TTL_MS", 5000, 100, 3_600_000),
    clientMsgIdTtlMs: integer("CLIENT_MSG_ID_TTL_MS", 600_000, 1000, 30 * 86_400_000),
    readBroadcastMaxMembers: integer("READ_BROADCAST_MAX_MEMBERS", 100, 0, 1_000_000),
    webhook,
    maxPayloadBytes: integer("MAX_PAYLOAD_BYTES", 65536, 1024, 100 * 1024 * 1024),
    logLevel: logLevelRaw as Config["logLevel"],
    tls,
    maxBufferedBytes: integer("MAX_BUFFERED_BYTES", 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024),
    connectRate:
      connectPerSecond > 0 && connectBurst > 0
        ? Object.freeze({ perSecond: connectPerSecond, burst: connectBurst })
        : undefined,
    trustProxyHops,
    warnings: Object.freeze(warnings),
    redisAdapter: read("REDIS_ADAPTER") === "sharded" ? "sharded" : "classic",
    redisReplicaAcks: integer("REDIS_REPLICA_ACKS", redisClusterNodes ? 1 : 0, 0, 10),
    advertiseUrl,
    presence: Object.freeze({
      heartbeatMs: integer("PRESENCE_HEARTBEAT_MS", 3000, 50, 60_000),
      ttlMs: integer("PRESENCE_TTL_MS", 10_000, 200, 300_000),
      reapMs: integer("PRESENCE_REAP_MS", 5000, 50, 60_000),
    }),
  };
  if (!["classic", "sharded", undefined].includes(read("REDIS_ADAPTER"))) {
    problems.push(`REDIS_ADAPTER must be classic or sharded (got "${read("REDIS_ADAPTER")}")`);
  }
  if (config.internalPort !== undefined && config.internalPort !== 0 && config.internalPort === config.port) {
    problems.push("INTERNAL_PORT must differ from PORT (metrics must not be served on the public port)");
  }
  if (config.presence.ttlMs <= config.presence.heartbeatMs) {
    problems.push("PRESENCE_TTL_MS must be longer than PRESENCE_HEARTBEAT_MS");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** An http(s) origin: scheme, host and optional port, at most a trailing "/" (other nodes send requests there). */
function isBaseUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === "http:" || url.protocol === "https:") &&
      url.hostname !== "" &&
      url.username === "" &&
      url.password === "" &&
      url.pathname === "/" &&
      url.search === "" &&
      url.hash === "" &&
      /^https?:\/\/[^/?#]+\/?$/i.test(value)
    );
  } catch {
    return false;
  }
}

/** Parses as a URL with a host (and so a port, if any, from 1 to 65535). */
function hasHost(value: string): boolean {
  try {
    return new URL(value).hostname !== "";
  } catch {
    return false;
  }
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
