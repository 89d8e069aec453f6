/**
 * Read state (§9): one marker per user per room (`readUpTo`, its `readSeq`),
 * the public position others see of it, and the user's rooms. A room's unread
 * count is its last `seq` minus the marker's: a subtraction, never a count of
 * messages, and no row per message per user. Every implementation shares the
 * rooms' message data (the marker points at a message; an author's own message
 * moves their marker as it is stored) and passes
 * tests/stores/reads.contract.test.ts.
 */
import type { Message, ReadMarker, RoomSummary, User } from "../../../shared";

export interface EnterResult {
  readUpTo: string | null;
  unread: number;
  /** The room just became one of the user's rooms (its marker was set to the newest message). */
  first: boolean;
}

export interface MarkResult {
  readUpTo: string;
  readSeq: number;
  unread: number;
  /** The marker moved forward. */
  moved: boolean;
  /** The public position moved (a public read that went forward). */
  publicMoved: boolean;
  /** The public position now (what others see of the marker); null when it never had one. */
  publicUpTo: string | null;
  publicSeq: number;
  /** How many members the room has now (presence), for the broadcast limit. */
  members: number;
}

export interface ReadStore {
  /**
   * A join: the first time, the room becomes one of the user's rooms and the marker is set to the room's newest
   * message (null in an empty room); later joins change nothing. Answers the marker and the unread count.
   */
  enter(roomId: string, user: User, now: number): Promise<EnterResult>;
  /**
   * Moves the marker forward to message `upTo` (never back: an older one is answered with the current marker);
   * a public read also moves the public position. A room the user never joined becomes one of theirs.
   * @throws HuddleError not_found when `upTo` is not a message of the room.
   */
  markRead(roomId: string, user: User, upTo: string, isPrivate: boolean, now: number): Promise<MarkResult>;
  /** The public positions of the room, highest `readSeq` first, at most `limit`. */
  reads(roomId: string, limit: number): Promise<ReadMarker[]>;
  /** The user's rooms, newest activity first (rooms without messages after, latest joined first), at most `limit`. */
  rooms(userId: string, limit: number): Promise<RoomSummary[]>;
  /** Removes the room from the user's rooms, with its marker; true when it was one of them. */
  forget(roomId: string, userId: string): Promise<boolean>;
}

/** What a message store tells the read state of its node when it stores a message (the memory stores). */
export type AuthoredHook = (message: Message) => void;

/** The order of `rooms:list`: newest last message first, then rooms without messages, latest joined first. */
export function byActivity(
  a: { summary: RoomSummary; joinedAt: number },
  b: { summary: RoomSummary; joinedAt: number },
): number {
  const at = a.summary.lastMessage?.ts;
  const bt = b.summary.lastMessage?.ts;
  if (at !== undefined && bt !== undefined) return bt - at || b.joinedAt - a.joinedAt;
  if (at !== undefined) return -1;
  if (bt !== undefined) return 1;
  return b.joinedAt - a.joinedAt;
}
