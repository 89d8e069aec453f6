/**
 * Helpers of the production-hardening tests: a self-signed certificate made
 * with openssl, a tiny JWKS server with rotation and a request counter,
 * HTTPS requests with a chosen CA or source address, and /metrics samples.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from "jose";

export const OPENSSL = "/usr/bin/openssl";

export interface TestCertificate {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM: it is its own CA. */
  readonly cert: string;
}

/** A fresh self-signed P-256 certificate for 127.0.0.1 (openssl; fails loudly when it is missing). */
export function makeCertificate(): TestCertificate {
  if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} not found: install openssl; the TLS tests do not skip`);
  const dir = mkdtempSync(join(tmpdir(), "huddle-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  // Arguments as the brief gives them; -days 2 so a clock a day off still accepts it.
  execFileSync(
    OPENSSL,
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-days",
      "2",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "pipe" },
  );
  return { dir, certFile, keyFile, cert: readFileSync(certFile, "utf8") };
}

import { request, type HttpAnswer as Answer, type HttpOptions as RequestOptions } from "../helpers/http";

export { request, type Answer, type RequestOptions };

/** The value of one sample of Prometheus text, or undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[3] ?? "";
    if (Object.entries(labels).every(([k, v]) => present.includes(`${k}="${v}"`))) return Number(match[4]);
  }
  return undefined;
}

/** One sample of the app's /metrics (0 when the series does not exist yet). */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await request(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return sample(res.text, name, labels) ?? 0;
}

export interface SigningKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES256";
  readonly privateKey: KeyLike;
  readonly jwk: JWK;
}

/** A new key pair with its public JWK (`kid`, `alg`, `use` set). */
export async function makeSigningKey(alg: "RS256" | "ES256", kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, jwk };
}

/** Signs a token with `key`; `kid` defaults to the key's own (pass null for none). */
export function signWith(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  options: { kid?: string | null; expiresAt?: number } = {},
): Promise<string> {
  const kid = options.kid === undefined ? key.kid : options.kid;
  const jwt = new SignJWT({ sub: "idp-user", name: "Ida", ...claims })
    .setProtectedHeader(kid === null ? { alg: key.alg } : { alg: key.alg, kid })
    .setIssuedAt();
  if (options.expiresAt !== undefined) jwt.setExpirationTime(options.expiresAt);
  return jwt.sign(key.privateKey);
}

export interface JwksServer {
  readonly url: string;
  readonly port: number;
  /** How many times the key set was fetched. */
  readonly requests: number;
  /** Serves these public keys from now on (key rotation). */
  publish(keys: readonly SigningKey[]): void;
  /** Answers with this status instead of the set (e.g. 500). */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
  /** Starts again on the same port (after close). */
  restart(): Promise<void>;
}

/** A tiny identity provider: `GET /jwks.json` answers the current key set and counts requests. */
export async function startJwksServer(keys: readonly SigningKey[] = [], port = 0): Promise<JwksServer> {
  let current = keys;
  let failure: number | undefined;
  let requests = 0;
  let server: Server;
  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((req, res) => {
        requests++;
        if (failure !== undefined) return void res.writeHead(failure).end("no");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ keys: current.map((key) => key.jwk) }));
      });
      server.once("error", reject);
      server.listen(on, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
  const actual = await listen(port);
  return {
    url: `http://127.0.0.1:${actual}/jwks.json`,
    port: actual,
    get requests() {
      return requests;
    },
    publish: (next) => void (current = next),
    failWith: (status) => void (failure = status),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    restart: async () => void (await listen(actual)),
  };
}

/** Forces a full garbage collection (no --expose-gc needed) so heap figures compare retained memory only. */
export function collectGarbage(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("v8").setFlagsFromString("--expose-gc");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gc = require("vm").runInNewContext("gc") as () => void;
  gc();
  gc();
}
