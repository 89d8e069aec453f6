/**
 * Tokens of an identity provider (JWT_JWKS_URL): RS256 and ES256 tokens are
 * verified against the provider's key set, served here by a tiny local JWKS
 * server that counts its requests. Keys are cached and fetched again when a
 * token names an unknown `kid` (rotation), never more often than the
 * cooldown; a token without `kid` is refused; the provider being down
 * refuses nobody who holds a known key, and answers `unavailable` (retry)
 * when no key set could ever be fetched. The error codes are those of §1.
 */
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, connectError, createClient, sleep, waitForEvent } from "../helpers/clients";
import { freePort } from "../helpers/ports";
import { signToken } from "../helpers/tokens";
import { createLogger } from "../../server/logger";
import { closeAllPlain, openPlain } from "../ws/ws-client";
import { makeSigningKey, request, signWith, startJwksServer, type JwksServer, type SigningKey } from "./support";

const COOLDOWN_MS = 400;

afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(() => stopAllApps());

/** A node that trusts only the key set at `url` (no secret, no public key, no dev tokens). */
const withJwks = (
  url: string,
  env: Record<string, string> = {},
  logger = createLogger({ level: "silent", nodeId: "t" }),
) =>
  startApp(
    { JWT_SECRET: "", DEV_TOKENS: "", JWT_JWKS_URL: url, JWT_JWKS_COOLDOWN_MS: String(COOLDOWN_MS), ...env },
    { logger },
  );

/** The HTTP status of an authenticated REST request with `token`. */
async function statusWith(server: TestApp, token: string): Promise<number> {
  const res = await request(`${server.url}/api/rooms/idp-room/messages`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.status;
}

/** The Socket.IO connect_error code for `token`, or "connected". */
async function socketOutcome(server: TestApp, token: string): Promise<number | string> {
  try {
    const socket = await connectClient(server.url, { token });
    socket.close();
    return "connected";
  } catch (error) {
    return (error as { data?: { code?: number | string } }).data?.code ?? String(error);
  }
}

describe("verifying against the provider's key set", () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let idp: JwksServer;
  let server: TestApp;
  beforeAll(async () => {
    rsa = await makeSigningKey("RS256", "rsa-1");
    ec = await makeSigningKey("ES256", "ec-1");
    idp = await startJwksServer([rsa, ec]);
    server = await withJwks(idp.url, { JWT_ISSUER: "https://idp.example" });
  });
  afterAll(() => idp.close());

  const claims = { iss: "https://idp.example" };

  test("accepts an RS256 token whose kid is in the set, on Socket.IO, REST and /ws", async () => {
    const token = await signWith(rsa, claims);
    const session = await waitForEvent(createClient(server.url, { token }), "session");
    expect(session.user).toEqual({ id: "idp-user", name: "Ida" });
    expect(await statusWith(server, token)).toBe(200);
    const plain = await openPlain(server.url, { query: { token } });
    expect((await plain.event("session")).user.id).toBe("idp-user");
  });

  test("accepts an ES256 token whose kid is in the set", async () => {
    expect(await socketOutcome(server, await signWith(ec, claims))).toBe("connected");
  });

  test("fetches the set once and serves later tokens from the cache", async () => {
    const before = idp.requests;
    for (let i = 0; i < 5; i++) expect(await statusWith(server, await signWith(rsa, claims))).toBe(200);
    expect(idp.requests).toBe(before);
  });

  test("refuses a token without kid with 4002 (401 over REST), without asking the provider", async () => {
    const before = idp.requests;
    const token = await signWith(rsa, claims, { kid: null });
    expect(await socketOutcome(server, token)).toBe(4002);
    expect(await statusWith(server, token)).toBe(401);
    expect(idp.requests).toBe(before);
  });

  test("refuses a token signed by another key under a kid of the set with 4002", async () => {
    const impostor = await makeSigningKey("RS256", "rsa-1");
    expect(await socketOutcome(server, await signWith(impostor, claims))).toBe(4002);
  });

  test("refuses an expired token with 4003", async () => {
    const token = await signWith(rsa, claims, { expiresAt: Math.floor(Date.now() / 1000) - 3600 });
    expect(await socketOutcome(server, token)).toBe(4003);
    expect(await statusWith(server, token)).toBe(401);
  });

  test("checks JWT_ISSUER on provider tokens too (4002)", async () => {
    expect(await socketOutcome(server, await signWith(rsa, { iss: "https://evil.example" }))).toBe(4002);
  });

  test("refuses an HS256 token: with only a key set, HS256 is not accepted", async () => {
    expect(await socketOutcome(server, signToken())).toBe(4002);
  });

  test("closes a /ws client with an unknown kid with 4002", async () => {
    const stranger = await makeSigningKey("ES256", "nobody");
    const plain = await openPlain(server.url, { query: { token: await signWith(stranger, claims) } });
    expect(await plain.closed).toEqual({ code: 4002, reason: "Invalid token" });
  });
});

