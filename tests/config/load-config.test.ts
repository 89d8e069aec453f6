/** §7 configuration: `loadConfig(env)` defaults, every variable, and one-line refusals naming each bad variable. */
import { generateKeyPairSync } from "node:crypto";
import { loadConfig, type Env } from "../../server/config";
import { refusal } from "../helpers/config";

const SECRET = "a-secret-of-at-least-thirty-two-bytes-long";
const rsaPublicKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
}).publicKey;
const ecPublicKey = generateKeyPairSync("ec", {
  namedCurve: "P-256",
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
}).publicKey;

describe("defaults (no environment at all)", () => {
  const config = loadConfig({}, { hostname: "box", pid: 42 });

  test("listens on 0.0.0.0:3000", () => {
    expect(config.port).toBe(3000);
    expect(config.host).toBe("0.0.0.0");
  });

  test("runs one node in memory", () => {
    expect(config.redisUrl).toBeUndefined();
  });

  test("makes an ephemeral HS256 secret and enables dev tokens", () => {
    expect(config.jwt.ephemeral).toBe(true);
    expect(config.jwt.secret).toEqual(expect.any(String));
    expect(config.jwt.secret!.length).toBeGreaterThanOrEqual(32);
    expect(config.jwt.algorithms).toEqual(["HS256"]);
    expect(config.devTokens).toBe(true);
  });

  test("makes a different ephemeral secret each start", () => {
    expect(loadConfig({}).jwt.secret).not.toBe(config.jwt.secret);
  });

  test("checks no issuer or audience", () => {
    expect(config.jwt.issuer).toBeUndefined();
    expect(config.jwt.audience).toBeUndefined();
  });

  test("allows no origin beyond same-origin", () => {
    expect(config.corsOrigins).toEqual([]);
  });

  test("has the protocol's limits", () => {
    expect(config).toMatchObject({
      maxConnectionsPerUser: 20,
      rateBurst: 20,
      ratePerSec: 5,
      historyMax: 1000,
      typingTtlMs: 5000,
      maxPayloadBytes: 65536,
    });
  });

  test("names the node after the host name and pid", () => {
    expect(config.nodeId).toBe("box-42");
  });

  test("logs at info and is not production", () => {
    expect(config.logLevel).toBe("info");
    expect(config.production).toBe(false);
  });

  test("is frozen", () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  test("treats empty and blank variables as unset", () => {
    const blank = loadConfig({ PORT: "", RATE_BURST: "  ", CORS_ORIGINS: "", JWT_SECRET: " " });
    expect(blank.port).toBe(3000);
    expect(blank.rateBurst).toBe(20);
    expect(blank.jwt.ephemeral).toBe(true);
  });
});

describe("each variable", () => {
  test("PORT and HOST", () => {
    expect(loadConfig({ PORT: "8080", HOST: "127.0.0.1" })).toMatchObject({ port: 8080, host: "127.0.0.1" });
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
    expect(loadConfig({ PORT: "65535" }).port).toBe(65535);
  });

  test("REDIS_URL accepts redis:// and rediss://", () => {
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).redisUrl).toBe("redis://127.0.0.1:6379");
    expect(loadConfig({ REDIS_URL: "rediss://user:pw@cache:6380/2" }).redisUrl).toBe("rediss://user:pw@cache:6380/2");
  });

  test("REDIS_CLUSTER_NODES: comma-separated host:port seeds; a replica confirms each write by default there", () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: " redis-1:6379, 10.0.0.2:7000 ,redis-3:6379" });
    expect(config.redisClusterNodes).toEqual(["redis-1:6379", "10.0.0.2:7000", "redis-3:6379"]);
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisReplicaAcks).toBe(1);
    expect(loadConfig({ REDIS_URL: "redis://a:1" }).redisReplicaAcks).toBe(0);
    expect(loadConfig({ REDIS_CLUSTER_NODES: "a:1", REDIS_REPLICA_ACKS: "0" }).redisReplicaAcks).toBe(0);
  });

  test("JWT_SECRET: HS256 only, no dev tokens unless DEV_TOKENS=1", () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(config.jwt).toMatchObject({ secret: SECRET, ephemeral: false, algorithms: ["HS256"] });
    expect(config.devTokens).toBe(false);
    expect(loadConfig({ JWT_SECRET: SECRET, DEV_TOKENS: "1" }).devTokens).toBe(true);
    expect(loadConfig({ JWT_SECRET: SECRET, DEV_TOKENS: "0" }).devTokens).toBe(false);
  });

  test("JWT_SECRET keeps inner characters and drops a trailing newline", () => {
    expect(loadConfig({ JWT_SECRET: `${SECRET} with spaces\n` }).jwt.secret).toBe(`${SECRET} with spaces`);
  });

  test("DEV_TOKENS=0 turns dev tokens off even with an ephemeral secret", () => {
    expect(loadConfig({ DEV_TOKENS: "0" }).devTokens).toBe(false);
  });

  test("JWT_PUBLIC_KEY: RS256 and ES256 by default, no secret, no dev tokens", () => {
    const config = loadConfig({ JWT_PUBLIC_KEY: rsaPublicKey });
    expect(config.jwt).toMatchObject({
      publicKey: rsaPublicKey.trim(),
      ephemeral: false,
      algorithms: ["RS256", "ES256"],
    });
    expect(config.jwt.secret).toBeUndefined();
    expect(config.devTokens).toBe(false);
  });

  test("JWT_PUBLIC_KEY given with literal \\n sequences is turned back into PEM", () => {
    const config = loadConfig({ JWT_PUBLIC_KEY: ecPublicKey.trim().replace(/\n/g, "\\n") });
    expect(config.jwt.publicKey).toBe(ecPublicKey.trim());
  });

  test("JWT_SECRET and JWT_PUBLIC_KEY together accept HS256, RS256 and ES256", () => {
    expect(loadConfig({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: rsaPublicKey }).jwt.algorithms).toEqual([
      "HS256",
      "RS256",
      "ES256",
    ]);
  });

  test("JWT_ALGORITHMS pins the list, comma-separated, case-insensitive", () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: ecPublicKey, JWT_ALGORITHMS: "ES256" }).jwt.algorithms).toEqual(["ES256"]);
    expect(loadConfig({ JWT_SECRET: SECRET, JWT_ALGORITHMS: " hs256 , HS512 " }).jwt.algorithms).toEqual([
      "HS256",
      "HS512",
    ]);
  });

  test("JWT_ISSUER and JWT_AUDIENCE", () => {
    expect(loadConfig({ JWT_ISSUER: "https://id.example", JWT_AUDIENCE: "huddle" }).jwt).toMatchObject({
      issuer: "https://id.example",
      audience: "huddle",
    });
  });

  test("CORS_ORIGINS: a comma-separated list of exact origins, or *", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://a.com, http://localhost:5173" }).corsOrigins).toEqual([
      "https://a.com",
      "http://localhost:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  test("MAX_CONNECTIONS_PER_USER, RATE_BURST, RATE_PER_SEC, HISTORY_MAX, TYPING_TTL_MS, MAX_PAYLOAD_BYTES", () => {
    expect(
      loadConfig({
        MAX_CONNECTIONS_PER_USER: "3",
        RATE_BURST: "7",
        RATE_PER_SEC: "0.5",
        HISTORY_MAX: "10",
        TYPING_TTL_MS: "1500",
        MAX_PAYLOAD_BYTES: "4096",
      }),
    ).toMatchObject({
      maxConnectionsPerUser: 3,
      rateBurst: 7,
      ratePerSec: 0.5,
      historyMax: 10,
      typingTtlMs: 1500,
      maxPayloadBytes: 4096,
    });
    expect(loadConfig({ RATE_PER_SEC: ".25" }).ratePerSec).toBe(0.25);
  });

  test("revision 2 settings and their defaults", () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.historyRetentionDays).toBeUndefined();
    expect(config.readBroadcastMaxMembers).toBe(100);
    expect(config.webhook).toBeUndefined();
    expect(config.maxRoomsPerConnection).toBe(100);
    expect(config.joinLimit).toEqual({ burst: 50, perSecond: 10 });
    expect(config.internalPort).toBeUndefined();
    const set = loadConfig({
      DATABASE_URL: "postgres://u:p@db:5432/huddle",
      HISTORY_RETENTION_DAYS: "30",
      WEBHOOK_URL: "https://hooks.example/huddle",
      WEBHOOK_SECRET: `whsec_${"a".repeat(24)}`,
      MAX_ROOMS_PER_CONNECTION: "10",
      JOIN_RATE_BURST: "5",
      JOIN_RATE_PER_SEC: "0.5",
      INTERNAL_PORT: "9090",
    });
    expect(set.databaseUrl).toBe("postgres://u:p@db:5432/huddle");
    expect(set.historyRetentionDays).toBe(30);
    expect(set.webhook).toEqual({
      url: "https://hooks.example/huddle",
      secret: `whsec_${"a".repeat(24)}`,
      timeoutMs: 10_000,
      retryBaseMs: 5000,
      retryForMs: 86_400_000,
    });
    expect([set.maxRoomsPerConnection, set.joinLimit, set.internalPort]).toEqual([
      10,
      { burst: 5, perSecond: 0.5 },
      9090,
    ]);
  });

  test("a bad DATABASE_URL is named without its password", () => {
    const error = refusal({ DATABASE_URL: "mysql://admin:hunter2@db/x" });
    expect(error.message).toContain("DATABASE_URL");
    expect(error.message).not.toContain("hunter2");
  });

  test("CLIENT_MSG_ID_TTL_MS: 10 minutes unless set", () => {
    expect(loadConfig({}).clientMsgIdTtlMs).toBe(600_000);
    expect(loadConfig({ CLIENT_MSG_ID_TTL_MS: "86400000" }).clientMsgIdTtlMs).toBe(86_400_000);
  });

  test("NODE_ID", () => {
    expect(loadConfig({ NODE_ID: "node-7" }).nodeId).toBe("node-7");
  });

  test("ADVERTISE_URL: http://<hostname>:<PORT> unless set; kept as an origin", () => {
    expect(loadConfig({}, { hostname: "box" }).advertiseUrl).toBe("http://box:3000");
    expect(loadConfig({ PORT: "3005" }, { hostname: "box" }).advertiseUrl).toBe("http://box:3005");
    expect(loadConfig({ ADVERTISE_URL: "http://huddle-2:3000" }).advertiseUrl).toBe("http://huddle-2:3000");
    expect(loadConfig({ ADVERTISE_URL: "https://10.0.0.7:8443/" }).advertiseUrl).toBe("https://10.0.0.7:8443");
    expect(loadConfig({ ADVERTISE_URL: "http://[fd00::7]:3000" }).advertiseUrl).toBe("http://[fd00::7]:3000");
  });

  test("LOG_LEVEL", () => {
    expect(loadConfig({ LOG_LEVEL: "debug" }).logLevel).toBe("debug");
  });

  test("NODE_ENV=production with a secret starts", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: SECRET });
    expect(config.production).toBe(true);
    expect(config.devTokens).toBe(false);
  });

  test("NODE_ENV=production with a public key starts", () => {
    expect(loadConfig({ NODE_ENV: "production", JWT_PUBLIC_KEY: rsaPublicKey }).production).toBe(true);
  });

  test("a short secret starts with a warning rather than a refusal", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "short" });
    expect(config.warnings.join(" ")).toMatch(/JWT_SECRET/);
    expect(loadConfig({ JWT_SECRET: SECRET }).warnings).toEqual([]);
  });
});

