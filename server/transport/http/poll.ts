/**
 * `GET /api/rooms/:roomId/poll?after=&timeout=` (§5): long polling. Answers at
 * once when messages newer than `after` exist (the oldest 100), else with the
 * first message(s) to arrive, else empty after `timeout` seconds. The live
 * listener is registered before history is read, so a message stored in
 * between is not missed.
 */
import type { Request, Response } from "express";
import { ErrorCode, Limits, type Message } from "../../../shared";
import { compareIds, parseMessageId, type ParsedId } from "../../core/message-id";
import { HuddleError } from "../../errors";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import { queryString } from "./http-errors";

export interface PollOptions {
  services: Services;
  delivery: LocalDelivery;
  historyMax: number;
}

/** `timeout` in seconds: default 25, clamped to 0–30; anything not a number is a bad request. */
export function parsePollTimeout(raw: string | undefined): number {
  if (raw === undefined || raw === "") return Limits.pollTimeoutDefaultSec;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds)) throw new HuddleError(ErrorCode.BadRequest, "timeout must be a number of seconds");
  return Math.min(Limits.pollTimeoutMaxSec, Math.max(0, seconds));
}

export async function longPoll(req: Request, res: Response, roomId: string, options: PollOptions): Promise<void> {
  const after = queryString(req, "after");
  const timeoutSec = parsePollTimeout(queryString(req, "timeout"));
  const { history } = options.services.stores;

  let done = false;
  let since: ParsedId | undefined;
  let live: Message[] = [];
  let flushScheduled = false;
  let timer: NodeJS.Timeout | undefined;

  const finish = (messages: Message[], cursor: string | null) => {
    if (done) return;
    done = true;
    stopListening();
    clearTimeout(timer);
    if (!res.writableEnded && !res.destroyed) res.json({ messages, cursor });
  };
  const stopListening = options.delivery.listen(roomId, {
    onEvent(event) {
      if (event.type !== "message" || done) return;
      live.push(event.message);
      // Let messages that arrive in the same turn go out in the same answer.
      if (!flushScheduled && since !== undefined) {
        flushScheduled = true;
        setImmediate(flushLive);
      }
    },
  });
  const flushLive = () => {
    flushScheduled = false;
    const fresh = live.filter((m) => {
      const id = parseMessageId(m.id);
      return id !== undefined && since !== undefined && compareIds(id, since) > 0;
    });
    live = [];
    if (fresh.length > 0) finish(fresh.slice(0, Limits.pollMax), fresh[Math.min(fresh.length, Limits.pollMax) - 1]!.id);
  };
  res.on("close", () => finish([], null));

  try {
    const known = after !== undefined && after !== "" ? await history.since(roomId, after, options.historyMax) : null;
    if (done) return;
    if (known && known.length > 0) {
      const page = known.slice(0, Limits.pollMax);
      return finish(page, page[page.length - 1]!.id);
    }
    const cursor = known ? after! : await history.newestId(roomId);
    // From here on, only messages newer than the cursor count (the "from now on" of an unknown `after`).
    since = cursor === null ? { ms: -1, seq: -1 } : (parseMessageId(cursor) ?? { ms: -1, seq: -1 });
    if (live.length > 0) flushLive();
    if (done) return;
    timer = setTimeout(() => finish([], cursor), timeoutSec * 1000);
  } catch (error) {
    done = true;
    stopListening();
    throw error;
  }
}
