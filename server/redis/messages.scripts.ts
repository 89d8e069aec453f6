/**
 * The Lua scripts of the Redis message store (messages.redis.ts), each one
 * round trip that numbers, stores and publishes atomically. Every key comes
 * through KEYS, all under the room's hash tag, so they run on a Redis
 * Cluster as on one Redis.
 */
import { defineScript } from "./client";
import { takeTokenLua } from "./limits.redis";

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
export const APPEND = defineScript(`
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
export const CHANGE = defineScript(`
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
export const PAGE = defineScript(`
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
export const MISSED = defineScript(`
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
