/**
 * The payload types of protocol v1's client → server events, written out as
 * plain types so that whatever needs only the types (the event maps in
 * ./events, and the @huddle/client package built from them) does not need zod. ./schemas holds the runtime checks and asserts, at compile time,
 * that each schema accepts exactly these shapes: the two cannot drift apart.
 */

export type JoinPayload = {
  roomId: string;
  /** A position (a message id or a rev) the client has seen everything up to. */
  since?: string;
};
export type LeavePayload = {
  roomId: string;
  /** (r2) Also remove the room from the user's rooms, with its read marker. */
  forget?: boolean;
};
export type SendPayload = {
  roomId: string;
  text: string;
  clientMsgId?: string;
  /** (r2) The message this one answers: a message of the same room. */
  replyTo?: string;
};
export type TypingPayload = { roomId: string };
export type HistoryPayload = { roomId: string; before?: string; limit?: number };
export type EditPayload = { roomId: string; id: string; text: string };
export type DeletePayload = { roomId: string; id: string };
export type ReactionPayload = { roomId: string; id: string; emoji: string };
export type ReadPayload = {
  roomId: string;
  upTo: string;
  /** Move the marker for unread counts only, without showing it to others. */
  private?: boolean;
};
export type ReadsPayload = { roomId: string };
/** `rooms:list` takes `{}`; a client that sends no payload at all is served the same. */
export type RoomsListPayload = unknown;
