/**
 * The webhook outbox in Redis (§11), when there is no PostgreSQL: each room's
 * events wait in a stream under the room's hash tag, written by the same
 * script as the change (messages.redis.ts); a sorted set lists the rooms by
 * when their head is due. Claiming a room's head is a lease key (SET NX PX):
 * one node at a time, and a dead node's lease runs out. Only the head of a
 * room is ever claimed, so a room's events go in change order.
 */
import type { FailedEvent, OutboxEntry, OutboxStore } from "../features/webhooks/outbox.store";
import type { WebhookEvent } from "../features/webhooks/webhook-event";
import type { Message } from "../../shared";
import { command, defineScript, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

// KEYS: queue, lease, state. ARGV: node, lease ms.
// {0} nothing queued; {1, ms left} claimed by another node; {2, entry id, fields, attempts, first attempt at}.
const CLAIM = defineScript(`
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not head then return {0} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, redis.call('PTTL', KEYS[2])} end
local state = redis.call('HMGET', KEYS[3], 'id', 'attempts', 'first')
if state[1] ~= head[1] then state = {head[1], '0', ''} end
return {2, head[1], head[2], state[2] or '0', state[3] or ''}
`);

// KEYS: queue, lease, state. ARGV: entry id. Removes the head it names (delivered, or set aside).
const DONE = defineScript(`
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('DEL', KEYS[2])
return redis.call('XLEN', KEYS[1])
`);

// KEYS: lease, state. ARGV: entry id, attempts, first attempt at.
const RETRY = defineScript(`
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'attempts', ARGV[2], 'first', ARGV[3])
redis.call('DEL', KEYS[1])
return 1
`);

/** Failed events kept in Redis. */
const MAX_FAILED = 10_000;

export function createRedisOutbox(options: { client: Redis; guard: Guard; keys: Keys }): OutboxStore {
  const { client, guard, keys } = options;
  const roomKeys = (roomId: string) => [
    keys.webhookQueue(roomId),
    keys.webhookLease(roomId),
    keys.webhookState(roomId),
  ];
  /** The handle: the room and the stream entry, so a settle names exactly the head it claimed. */
  const handleOf = (roomId: string, entryId: string) => JSON.stringify([roomId, entryId]);
  const parseHandle = (handle: string) => JSON.parse(handle) as [string, string];

  const toEvent = (roomId: string, fields: string[]): WebhookEvent => {
    const field = (name: string) => fields[fields.indexOf(name) + 1]!;
    const message = JSON.parse(field("m")) as Message;
    return {
      id: field("i"),
      roomId,
      type: field("t") === "c" ? "message.created" : "message.updated",
      at: Number(field("a")),
      message,
    };
  };

  /** After a head left: the room is due at once for its next event, or leaves the due set when none is left. */
  const afterHead = async (roomId: string, left: number, now: number) => {
    if (left > 0) {
      await guard(() => client.zAdd(keys.webhookDue, { score: now, value: roomId }));
      return;
    }
    await guard(() => client.zRem(keys.webhookDue, roomId));
    // Recorded between the two commands: put the room back.
    if ((await guard(() => client.xLen(keys.webhookQueue(roomId)))) > 0) {
      await guard(() => client.zAdd(keys.webhookDue, { score: now, value: roomId }));
    }
  };

  return {
    async claim(nodeId, now, limit, leaseMs) {
      const rooms = await guard(() =>
        client.zRangeByScore(keys.webhookDue, "-inf", now, { LIMIT: { offset: 0, count: limit * 2 } }),
      );
      const claimed: OutboxEntry[] = [];
      // Never more leases than `limit`: a lease taken is an attempt made. (A room leased and not attempted would
      // wait for the lease to run out, WEBHOOK_TIMEOUT_MS + 5 s.) Rooms other nodes hold are skipped, so the
      // candidates go in batches of what is still wanted.
      let next = 0;
      while (claimed.length < limit && next < rooms.length) {
        const batch = rooms.slice(next, next + limit - claimed.length);
        next += batch.length;
        const replies = await Promise.all(
          batch.map((roomId) => guard(() => CLAIM.run(client, roomKeys(roomId), [nodeId, leaseMs]))),
        );
        for (const [i, reply] of replies.entries()) {
          const roomId = batch[i]!;
          const [kind, entryId, fields, attempts, first] = reply as [number, string, string[], string, string];
          if (kind === 0) await afterHead(roomId, 0, now);
          // A room being attempted is not due again before its lease runs out: the due set's head stays rooms
          // that can be claimed. (Settling the attempt makes it due again at once.)
          const leasedFor = kind === 1 ? Math.max(0, Number(entryId)) : kind === 2 ? leaseMs : 0;
          if (leasedFor > 0) {
            await guard(() =>
              client.zAdd(keys.webhookDue, { score: now + leasedFor, value: roomId }, { condition: "XX" }),
            );
          }
          if (kind !== 2) continue;
          claimed.push({
            event: toEvent(roomId, fields),
            attempts: Number(attempts),
            firstAttemptAt: first === "" ? undefined : Number(first),
            handle: handleOf(roomId, entryId),
          });
        }
      }
      return claimed;
    },

    async delivered(entry) {
      const [roomId, entryId] = parseHandle(entry.handle);
      const left = (await guard(() => DONE.run(client, roomKeys(roomId), [entryId]))) as number;
      await afterHead(roomId, left, Date.now());
    },

    async retry(entry, nextAt, _status, _error, now) {
      const [roomId, entryId] = parseHandle(entry.handle);
      await guard(() =>
        RETRY.run(
          client,
          [keys.webhookLease(roomId), keys.webhookState(roomId)],
          [entryId, entry.attempts + 1, entry.firstAttemptAt ?? now],
        ),
      );
      await guard(() => client.zAdd(keys.webhookDue, { score: nextAt, value: roomId }));
    },

    async exhausted(entry, status, error, now) {
      const [roomId, entryId] = parseHandle(entry.handle);
      const failed: FailedEvent = {
        event: entry.event,
        attempts: entry.attempts + 1,
        lastStatus: status,
        lastError: error,
        failedAt: now,
      };
      await guard(() => client.lPush(keys.webhookFailed, JSON.stringify(failed)));
      await guard(() => client.lTrim(keys.webhookFailed, 0, MAX_FAILED - 1));
      const left = (await guard(() => DONE.run(client, roomKeys(roomId), [entryId]))) as number;
      await afterHead(roomId, left, now);
    },

    async stats() {
      const rooms = await guard(() => client.zRange(keys.webhookDue, 0, 999));
      const [lengths, heads, failed] = await Promise.all([
        Promise.all(rooms.map((roomId) => guard(() => client.xLen(keys.webhookQueue(roomId))))),
        Promise.all(
          rooms.map((roomId) =>
            guard(() =>
              command(client, keys.webhookQueue(roomId), ["XRANGE", keys.webhookQueue(roomId), "-", "+", "COUNT", "1"]),
            ),
          ),
        ),
        guard(() => client.lLen(keys.webhookFailed)),
      ]);
      // A stream entry's id starts with the time it was added: the oldest head is the oldest queued event.
      const oldest = (heads as unknown as [string, string[]][][])
        .map((entries) => (entries[0] ? Number(entries[0][0].split("-")[0]) : Infinity))
        .reduce((a, b) => Math.min(a, b), Infinity);
      return {
        queued: lengths.reduce((a, b) => a + b, 0),
        oldestAt: oldest === Infinity ? null : oldest,
        failed,
      };
    },

    async failed(limit) {
      const raw = await guard(() => client.lRange(keys.webhookFailed, 0, limit - 1));
      return raw.map((json) => JSON.parse(json) as FailedEvent);
    },
  };
}
