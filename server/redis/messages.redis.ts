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
import { defineScript, type Guard, type Redis, type Reply } from "./client";
import { takeTokenLua } from "./limits.redis";
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

// The room's epoch, set on its first write from Redis's clock in microseconds: scripts run one at a time and
// each takes more than a microsecond, so no two rooms of one Redis get the same. \`e-n\` is position n.
const EPOCH_LUA = `
local e = redis.call('HGET', KEYS[1], 'e')
if not e then
  local t = redis.call('TIME')
  e = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', KEYS[1], 'e', e)
end
`;

/**
 * Lua that records a webhook event (§11) in the room's queue. The id is ../features/webhooks/webhook-event.ts's:
 * msg_ and sha1(room, newline, position). Making the room due for dispatch is another slot ({webhooks}): the
 * caller does it around the script (`due` below).
 */
function recordWebhookLua(queue: string, roomId: string, position: string, type: string, at: string, json: string) {
  return `
  redis.call('XADD', ${queue}, '*', 'i', 'msg_' .. string.sub(redis.sha1hex(${roomId} .. '\\n' .. ${position}), 1, 24),
    't', ${type}, 'a', ${at}, 'm', ${json})`;
}

// KEYS: room, messages, order, revs, this window's sends, reads, public reads, webhook queue, the last window's
// sends (both the room key again without a clientMsgId), [bucket (one Redis only: on a cluster the user's
// bucket is another slot)].
// ARGV: now (ms), historyMax, when this window's sends expire (ms), channel, message JSON after its first "{"
// (without id, seq, rev), event head, has sent, replyTo ("" for none), author id, webhooks (1/0), room id, sent
// field, [burst, rate, now].
// The author's read marker (§9), if they have one, moves to their message in the same step; with webhooks
// (§11), the event is recorded in the room's queue in the same step too.
// Replies: {0, json} stored; {1, json} the first message of this clientMsgId; {3, "id seq ts"} the same, no
// longer kept; {2, tokens} refused by the budget; {4} replyTo is not a message of the room.
const APPEND = defineScript(`
local hasSent = ARGV[7] == '1'
if hasSent then
  local first = redis.call('HGET', KEYS[5], ARGV[12]) or redis.call('HGET', KEYS[9], ARGV[12])
  if first then
    local remembered = redis.call('HGET', KEYS[1], 'e') .. '-' .. first
    local current = redis.call('HGET', KEYS[2], string.match(remembered, '^(%S+)'))
    if current then return {1, current} end
    return {3, remembered}
  end
end
if ARGV[8] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[8]) == 0 then return {4} end
if #KEYS > 9 then
  ${takeTokenLua("KEYS[10]", "ARGV[13]", "ARGV[14]", "ARGV[15]")}
  if not taken then return {2, string.format('%.17g', tokens)} end
end
${EPOCH_LUA}
local n = redis.call('HINCRBY', KEYS[1], 'p', 1)
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
local id = e .. '-' .. n
local json = '{"rev":"' .. id .. '","id":"' .. id .. '","seq":' .. seq .. ',' .. ARGV[5]
redis.call('HSET', KEYS[2], id, json)
redis.call('ZADD', KEYS[3], n, id)
redis.call('ZADD', KEYS[4], n, id)
if redis.call('ZCARD', KEYS[3]) > tonumber(ARGV[2]) then
  local oldest = redis.call('ZPOPMIN', KEYS[3])
  redis.call('HDEL', KEYS[2], oldest[1])
  redis.call('ZREM', KEYS[4], oldest[1])
  -- Anyone resuming from before the trimmed message would miss it.
  if tonumber(oldest[2]) > tonumber(redis.call('HGET', KEYS[1], 'f') or '0') then
    redis.call('HSET', KEYS[1], 'f', oldest[2])
  end
end
if hasSent then
  redis.call('HSET', KEYS[5], ARGV[12], n .. ' ' .. seq .. ' ' .. ARGV[1])
  redis.call('PEXPIREAT', KEYS[5], ARGV[3])
end
local marker = redis.call('HGET', KEYS[6], ARGV[9])
if marker then
  local m = cjson.decode(marker)
  m.s, m.u, m.ps, m.pu = seq, id, seq, id
  redis.call('HSET', KEYS[6], ARGV[9], cjson.encode(m))
  redis.call('ZADD', KEYS[7], seq, ARGV[9])
end
if ARGV[10] == '1' then ${recordWebhookLua("KEYS[8]", "ARGV[11]", "id", "'c'", "ARGV[1]", "json")} end
redis.call('SPUBLISH', ARGV[4], ARGV[6] .. json .. '}')
return {0, json}
`);

