/**
 * Messages in Redis (§8), per room, every key tagged `{roomId}` so a room
 * lives in one slot of a cluster: a hash of counters (epoch, last position,
 * last seq, floor), a hash of messages in their current state, and two sorted
 * sets of message ids, by creation position and by the position of their
 * latest change. Each write is one Lua script, one round trip: it assigns the
 * room's next position (and seq), stores, trims to `historyMax`, remembers a
 * `clientMsgId` (its id, not a copy of the message) and publishes the event.
 * Redis runs scripts one at a time, so the order of positions is the order of
 * the channel on every node.
 *
 * A stored message is JSON that starts with its `rev`, so a change can be a
 * compare-and-set on it: the rules (../features/chat/message-rules.ts) run here
 * in TypeScript on the current state, and the script stores their result only
 * if nothing changed the message meanwhile; otherwise the change is tried again.
 */
import { ErrorCode, type Message } from "../../shared";
import { parsePosition } from "../core/position";
import { HuddleError } from "../errors";
import { retryAfterMs, type RateLimit } from "../features/limits/rate-limiter";
import { toWire } from "../features/chat/message-rules";
import type { AppendResult, MessageDraft, MessageStore, Missed, Page } from "../features/chat/message.store";
import type { Guard, Redis, Reply } from "./client";
import { APPEND, CHANGE, MISSED, PAGE } from "./messages.scripts";
import type { Keys } from "./keys";

export interface RedisMessageOptions {
  client: Redis;
  guard: Guard;
  keys: Keys;
  /** Messages kept a room. */
  historyMax: number;
  /** How long a `clientMsgId` is remembered. @default 10 min */
  idempotencyTtlMs?: number;
  /** Record webhook events with each change (§11); `due` makes the room due for dispatch, after the script. */
  webhooks?: { due(roomId: string, at: number): Promise<void> };
  /**
   * Called after each stored message or change, before it is acknowledged: waits until Redis replicas have it
   * (a failover then loses nothing acknowledged). Not called for a duplicate.
   */
  replicated?(roomId: string): Promise<void>;
  /** For the time of a change's webhook event. @default Date.now */
  now?: () => number;
  /**
   * The message budget, taken in the same script as the append (`appendWithinBudget`); its bucket keys are the
   * message limiter's. Only where every key may be used by one script (not on a Redis Cluster, where the
   * user's bucket lives in another slot than the room).
   */
  budget?: { limit: RateLimit; bucket(key: string): string };
}

function draftJsonRest(draft: MessageDraft): string {
  const rest: Omit<Message, "id" | "seq" | "rev"> = {
    roomId: draft.roomId,
    user: { id: draft.user.id, name: draft.user.name },
    text: draft.text,
    ts: draft.ts,
  };
  if (draft.clientMsgId !== undefined) rest.clientMsgId = draft.clientMsgId;
  if (draft.replyTo !== undefined) rest.replyTo = draft.replyTo;
  return JSON.stringify(rest).slice(1);
}

/** A message's JSON without `rev`, starting after its "{" (the script puts the new `rev` first). */
function restWithoutRev(message: Message): string {
  const { rev: _rev, ...rest } = message;
  return JSON.stringify(rest).slice(1);
}

const decode = (json: string): Message => toWire(JSON.parse(json) as Message);
const notFound = (id: string) => new HuddleError(ErrorCode.NotFound, `no message ${id} in this room`);

/** Concurrent changes of one message retry their compare-and-set; past this many the store answers `unavailable`. */
const MAX_CHANGE_ATTEMPTS = 20;

