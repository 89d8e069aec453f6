/**
 * Unread bookkeeping for one room (§9), pure, for any app: the UI's store
 * uses it, and so can an app that never draws a thing.
 *
 * A room's state is three numbers' worth: my marker (`readUpTo`, its seq
 * `readSeq`) and the seq of the newest message known (`lastSeq`). Unread is
 * their difference, as the server counts it (tombstones included), so a new
 * message only moves `lastSeq` and nothing is ever counted message by
 * message. Markers only move forward; every function returns the same object
 * when nothing changed.
 *
 * Where the numbers come from:
 * - `rooms:list` (`readFromSummary`): for every room of mine, joined or not.
 * - a join (`readFromJoin`), then each new message of the room (`readAfterMessage`: my own message reads
 *   the room up to it, as the server does, without an event).
 * - my own `read` events (`readAfterUpdate`), which reach every connection of mine, joined or not: another
 *   tab or device read the room.
 * - the answer of `client.markRead` (`readAfterAnswer`).
 *
 * A room this client has not joined gets no message events, so its `lastSeq` only grows from the next
 * `rooms:list`: refresh that list now and then (on focus, every half minute) to see new messages there.
 */
import type { Message, ReadMarker, RoomSummary, User } from "../../shared/events";

export interface ReadState {
  /** My marker: a message id, or null when nothing is read yet. */
  readonly readUpTo: string | null;
  /** The seq of `readUpTo`; 0 when nothing is read. */
  readonly readSeq: number;
  /** The seq of the room's newest message known; 0 when none. */
  readonly lastSeq: number;
}

/** Nothing known, nothing read: the state of a room before any answer. */
export const NOTHING_READ: ReadState = Object.freeze({ readUpTo: null, readSeq: 0, lastSeq: 0 });

/** Messages after my marker. */
export const unreadCount = (state: ReadState): number => Math.max(0, state.lastSeq - state.readSeq);

/** A room as `rooms:list` answers it. */
export function readFromSummary(summary: Pick<RoomSummary, "readUpTo" | "unread" | "lastMessage">): ReadState {
  const lastSeq = summary.lastMessage?.seq ?? 0;
  if (summary.readUpTo === null) return { readUpTo: null, readSeq: 0, lastSeq: Math.max(lastSeq, summary.unread) };
  return { readUpTo: summary.readUpTo, readSeq: Math.max(0, lastSeq - summary.unread), lastSeq };
}

/**
 * A join's answer (`readUpTo`, `unread`: the `joined` event carries both), given the room's messages as known
 * once the join is applied. The join is the server's word on the marker, so it replaces what was known (a
 * marker a room was reset to, say after it was forgotten, is honoured).
 */
export function readFromJoin(
  join: { readUpTo: string | null; unread: number },
  messages: readonly Message[],
): ReadState {
  const newest = maxSeq(messages);
  if (join.readUpTo === null) return { readUpTo: null, readSeq: 0, lastSeq: Math.max(newest, join.unread) };
  const marker = seqOf(join.readUpTo, messages);
  if (marker !== undefined) {
    return { readUpTo: join.readUpTo, readSeq: marker, lastSeq: Math.max(newest, marker + join.unread) };
  }
  // The marker's message is not loaded (more than a page unread): count back from the newest.
  return { readUpTo: join.readUpTo, readSeq: Math.max(0, newest - join.unread), lastSeq: newest };
}

/** A new message of the room: one more unread, or none at all when it is mine (it moves my marker). */
export function readAfterMessage(state: ReadState, message: Message, meId?: string): ReadState {
  const mine = meId !== undefined && message.user.id === meId;
  if (mine && message.seq > state.readSeq) {
    return { readUpTo: message.id, readSeq: message.seq, lastSeq: Math.max(state.lastSeq, message.seq) };
  }
  if (message.seq <= state.lastSeq) return state;
  return { ...state, lastSeq: message.seq };
}

/** My marker moved (a `read` event of my own user: this or another tab or device read the room). */
export function readAfterUpdate(state: ReadState, update: { readUpTo: string; readSeq: number }): ReadState {
  if (update.readSeq <= state.readSeq) return state;
  return { readUpTo: update.readUpTo, readSeq: update.readSeq, lastSeq: Math.max(state.lastSeq, update.readSeq) };
}

/** The answer of `client.markRead` (the marker as it now stands), given the room's messages as known. */
export function readAfterAnswer(
  state: ReadState,
  answer: { readUpTo: string; unread: number },
  messages: readonly Message[],
): ReadState {
  const marker = seqOf(answer.readUpTo, messages);
  if (marker === undefined) {
    // Not a message we hold: its seq is what the count leaves.
    const readSeq = state.lastSeq - answer.unread;
    return readSeq > state.readSeq ? { ...state, readUpTo: answer.readUpTo, readSeq } : state;
  }
  const next = readAfterUpdate(state, { readUpTo: answer.readUpTo, readSeq: marker });
  const lastSeq = Math.max(next.lastSeq, marker + answer.unread);
  return lastSeq === next.lastSeq ? next : { ...next, lastSeq };
}

/** The later of two states of one room: the further marker and the newer last message. */
export function mergeRead(a: ReadState, b: ReadState): ReadState {
  const marker = b.readSeq > a.readSeq ? b : a;
  const lastSeq = Math.max(a.lastSeq, b.lastSeq);
  if (marker === a && lastSeq === a.lastSeq) return a;
  if (marker === b && lastSeq === b.lastSeq) return b;
  return { readUpTo: marker.readUpTo, readSeq: marker.readSeq, lastSeq };
}

/** The first message after my marker among `messages` (in any order); undefined when all are read. */
export function firstUnread(state: ReadState, messages: readonly Message[]): Message | undefined {
  let first: Message | undefined;
  for (const m of messages) if (m.seq > state.readSeq && (!first || m.seq < first.seq)) first = m;
  return first;
}

/**
 * Who has seen `message` (§9 "seen by"): the users whose public marker (`room:reads`, kept up with the others'
 * `read` events) is at or past it, its author, and the authors of later messages (a message moves its author's
 * marker to it). Each user once; `exclude` (say, me) left out.
 */
export function seenBy(
  message: Message,
  markers: readonly ReadMarker[],
  messages: readonly Message[] = [],
  exclude?: string,
): User[] {
  const seen = new Map<string, User>();
  const add = (user: User) => user.id !== exclude && !seen.has(user.id) && seen.set(user.id, user);
  add(message.user);
  for (const marker of markers) if (marker.readSeq >= message.seq) add(marker.user);
  for (const m of messages) if (m.seq > message.seq) add(m.user);
  return [...seen.values()];
}

function seqOf(id: string, messages: readonly Message[]): number | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.id === id) return messages[i]!.seq;
  return undefined;
}

function maxSeq(messages: readonly Message[]): number {
  let max = 0;
  for (const m of messages) if (m.seq > max) max = m.seq;
  return max;
}
