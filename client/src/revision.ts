/**
 * Protocol revisions. The client speaks revision `PROTOCOL_REVISION` of protocol v1; a server says which
 * revision it serves in `session` (a revision-1 server says nothing: revision 1). Revisions only add, so an
 * older server still serves everything of its own revision (connect, join, send, typing, history). A call
 * that needs a later revision than the server serves is refused at once with `unsupported`, naming the
 * revision it needs, instead of being sent to a server that would never answer it (or would drop the part
 * it does not know, as a revision-1 server drops `replyTo`).
 */
import type { SessionInfo } from "../../shared/events";
import type { AckedEvent } from "./request";
import { HuddleClientError } from "./errors";
import type { HuddleSession } from "./types";

/** The revision each event needs, when it is more than 1. */
const EVENT_REVISION: Partial<Record<AckedEvent, number>> = {
  "message:edit": 2,
  "message:delete": 2,
  "reaction:add": 2,
  "reaction:remove": 2,
  "room:read": 2,
  "room:reads": 2,
  "rooms:list": 2,
};

/** `session` with `revision` always set: what the server said, or 1 when it said nothing. */
export function sessionWithRevision(info: SessionInfo): HuddleSession {
  const said: unknown = (info as { revision?: unknown }).revision;
  return { ...info, revision: typeof said === "number" && Number.isInteger(said) && said >= 1 ? said : 1 };
}

/** The revision a call needs (its event's, or 2 for what revision 2 added to older events), and its name. */
export function revisionOf(event: AckedEvent, payload: unknown): { needed: number; what: string } {
  const fields = (payload ?? {}) as { replyTo?: unknown; forget?: unknown };
  if (event === "message:send" && fields.replyTo !== undefined) return { needed: 2, what: "a reply (replyTo)" };
  if (event === "room:leave" && fields.forget) return { needed: 2, what: "leave with forget" };
  return { needed: EVENT_REVISION[event] ?? 1, what: event };
}

/**
 * `unsupported` when the server is known to serve a revision below `needed`, else undefined. Before the first
 * `session` the server's revision is not known yet, and the call goes ahead.
 */
export function revisionError(session: HuddleSession | undefined, needed: number, what: string) {
  if (session === undefined || session.revision >= needed) return undefined;
  return new HuddleClientError(
    "unsupported",
    `${what} needs protocol revision ${needed}; the server serves revision ${session.revision}`,
  );
}

/** Throws `revisionError`'s error, if any. */
export function checkRevision(session: HuddleSession | undefined, needed: number, what: string): void {
  const error = revisionError(session, needed, what);
  if (error) throw error;
}
