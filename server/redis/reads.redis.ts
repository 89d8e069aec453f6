/**
 * Read state in Redis (§9), beside the room's messages under the room's hash
 * tag: a hash of markers (user → `{s, u, ps, pu, n}`: seq and id read, public
 * seq and id, name) and a sorted set of public positions for `room:reads`.
 * Marking read is one script in the room's slot whatever the room's size; the
 * unread count is the room's last seq minus the marker's. A user's rooms are a
 * sorted set under the user's own tag; `rooms:list` reads it, then every
 * room's summary at once (one round trip per slot owner, whatever the count;
 * on a single Redis, a hundred rooms a script).
 */
import { ErrorCode, type Message, type ReadMarker, type RoomSummary } from "../../shared";
import { HuddleError } from "../errors";
import { toWire } from "../features/chat/message-rules";
import { byActivity, type ReadStore } from "../features/reads/read.store";
import { defineScript, isCluster, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

/** A marker as stored: seq and id read, public seq and id ("" for none), the user's name. */
type StoredMarker = { s: number; u: string; ps: number; pu: string; n: string };

// KEYS: room, order, reads. ARGV: user id, name. {first, readUpTo ("" for none), unread}.
const ENTER = defineScript(`
local last = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local json = redis.call('HGET', KEYS[3], ARGV[1])
if json then
  local m = cjson.decode(json)
  return {0, m.u, last - m.s}
end
local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0)[1] or ''
local seq = 0
if newest ~= '' then seq = last end
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode({s = seq, u = newest, ps = 0, pu = '', n = ARGV[2]}))
return {1, newest, 0}
`);

// KEYS: room, messages, reads, public reads, members. ARGV: user id, name, upTo, private (1/0).
// {0} when upTo is not a message of the room;
// else {1, readUpTo, readSeq, unread, moved, public moved, members, created, public upTo, public seq}.
const MARK = defineScript(`
local target = redis.call('HGET', KEYS[2], ARGV[3])
if not target then return {0} end
local seq = tonumber(string.match(target, '"seq":(%d+)'))
local json = redis.call('HGET', KEYS[3], ARGV[1])
local m, created = nil, 0
if json then m = cjson.decode(json) else
  m = {s = 0, u = '', ps = 0, pu = '', n = ARGV[2]}
  created = 1
end
local moved, publicMoved = 0, 0
if seq > m.s then m.s, m.u, moved = seq, ARGV[3], 1 end
if ARGV[4] ~= '1' and seq > m.ps then
  m.ps, m.pu, publicMoved = seq, ARGV[3], 1
  redis.call('ZADD', KEYS[4], seq, ARGV[1])
end
if moved + publicMoved + created > 0 then redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(m)) end
local last = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
return {1, m.u, m.s, last - m.s, moved, publicMoved, redis.call('ZCARD', KEYS[5]), created, m.pu, m.ps}
`);

// KEYS: public reads, reads. ARGV: limit. Flat {user id, marker json, …}, highest public seq first.
const READS = defineScript(`
local users = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #users == 0 then return {} end
local markers = redis.call('HMGET', KEYS[2], unpack(users))
local out = {}
for i, user in ipairs(users) do
  out[#out + 1] = user
  out[#out + 1] = markers[i] or ''
end
return out
`);

// KEYS: room, messages, order, reads, for each of several rooms. ARGV: user id. For each room in turn: last seq,
// marker json or nil, newest message json or nil. Several rooms in one script only where keys of any slot may
// be used together (one Redis); on a cluster, one room a script.
const SUMMARIES = defineScript(`
local out = {}
for i = 1, #KEYS, 4 do
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[i], 's') or '0')
  out[#out + 1] = redis.call('HGET', KEYS[i + 3], ARGV[1])
  local newest = redis.call('ZREVRANGE', KEYS[i + 2], 0, 0)[1]
  out[#out + 1] = newest and redis.call('HGET', KEYS[i + 1], newest) or false
end
return out
`);

/** Rooms summarised by one script on a single Redis: bounded, so one long list does not hold Redis long. */
const ROOMS_PER_SCRIPT = 100;

// KEYS: reads, public reads. ARGV: user id.
const FORGET = defineScript(`
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
`);

// KEYS: the user's rooms. ARGV: room id, now (ms). Adds the room once, scored by when it became the user's; a room
// added within the same millisecond as (or, node clocks differing, before) the user's latest one goes just after
// it, so that "the latest joined first" (§9) holds for joins less than a millisecond apart, where equal scores
// would fall back to the order of room ids. A thousandth of a millisecond is well above a double's spacing here.
const REMEMBER = defineScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local score = tonumber(ARGV[2])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
if top and tonumber(top) >= score then score = tonumber(top) + 0.001 end
redis.call('ZADD', KEYS[1], score, ARGV[1])
return 1
`);

export function createRedisReadStore(options: { client: Redis; guard: Guard; keys: Keys }): ReadStore {
  const { client, guard, keys } = options;
  const rememberRoom = (userId: string, roomId: string, now: number) =>
    guard(() => REMEMBER.run(client, [keys.userRooms(userId)], [roomId, now]));

  return {
    async enter(roomId, user, now) {
      const [reply] = await Promise.all([
        guard(() =>
          ENTER.run(client, [keys.room(roomId), keys.order(roomId), keys.reads(roomId)], [user.id, user.name]),
        ) as Promise<[number, string, number]>,
        // Every join (not only the first): a list entry lost halfway (a failed call) comes back.
        rememberRoom(user.id, roomId, now),
      ]);
      return { first: reply[0] === 1, readUpTo: reply[1] === "" ? null : reply[1], unread: reply[2] };
    },

    async markRead(roomId, user, upTo, isPrivate, now) {
      const reply = (await guard(() =>
        MARK.run(
          client,
          [
            keys.room(roomId),
            keys.messages(roomId),
            keys.reads(roomId),
            keys.publicReads(roomId),
            keys.members(roomId),
          ],
          [user.id, user.name, upTo, isPrivate ? 1 : 0],
        ),
      )) as [number, string, number, number, number, number, number, number, string, number];
      if (reply[0] === 0) throw new HuddleError(ErrorCode.NotFound, `upTo: no message ${upTo} in this room`);
      if (reply[7] === 1) await rememberRoom(user.id, roomId, now);
      return {
        readUpTo: reply[1],
        readSeq: reply[2],
        unread: reply[3],
        moved: reply[4] === 1,
        publicMoved: reply[5] === 1,
        publicUpTo: reply[8] === "" ? null : reply[8],
        publicSeq: reply[9],
        members: reply[6],
      };
    },

    async reads(roomId, limit) {
      const flat = (await guard(() =>
        READS.run(client, [keys.publicReads(roomId), keys.reads(roomId)], [limit]),
      )) as string[];
      const reads: ReadMarker[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (!flat[i + 1]) continue;
        const marker = JSON.parse(flat[i + 1]!) as StoredMarker;
        reads.push({ user: { id: flat[i]!, name: marker.n }, readUpTo: marker.pu, readSeq: marker.ps });
      }
      return reads;
    },

    async rooms(userId, limit) {
      const entries = await guard(() => client.zRangeWithScores(keys.userRooms(userId), 0, -1));
      const roomKeys = (roomId: string) => [
        keys.room(roomId),
        keys.messages(roomId),
        keys.order(roomId),
        keys.reads(roomId),
      ];
      // Scripts of up to ROOMS_PER_SCRIPT rooms (one room each on a cluster), all sent at once: node-redis
      // pipelines them (per slot owner on a cluster). 200 rooms: 2 scripts instead of 200, ~3x faster.
      const perScript = isCluster(client) ? 1 : ROOMS_PER_SCRIPT;
      const batches: string[][] = [];
      for (let i = 0; i < entries.length; i += perScript) {
        batches.push(entries.slice(i, i + perScript).map((entry) => entry.value));
      }
      const replies = await guard(() =>
        Promise.all(batches.map((batch) => SUMMARIES.run(client, batch.flatMap(roomKeys), [userId]))),
      );
      const flat = (replies as (number | string | null)[][]).flat();
      const listed = entries.map(({ value: roomId, score }, i) => {
        const [lastSeq, markerJson, messageJson] = flat.slice(i * 3, i * 3 + 3) as [
          number,
          string | null,
          string | null,
        ];
        const marker = markerJson ? (JSON.parse(markerJson) as StoredMarker) : undefined;
        const summary: RoomSummary = {
          roomId,
          readUpTo: marker?.u ? marker.u : null,
          unread: lastSeq - (marker?.s ?? 0),
          lastMessage: messageJson ? toWire(JSON.parse(messageJson) as Message) : null,
        };
        return { summary, joinedAt: score };
      });
      return listed
        .reverse()
        .sort(byActivity)
        .slice(0, limit)
        .map((r) => r.summary);
    },

    async forget(roomId, userId) {
      const [removed] = await Promise.all([
        guard(() => client.zRem(keys.userRooms(userId), roomId)),
        guard(() => FORGET.run(client, [keys.reads(roomId), keys.publicReads(roomId)], [userId])),
      ]);
      return removed === 1;
    },
  };
}