describe("key rotation", () => {
  test("a new kid is fetched and accepted; a kid not in the set is refused; refetches are rate limited", async () => {
    // Every key is made up front: RSA key generation takes long enough to outlast a short cooldown.
    const first = await makeSigningKey("RS256", "2024-01");
    const second = await makeSigningKey("ES256", "2024-02");
    const third = await makeSigningKey("RS256", "2024-03");
    const forger = await makeSigningKey("ES256", "made-up");
    const cooldownMs = 1500;
    const idp = await startJwksServer([first]);
    const server = await withJwks(idp.url, { JWT_JWKS_COOLDOWN_MS: String(cooldownMs) });
    try {
      expect(await socketOutcome(server, await signWith(first))).toBe("connected");
      expect(idp.requests).toBe(1);

      // The provider rotates: the new key is published, the old one retired.
      idp.publish([second]);
      await sleep(cooldownMs + 50);
      expect(await socketOutcome(server, await signWith(second))).toBe("connected");
      expect(idp.requests).toBe(2);

      // A kid the provider does not publish: refused with 4002 at most one fetch later, however many arrive.
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, async (_, i) =>
          statusWith(server, await signWith(forger, {}, { kid: `fake-${i}` })),
        ),
      );
      expect(new Set(outcomes)).toEqual(new Set([401]));
      expect(await socketOutcome(server, await signWith(forger))).toBe(4002);
      expect(idp.requests).toBeLessThanOrEqual(3);

      // Within the cooldown nothing more is fetched, even for a kid that is now really published.
      idp.publish([second, third]);
      const fetchesBefore = idp.requests;
      expect(await statusWith(server, await signWith(third))).toBe(401);
      expect(idp.requests).toBe(fetchesBefore);
      // Once the cooldown has passed, it is.
      await sleep(cooldownMs + 50);
      expect(await statusWith(server, await signWith(third))).toBe(200);
      expect(idp.requests).toBe(fetchesBefore + 1);
    } finally {
      await idp.close();
    }
  });
});

describe("the provider unreachable", () => {
  test("without any key set: unavailable (Socket.IO), 503 with Retry-After (REST), 1013 (/ws), one warning, no crash", async () => {
    const port = await freePort();
    const lines: string[] = [];
    const logger = createLogger({ level: "info", nodeId: "jwks" }, { write: (line: string) => void lines.push(line) });
    const server = await withJwks(`http://127.0.0.1:${port}/jwks.json`, {}, logger);
    const key = await makeSigningKey("RS256", "k1");
    const token = await signWith(key);

    const error = await connectError(server.url, { token });
    expect(error.data).toMatchObject({ code: "unavailable" });
    const res = await request(`${server.url}/api/rooms/r/messages`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).error.code).toBe("unavailable");
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    const plain = await openPlain(server.url, { query: { token } });
    expect((await plain.closed).code).toBe(1013);

    // Logged as a warning once per attempt (the cooldown limits attempts), never as an error per refusal.
    const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
    expect(warnings.length).toBe(1);
    expect(warnings[0].msg).toContain("key set");
    expect(lines.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50)).toEqual([]);
    expect(lines.join("")).not.toContain(token);

    // The provider comes up: after the cooldown the same token is accepted.
    const idp = await startJwksServer([key], port);
    try {
      await sleep(COOLDOWN_MS + 50);
      expect(await socketOutcome(server, token)).toBe("connected");
      expect((await request(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await idp.close();
    }
  });

  test("with a key set already fetched: known keys keep working, unknown kids get 4002", async () => {
    const key = await makeSigningKey("ES256", "kept");
    const idp = await startJwksServer([key]);
    const server = await withJwks(idp.url);
    expect(await socketOutcome(server, await signWith(key))).toBe("connected");
    await idp.close();
    await sleep(COOLDOWN_MS + 50);

    expect(await socketOutcome(server, await signWith(key))).toBe("connected");
    const stranger = await makeSigningKey("ES256", "stranger");
    expect(await socketOutcome(server, await signWith(stranger))).toBe(4002);
  });

  test("a provider answering 500 is treated as unreachable, not as a refusal of the token", async () => {
    const key = await makeSigningKey("RS256", "k500");
    const idp = await startJwksServer([key]);
    idp.failWith(500);
    try {
      const server = await withJwks(idp.url);
      expect((await connectError(server.url, { token: await signWith(key) })).data.code).toBe("unavailable");
      idp.failWith(undefined);
      await sleep(COOLDOWN_MS + 50);
      expect(await socketOutcome(server, await signWith(key))).toBe("connected");
    } finally {
      await idp.close();
    }
  });
});
