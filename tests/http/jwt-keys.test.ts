/**
 * §1 "The token" over the REST routes: RS256 and ES256 with JWT_PUBLIC_KEY,
 * algorithm pinning (JWT_ALGORITHMS), and JWT_ISSUER / JWT_AUDIENCE.
 */
import { generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, TEST_SECRET } from "../helpers/tokens";
import { bearer, http, uniqueRoom } from "./support";

afterAll(() => stopAllApps());

const rsa = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const ec = generateKeyPairSync("ec", {
  namedCurve: "P-256",
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const otherRsa = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

/** A server verifying with a public key only (no secret, so no dev tokens). */
const withKey = (publicKey: string, env: Record<string, string> = {}) =>
  startApp({ JWT_SECRET: "", DEV_TOKENS: "", JWT_PUBLIC_KEY: publicKey, ...env });

const sign = (claims: object, key: string, algorithm: jwt.Algorithm) =>
  jwt.sign({ sub: "key-user", name: "Kay", ...claims }, key, { algorithm });

/** Crafts a token jsonwebtoken would refuse to sign: any header, no signature check. */
function unsigned(header: object, claims: object, signature = ""): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part({ sub: "key-user", ...claims })}.${signature}`;
}

/** The status and, for a 401, the message of GET messages with `token`. */
async function answer(server: TestApp, token: string): Promise<string> {
  const res = await http(`${server.url}/api/rooms/${uniqueRoom()}/messages`, { headers: bearer(token) });
  return res.status === 200 ? "200" : `${res.status} ${res.body?.error?.message}`;
}

describe("RS256 with JWT_PUBLIC_KEY", () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await withKey(rsa.publicKey);
  });

  test("accepts an RS256 token signed by the matching private key", async () => {
    expect(await answer(server, sign({}, rsa.privateKey, "RS256"))).toBe("200");
  });

  test("the token's user is the publisher of a message", async () => {
    const res = await http(`${server.url}/api/rooms/${uniqueRoom()}/messages`, {
      method: "POST",
      headers: bearer(sign({}, rsa.privateKey, "RS256")),
      body: { text: "signed" },
    });
    expect(res.body.message.user).toEqual({ id: "key-user", name: "Kay" });
  });

  test("refuses an RS256 token signed by another key", async () => {
    expect(await answer(server, sign({}, otherRsa.privateKey, "RS256"))).toBe("401 Invalid token");
  });

  test("refuses an HS256 token: with a public key only HS256 is not accepted", async () => {
    expect(await answer(server, signToken())).toBe("401 Invalid token");
  });

  test("refuses algorithm confusion: HS256 signed with the public key as the secret", async () => {
    const forged = unsigned({ alg: "HS256", typ: "JWT" }, {});
    const { createHmac } = await import("node:crypto");
    const signature = createHmac("sha256", rsa.publicKey).update(forged.slice(0, -1)).digest("base64url");
    expect(await answer(server, forged + signature)).toBe("401 Invalid token");
  });

  test("refuses alg none", async () => {
    expect(await answer(server, unsigned({ alg: "none", typ: "JWT" }, {}))).toBe("401 Invalid token");
  });

  test("enforces exp on RS256 tokens", async () => {
    const exp = Math.floor(Date.now() / 1000) - 120;
    expect(await answer(server, sign({ exp }, rsa.privateKey, "RS256"))).toBe("401 Token expired");
  });

  test("accepts a key given with literal \\n sequences, as env files often carry it", async () => {
    const escaped = await withKey(rsa.publicKey.trim().replace(/\n/g, "\\n"));
    expect(await answer(escaped, sign({}, rsa.privateKey, "RS256"))).toBe("200");
  });
});

describe("ES256 with JWT_PUBLIC_KEY", () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await withKey(ec.publicKey);
  });

  test("accepts an ES256 token signed by the matching private key", async () => {
    expect(await answer(server, sign({}, ec.privateKey, "ES256"))).toBe("200");
  });

  test("refuses an ES384 token (not in the default RS256,ES256)", async () => {
    const p384 = generateKeyPairSync("ec", {
      namedCurve: "P-384",
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    const other = await withKey(p384.publicKey);
    expect(await answer(other, sign({}, p384.privateKey, "ES384"))).toBe("401 Invalid token");
  });

  test("refuses an HS256 token", async () => {
    expect(await answer(server, signToken())).toBe("401 Invalid token");
  });
});

describe("JWT_ALGORITHMS pins the accepted algorithms", () => {
  test("JWT_ALGORITHMS=PS256 refuses RS256 tokens from the same key and accepts PS256", async () => {
    const server = await withKey(rsa.publicKey, { JWT_ALGORITHMS: "PS256" });
    expect(await answer(server, sign({}, rsa.privateKey, "RS256"))).toBe("401 Invalid token");
    expect(await answer(server, sign({}, rsa.privateKey, "PS256"))).toBe("200");
  });

  test("with a secret and a public key, both HS256 and RS256 are accepted by default", async () => {
    const server = await startApp({ DEV_TOKENS: "", JWT_PUBLIC_KEY: rsa.publicKey });
    expect(await answer(server, signToken())).toBe("200");
    expect(await answer(server, sign({}, rsa.privateKey, "RS256"))).toBe("200");
  });

  test("with a secret only, an HS512 token is refused (HS256 is the default)", async () => {
    const server = await startApp();
    expect(await answer(server, jwt.sign({ sub: "x" }, TEST_SECRET, { algorithm: "HS512" }))).toBe("401 Invalid token");
  });
});

describe("JWT_ISSUER and JWT_AUDIENCE", () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startApp({ JWT_ISSUER: "https://issuer.example", JWT_AUDIENCE: "huddle" });
  });
  const token = (claims: object) => jwt.sign({ sub: "iss-user", ...claims }, TEST_SECRET, { algorithm: "HS256" });

  test("accepts a token with the configured iss and aud", async () => {
    expect(await answer(server, token({ iss: "https://issuer.example", aud: "huddle" }))).toBe("200");
  });

  test("accepts an aud array that contains the configured audience", async () => {
    expect(await answer(server, token({ iss: "https://issuer.example", aud: ["other", "huddle"] }))).toBe("200");
  });

  test.each([
    ["a wrong iss", { iss: "https://evil.example", aud: "huddle" }],
    ["no iss", { aud: "huddle" }],
    ["a wrong aud", { iss: "https://issuer.example", aud: "other" }],
    ["no aud", { iss: "https://issuer.example" }],
  ])("refuses %s with Invalid token", async (_what, claims) => {
    expect(await answer(server, token(claims))).toBe("401 Invalid token");
  });

  test("without JWT_ISSUER/JWT_AUDIENCE, any iss and aud are accepted", async () => {
    const plain = await startApp();
    expect(await answer(plain, token({ iss: "anyone", aud: "anything" }))).toBe("200");
  });

  test("dev tokens carry the configured iss and aud, so they pass the check", async () => {
    const res = await http(`${server.url}/api/token`, { method: "POST", body: { name: "Dev" } });
    expect(await answer(server, res.body.token)).toBe("200");
  });
});
