/**
 * §11: "Events are recorded with the change itself, so none is lost when a
 * node dies; across nodes each event is delivered by one node at a time."
 *
 * kill -9: a node records events while the receiver hangs, so they stay
 * queued and the node holds leases on some of them; it is SIGKILLed and the
 * receiver made healthy: the surviving node delivers every one, in order, and
 * an event the dead node held is not sent again before its lease
 * (WEBHOOK_TIMEOUT_MS + 5 s) runs out.
 *
 * Restart: events recorded while the receiver is away, every node SIGTERMed
 * before any is delivered (with Redis and PostgreSQL, Redis flushed too), the
 * receiver back: new nodes deliver them all.
 */
import { createClient as createRedisClient } from "redis";
import { closeAllClients, connectClient, eventually, type HuddleClient } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, sendMessage, startNode, stopAllNodes, type NodeProcess } from "../cluster/nodes";
import { startReceiver, WEBHOOK_SECRET, type Receiver } from "./receiver";
import { created, deliveredOf, expectDelivered, requestsOf, updated, type Change } from "./support";

let redis: TestRedis;
let postgres: TestPostgres;
let receiver: Receiver;
beforeAll(async () => {
  [redis, postgres, receiver] = await Promise.all([startRedis(), startPostgres(), startReceiver()]);
}, 60_000);
afterEach(async () => {
  closeAllClients();
  await stopAllNodes();
  // Each test starts from an empty Redis: no outbox or due rooms of an earlier one.
  const client = createRedisClient({ url: redis.url });
  await client.connect();
  await client.flushAll();
  client.destroy();
  receiver.answer(200);
  await receiver.reopen();
});
afterAll(async () => {
  await stopAllNodes();
  await receiver?.stop();
  await redis?.stop();
  await postgres?.destroy();
});

const person = (name: string) => ({ sub: uniqueUserId(name), name });
let roomCount = 0;
const freshRoom = (tag: string) => `whf-${tag}-${process.pid}-${++roomCount}`;

/** `count` messages to each room from `writer`, and an edit of each room's first one (the rooms at once). */
async function record(writer: HuddleClient, roomIds: string[], count: number): Promise<Change[]> {
  const changes: Change[] = [];
  await Promise.all(
    roomIds.map(async (roomId) => {
      await joinRoom(writer, roomId);
      const first = await sendMessage(writer, roomId, `${roomId} 0`);
      changes.push(created(first));
      for (let i = 1; i < count; i++) changes.push(created(await sendMessage(writer, roomId, `${roomId} ${i}`)));
      const edit = await request(writer, "message:edit", { roomId, id: first.id, text: `${roomId} 0, edited` });
      expect(edit.ok).toBe(true);
      changes.push(updated(edit.message));
    }),
  );
  return changes;
}

const env = (node: string, extra: Record<string, string>) => ({
  WEBHOOK_URL: `${receiver.url}?node=${node}`,
  WEBHOOK_SECRET,
  WEBHOOK_RETRY_BASE_MS: "10",
  RATE_BURST: "100000",
  RATE_PER_SEC: "100000",
  ...extra,
});

describe.each([
  { shape: "Redis and PostgreSQL", withPostgres: true },
  { shape: "Redis only", withPostgres: false },
])("kill -9 over $shape", ({ withPostgres }) => {
  test("a node SIGKILLed with events queued and leased: the survivor delivers all of them, after the dead node's leases run out", async () => {
    const timeoutMs = 2000;
    const leaseMs = timeoutMs + 5000;
    const extra: Record<string, string> = { WEBHOOK_TIMEOUT_MS: String(timeoutMs) };
    if (withPostgres) extra.DATABASE_URL = await postgres.createDatabase();
    const [doomed] = await Promise.all([
      startNode(redis.url, "whk-a", env("a", extra)),
      startNode(redis.url, "whk-b", env("b", extra)),
    ]);
    receiver.answer("hang");
    const roomIds = [0, 1, 2, 3].map(() => freshRoom("kill"));
    const writer = await connectClient(doomed.url, { claims: person("W") });
    const changes = await record(writer, roomIds, 5);
    // The doomed node has an attempt hanging now (well within its 2 s timeout): it holds that event's lease.
    const fromDoomed = () =>
      requestsOf(receiver, roomIds).filter((r) => r.path === "/hooks?node=a" && Date.now() - r.receivedAt < 400);
    await eventually(() => fromDoomed().length > 0, "an attempt of the doomed node in flight", 10_000);
    const held = fromDoomed();
    await doomed.kill("SIGKILL");
    const killedAt = Date.now();
    receiver.answer(200);

    await eventually(
      () => deliveredOf(receiver, roomIds).length === changes.length,
      `all ${changes.length} changes delivered by the survivor`,
      30_000,
    );
    expectDelivered(receiver, changes);
    const after = requestsOf(receiver, roomIds).filter((r) => r.receivedAt > killedAt);
    expect(new Set(after.map((r) => r.path))).toEqual(new Set(["/hooks?node=b"]));
    // Nobody sent an event the dead node held before its lease ran out (it was claimed before it was received).
    expect(held.length).toBeGreaterThan(0);
    for (const dead of held) {
      const retried = after.find((r) => r.id === dead.id)!;
      expect(retried.receivedAt - dead.receivedAt).toBeGreaterThan(leaseMs - 1000);
    }
  }, 60_000);
});

describe.each([
  { shape: "PostgreSQL only (one durable node)", redisToo: false, withPostgres: true, count: 1 },
  { shape: "Redis and PostgreSQL (Redis flushed as well)", redisToo: true, withPostgres: true, count: 2 },
  { shape: "Redis only", redisToo: true, withPostgres: false, count: 2 },
])("a restart over $shape", ({ redisToo, withPostgres, count }) => {
  test("events recorded while the receiver is away, every node SIGTERMed before delivery: new nodes deliver them all", async () => {
    const extra: Record<string, string> = { WEBHOOK_TIMEOUT_MS: "500" };
    if (withPostgres) extra.DATABASE_URL = await postgres.createDatabase();
    const redisUrl = redisToo ? redis.url : "";
    const ids = ["a", "b"].slice(0, count);
    const first: NodeProcess[] = await Promise.all(ids.map((id) => startNode(redisUrl, `whr-${id}`, env(id, extra))));
    await receiver.close();
    const roomIds = [0, 1, 2].map(() => freshRoom("restart"));
    const changes: Change[] = [];
    const writers = await Promise.all(first.map((node, i) => connectClient(node.url, { claims: person(`W${i}`) })));
    for (const writer of writers) changes.push(...(await record(writer, roomIds, 3)));
    closeAllClients();
    expect(await Promise.all(first.map((node) => node.kill("SIGTERM")))).toEqual(first.map(() => 0));
    if (redisToo && withPostgres) {
      const client = createRedisClient({ url: redis.url });
      await client.connect();
      await client.flushAll();
      client.destroy();
    }
    expect(requestsOf(receiver, roomIds)).toEqual([]);

    await receiver.reopen();
    await Promise.all(ids.map((id) => startNode(redisUrl, `whr-${id}2`, env(`${id}2`, extra))));
    await eventually(
      () => deliveredOf(receiver, roomIds).length === changes.length,
      `all ${changes.length} changes delivered after the restart`,
      30_000,
    );
    expectDelivered(receiver, changes);
  }, 60_000);
});