export function createRedisMessageStore(options: RedisMessageOptions): MessageStore {
  const { client, guard, keys, historyMax, budget } = options;
  const ttlMs = options.idempotencyTtlMs ?? 10 * 60 * 1000;
  const webhooks = options.webhooks ? 1 : 0;
  /**
   * The room is due for dispatch: marked as the script is sent (so a node dying right after its change still
   * leaves the room due) and again once it ran (a dispatcher that found the queue empty in between has dropped
   * it). Marking an already due room changes nothing; the dispatcher drops a due room with an empty queue.
   */
  const due = (roomId: string, at: number) => void options.webhooks?.due(roomId, at).catch(() => {});
  const now = options.now ?? Date.now;
  const roomKeys = (roomId: string) => [keys.room(roomId), keys.messages(roomId), keys.order(roomId)];
  const eventHead = (type: "message" | "update", roomId: string) =>
    `{"type":"${type}","roomId":${JSON.stringify(roomId)},"message":`;

  const runAppend = async (draft: MessageDraft, bucketKeys: string[] = [], bucketArgs: number[] = []) => {
    const hasSent = draft.clientMsgId !== undefined;
    // Sends are remembered in windows of the TTL: looked up in this one and the last, kept until the end of the
    // next, so a clientMsgId is recognised for at least the TTL (and at most twice it).
    const window = Math.floor(now() / ttlMs);
    const [sentNow, sentLast] = hasSent
      ? [keys.sent(draft.roomId, window), keys.sent(draft.roomId, window - 1)]
      : [keys.room(draft.roomId), keys.room(draft.roomId)];
    if (webhooks) due(draft.roomId, draft.ts);
    const reply = (await guard(() =>
      APPEND.run(
        client,
        [
          ...roomKeys(draft.roomId),
          keys.revs(draft.roomId),
          sentNow,
          keys.reads(draft.roomId),
          keys.publicReads(draft.roomId),
          keys.webhookQueue(draft.roomId),
          sentLast,
          ...bucketKeys,
        ],
        [
          draft.ts,
          historyMax,
          (window + 2) * ttlMs,
          keys.roomEvents(draft.roomId),
          draftJsonRest(draft),
          eventHead("message", draft.roomId),
          hasSent ? 1 : 0,
          draft.replyTo ?? "",
          draft.user.id,
          webhooks,
          draft.roomId,
          hasSent ? keys.sentField(draft.user.id, draft.clientMsgId!) : "",
          ...bucketArgs,
        ],
      ),
    )) as [number, string?];
    switch (reply[0]) {
      case 0:
        if (webhooks) due(draft.roomId, draft.ts);
        await options.replicated?.(draft.roomId);
        return { message: decode(reply[1]!), duplicate: false };
      case 1:
        return { message: decode(reply[1]!), duplicate: true };
      case 3:
        return { message: forgottenFirst(draft, reply[1]!), duplicate: true };
      case 4:
        throw new HuddleError(ErrorCode.NotFound, `replyTo: no message ${draft.replyTo} in this room`);
      default:
        return { retryAfterMs: retryAfterMs(Number(reply[1]), budget!.limit.perSecond) };
    }
  };

  const get = async (roomId: string, id: string) => {
    const json = await guard(() => client.hGet(keys.messages(roomId), id));
    return typeof json === "string" ? (JSON.parse(json) as Message) : null;
  };

  const page = async (roomId: string, mode: "latest" | "before" | "after", position: string, limit: number) => {
    const parsed = parsePosition(position) ?? { epoch: 0, n: 0 };
    const reply = (await guard(() => PAGE.run(client, roomKeys(roomId), [mode, parsed.epoch, parsed.n, limit]))) as (
      number | string | null
    )[];
    const messages = (reply.slice(1).filter((json) => typeof json === "string") as string[]).map(decode);
    return { messages: mode === "after" ? messages : messages.reverse(), more: reply[0] === 1 } satisfies Page;
  };

  const missed = async (roomId: string, mode: "since" | "poll", position: string, max: number) => {
    const parsed = parsePosition(position);
    if (!parsed) return null;
    const reply = (await guard(() =>
      MISSED.run(client, [...roomKeys(roomId), keys.revs(roomId)], [mode, String(parsed.epoch), parsed.n, max]),
    )) as Reply;
    if (!Array.isArray(reply)) return null;
    const [cursor, count, ...states] = reply as [number, number, ...(string | null)[]];
    const messages = states
      .slice(0, count)
      .filter((json): json is string => typeof json === "string")
      .map(decode);
    const updates = states
      .slice(count)
      .filter((json): json is string => typeof json === "string")
      .map(decode);
    return { messages, updates, cursor: `${parsed.epoch}-${cursor}` };
  };

  return {
    append: (draft) => runAppend(draft) as Promise<AppendResult>,

    ...(budget && {
      appendWithinBudget(draft: MessageDraft, budgetKey: string, now: number) {
        return runAppend(draft, [budget.bucket(budgetKey)], [budget.limit.burst, budget.limit.perSecond, now]);
      },
    }),

    async change(roomId, id, rule, beforeCommit) {
      let guarded = false;
      for (let attempt = 1; attempt <= MAX_CHANGE_ATTEMPTS; attempt++) {
        const current = await get(roomId, id);
        if (!current) throw notFound(id);
        const next = rule(current);
        if (next === null) return { message: toWire(current), changed: false };
        if (beforeCommit && !guarded) {
          guarded = true;
          await beforeCommit();
        }
        if (webhooks) due(roomId, now());
        const reply = (await guard(() =>
          CHANGE.run(
            client,
            [keys.room(roomId), keys.messages(roomId), keys.revs(roomId), keys.webhookQueue(roomId)],
            [
              id,
              current.rev,
              restWithoutRev(next),
              restWithoutRev(toWire(next)),
              keys.roomEvents(roomId),
              eventHead("update", roomId),
              webhooks,
              roomId,
              now(),
            ],
          ),
        )) as [number, string?];
        if (reply[0] === 0) throw notFound(id);
        if (reply[0] === 2) {
          if (webhooks) due(roomId, now());
          await options.replicated?.(roomId);
          return { message: JSON.parse(reply[1]!) as Message, changed: true };
        }
        // Changed by someone else meanwhile: apply the rule again to what is current now.
      }
      throw new HuddleError(ErrorCode.Unavailable, "the message is changing too often, try again");
    },

    async get(roomId, id) {
      const message = await get(roomId, id);
      return message && toWire(message);
    },

    latest: (roomId, limit) => page(roomId, "latest", "0-0", limit),
    before: (roomId, position, limit) =>
      parsePosition(position)
        ? page(roomId, "before", position, limit)
        : Promise.resolve({ messages: [], more: false }),
    after: (roomId, position, limit) =>
      parsePosition(position) ? page(roomId, "after", position, limit) : Promise.resolve({ messages: [], more: false }),

    async since(roomId, position, max): Promise<Missed | null> {
      const result = await missed(roomId, "since", position, max);
      return result && { messages: result.messages, updates: result.updates };
    },

    pollFrom: (roomId, position, limit) => missed(roomId, "poll", position, limit),

    async findSent(roomId, userId, clientMsgId) {
      const field = keys.sentField(userId, clientMsgId);
      const window = Math.floor(now() / ttlMs);
      const [current, last, epoch] = await Promise.all([
        guard(() => client.hGet(keys.sent(roomId, window), field)),
        guard(() => client.hGet(keys.sent(roomId, window - 1), field)),
        guard(() => client.hGet(keys.room(roomId), "e")),
      ]);
      const first = current ?? last;
      if (typeof first !== "string" || typeof epoch !== "string") return null;
      const message = await get(roomId, `${epoch}-${first.split(" ")[0]}`);
      return message && toWire(message);
    },

    async head(roomId) {
      const [epoch, position] = await guard(() => client.hmGet(keys.room(roomId), ["e", "p"]));
      return epoch && position && position !== "0" ? `${epoch}-${position}` : null;
    },
  };
}

/** The first message of a clientMsgId that is no longer kept (trimmed): rebuilt from the retry and what was remembered. */
function forgottenFirst(draft: MessageDraft, remembered: string): Message {
  const [id, seq, ts] = remembered.split(" ");
  const message: Message = {
    id: id!,
    roomId: draft.roomId,
    user: { id: draft.user.id, name: draft.user.name },
    text: draft.text,
    ts: Number(ts),
    seq: Number(seq),
    rev: id!,
  };
  if (draft.clientMsgId !== undefined) message.clientMsgId = draft.clientMsgId;
  if (draft.replyTo !== undefined) message.replyTo = draft.replyTo;
  return message;
}
