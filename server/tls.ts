/**
 * TLS served by the node itself (`TLS_CERT_FILE` + `TLS_KEY_FILE`), for
 * deployments without a TLS-terminating proxy: HTTPS and WSS on the one
 * port. Without them the node speaks plain HTTP, as behind nginx.
 *
 * The files are read and checked once, at start-up, by `loadConfig`: a
 * missing file, something that is not PEM, or a key that does not belong to
 * the certificate stops start-up with the variable named. Renewed files are
 * picked up by restarting the node (SIGTERM drains it first).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { ConfigReader } from "./auth/jwt-config";

export interface TlsConfig {
  /** PEM certificate chain, leaf first. */
  readonly cert: string;
  /** PEM private key of the leaf certificate. */
  readonly key: string;
}

/** Reads `TLS_CERT_FILE` and `TLS_KEY_FILE` (both or neither); problems name the variable, never the key. */
export function readTlsConfig(env: ConfigReader, problems: string[]): TlsConfig | undefined {
  const certFile = env.read("TLS_CERT_FILE");
  const keyFile = env.read("TLS_KEY_FILE");
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    problems.push(`TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither`);
    return undefined;
  }
  const cert = readPem(env, "TLS_CERT_FILE", certFile, problems);
  const key = readPem(env, "TLS_KEY_FILE", keyFile, problems);
  if (cert === undefined || key === undefined) return undefined;

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    problems.push(`TLS_CERT_FILE is not a PEM certificate (${JSON.stringify(certFile)})`);
    return undefined;
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    problems.push(`TLS_KEY_FILE is not a PEM private key, or is encrypted (${JSON.stringify(keyFile)})`);
    return undefined;
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    problems.push("TLS_KEY_FILE is not the private key of the certificate in TLS_CERT_FILE");
    return undefined;
  }
  return Object.freeze({ cert, key });
}

function readPem(env: ConfigReader, name: string, path: string, problems: string[]): string | undefined {
  try {
    return env.readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    problems.push(`${name} cannot be read (${JSON.stringify(path)}: ${typeof code === "string" ? code : "error"})`);
    return undefined;
  }
}

/** How long a client has to finish the TLS handshake (Node's default is 120 s: too generous for a slow-handshake flood). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The node's server: HTTPS when `tls` is given, plain HTTP otherwise. Both are `http.Server`s to the rest of the app. */
export function createNodeServer(tls: TlsConfig | undefined, listener: RequestListener): Server {
  if (!tls) return createHttpServer(listener);
  return createHttpsServer(
    { cert: tls.cert, key: tls.key, minVersion: "TLSv1.2", handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
    listener,
  );
}
