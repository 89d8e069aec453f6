/**
 * Structured logs: one JSON line per event worth logging (pino). Tokens and
 * authorization headers are redacted wherever they appear in a logged object.
 */
import pino, { type Logger } from "pino";

export type { Logger };

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
          "headers.authorization",
          "req.headers.authorization",
          "*.headers.authorization",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
