/**
 * The Express app (§5): health, readiness, metrics, dev tokens, CORS, the
 * web client, and one error handler; the routes of rooms (./room-routes.ts)
 * and of bans (./moderation-routes.ts) validate with the shared schemas and
 * call the same services as the socket commands.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, TokenRequestSchema } from "../../../shared";
import { HuddleError } from "../../errors";
import type { Logger } from "../../logger";
import type { Metrics } from "../../metrics";
import type { Services } from "../../services";
import type { FailedEvent } from "../../features/webhooks/outbox.store";
import type { LocalDelivery } from "../delivery";
import type { WatchedConnection } from "../slow-consumers";
import { createErrorHandler } from "./http-errors";
import { moderationRoutes } from "./moderation-routes";
import { parse } from "./parse";
import { roomRoutes } from "./room-routes";
import type { OriginPolicy } from "./origin";
import { securityHeaders } from "./security-headers";

export interface HttpApiOptions {
  services: Services;
  /** Takes one of the user's connection slots for a stream or a waiting poll (§13); resolves with its release. */
  holdSlot?: (userId: string) => Promise<() => Promise<void>>;
  /** When metrics have a port of their own (`INTERNAL_PORT`), `GET /metrics` is not served here. @default true */
  serveMetrics?: boolean;
  /** The webhook events that exhausted their retries, when webhooks are on (`GET /api/webhooks/failed`). */
  failedWebhooks?: (limit: number) => Promise<FailedEvent[]>;
  delivery: LocalDelivery;
  metrics: Metrics;
  origins: OriginPolicy;
  historyMax: number;
  maxPayloadBytes: number;
  /** Where the built web client lives; `GET /` serves its index.html. */
  webRoot: string;
  /** Aborted when the node starts draining (SIGTERM): waiting polls are answered at once (§12). */
  draining?: AbortSignal;
  /** False while Redis is unreachable or after SIGTERM. */
  isReady(): boolean;
  sseHeartbeatMs?: number;
  /** SSE streams with more unsent output than this are behind (../slow-consumers.ts). */
  maxBufferedBytes?: number;
  /** Registers an SSE stream with the slow-consumer sweep. */
  watch?: (connection: WatchedConnection) => () => void;
  onInternalError(error: unknown): void;
  /** Gets one debug line per request (method, url with any `?token=` redacted, status, duration). */
  logger?: Logger;
}

export function createHttpApi(options: HttpApiOptions): express.Express {
  const { services, metrics } = options;
  const app = express();
  app.disable("x-powered-by");
  app.use(securityHeaders());
  app.set("etag", false);
  if (options.logger) app.use(accessLog(options.logger));

  app.use(healthRoutes(options.isReady, options.serveMetrics === false ? undefined : metrics));

  const api = express.Router();
  api.use(corsFor(options.origins));
  // Every body is JSON (§5), whatever Content-Type says: `curl -d '{"text":"hi"}'` sends a form type.
  // Auth is a Bearer header, never a cookie, so reading a cross-site form post as JSON grants nothing.
  api.use(express.json({ limit: options.maxPayloadBytes, type: () => true }));

  api.post("/token", (req, res) => {
    if (!services.devTokens) throw new HuddleError(ErrorCode.NotFound, "dev tokens are disabled on this server");
    res.json(services.devTokens.issue(parse(TokenRequestSchema, req.body).name));
  });

  // Bans first: their routes check the moderator themselves, whatever bans apply to them.
  moderationRoutes(api, services, options.failedWebhooks);
  roomRoutes(api, {
    services,
    delivery: options.delivery,
    historyMax: options.historyMax,
    sseHeartbeatMs: options.sseHeartbeatMs,
    maxBufferedBytes: options.maxBufferedBytes,
    watch: options.watch,
    onSseOpen: (delta) => metrics.connections.inc({ transport: "sse" }, delta),
    holdSlot: options.holdSlot,
    draining: options.draining,
  });

  api.use((_req, _res) => {
    throw new HuddleError(ErrorCode.NotFound, "no such route");
  });
  app.use("/api", api);

  if (existsSync(join(options.webRoot, "index.html"))) {
    app.use(express.static(options.webRoot, { index: "index.html", maxAge: 0 }));
  } else {
    app.get("/", (_req, res) => {
      res.type("text/plain").send("The web client is not built: run `npm run build`.\n");
    });
  }

  app.use((_req: Request, _res: Response) => {
    throw new HuddleError(ErrorCode.NotFound, "no such route");
  });
  app.use(
    createErrorHandler((code, thrown) => {
      metrics.errors.inc({ code });
      if (code === ErrorCode.Internal) options.onInternalError(thrown);
    }),
  );
  return app;
}

/**
 * `/healthz`, `/readyz` and, when given, `/metrics` (§5, §13): on the public app, and on the internal port's own
 * app when `INTERNAL_PORT` is set.
 */
export function healthRoutes(isReady: () => boolean, metrics?: Metrics): express.Router {
  const routes = express.Router();
  routes.get("/healthz", (_req, res) => void res.json({ status: "ok" }));
  routes.get("/readyz", (_req, res) => {
    if (isReady()) return void res.json({ status: "ok" });
    res
      .status(503)
      .json({ status: "unavailable", error: { code: ErrorCode.Unavailable, message: "not ready to serve" } });
  });
  if (metrics) {
    routes.get("/metrics", async (_req, res) => {
      res.setHeader("Content-Type", metrics.registry.contentType);
      res.send(await metrics.registry.metrics());
    });
  }
  return routes;
}

/** One debug line per request once it is answered (or, for SSE and polls, once it closes). */
function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!logger.isLevelEnabled("debug")) return next();
    const startedAt = process.hrtime.bigint();
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      // `url` goes through the logger's serializer, which redacts `?token=`.
      logger.debug({ method: req.method, url: req.originalUrl, status: res.statusCode, ms }, "http request");
    };
    res.once("finish", log);
    res.once("close", log);
    next();
  };
}

/** The Origin allow-list for the HTTP API, with CORS headers for the origins it allows. */
function corsFor(origins: OriginPolicy) {
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (!origins.isAllowed(req)) return next(new HuddleError(ErrorCode.Forbidden, "origin not allowed"));
    if (origin !== undefined) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Expose-Headers", "Retry-After");
    }
    if (req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID");
      res.setHeader("Access-Control-Max-Age", "600");
      return void res.status(204).end();
    }
    next();
  };
}