describe("bad values are refused with one line naming the variable", () => {
  test.each<[string, Env, string]>([
    ["PORT=abc", { PORT: "abc" }, "PORT"],
    ["ADVERTISE_URL without a scheme", { ADVERTISE_URL: "huddle-1:3000" }, "ADVERTISE_URL"],
    ["ADVERTISE_URL=ftp://", { ADVERTISE_URL: "ftp://huddle-1" }, "ADVERTISE_URL"],
    ["ADVERTISE_URL with a path", { ADVERTISE_URL: "http://huddle-1:3000/huddle" }, "ADVERTISE_URL"],
    ["ADVERTISE_URL with a query", { ADVERTISE_URL: "http://huddle-1:3000?x=1" }, "ADVERTISE_URL"],
    ["ADVERTISE_URL with credentials", { ADVERTISE_URL: "http://user:pw@huddle-1:3000" }, "ADVERTISE_URL"],
    ["PORT=70000", { PORT: "70000" }, "PORT"],
    ["PORT=-1", { PORT: "-1" }, "PORT"],
    ["PORT=80.5", { PORT: "80.5" }, "PORT"],
    ["RATE_PER_SEC=-1", { RATE_PER_SEC: "-1" }, "RATE_PER_SEC"],
    ["RATE_PER_SEC=0", { RATE_PER_SEC: "0" }, "RATE_PER_SEC"],
    ["RATE_PER_SEC=fast", { RATE_PER_SEC: "fast" }, "RATE_PER_SEC"],
    ["RATE_BURST=0", { RATE_BURST: "0" }, "RATE_BURST"],
    ["HISTORY_MAX=0", { HISTORY_MAX: "0" }, "HISTORY_MAX"],
    ["MAX_CONNECTIONS_PER_USER=0", { MAX_CONNECTIONS_PER_USER: "0" }, "MAX_CONNECTIONS_PER_USER"],
    ["TYPING_TTL_MS=soon", { TYPING_TTL_MS: "soon" }, "TYPING_TTL_MS"],
    ["CLIENT_MSG_ID_TTL_MS=10", { CLIENT_MSG_ID_TTL_MS: "10" }, "CLIENT_MSG_ID_TTL_MS"],
    ["CLIENT_MSG_ID_TTL_MS=1d", { CLIENT_MSG_ID_TTL_MS: "1d" }, "CLIENT_MSG_ID_TTL_MS"],
    ["MAX_PAYLOAD_BYTES=1e6", { MAX_PAYLOAD_BYTES: "1e6" }, "MAX_PAYLOAD_BYTES"],
    ["JWT_PUBLIC_KEY not PEM", { JWT_PUBLIC_KEY: "not a key" }, "JWT_PUBLIC_KEY"],
    ["JWT_ALGORITHMS=none", { JWT_SECRET: SECRET, JWT_ALGORITHMS: "none" }, "JWT_ALGORITHMS"],
    [
      "JWT_ALGORITHMS=HS256 without a secret",
      { JWT_PUBLIC_KEY: rsaPublicKey, JWT_ALGORITHMS: "HS256" },
      "JWT_ALGORITHMS",
    ],
    ["JWT_ALGORITHMS=RS256 without a key", { JWT_SECRET: SECRET, JWT_ALGORITHMS: "RS256" }, "JWT_ALGORITHMS"],
    [
      "JWT_ALGORITHMS=ES256 with an RSA key",
      { JWT_PUBLIC_KEY: rsaPublicKey, JWT_ALGORITHMS: "ES256" },
      "JWT_ALGORITHMS",
    ],
    ["JWT_ALGORITHMS=,", { JWT_SECRET: SECRET, JWT_ALGORITHMS: "," }, "JWT_ALGORITHMS"],
    ["NODE_ENV=production without a secret or key", { NODE_ENV: "production" }, "JWT_SECRET"],
    ["CORS_ORIGINS=not-a-url", { CORS_ORIGINS: "not-a-url" }, "CORS_ORIGINS"],
    ["CORS_ORIGINS with a path", { CORS_ORIGINS: "https://a.com/app" }, "CORS_ORIGINS"],
    ["CORS_ORIGINS with a wildcard host", { CORS_ORIGINS: "https://*.a.com" }, "CORS_ORIGINS"],
    ["DEV_TOKENS=maybe", { DEV_TOKENS: "maybe" }, "DEV_TOKENS"],
    ["DEV_TOKENS=1 with only a public key", { DEV_TOKENS: "1", JWT_PUBLIC_KEY: rsaPublicKey }, "DEV_TOKENS"],
    ["REDIS_URL=http://x", { REDIS_URL: "http://x" }, "REDIS_URL"],
    ["LOG_LEVEL=loud", { LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    ["DATABASE_URL=mysql://x", { DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    ["HISTORY_RETENTION_DAYS=0", { HISTORY_RETENTION_DAYS: "0" }, "HISTORY_RETENTION_DAYS"],
    ["HISTORY_RETENTION_DAYS=week", { HISTORY_RETENTION_DAYS: "week" }, "HISTORY_RETENTION_DAYS"],
    ["READ_BROADCAST_MAX_MEMBERS=-1", { READ_BROADCAST_MAX_MEMBERS: "-1" }, "READ_BROADCAST_MAX_MEMBERS"],
    ["WEBHOOK_URL without WEBHOOK_SECRET", { WEBHOOK_URL: "https://hooks.example" }, "WEBHOOK_SECRET"],
    ["WEBHOOK_SECRET without WEBHOOK_URL", { WEBHOOK_SECRET: `whsec_${"a".repeat(24)}` }, "WEBHOOK_URL"],
    ["WEBHOOK_URL=ftp://x", { WEBHOOK_URL: "ftp://x", WEBHOOK_SECRET: `whsec_${"a".repeat(24)}` }, "WEBHOOK_URL"],
    ["WEBHOOK_SECRET without whsec_", { WEBHOOK_URL: "https://h.example", WEBHOOK_SECRET: "secret" }, "WEBHOOK_SECRET"],
    [
      "WEBHOOK_RETRY_BASE_MS=20000",
      { WEBHOOK_URL: "https://h.example", WEBHOOK_SECRET: `whsec_${"a".repeat(24)}`, WEBHOOK_RETRY_BASE_MS: "20000" },
      "WEBHOOK_RETRY_BASE_MS",
    ],
    [
      "WEBHOOK_TIMEOUT_MS=soon",
      { WEBHOOK_URL: "https://h.example", WEBHOOK_SECRET: `whsec_${"a".repeat(24)}`, WEBHOOK_TIMEOUT_MS: "soon" },
      "WEBHOOK_TIMEOUT_MS",
    ],
    ["MAX_ROOMS_PER_CONNECTION=0", { MAX_ROOMS_PER_CONNECTION: "0" }, "MAX_ROOMS_PER_CONNECTION"],
    ["JOIN_RATE_BURST=many", { JOIN_RATE_BURST: "many" }, "JOIN_RATE_BURST"],
    ["JOIN_RATE_PER_SEC=0", { JOIN_RATE_PER_SEC: "0" }, "JOIN_RATE_PER_SEC"],
    ["INTERNAL_PORT=70000", { INTERNAL_PORT: "70000" }, "INTERNAL_PORT"],
    ["INTERNAL_PORT equal to PORT", { PORT: "4000", INTERNAL_PORT: "4000" }, "INTERNAL_PORT"],
    ["REDIS_CLUSTER_NODES=redis://a:1", { REDIS_CLUSTER_NODES: "redis://a:1" }, "REDIS_CLUSTER_NODES"],
    ["REDIS_CLUSTER_NODES without a port", { REDIS_CLUSTER_NODES: "a:1,b" }, "REDIS_CLUSTER_NODES"],
    [
      "REDIS_CLUSTER_NODES and REDIS_URL together",
      { REDIS_CLUSTER_NODES: "a:1", REDIS_URL: "redis://a:1" },
      "REDIS_CLUSTER_NODES",
    ],
    ["REDIS_REPLICA_ACKS=-1", { REDIS_REPLICA_ACKS: "-1" }, "REDIS_REPLICA_ACKS"],
  ])("%s", (_what, env, variable) => {
    const error = refusal(env);
    expect(error.message).toContain(variable);
    expect(error.message).not.toContain("\n");
    expect(error.problems).toHaveLength(1);
  });

  test("several bad variables are all named in the one line", () => {
    const error = refusal({ PORT: "abc", HISTORY_MAX: "0", REDIS_URL: "http://x" });
    expect(error.problems).toHaveLength(3);
    for (const name of ["PORT", "HISTORY_MAX", "REDIS_URL"]) expect(error.message).toContain(name);
    expect(error.message).not.toContain("\n");
  });

  test("the refusal quotes the bad value so the operator sees it", () => {
    expect(refusal({ PORT: "abc" }).message).toContain('"abc"');
  });

  test("a bad value with a newline in it still makes one line", () => {
    const error = refusal({ CORS_ORIGINS: "https://a.com\nhttps://b.com" });
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  test("the refusal never echoes the secret or the key", () => {
    const error = refusal({ JWT_SECRET: SECRET, JWT_ALGORITHMS: "none", JWT_PUBLIC_KEY: "-----BEGIN junk" });
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain("BEGIN junk");
  });
});
