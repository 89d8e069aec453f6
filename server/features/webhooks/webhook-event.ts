/**
 * One webhook event (§11): a message created or changed, as recorded with the
 * change itself, and the Standard Webhooks body it is sent as. The
 * `webhook-id` is derived from the room and the change's position (sha1, which
 * Redis scripts can compute too), so it is the same on every retry and every
 * node, and unique.
 */
import { createHash } from "node:crypto";
import type { Message } from "../../../shared";
import { parsePosition } from "../../core/position";

export type WebhookType = "message.created" | "message.updated";

export interface WebhookEvent {
  /** The `webhook-id` header: `msg_` and 24 hex digits of sha1(room, newline, position). */
  id: string;
  roomId: string;
  type: WebhookType;
  /** When the change happened (ms since epoch): the body's `timestamp`. */
  at: number;
  message: Message;
}

/** What a store records with a change: the event, and where it stands in its room's order. */
export function webhookEvent(type: WebhookType, message: Message, at: number): WebhookEvent {
  const position = type === "message.created" ? message.id : message.rev;
  return { id: webhookId(message.roomId, position), roomId: message.roomId, type, at, message };
}

export function webhookId(roomId: string, position: string): string {
  return `msg_${createHash("sha1").update(`${roomId}\n${position}`).digest("hex").slice(0, 24)}`;
}

/** The body: the same bytes on every retry (the signature covers them). */
export function webhookBody(event: WebhookEvent): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data: event.message });
}

/** The position of the change an event records (its order in the room). */
export function eventOrder(event: WebhookEvent): number {
  const position = parsePosition(event.type === "message.created" ? event.message.id : event.message.rev);
  return position?.n ?? 0;
}
