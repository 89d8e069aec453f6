/**
 * What the client remembers about each joined room to resume it without
 * losses or duplicates: the last position it received (the `since` of the
 * next join) and the recent positions already delivered (dedupe). While a
 * join is in flight, live events are held back so they can be merged with
 * the join's answer in the room's change order.
 *
 * Positions (message ids and revs, §8) are opaque: this module never orders
 * them, it only remembers which ones it has seen and which came last. That
 * is enough because a room's `message:new` and `message:updated` arrive in
 * change order.
 */
import type { JoinResult, Message, PresenceEvent } from "../../shared/events";

/** Positions remembered per room for dedupe; older ones are far behind any page a server could resend. */
const SEEN_KEEP = 2000;

/** A live room event: a new message (at its `id`) or a change to one (at its `rev`). */
export type LiveEvent = { type: "message" | "updated"; message: Message };

export interface RoomTrack {
  /** The last position received: the `since` of the next join. */
  lastPosition?: string;
  /** True once a join succeeded in this client's life: a later join is a resume. */
  everJoined: boolean;
  /** Positions delivered: ids of new messages, revs of changes. */
  seen: Set<string>;
  /** Live events received while a join is in flight, in arrival order. */
  held: LiveEvent[] | undefined;
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

/** The position a live event stands at. */
export const positionOf = (event: LiveEvent): string =>
  event.type === "message" ? event.message.id : event.message.rev;

function remember(track: RoomTrack, position: string): boolean {
  if (track.seen.has(position)) return false;
  track.seen.add(position);
  track.lastPosition = position;
  if (track.seen.size > SEEN_KEEP * 2) {
    // A Set iterates in insertion order: keep the newest positions.
    track.seen = new Set([...track.seen].slice(-SEEN_KEEP));
  }
  return true;
}

/** Records a new message as delivered; false when it was already seen. */
export function markSeen(track: RoomTrack, message: Message): boolean {
  return remember(track, message.id);
}

/** Records a change (`message:updated`) as delivered; false when that rev was already seen. */
export function markChanged(track: RoomTrack, message: Message): boolean {
  return remember(track, message.rev);
}

export interface MergedJoin {
  /** The UI must replace what it shows with `messages` (first join, or the gap could not be filled). */
  reset: boolean;
  /** With `reset`, the whole list to show; otherwise only the messages not delivered before. Oldest first. */
  messages: Message[];
  /** Messages delivered before whose state changed since, in change order: apply each by id after `messages`. */
  updates: Message[];
}

/**
 * Folds a join's answer and the events held back during it into the track.
 *
 * The room was attached before the server read the join's answer, so the held events are the changes after
 * some point before that read, in change order. Those up to the last one whose position the answer contains
 * are already reflected in it (each message comes in its current state) and are dropped: replaying them
 * would show an older state. The rest came after the read and are applied after the answer, in order.
 */
export function mergeJoin(track: RoomTrack, result: JoinResult): MergedJoin {
  const held = track.held ?? [];
  track.held = undefined;
  const history = result.history;
  const joinUpdates = result.updates ?? [];
  const covered = new Set<string>();
  for (const m of history) covered.add(m.id).add(m.rev);
  for (const m of joinUpdates) covered.add(m.rev);
  let cut = -1;
  held.forEach((event, i) => covered.has(positionOf(event)) && (cut = i));
  const later = held.slice(cut + 1);

  const reset = !track.everJoined || !result.resumed;
  track.everJoined = true;
  const previous = reset ? undefined : track.lastPosition;
  if (reset) track.seen = new Set();

  const messages: Message[] = [];
  const updates: Message[] = [];
  for (const m of history) {
    // A message delivered before comes again when `since` was older than needed: new to us only if its state is.
    if (markSeen(track, m)) messages.push(m);
    else if (!reset && markChanged(track, m)) updates.push(m);
    track.seen.add(m.rev);
  }
  for (const m of joinUpdates) if (markChanged(track, m)) updates.push(m);
  // Any position of the answer is a safe `since` (all are at or before its read); the newest message is the
  // likeliest to be the latest, and a `since` a little early only brings back what dedupe drops.
  track.lastPosition = history.at(-1)?.id ?? joinUpdates.at(-1)?.rev ?? previous;

  for (const event of later) {
    if (event.type === "message") {
      if (markSeen(track, event.message)) messages.push(event.message);
    } else if (markChanged(track, event.message)) {
      updates.push(event.message);
    }
  }
  return { reset, messages, updates };
}
