/**
 * The hardening settings of the configuration: secrets from files (docker
 * secrets), TLS files, the JWKS URL, and the limits' defaults. Bad values
 * stop start-up with one line naming the variable and never the secret.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jwt from "jsonwebtoken";
import { loadConfig } from "../../server/config";
import { refusal } from "../helpers/config";
import { startApp, stopAllApps } from "../helpers/app";
import { makeCertificate, request, type TestCertificate } from "./support";

const SECRET = "a-file-secret-of-at-least-thirty-two-bytes";
const dir = mkdtempSync(join(tmpdir(), "huddle-secrets-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const rsa = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
let certificate: TestCertificate;
let other: TestCertificate;

beforeAll(() => {
  certificate = makeCertificate();
  other = makeCertificate();
});
afterAll(async () => {
  await stopAllApps();
  for (const path of [dir, certificate.dir, other.dir]) rmSync(path, { recursive: true, force: true });
});

describe("secrets from files", () => {
  test("JWT_SECRET_FILE: the file's secret, its trailing newline dropped, verifies tokens", async () => {
    const server = await startApp({ JWT_SECRET: "", DEV_TOKENS: "", JWT_SECRET_FILE: file("secret", `${SECRET}\n`) });
    const token = jwt.sign({ sub: "file-user" }, SECRET, { algorithm: "HS256" });
    const res = await request(`${server.url}/api/rooms/r/messages`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(server.config.jwt.secret).toBe(SECRET);
  });

  test("JWT_PUBLIC_KEY_FILE: RS256 tokens verified with the key from the file", async () => {
    const server = await startApp({
      JWT_SECRET: "",
      DEV_TOKENS: "",
      JWT_PUBLIC_KEY_FILE: file("key.pem", rsa.publicKey),
    });
    const token = jwt.sign({ sub: "file-user" }, rsa.privateKey, { algorithm: "RS256" });
    const res = await request(`${server.url}/api/rooms/r/messages`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(server.config.jwt.algorithms).toEqual(["RS256", "ES256"]);
  });

  test("a secret file satisfies NODE_ENV=production", () => {
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET_FILE: file("prod", SECRET) }).jwt.ephemeral).toBe(false);
  });

  test.each([
    [
      "JWT_SECRET and JWT_SECRET_FILE both set",
      { JWT_SECRET: SECRET, JWT_SECRET_FILE: "/x" },
      /JWT_SECRET and JWT_SECRET_FILE/,
    ],
    [
      "JWT_PUBLIC_KEY and JWT_PUBLIC_KEY_FILE both set",
      { JWT_PUBLIC_KEY: rsa.publicKey, JWT_PUBLIC_KEY_FILE: "/x" },
      /JWT_PUBLIC_KEY and JWT_PUBLIC_KEY_FILE/,
    ],
    ["JWT_SECRET_FILE missing", { JWT_SECRET_FILE: "/nonexistent/secret" }, /JWT_SECRET_FILE cannot be read.*ENOENT/],
    ["JWT_SECRET_FILE empty", { JWT_SECRET_FILE: "(empty)" }, /JWT_SECRET_FILE names an empty file/],
    ["JWT_PUBLIC_KEY_FILE not a key", { JWT_PUBLIC_KEY_FILE: "(junk)" }, /JWT_PUBLIC_KEY is not a PEM public key/],
  ])("refuses %s, in one line", (_what, env: Record<string, string>, pattern) => {
    const resolved = { ...env };
    if (resolved.JWT_SECRET_FILE === "(empty)") resolved.JWT_SECRET_FILE = file("empty", "\n");
    if (resolved.JWT_PUBLIC_KEY_FILE === "(junk)") resolved.JWT_PUBLIC_KEY_FILE = file("junk", "-----BEGIN junk");
    const error = refusal(resolved);
    expect(error.message).toMatch(pattern);
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain("BEGIN");
  });
});

describe("TLS_CERT_FILE and TLS_KEY_FILE", () => {
  test("unset: plain HTTP", async () => {
    const server = await startApp();
    expect(server.config.tls).toBeUndefined();
    expect((await request(`${server.url}/healthz`)).status).toBe(200);
  });

  test("a matching certificate and key are accepted", () => {
    const config = loadConfig({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile });
    expect(config.tls?.cert).toContain("BEGIN CERTIFICATE");
  });

  test.each([
    [
      "only TLS_CERT_FILE",
      () => ({ TLS_CERT_FILE: certificate.certFile }),
      /TLS_CERT_FILE and TLS_KEY_FILE go together/,
    ],
    ["only TLS_KEY_FILE", () => ({ TLS_KEY_FILE: certificate.keyFile }), /TLS_CERT_FILE and TLS_KEY_FILE go together/],
    [
      "an unreadable certificate",
      () => ({ TLS_CERT_FILE: "/nonexistent/cert.pem", TLS_KEY_FILE: certificate.keyFile }),
      /TLS_CERT_FILE cannot be read.*ENOENT/,
    ],
    [
      "a certificate file that is not PEM",
      () => ({ TLS_CERT_FILE: file("bad.pem", "hello"), TLS_KEY_FILE: certificate.keyFile }),
      /TLS_CERT_FILE is not a PEM certificate/,
    ],
    [
      "a key file that is not a key",
      () => ({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.certFile }),
      /TLS_KEY_FILE is not a PEM private key/,
    ],
    [
      "the key of another certificate",
      () => ({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: other.keyFile }),
      /TLS_KEY_FILE is not the private key of the certificate/,
    ],
  ])("refuses %s, naming the variable in one line", (_what, env, pattern) => {
    const error = refusal(env());
    expect(error.message).toMatch(pattern);
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).not.toContain("PRIVATE KEY");
  });
});

describe("JWT_JWKS_URL", () => {
  test("accepts RS256 and ES256 by default, needs no secret, and enables no dev tokens", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_JWKS_URL: "https://idp.example/.well-known/jwks.json" });
    expect(config.jwt.algorithms).toEqual(["RS256", "ES256"]);
    expect(config.jwt.jwks).toEqual({ url: "https://idp.example/.well-known/jwks.json", cooldownMs: 30000 });
    expect(config.jwt.secret).toBeUndefined();
    expect(config.devTokens).toBe(false);
  });

  test("JWT_ALGORITHMS narrows the accepted algorithms", () => {
    expect(loadConfig({ JWT_JWKS_URL: "https://idp.example/jwks", JWT_ALGORITHMS: "ES256" }).jwt.algorithms).toEqual([
      "ES256",
    ]);
  });

  test("with JWT_SECRET too, HS256 dev tokens and provider tokens are both accepted", () => {
    const config = loadConfig({ JWT_SECRET: SECRET, JWT_JWKS_URL: "https://idp.example/jwks" });
    expect(config.jwt.algorithms).toEqual(["HS256", "RS256", "ES256"]);
  });

  test("warns about plain http to anything but localhost", () => {
    expect(loadConfig({ JWT_JWKS_URL: "http://keycloak:8080/certs" }).warnings.join(" ")).toMatch(/JWT_JWKS_URL/);
    expect(loadConfig({ JWT_JWKS_URL: "http://127.0.0.1:9999/certs" }).warnings).toEqual([]);
  });

  test.each([
    ["not a URL", { JWT_JWKS_URL: "idp.example/jwks" }, /JWT_JWKS_URL/],
    ["not http(s)", { JWT_JWKS_URL: "ftp://idp.example/jwks" }, /JWT_JWKS_URL/],
    [
      "with JWT_PUBLIC_KEY",
      { JWT_JWKS_URL: "https://idp.example/jwks", JWT_PUBLIC_KEY: rsa.publicKey },
      /JWT_JWKS_URL/,
    ],
    [
      "a bad cooldown",
      { JWT_JWKS_URL: "https://idp.example/jwks", JWT_JWKS_COOLDOWN_MS: "soon" },
      /JWT_JWKS_COOLDOWN_MS/,
    ],
  ])("refuses %s", (_what, env, pattern) => {
    expect(refusal(env).message).toMatch(pattern);
  });
});

describe("limits", () => {
  test("defaults: 1 MiB of unsent output, 50 new connections a second per address in bursts of 200, no proxy", () => {
    expect(loadConfig({})).toMatchObject({
      maxBufferedBytes: 1048576,
      connectRate: { perSecond: 50, burst: 200 },
      trustProxyHops: 0,
    });
  });

  test("CONNECT_RATE_PER_IP=0 turns the per-address limit off", () => {
    expect(loadConfig({ CONNECT_RATE_PER_IP: "0" }).connectRate).toBeUndefined();
  });

  test("TRUST_PROXY takes true/false or a number of proxies", () => {
    expect(loadConfig({ TRUST_PROXY: "true" }).trustProxyHops).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "1" }).trustProxyHops).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxyHops).toBe(2);
    expect(loadConfig({ TRUST_PROXY: "off" }).trustProxyHops).toBe(0);
    expect(refusal({ TRUST_PROXY: "nginx" }).message).toMatch(/TRUST_PROXY/);
  });

  test.each([
    ["MAX_BUFFERED_BYTES", "100"],
    ["CONNECT_RATE_PER_IP", "-1"],
    ["CONNECT_BURST_PER_IP", "-1"],
  ])("refuses a bad %s", (name, value) => {
    expect(refusal({ [name]: value }).message).toContain(name);
  });
});
