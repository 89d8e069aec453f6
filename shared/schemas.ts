/**
 * Payload schemas of protocol v1: the single source of truth for what a client
 * may send. The payload types are written out in ./payloads (so the event maps
 * need no zod) and checked against these schemas at the end of this file, so
 * the types and the runtime checks cannot drift apart.
 *
 * Unknown keys are ignored (and stripped), so a newer client can send extra
 * fields to an older server; a key the schema knows must have the right type.
 */
import { z } from "zod";
import type { ClientToServerEvents } from "./events";
import { Limits } from "./protocol";
import { codePointLength } from "./text";

const ROOM_ID = /^[A-Za-z0-9_\-.:]{1,64}$/;

/** 1 to 64 characters of `A-Z a-z 0-9 _ - . :`. */
export const RoomIdSchema = z.string().regex(ROOM_ID, "roomId must be 1 to 64 characters of A-Z a-z 0-9 _ - . :");

/** An opaque message id as the server handed it out. */
export const MessageIdSchema = z.string().min(1).max(64);

/**
 * (r2) A message a revision-2 event or route names (`id`, `upTo`, `replyTo`): any string. One that is not a
 * message of the room is `not_found` "whatever its form" (§2), so its form is not a schema matter: a client
 * cannot tell an id of a wrong shape from one of a message that is gone.
 */
export const MessageRefSchema = z.string();

export const ClientMsgIdSchema = z
  .string()
  .refine(
    (value) => value.length > 0 && codePointLength(value) <= Limits.clientMsgIdMaxLength,
    "clientMsgId must be 1 to 64 characters",
  );

/** Text is checked for type here; its normalisation and length (which decide between bad_request and too_large) are checked by the chat service. */
export const MessageTextSchema = z.string();

export const PageLimitSchema = z.number().int().min(1).max(Limits.pageMax);

// Whitespace (Unicode's, as `\s` with the u flag knows it) or control characters (U+0000–U+001F, U+007F–U+009F).
const EMOJI_FORBIDDEN = /[\s\p{Cc}]/u;

/** A reaction: 1 to 16 code points without whitespace or control characters (`"👍"`, `":ship:"`). */
export const EmojiSchema = z
  .string()
  .refine(
    (value) => value.length > 0 && codePointLength(value) <= Limits.emojiMaxLength && !EMOJI_FORBIDDEN.test(value),
    `emoji must be 1 to ${Limits.emojiMaxLength} characters without whitespace or control characters`,
  );

export const JoinPayloadSchema = z.object({
  roomId: RoomIdSchema,
  /** A position (a message id or a rev) the client has seen everything up to. */
  since: MessageIdSchema.optional(),
});
export const LeavePayloadSchema = z.object({
  roomId: RoomIdSchema,
  /** (r2) Also remove the room from the user's rooms, with its read marker. */
  forget: z.boolean().optional(),
});
export const SendPayloadSchema = z.object({
  roomId: RoomIdSchema,
  text: MessageTextSchema,
  clientMsgId: ClientMsgIdSchema.optional(),
  /** (r2) The message this one answers: a message of the same room. */
  replyTo: MessageRefSchema.optional(),
});
export const EditPayloadSchema = z.object({ roomId: RoomIdSchema, id: MessageRefSchema, text: MessageTextSchema });
export const DeletePayloadSchema = z.object({ roomId: RoomIdSchema, id: MessageRefSchema });
export const ReactionPayloadSchema = z.object({ roomId: RoomIdSchema, id: MessageRefSchema, emoji: EmojiSchema });
export const ReadPayloadSchema = z.object({
  roomId: RoomIdSchema,
  upTo: MessageRefSchema,
  /** Move the marker for unread counts only, without showing it to others. */
  private: z.boolean().optional(),
});
export const ReadsPayloadSchema = z.object({ roomId: RoomIdSchema });
/** `rooms:list` takes `{}`; a client that sends no payload at all is served the same. */
export const RoomsListPayloadSchema = z.preprocess((value) => value ?? {}, z.object({}));
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
  replyTo: MessageRefSchema.optional(),
});
/** Body of `PATCH /api/rooms/:roomId/messages/:id`. */
export const EditBodySchema = z.object({ text: MessageTextSchema });
/** Body of `POST /api/rooms/:roomId/read`. */
export const ReadBodySchema = z.object({ upTo: MessageRefSchema, private: z.boolean().optional() });
/** Body of `POST /api/rooms/:roomId/bans`. */
export const BanBodySchema = z.object({
  // Any user id a token may carry (`sub` has no length limit), so every user can be banned (§11).
  userId: z.string().min(1, "userId must not be empty"),
  durationSec: z.number().int().min(1).max(Limits.banMaxDurationSec).optional(),
  reason: z
    .string()
    .refine(
      (value) => codePointLength(value) <= Limits.banReasonMaxLength,
      `reason must be at most ${Limits.banReasonMaxLength} characters`,
    )
    .optional(),
});

/** Body of `POST /api/token`. */
export const TokenRequestSchema = z.object({
  name: z
    .string()
    .transform((name) => name.trim())
    .pipe(z.string().min(1, "name must not be empty").max(64, "name must be at most 64 characters")),
});

export type {
  JoinPayload,
  LeavePayload,
  SendPayload,
  TypingPayload,
  HistoryPayload,
  EditPayload,
  DeletePayload,
  ReactionPayload,
  ReadPayload,
  ReadsPayload,
  RoomsListPayload,
} from "./payloads";
export type PublishBody = z.infer<typeof PublishBodySchema>;
export type BanBody = z.infer<typeof BanBodySchema>;
export type TokenRequest = z.infer<typeof TokenRequestSchema>;

/** The schema of each client → server event, by event name. */
export const ClientEventSchemas = {
  "room:join": JoinPayloadSchema,
  "room:leave": LeavePayloadSchema,
  "message:send": SendPayloadSchema,
  "typing:start": TypingPayloadSchema,
  "typing:stop": TypingPayloadSchema,
  "room:history": HistoryPayloadSchema,
  "message:edit": EditPayloadSchema,
  "message:delete": DeletePayloadSchema,
  "reaction:add": ReactionPayloadSchema,
  "reaction:remove": ReactionPayloadSchema,
  "room:read": ReadPayloadSchema,
  "room:reads": ReadsPayloadSchema,
  "rooms:list": RoomsListPayloadSchema,
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

/** Exactly the same type (not merely assignable either way: an extra optional key or a wider type fails). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** The payload each event of the map in ./events takes (the plain types of ./payloads). */
type PayloadOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
/**
 * Each event's payload type is exactly what its schema accepts (its input) and hands on (its output): a schema
 * changed without its type, or a type without its schema, fails `tsc` here.
 */
type PayloadsMatch = {
  [E in ClientEventName]: Same<z.input<(typeof ClientEventSchemas)[E]>, PayloadOf<E>> extends true
    ? E extends "rooms:list"
      ? true // its output is `{}`, whatever the input
      : Same<z.output<(typeof ClientEventSchemas)[E]>, PayloadOf<E>>
    : false;
};
type AllTrue<T extends { [E in ClientEventName]: true }> = T;
// Checked where it is written; never used.
type _PayloadTypesMatchSchemas = AllTrue<PayloadsMatch>;
