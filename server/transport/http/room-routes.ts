/**
 * The REST routes of a room (§5, §8, §9): history and publishing, changes to
 * messages, read state, and the live streams (SSE, long polls). Each
 * authenticates, checks the room (claim, ban) and calls the same services as
 * the socket commands; access to the room is enough, no join.
 */
import type { Router } from "express";
import { EditBodySchema, EmojiSchema, Limits, PublishBodySchema, ReadBodySchema } from "../../../shared";
import { canAccessRoom, type Identity } from "../../auth/tokens";
import { badRequest } from "../../errors";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import type { WatchedConnection } from "../slow-consumers";
import { authenticate, queryString } from "./http-errors";
import { nonEmpty, parse, roomOf } from "./parse";
import { longPoll } from "./poll";
import { streamRoomEvents } from "./sse";

export interface RoomRouteOptions {
  services: Services;
  delivery: LocalDelivery;
  historyMax: number;
  sseHeartbeatMs?: number;
  maxBufferedBytes?: number;
  watch?: (connection: WatchedConnection) => () => void;
  onSseOpen(delta: number): void;
  /** Takes one of the user's connection slots for a stream or a waiting poll (§13); resolves with its release. */
  holdSlot?: (userId: string) => Promise<() => Promise<void>>;
  /** Aborted when the node starts draining. */
  draining?: AbortSignal;
}

export function roomRoutes(api: Router, options: RoomRouteOptions): void {
  const { services } = options;
  const actorOf = (identity: Identity) => ({ id: identity.user.id, moderator: identity.moderator });
  const idOf = (id: unknown) => String(id);

  api.get("/rooms/:roomId/messages", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = await roomOf(req, identity, services);
    const rawLimit = nonEmpty(queryString(req, "limit"));
    let limit: number | undefined;
    if (rawLimit !== undefined) {
      limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : NaN;
      if (!(limit >= 1 && limit <= Limits.pageMax)) {
        throw badRequest(`limit must be an integer from 1 to ${Limits.pageMax}`);
      }
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
    const roomId = await roomOf(req, identity, services);
    const body = parse(PublishBodySchema, req.body);
    const { message, duplicate } = await services.chat.send(identity.user, { roomId, ...body });
    res.status(duplicate ? 200 : 201).json({ message });
  });

  api.patch("/rooms/:roomId/messages/:id", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = await roomOf(req, identity, services);
    const { text } = parse(EditBodySchema, req.body);
    res.json({ message: (await services.chat.edit(actorOf(identity), roomId, idOf(req.params.id), text)).message });
  });
  api.delete("/rooms/:roomId/messages/:id", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = await roomOf(req, identity, services);
    res.json({ message: (await services.chat.remove(actorOf(identity), roomId, idOf(req.params.id))).message });
  });
  for (const [method, add] of [
    ["put", true],
    ["delete", false],
  ] as const) {
    api[method]("/rooms/:roomId/messages/:id/reactions/:emoji", async (req, res) => {
      const identity = await authenticate(req, services.verifier, false);
      const roomId = await roomOf(req, identity, services);
      const emoji = parse(EmojiSchema, req.params.emoji);
      const { message } = await services.chat.react(actorOf(identity), roomId, idOf(req.params.id), emoji, add);
      res.json({ message });
    });
  }

  api.post("/rooms/:roomId/read", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = await roomOf(req, identity, services);
    const body = parse(ReadBodySchema, req.body);
    res.json(await services.reads.markRead(identity.user, roomId, body.upTo, body.private ?? false));
  });
  api.get("/rooms/:roomId/reads", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    res.json({ reads: await services.reads.reads(await roomOf(req, identity, services)) });
  });
  api.get("/rooms", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const mine = await services.reads.rooms(identity.user.id);
    // A room the token no longer allows is not listed (the `rooms` claim may have narrowed since).
    res.json({ rooms: mine.filter((room) => canAccessRoom(identity, room.roomId)) });
  });

  api.get("/rooms/:roomId/events", async (req, res) => {
    const identity = await authenticate(req, services.verifier, true);
    const roomId = await roomOf(req, identity, services);
    await streamRoomEvents(req, res, identity, roomId, {
      services,
      delivery: options.delivery,
      historyMax: options.historyMax,
      heartbeatMs: options.sseHeartbeatMs,
      maxBufferedBytes: options.maxBufferedBytes,
      watch: options.watch,
      onOpen: options.onSseOpen,
      holdSlot: options.holdSlot,
    });
  });

  api.get("/rooms/:roomId/poll", async (req, res) => {
    const identity = await authenticate(req, services.verifier, true);
    const roomId = await roomOf(req, identity, services);
    await longPoll(req, res, roomId, {
      services,
      delivery: options.delivery,
      userId: identity.user.id,
      holdSlot: options.holdSlot,
      draining: options.draining,
    });
  });
}
