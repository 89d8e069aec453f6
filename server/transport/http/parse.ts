/** The REST routes' edge: a body, a parameter or a query value checked with its shared schema (§5). */
import type { Request } from "express";
import type { z } from "zod";
import { describeIssues, RoomIdSchema } from "../../../shared";
import type { Identity } from "../../auth/tokens";
import { badRequest } from "../../errors";
import type { Services } from "../../services";

/** `value` checked with `schema`; `bad_request` naming the first problem otherwise. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(describeIssues(parsed.error));
  return parsed.data;
}

/** The room of a `/rooms/:roomId/...` route: valid, allowed by the token's `rooms` claim, and the user not banned. */
export async function roomOf(req: Request, identity: Identity, services: Services): Promise<string> {
  const roomId = parse(RoomIdSchema, req.params.roomId);
  await services.moderation.assertAllowed(identity, roomId);
  return roomId;
}

export const nonEmpty = (value: string | undefined) => (value === "" ? undefined : value);
