/**
 * Structured logs: one JSON line per event worth logging (pino). Tokens never
 * reach a log line: they are redacted wherever they appear in a logged object
 * (`token`, `auth.token`, `query.token`, authorization headers), and a logged
 * `url` has its `?token=` value replaced, since SSE, long polling and `/ws`
 * clients pass their JWT in the query string.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const REDACTED = "[redacted]";

/** `url` with its password hidden (`//user:***@host`), for refusals and log lines that name a URL. */
export function hidePassword(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}

/** `url` with the value of every `token` (or `access_token`) query parameter replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_)?token=)[^&#]*/gi, `$1${REDACTED}`);
}

/**
 * @param options.level pino level (`LOG_LEVEL`).
 * @param options.nodeId put on every line as `node`.
 * @param destination where lines go; stdout by default (a test passes a sink to read them).
 */
export function createLogger(options: { level: string; nodeId: string }, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: { node: options.nodeId },
      redact: {
        paths: [
          "token",
          "*.token",
          "auth.token",
          "*.auth.token",
          "query.token",
          "*.query.token",
          "handshake.auth.token",
          "handshake.query.token",
          "headers.authorization",
          "*.headers.authorization",
          "req.headers.authorization",
          "headers.cookie",
          "*.headers.cookie",
        ],
        censor: REDACTED,
      },
      serializers: {
        url: (url: unknown) => (typeof url === "string" ? redactUrl(url) : url),
      },
    },
    destination,
  );
}
