/**
 * Positions in a room (§8): every change in a room (a new message, an edit, a
 * delete, a reaction added or removed) takes the room's next position. A
 * message's id is the position of its creation, its `rev` the position of its
 * latest change. A position is `<epoch>-<n>`: `n` counts the room's changes
 * from 1 without gaps, and `epoch` is when the store first saw the room, in
 * microseconds since 1970, unique to the room in its store. The epoch tells
 * positions of an earlier life of the room apart (Redis flushed, say): they
 * are unknown, never confused with today's; and it keeps the ids of two rooms
 * apart, so an id of another room is never taken for one of this room.
 *
 * Clients treat positions as opaque strings; the server compares them.
 */

export type Position = { epoch: number; n: number };

// Canonical decimals only (no leading zero): a string parses only if it is exactly what `formatPosition` writes,
// so "E-03" is not taken for message "E-3" (§2: an id that is not a message of the room is not_found).
const POSITION_PATTERN = /^(0|[1-9]\d{0,15})-(0|[1-9]\d{0,15})$/;

/** Parses a position of this server's shape, or returns undefined for anything else. */
export function parsePosition(text: string): Position | undefined {
  const match = POSITION_PATTERN.exec(text);
  if (!match) return undefined;
  const epoch = Number(match[1]);
  const n = Number(match[2]);
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(n)) return undefined;
  return { epoch, n };
}

export function formatPosition(position: Position): string {
  return `${position.epoch}-${position.n}`;
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function comparePositions(a: Position, b: Position): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.n - b.n;
}

/**
 * Where `position` falls in a room whose positions carry `epoch`, as a count of that room's changes: an older
 * epoch is before everything (-1), a newer one after everything (+Infinity). Only meaningful for ordering
 * (pages): whether a position is known is a question for `since`.
 */
export function changeIndex(position: Position, epoch: number): number {
  if (position.epoch < epoch) return -1;
  if (position.epoch > epoch) return Number.POSITIVE_INFINITY;
  return position.n;
}
