/**
 * `GET /api/rooms/:roomId/poll?after=&timeout=` (§5, §8): long polling.
 * Answers `{ messages, updates, cursor }` at once when something happened
 * after `after` (the oldest 100 messages, and the older messages changed
 * since), else with the first change(s) to arrive, else empty after `timeout`
 * seconds. The live listener is registered before the store is read, so a
 * change stored in between is not missed.
 */
import type { Request, Response } from "express";
import { ErrorCode, Limits, type Message } from "../../../shared";
import type { RoomEvent } from "../../core/bus";
import { comparePositions, formatPosition, parsePosition, type Position } from "../../core/position";
import { eventPosition } from "../../features/chat/missed";
import { HuddleError } from "../../errors";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import { queryString, sendError } from "./http-errors";

export interface PollOptions {
  services: Services;
  delivery: LocalDelivery;
  /** The polling user: a ban of theirs from the room ends the poll with `forbidden` (§11). */
  userId?: string;
  /** Takes one of the user's connection slots while the poll waits (§13); resolves with its release. */
  holdSlot?: (userId: string) => Promise<() => Promise<void>>;
  /**
   * Aborted when the node starts draining (§12): a waiting poll is answered at once, empty, with its cursor and
   * `Connection: close`, so that the client polls again (through the balancer, on another node) and misses nothing.
   */
  draining?: AbortSignal;
}

export type PollAnswer = { messages: Message[]; updates: Message[]; cursor: string | null };

/** `timeout` in seconds: default 25, clamped to 0–30; anything not a number is a bad request. */
export function parsePollTimeout(raw: string | undefined): number {
  if (raw === undefined || raw === "") return Limits.pollTimeoutDefaultSec;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds)) throw new HuddleError(ErrorCode.BadRequest, "timeout must be a number of seconds");
  return Math.min(Limits.pollTimeoutMaxSec, Math.max(0, seconds));
}

/**
 * Live events after the cursor as one answer: new messages (at most 100, each in its latest state) and changes
 * to older ones; the cursor is the position of the last event taken.
 */
export function answerFromEvents(events: { event: RoomEvent; at: Position }[]): PollAnswer | undefined {
  const messages: Message[] = [];
  const updates = new Map<string, Message>();
  let cursor: Position | undefined;
  for (const { event, at } of events) {
    if (event.type === "message") {
      if (messages.length === Limits.pollMax) break;
      messages.push(event.message);
    } else if (event.type === "update") {
      const index = messages.findIndex((m) => m.id === event.message.id);
      if (index >= 0) messages[index] = event.message;
      else {
        // Change order: a message changed again moves to its latest change.
        updates.delete(event.message.id);
        updates.set(event.message.id, event.message);
      }
    } else continue;
    cursor = at;
  }
  if (!cursor) return undefined;
  return { messages, updates: [...updates.values()], cursor: formatPosition(cursor) };
}

export async function longPoll(req: Request, res: Response, roomId: string, options: PollOptions): Promise<void> {
  const after = queryString(req, "after");
  const timeoutSec = parsePollTimeout(queryString(req, "timeout"));
  const { messages: store } = options.services.stores;

  // Taken only when the poll is about to wait: "waiting long polls" count toward the user's cap (§13); a poll
  // answered at once holds nothing open and needs no place.
  let releaseSlot = async () => {};
  let done = false;
  /** Only changes after this position count; undefined until the store has been read. */
  let since: Position | undefined;
  let live: { event: RoomEvent; at: Position }[] = [];
  let flushScheduled = false;
  let timer: NodeJS.Timeout | undefined;

  const finish = (answer: PollAnswer) => {
    if (done) return;
    done = true;
    stopListening();
    void releaseSlot();
    clearTimeout(timer);
    if (!res.writableEnded && !res.destroyed) res.json(answer);
  };
  const stopListening = options.delivery.listen(roomId, {
    userId: options.userId,
    onEvent(event) {
      if (event.type === "ban") return banned();
      const at = eventPosition(event);
      if (!at || done) return;
      live.push({ event, at });
      // Let changes that arrive in the same turn go out in the same answer.
      if (!flushScheduled && since !== undefined) {
        flushScheduled = true;
        setImmediate(flushLive);
      }
    },
  });
  const flushLive = () => {
    flushScheduled = false;
    const fresh = live.filter(({ at }) => since !== undefined && comparePositions(at, since) > 0);
    live = [];
    const answer = answerFromEvents(fresh);
    if (answer) finish(answer);
  };
  res.on("close", () => finish({ messages: [], updates: [], cursor: null }));
  /** The cursor of an empty answer, once the store has been read. */
  let idleCursor: string | null | undefined;
  const onDrain = () => {
    if (idleCursor === undefined) return; // answered once the store has been read
    res.setHeader("Connection", "close");
    finish({ messages: [], updates: [], cursor: idleCursor });
  };
  options.draining?.addEventListener("abort", onDrain, { once: true });
  res.on("close", () => options.draining?.removeEventListener("abort", onDrain));
  const banned = () => {
    if (done) return;
    done = true;
    stopListening();
    void releaseSlot();
    clearTimeout(timer);
    if (!res.headersSent) sendError(res, new HuddleError(ErrorCode.Forbidden, `you are banned from room ${roomId}`));
  };

  try {
    await options.delivery.ready(roomId);
    const known = after !== undefined && after !== "" ? await store.pollFrom(roomId, after, Limits.pollMax) : null;
    if (done) return;
    if (known && (known.messages.length > 0 || known.updates.length > 0)) return finish(known);
    // Unknown `after` (or none): from now on, that is after the room's newest position.
    const cursor = known ? known.cursor : await store.head(roomId);
    since = (cursor === null ? undefined : parsePosition(cursor)) ?? { epoch: -1, n: -1 };
    if (live.length > 0) flushLive();
    if (done) return;
    idleCursor = cursor;
    if (options.draining?.aborted) return onDrain();
    if (timeoutSec === 0) return finish({ messages: [], updates: [], cursor });
    // Past the user's cap this is a 429 limit_exceeded, and nothing is held open.
    if (options.userId !== undefined && options.holdSlot) releaseSlot = await options.holdSlot(options.userId);
    // Answered (or closed) while the place was being taken: give it back.
    if (done) return void releaseSlot();
    timer = setTimeout(() => finish({ messages: [], updates: [], cursor }), timeoutSec * 1000);
  } catch (error) {
    done = true;
    stopListening();
    void releaseSlot();
    throw error;
  }
}
