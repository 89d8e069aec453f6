/**
 * Routes a socket's live room events to the client's own events: each new
 * message and each change once (deduped by position), in arrival order, which
 * is the room's change order. While a room's join is in flight its messages,
 * changes and presence are held back, to be merged with the join's answer
 * (see `mergeJoin`); typing is a whole set each time and is never held.
 * Read markers are reported for every room, joined here or not: the server
 * sends my own marker to all my connections, and they move forward only, so
 * they need neither holding nor dedupe.
 */
import type { Message, PresenceEvent } from "../../shared/events";
import type { Emitter } from "./emitter";
import { markChanged, markSeen, type LiveEvent, type RoomTrack } from "./room-tracker";
import type { HuddleClientEvents, HuddleSocket } from "./types";

export function routeLiveEvents(
  socket: HuddleSocket,
  rooms: ReadonlyMap<string, RoomTrack>,
  events: Emitter<HuddleClientEvents>,
): void {
  const onLive = (type: LiveEvent["type"]) => (message: Message) => {
    const track = rooms.get(message.roomId);
    if (!track) return;
    if (track.held) {
      track.held.push({ type, message });
      return;
    }
    const fresh = type === "message" ? markSeen(track, message) : markChanged(track, message);
    if (fresh) events.emit(type, message);
  };
  socket.on("message:new", onLive("message"));
  socket.on("message:updated", onLive("updated"));

  const onPresence = (type: "join" | "leave") => (event: PresenceEvent) => {
    const track = rooms.get(event.roomId);
    if (!track) return;
    if (track.held) track.heldPresence.push({ type, ...event });
    else events.emit("presence", { type, ...event });
  };
  socket.on("presence:join", onPresence("join"));
  socket.on("presence:leave", onPresence("leave"));
  socket.on("typing:update", (update) => {
    if (rooms.has(update.roomId)) events.emit("typing", update);
  });
  socket.on("read:updated", (update) => events.emit("read", update));
}
