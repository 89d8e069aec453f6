/**
 * Message ids: `<ms>-<seq>`, the shape of Redis stream ids, in every store, so
 * that ids compare the same way whichever store made them. Clients treat them
 * as opaque; the server may compare them to find a position in history.
 */

export type ParsedId = { ms: number; seq: number };

const ID_PATTERN = /^(\d{1,16})-(\d{1,16})$/;

/** Parses an id of this server's shape, or returns undefined for anything else. */
export function parseMessageId(id: string): ParsedId | undefined {
  const match = ID_PATTERN.exec(id);
  if (!match) return undefined;
  const ms = Number(match[1]);
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) return undefined;
  return { ms, seq };
}

export function formatMessageId(id: ParsedId): string {
  return `${id.ms}-${id.seq}`;
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareIds(a: ParsedId, b: ParsedId): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}

/** The next id after `last` for a message stored at `now`: time-based, and strictly increasing even if the clock steps back. */
export function nextMessageId(last: ParsedId | undefined, now: number): ParsedId {
  if (last === undefined || now > last.ms) return { ms: now, seq: 0 };
  return { ms: last.ms, seq: last.seq + 1 };
}
