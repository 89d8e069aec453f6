/**
 * A room's changes after a position as events, in position order: how SSE
 * replays what a client missed and how a node catches up after its
 * subscription dropped. A message created after the position is one
 * `message` event (in its current state) at its id; an older message changed
 * after it is one `update` at its `rev`. Intermediate states are gone: each
 * message is sent once, as it is now.
 */
import type { Message } from "../../../shared";
import type { RoomEvent } from "../../core/bus";
import { comparePositions, parsePosition, type Position } from "../../core/position";
import type { Missed } from "./message.store";

/** The position an event stands at: a new message's id, a change's `rev`; none for presence and typing. */
export function eventPosition(event: RoomEvent): Position | undefined {
  if (event.type === "message") return parsePosition(event.message.id);
  if (event.type === "update") return parsePosition(event.message.rev);
  return undefined;
}

export function missedAsEvents(roomId: string, missed: Missed): RoomEvent[] {
  const events: { at: Position; event: RoomEvent }[] = [];
  const add = (type: "message" | "update", message: Message, at: string) => {
    const position = parsePosition(at);
    if (position) events.push({ at: position, event: { type, roomId, message } });
  };
  for (const message of missed.messages) add("message", message, message.id);
  for (const message of missed.updates) add("update", message, message.rev);
  return events.sort((a, b) => comparePositions(a.at, b.at)).map((e) => e.event);
}
