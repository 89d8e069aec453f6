/**
 * The bans routes (§11): moderators of a room ban users from it, list the
 * bans in force and lift them. Anyone else gets `forbidden`.
 */
import type { Router } from "express";
import { BanBodySchema, ErrorCode, RoomIdSchema } from "../../../shared";
import { canAccessRoom } from "../../auth/tokens";
import { badRequest, HuddleError } from "../../errors";
import type { FailedEvent } from "../../features/webhooks/outbox.store";
import type { Services } from "../../services";
import { authenticate, queryString } from "./http-errors";
import { parse } from "./parse";

/**
 * @param failedWebhooks the webhook events that exhausted their retries (§11), when webhooks are on: listed to
 * moderators, for the rooms their token may access (they hold messages).
 */
export function moderationRoutes(
  api: Router,
  services: Services,
  failedWebhooks?: (limit: number) => Promise<FailedEvent[]>,
): void {
  api.get("/webhooks/failed", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    if (!identity.moderator) throw new HuddleError(ErrorCode.Forbidden, "only a moderator can do that");
    const raw = queryString(req, "limit") ?? "100";
    const limit = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(limit >= 1 && limit <= 1000)) throw badRequest("limit must be an integer from 1 to 1000");
    const failed = failedWebhooks ? await failedWebhooks(limit) : [];
    res.json({ failed: failed.filter((f) => canAccessRoom(identity, f.event.roomId)) });
  });

  api.post("/rooms/:roomId/bans", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    const roomId = parse(RoomIdSchema, req.params.roomId);
    // Anyone else is refused whatever they sent: forbidden before the body is looked at (§11).
    services.moderation.assertModerator(identity, roomId);
    const body = parse(BanBodySchema, req.body);
    res.json({ ban: await services.moderation.ban(identity, roomId, body) });
  });
  api.get("/rooms/:roomId/bans", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    res.json({ bans: await services.moderation.list(identity, parse(RoomIdSchema, req.params.roomId)) });
  });
  api.delete("/rooms/:roomId/bans/:userId", async (req, res) => {
    const identity = await authenticate(req, services.verifier, false);
    await services.moderation.lift(identity, parse(RoomIdSchema, req.params.roomId), String(req.params.userId));
    res.json({});
  });
}
