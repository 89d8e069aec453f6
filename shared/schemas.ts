/**
 * Payload schemas of protocol v1: the single source of truth for what a client
 * may send. The TypeScript payload types are derived from them, so the types
 * and the runtime checks cannot drift apart.
 *
 * Unknown keys are ignored (and stripped), so a newer client can send extra
 * fields to an older server; a key the schema knows must have the right type.
 */
import { z } from "zod";
import { Limits } from "./protocol";
import { codePointLength } from "./text";

const ROOM_ID = /^[A-Za-z0-9_\-.:]{1,64}$/;

/** 1 to 64 characters of `A-Z a-z 0-9 _ - . :`. */
export const RoomIdSchema = z.string().regex(ROOM_ID, "roomId must be 1 to 64 characters of A-Z a-z 0-9 _ - . :");

/** An opaque message id as the server handed it out. */
export const MessageIdSchema = z.string().min(1).max(64);

export const ClientMsgIdSchema = z
  .string()
  .refine(
    (value) => value.length > 0 && codePointLength(value) <= Limits.clientMsgIdMaxLength,
    "clientMsgId must be 1 to 64 characters",
  );

/** Text is checked for type here; its normalisation and length (which decide between bad_request and too_large) are checked by the chat service. */
export const MessageTextSchema = z.string();

export const PageLimitSchema = z.number().int().min(1).max(Limits.pageMax);

export const JoinPayloadSchema = z.object({
  roomId: RoomIdSchema,
  since: MessageIdSchema.optional(),
});
export const LeavePayloadSchema = z.object({ roomId: RoomIdSchema });
export const SendPayloadSchema = z.object({
  roomId: RoomIdSchema,
  text: MessageTextSchema,
  clientMsgId: ClientMsgIdSchema.optional(),
});
export const TypingPayloadSchema = z.object({ roomId: RoomIdSchema });
export const HistoryPayloadSchema = z.object({
  roomId: RoomIdSchema,
  before: MessageIdSchema.optional(),
  limit: PageLimitSchema.optional(),
});

/** Body of `POST /api/rooms/:roomId/messages`. */
export const PublishBodySchema = z.object({
  text: MessageTextSchema,
  clientMsgId: ClientMsgIdSchema.optional(),
});

/** Body of `POST /api/token`. */
export const TokenRequestSchema = z.object({
  name: z
    .string()
    .transform((name) => name.trim())
    .pipe(z.string().min(1, "name must not be empty").max(64, "name must be at most 64 characters")),
});

export type JoinPayload = z.infer<typeof JoinPayloadSchema>;
export type LeavePayload = z.infer<typeof LeavePayloadSchema>;
export type SendPayload = z.infer<typeof SendPayloadSchema>;
export type TypingPayload = z.infer<typeof TypingPayloadSchema>;
export type HistoryPayload = z.infer<typeof HistoryPayloadSchema>;
export type PublishBody = z.infer<typeof PublishBodySchema>;
export type TokenRequest = z.infer<typeof TokenRequestSchema>;

/** The schema of each client → server event, by event name. */
export const ClientEventSchemas = {
  "room:join": JoinPayloadSchema,
  "room:leave": LeavePayloadSchema,
  "message:send": SendPayloadSchema,
  "typing:start": TypingPayloadSchema,
  "typing:stop": TypingPayloadSchema,
  "room:history": HistoryPayloadSchema,
} as const;
export type ClientEventName = keyof typeof ClientEventSchemas;
export const CLIENT_EVENT_NAMES = Object.keys(ClientEventSchemas) as ClientEventName[];

/** A short, human description of why a payload was refused; never echoes the payload. */
export function describeIssues(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return "invalid payload";
  const where = first.path.length > 0 ? first.path.join(".") : "payload";
  return `${where}: ${first.message}`;
}