// KEYS: room, messages, revs, webhook queue. ARGV: id, expected rev, stored JSON after
// '{"rev":…,', wire JSON after the same, channel, event head, webhooks (1/0), room id, now (ms).
// Replies: {0} no such message; {1} it changed meanwhile; {2, json} stored (wire form).
const CHANGE = defineScript(`
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then return {0} end
if string.match(current, '^{"rev":"([^"]+)"') ~= ARGV[2] then return {1} end
local e = redis.call('HGET', KEYS[1], 'e')
local n = redis.call('HINCRBY', KEYS[1], 'p', 1)
local rev = e .. '-' .. n
local head = '{"rev":"' .. rev .. '",'
redis.call('HSET', KEYS[2], ARGV[1], head .. ARGV[3])
redis.call('ZADD', KEYS[3], n, ARGV[1])
if ARGV[7] == '1' then ${recordWebhookLua("KEYS[4]", "ARGV[8]", "rev", "'u'", "ARGV[9]", "head .. ARGV[4]")} end
redis.call('SPUBLISH', ARGV[5], ARGV[6] .. head .. ARGV[4] .. '}')
return {2, head .. ARGV[4]}
`);

// Where a position falls among the room's positions (positions.ts changeIndex): -1 before everything,
// 'inf' after everything. Leaves e (the room's epoch, or nil) and at.
const POSITION_LUA = `
local e = redis.call('HGET', KEYS[1], 'e')
local at = tonumber(ARGV[3])
if e and tonumber(ARGV[2]) < tonumber(e) then at = -1 elseif e and tonumber(ARGV[2]) > tonumber(e) then at = '+inf' end
`;

// KEYS: room, messages, order. ARGV: mode (latest, before, after), epoch, n, limit.
// Returns {more, json…}: up to limit messages, newest first (latest, before) or oldest first (after).
const PAGE = defineScript(`
${POSITION_LUA}
if not e then return {0} end
local limit = tonumber(ARGV[4])
local ids
if ARGV[1] == 'latest' then
  ids = redis.call('ZREVRANGE', KEYS[3], 0, limit)
elseif ARGV[1] == 'before' then
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[3], '(' .. at, '-inf', 'LIMIT', 0, limit + 1)
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. at, '+inf', 'LIMIT', 0, limit + 1)
end
local more = 0
if #ids > limit then
  more = 1
  table.remove(ids)
end
if #ids == 0 then return {more} end
local out = redis.call('HMGET', KEYS[2], unpack(ids))
table.insert(out, 1, more)
return out
`);

// KEYS: room, messages, order, revs. ARGV: mode (since, poll), epoch, n, max.
// Nil when the position is not covered (another epoch, at or below the floor, past the last position).
// Returns {cursor n, count of new, json of new…, json of updates…}. since: nil when more than max are involved.
// poll: max new messages at most; when cut, only updates before the last new one, which is the cursor.
const MISSED = defineScript(`
local e, p, f = unpack(redis.call('HMGET', KEYS[1], 'e', 'p', 'f'))
local n = tonumber(ARGV[3])
if not e or ARGV[2] ~= e or n <= tonumber(f or '0') or n > tonumber(p) then return false end
local max = tonumber(ARGV[4])
local new = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. n, '+inf', 'LIMIT', 0, max + 1)
local cursor, last = tonumber(p), p
if #new > max then
  if ARGV[1] == 'since' then return false end
  table.remove(new)
  cursor = tonumber(redis.call('ZSCORE', KEYS[3], new[#new]))
  last = '(' .. cursor
end
local old = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. n, last)) do
  if tonumber(string.match(id, '-(%d+)$')) <= n then table.insert(old, id) end
end
if ARGV[1] == 'since' and #new + #old > max then return false end
local out = {cursor, #new}
for _, id in ipairs(new) do table.insert(out, id) end
for _, id in ipairs(old) do table.insert(out, id) end
if #out == 2 then return out end
local states = redis.call('HMGET', KEYS[2], unpack(out, 3))
for i, json in ipairs(states) do out[i + 2] = json end
return out
`);

/** The JSON of a message without `rev`, `id` and `seq` (they are the script's), starting after its "{". */
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
