/**
 * Security headers on every HTTP response (helmet): a strict
 * Content-Security-Policy for the web client (scripts and styles only from
 * this origin, no inline script, no framing), `X-Content-Type-Options:
 * nosniff`, `Referrer-Policy: no-referrer`, and frame denial for browsers that
 * predate `frame-ancestors`.
 */
import helmet from "helmet";

/**
 * `Strict-Transport-Security` for a node that serves TLS itself (`TLS_CERT_FILE`): browsers stick to HTTPS
 * for 180 days. Not `includeSubDomains` or `preload`: those commit hosts this node knows nothing about.
 */
export const HSTS_HEADER = "max-age=15552000";

export function securityHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'"],
        // 'self' covers same-origin ws:// and wss:// in current browsers; both are listed for older ones.
        connectSrc: ["'self'", "ws:", "wss:"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // The API is meant to be called cross-origin by the origins in CORS_ORIGINS.
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: "no-referrer" },
    frameguard: { action: "deny" },
    // HSTS is the TLS terminator's call: nginx's, or the app's own when it serves TLS (HSTS_HEADER, on every
    // response including Socket.IO's), never a plain-HTTP node's.
    strictTransportSecurity: false,
  });
}
