/**
 * The Origin allow-list (§1): the guard against cross-site WebSocket
 * hijacking, applied before any handshake (Socket.IO on both transports, the
 * plain `/ws` upgrade) and to the HTTP API.
 *
 * Allowed: no Origin (not a browser); an Origin whose host equals the
 * request's Host (same origin: behind a proxy, the proxy forwards Host with
 * its port); an Origin listed exactly in `CORS_ORIGINS`; anything with `*`.
 */
import type { IncomingMessage } from "node:http";

export interface OriginPolicy {
  isAllowed(req: Pick<IncomingMessage, "headers">): boolean;
}

export function createOriginPolicy(corsOrigins: "*" | readonly string[]): OriginPolicy {
  const listed = new Set(corsOrigins === "*" ? [] : corsOrigins);
  return {
    isAllowed(req) {
      const origin = req.headers.origin;
      if (origin === undefined || corsOrigins === "*") return true;
      if (listed.has(origin)) return true;
      const host = req.headers.host;
      if (host === undefined) return false;
      try {
        const url = new URL(origin);
        if (url.protocol !== "http:" && url.protocol !== "https:") return false;
        // Parse Host the same way so default ports and case compare equal.
        return new URL(`${url.protocol}//${host}`).host === url.host;
      } catch {
        return false; // "null" and other opaque origins
      }
    },
  };
}
