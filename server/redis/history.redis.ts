/**
 * History in Redis: one stream a room, trimmed to exactly `historyMax`; the
 * stream ids are the message ids. `append` is one Lua script, one round trip:
 * it checks the idempotency key, adds and trims, records the key, and
 * publishes the message on the bus channel. Redis runs scripts one at a time,
 * so the order of the stream is the order of the channel, and every node
 * delivers messages in history order whichever node stored them.
 */
import type { Message } from "../../shared";
import { parseMessageId } from "../core/message-id";
import type { HistoryStore, MessageDraft, Page } from "../features/chat/history.store";
import { retryAfterMs, type RateLimit } from "../features/limits/rate-limiter";
import { defineScript, type Guard, type Redis, type Reply } from "./client";
import { takeTokenLua } from "./limits.redis";
import type { Keys } from "./keys";

export interface RedisHistoryOptions {
  client: Redis;
  guard: Guard;
  keys: Keys;
  /** Messages kept a room. */
  historyMax: number;
  /** How long a `clientMsgId` is remembered. @default 24 h */
  idempotencyTtlMs?: number;
  /** The message budget, taken in the same script as the append (`appendWithinBudget`); its bucket keys are the message limiter's. */
  budget?: { limit: RateLimit; bucket(key: string): string };
}

// KEYS: log, sent (or the log again when there is no clientMsgId), [bucket].
// ARGV: historyMax, ttlMs, channel, message JSON without its id, event JSON head, has sent, [burst, rate, now].
// The stored entry is the message without its id (the entry id is the message id); the message is
// rebuilt here once, byte for byte what readers rebuild. With a bucket, the sender's token is taken in the
// same step, after the idempotency check (a retry of a stored message costs nothing): one round trip a send.
// Replies: {0, message} stored, {1, message} the first message of this clientMsgId, {2, tokens left} refused.
const APPEND = defineScript(`
local hasSent = ARGV[6] == '1'
if hasSent then
  local first = redis.call('GET', KEYS[2])
  if first then return {1, first} end
end
if #KEYS > 2 then
  ${takeTokenLua("KEYS[3]", "ARGV[7]", "ARGV[8]", "ARGV[9]")}
  if not taken then return {2, string.format('%.17g', tokens)} end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[1], '*', 'm', ARGV[4])
local message = '{"id":"' .. id .. '",' .. string.sub(ARGV[4], 2)
if hasSent then redis.call('SET', KEYS[2], message, 'PX', ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[5] .. message .. '}')
return {0, message}
`);

// KEYS: log. ARGV: id, max. Nil when the id is not retained; else up to max + 1 entries after it.
const SINCE = defineScript(`
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]) + 1)
`);

type Entry = [id: string, fields: string[]];

/** A stream entry back into a message: `id` first, as every store shapes it. */
function toMessage([id, fields]: Entry): Message {
  const json = fields[fields.indexOf("m") + 1] ?? "{}";
  return { id, ...(JSON.parse(json) as Omit<Message, "id">) };
}

/** The JSON a stream entry stores: the message without its id, starting with `{"roomId":` (never `{}`). */
function draftJson(draft: MessageDraft): string {
  const stored: Omit<Message, "id"> = {
    roomId: draft.roomId,
    user: { id: draft.user.id, name: draft.user.name },
    text: draft.text,
    ts: draft.ts,
  };
  if (draft.clientMsgId !== undefined) stored.clientMsgId = draft.clientMsgId;
  return JSON.stringify(stored);
}

export function createRedisHistoryStore(options: RedisHistoryOptions): HistoryStore {
  const { client, guard, keys, historyMax, budget } = options;
  const ttlMs = options.idempotencyTtlMs ?? 24 * 60 * 60 * 1000;

  const range = (command: "XRANGE" | "XREVRANGE", key: string, start: string, end: string, count: number) =>
    guard(() => client.sendCommand([command, key, start, end, "COUNT", String(count)])) as Promise<Entry[]>;

  /** A page read one past `limit`, to tell whether more exist. */
  const page = (entries: Entry[], limit: number, newestFirst: boolean): Page => {
    const more = entries.length > limit;
    const kept = entries.slice(0, limit).map(toMessage);
    return { messages: newestFirst ? kept.reverse() : kept, more };
  };

  const runAppend = (draft: MessageDraft, bucketKeys: string[] = [], bucketArgs: number[] = []) => {
    const hasSent = draft.clientMsgId !== undefined;
    const sentKey = hasSent ? keys.sent(draft.roomId, draft.user.id, draft.clientMsgId!) : keys.log(draft.roomId);
    const eventHead = `{"type":"message","roomId":${JSON.stringify(draft.roomId)},"message":`;
    return guard(() =>
      APPEND.run(
        client,
        [keys.log(draft.roomId), sentKey, ...bucketKeys],
        [historyMax, ttlMs, keys.events, draftJson(draft), eventHead, hasSent ? 1 : 0, ...bucketArgs],
      ),
    ) as Promise<[number, string]>;
  };

  return {
    async append(draft) {
      const reply = await runAppend(draft);
      return { message: JSON.parse(reply[1]) as Message, duplicate: reply[0] === 1 };
    },

    ...(budget && {
      async appendWithinBudget(draft: MessageDraft, budgetKey: string, now: number) {
        const reply = await runAppend(
          draft,
          [budget.bucket(budgetKey)],
          [budget.limit.burst, budget.limit.perSecond, now],
        );
        if (reply[0] === 2) return { retryAfterMs: retryAfterMs(Number(reply[1]), budget.limit.perSecond) };
        return { message: JSON.parse(reply[1]) as Message, duplicate: reply[0] === 1 };
      },
    }),

    async latest(roomId, limit) {
      return page(await range("XREVRANGE", keys.log(roomId), "+", "-", limit + 1), limit, true);
    },

    async before(roomId, beforeId, limit) {
      const position = parseMessageId(beforeId);
      // Nothing is older than 0-0 (and Redis refuses an exclusive bound there).
      if (!position || (position.ms === 0 && position.seq === 0)) return { messages: [], more: false };
      return page(await range("XREVRANGE", keys.log(roomId), `(${beforeId}`, "-", limit + 1), limit, true);
    },

    async after(roomId, afterId, limit) {
      if (!parseMessageId(afterId)) return { messages: [], more: false };
      return page(await range("XRANGE", keys.log(roomId), `(${afterId}`, "+", limit + 1), limit, false);
    },

    async since(roomId, id, max) {
      if (!parseMessageId(id)) return null;
      const reply = (await guard(() => SINCE.run(client, [keys.log(roomId)], [id, max]))) as Reply;
      if (reply === null) return null;
      const entries = reply as unknown as Entry[];
      return entries.length > max ? null : entries.map(toMessage);
    },

    async findSent(roomId, userId, clientMsgId) {
      const first = await guard(() => client.get(keys.sent(roomId, userId, clientMsgId)));
      return typeof first === "string" ? (JSON.parse(first) as Message) : null;
    },

    async newestId(roomId) {
      const entries = await range("XREVRANGE", keys.log(roomId), "+", "-", 1);
      return entries[0]?.[0] ?? null;
    },
  };
}

/** Messages of a room after `afterId`, oldest first: how a node catches up after its subscription came back. */
export async function readAfter(
  client: Redis,
  guard: Guard,
  keys: Keys,
  roomId: string,
  afterId: string,
  count: number,
): Promise<Message[]> {
  const entries = await guard(() =>
    client.sendCommand(["XRANGE", keys.log(roomId), `(${afterId}`, "+", "COUNT", String(count)]),
  );
  return (entries as unknown as Entry[]).map(toMessage);
}
