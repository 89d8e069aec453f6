/**
 * Security headers on every HTTP response (helmet): a strict
 * Content-Security-Policy for the web client (scripts and styles only from
 * this origin, no inline script, no framing), `X-Content-Type-Options:
 * nosniff`, `Referrer-Policy: no-referrer`, and frame denial for browsers that
 * predate `frame-ancestors`.
 */
import helmet from "helmet";

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
    // HSTS is the TLS terminator's call (nginx or TLS_CERT_FILE), not a plain-HTTP node's.
    strictTransportSecurity: false,
  });
}
