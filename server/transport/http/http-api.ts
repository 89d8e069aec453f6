/**
 * The Express app (§5): health, readiness, metrics, dev tokens, the REST
 * routes over history and publishing, SSE, long polling, and the web client.
 * Routes validate with the shared schemas and call the same services as the
 * Socket.IO handlers.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import {
  describeIssues,
  EditBodySchema,
  EmojiSchema,
  ErrorCode,
  PublishBodySchema,
  ReadBodySchema,
  RoomIdSchema,
  TokenRequestSchema,
  Limits,
} from "../../../shared";
import { canAccessRoom, type Identity } from "../../auth/tokens";
import { badRequest, HuddleError } from "../../errors";
import type { Logger } from "../../logger";
import type { Metrics } from "../../metrics";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import type { WatchedConnection } from "../slow-consumers";
import { authenticate, createErrorHandler, queryString } from "./http-errors";
import type { OriginPolicy } from "./origin";
import { longPoll } from "./poll";
import { securityHeaders } from "./security-headers";
import { streamRoomEvents } from "./sse";

export interface HttpApiOptions {
  services: Services;
  delivery: LocalDelivery;
  metrics: Metrics;
  origins: OriginPolicy;
  historyMax: number;
  maxPayloadBytes: number;
  /** Where the built web client lives; `GET /` serves its index.html. */
  webRoot: string;
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

  app.get("/healthz", (_req, res) => void res.json({ status: "ok" }));
  app.get("/readyz", (_req, res) => {
    if (options.isReady()) return void res.json({ status: "ok" });
    res
      .status(503)
      .json({ status: "unavailable", error: { code: ErrorCode.Unavailable, message: "not ready to serve" } });
  });
  app.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const api = express.Router();
  api.use(corsFor(options.origins));
  // Every body is JSON (§5), whatever Content-Type says: `curl -d '{"text":"hi"}'` sends a form type.
  // Auth is a Bearer header, never a cookie, so reading a cross-site form post as JSON grants nothing.
  api.use(express.json({ limit: options.maxPayloadBytes, type: () => true }));

  api.post("/token", (req, res) => {
    if (!services.devTokens) throw new HuddleError(ErrorCode.NotFound, "dev tokens are disabled on this server");
    res.json(services.devTokens.issue(parse(TokenRequestSchema, req.body).name));
  });

  /** The room of a `/rooms/:roomId/...` route, checked against the token's `rooms` claim. */
  const roomOf = (req: Request, identity: Identity): string => {
    const roomId = RoomIdSchema.safeParse(req.params.roomId);
    if (!roomId.success) throw badRequest(describeIssues(roomId.error));
    services.rooms.assertAccess(identity, roomId.data);
    return roomId.data;
  };

  api.get("/rooms/:roomId/messages", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = roomOf(req, identity);
    const rawLimit = nonEmpty(queryString(req, "limit"));
    let limit: number | undefined;
    if (rawLimit !== undefined) {
      limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : NaN;
      if (!(limit >= 1 && limit <= Limits.pageMax))
        throw badRequest(`limit must be an integer from 1 to ${Limits.pageMax}`);
    }
    const page = await services.chat.page(roomId, {
      before: nonEmpty(queryString(req, "before")),
      after: nonEmpty(queryString(req, "after")),
      limit,
    });
    res.json(page);
  });

  api.post("/rooms/:roomId/messages", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = roomOf(req, identity);
    const body = parse(PublishBodySchema, req.body);
    const { message, duplicate } = await services.chat.send(identity.user, { roomId, ...body });
    res.status(duplicate ? 200 : 201).json({ message });
  });

  // §8 over REST: access to the room is enough (no join).
  const actorOf = (identity: Identity) => ({ id: identity.user.id, moderator: identity.moderator });
  api.patch("/rooms/:roomId/messages/:id", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = roomOf(req, identity);
    const { text } = parse(EditBodySchema, req.body);
    res.json({ message: (await services.chat.edit(actorOf(identity), roomId, String(req.params.id), text)).message });
  });
  api.delete("/rooms/:roomId/messages/:id", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = roomOf(req, identity);
    res.json({ message: (await services.chat.remove(actorOf(identity), roomId, String(req.params.id))).message });
  });
  for (const [method, add] of [
    ["put", true],
    ["delete", false],
  ] as const) {
    api[method]("/rooms/:roomId/messages/:id/reactions/:emoji", async (req, res) => {
      const identity = await authenticate(req, services.verifier, false);
      const roomId = roomOf(req, identity);
      const emoji = parse(EmojiSchema, req.params.emoji);
      const { message } = await services.chat.react(actorOf(identity), roomId, String(req.params.id), emoji, add);
      res.json({ message });
    });
  }

  // §9 over REST: access to the room is enough.
  api.post("/rooms/:roomId/read", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = roomOf(req, identity);
    const body = parse(ReadBodySchema, req.body);
    res.json(await services.reads.markRead(identity.user, roomId, body.upTo, body.private ?? false));
  });
  api.get("/rooms/:roomId/reads", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    res.json({ reads: await services.reads.reads(roomOf(req, identity)) });
  });
  api.get("/rooms", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const mine = await services.reads.rooms(identity.user.id);
    res.json({ rooms: mine.filter((room) => canAccessRoom(identity, room.roomId)) });
  });

  api.get("/rooms/:roomId/events", async (req, res) => {
    const identity = await authenticate(req, services.verifier, true);
    const roomId = roomOf(req, identity);
    await streamRoomEvents(req, res, identity, roomId, {
      services,
      delivery: options.delivery,
      historyMax: options.historyMax,
      heartbeatMs: options.sseHeartbeatMs,
      maxBufferedBytes: options.maxBufferedBytes,
      watch: options.watch,
      onOpen: (delta) => metrics.connections.inc({ transport: "sse" }, delta),
    });
  });

  api.get("/rooms/:roomId/poll", async (req, res) => {
    const identity = await authenticate(req, services.verifier, true);
    const roomId = roomOf(req, identity);
    await longPoll(req, res, roomId, { services, delivery: options.delivery });
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

const nonEmpty = (value: string | undefined) => (value === "" ? undefined : value);

/** A body or parameter checked with its shared schema; `bad_request` naming the first problem otherwise. */
function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(describeIssues(parsed.error));
  return parsed.data;
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
