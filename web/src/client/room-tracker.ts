/**
 * What the client remembers about each joined room to resume it without
 * losses or duplicates: the last message id seen (the `since` of the next
 * join) and the recent ids already delivered (dedupe). While a join is in
 * flight, live messages are held back so they can be merged with the join's
 * history in the server's order.
 */
import type { JoinResult, Message, PresenceEvent } from "../../../shared/events";

/** Ids remembered per room for dedupe; older ones are far behind any page a server could resend. */
const SEEN_KEEP = 2000;

export interface RoomTrack {
  lastId?: string;
  /** True once a join succeeded in this client's life: a later join is a resume. */
  everJoined: boolean;
  seen: Set<string>;
  /** `message:new` received while a join is in flight, in arrival order. */
  held: Message[] | undefined;
  /**
   * Presence changes received while a join is in flight, replayed after it in order: each is idempotent,
   * so one the join's member list already reflects changes nothing, and a later one is not lost.
   */
  heldPresence: (PresenceEvent & { type: "join" | "leave" })[];
  /** Set when the server refused a (re)join: the room was dropped. */
  refused?: Error;
}

export function createRoomTrack(): RoomTrack {
  return { everJoined: false, seen: new Set(), held: undefined, heldPresence: [] };
}

/** Records `message` as delivered; false when it was already seen. */
export function markSeen(track: RoomTrack, message: Message): boolean {
  if (track.seen.has(message.id)) return false;
  track.seen.add(message.id);
  track.lastId = message.id;
  if (track.seen.size > SEEN_KEEP * 2) {
    // A Set iterates in insertion order: keep the newest ids.
    track.seen = new Set([...track.seen].slice(-SEEN_KEEP));
  }
  return true;
}

export interface MergedJoin {
  /** The UI must replace what it shows with `messages` (first join, or the gap could not be filled). */
  reset: boolean;
  /** With `reset`, the whole list to show; otherwise only the messages not delivered before. Oldest first. */
  messages: Message[];
}

/**
 * Folds a join's answer and the messages held back during it into the track.
 * History comes first: anything held back and not in it arrived after it.
 */
export function mergeJoin(track: RoomTrack, result: JoinResult): MergedJoin {
  const held = track.held ?? [];
  track.held = undefined;
  const inHistory = new Set(result.history.map((m) => m.id));
  const combined = [...result.history, ...held.filter((m) => !inHistory.has(m.id))];
  const reset = !track.everJoined || !result.resumed;
  track.everJoined = true;
  if (reset) {
    track.seen = new Set();
    track.lastId = undefined;
    for (const message of combined) markSeen(track, message);
    return { reset, messages: combined };
  }
  return { reset, messages: combined.filter((message) => markSeen(track, message)) };
}
