/**
 * §11 with a slow or silent receiver, on real nodes: acks never wait for
 * delivery (sends stay fast while every attempt hangs up to
 * WEBHOOK_TIMEOUT_MS); many rooms due at once are all served as fast as the
 * receiver answers (no room waits on a lease nobody uses); and a node told to
 * stop (SIGTERM) while attempts hang still drains and exits at once (§12),
 * the event it was trying going to another node.
 */
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { uniqueUserId } from "../helpers/tokens";
import { joinRoom, sendMessage, startNode, stopAllNodes } from "../cluster/nodes";
import { startReceiver, WEBHOOK_SECRET, type Receiver } from "./receiver";
import { created, deliveredOf, expectDelivered, requestsOf, type Change } from "./support";

let redis: TestRedis;
let postgres: TestPostgres;
let receiver: Receiver;
beforeAll(async () => {
  [redis, postgres, receiver] = await Promise.all([startRedis(), startPostgres(), startReceiver()]);
}, 60_000);
afterEach(async () => {
  closeAllClients();
  await stopAllNodes();
  receiver.answer(200);
  receiver.delay(5);
});
afterAll(async () => {
  await stopAllNodes();
  await receiver?.stop();
  await redis?.stop();
  await postgres?.destroy();
});

const person = (name: string) => ({ sub: uniqueUserId(name), name });
let roomCount = 0;
const freshRoom = (tag: string) => `whs-${tag}-${process.pid}-${++roomCount}`;
const env = (node: string, extra: Record<string, string> = {}) => ({
  WEBHOOK_URL: `${receiver.url}?node=${node}`,
  WEBHOOK_SECRET,
  WEBHOOK_RETRY_BASE_MS: "10",
  RATE_BURST: "100000",
  RATE_PER_SEC: "100000",
  ...extra,
});

test("acks never wait for delivery: with every attempt hanging, 50 sends on two nodes stay fast (p99 far under WEBHOOK_TIMEOUT_MS)", async () => {
  const databaseUrl = await postgres.createDatabase();
  const extra = { WEBHOOK_TIMEOUT_MS: "10000", DATABASE_URL: databaseUrl };
  const nodes = await Promise.all(["a", "b"].map((id) => startNode(redis.url, `wha-${id}`, env(id, extra))));
  receiver.answer("hang");
  const writers = await Promise.all(nodes.map((node) => connectClient(node.url, { claims: person("W") })));
  // Enough rooms to fill both dispatchers with hanging attempts (16 each).
  const roomIds = Array.from({ length: 40 }, () => freshRoom("ack"));
  for (const writer of writers) await Promise.all(roomIds.map((roomId) => joinRoom(writer, roomId)));
  await Promise.all(roomIds.map((roomId, i) => sendMessage(writers[i % 2]!, roomId, "fill")));
  await eventually(
    () => new Set(requestsOf(receiver, roomIds).map((r) => r.path)).size === 2,
    "both nodes with attempts hanging",
    10_000,
  );
  const latencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const startedAt = performance.now();
    await sendMessage(writers[i % 2]!, roomIds[i % roomIds.length]!, `timed ${i}`);
    latencies.push(performance.now() - startedAt);
  }
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
  expect(p99).toBeLessThan(1000);
  // The attempts were indeed hanging all along: nothing was delivered.
  expect(deliveredOf(receiver, roomIds)).toEqual([]);
}, 60_000);

describe.each([
  { shape: "Redis only (the outbox in Redis)", withPostgres: false },
  { shape: "Redis and PostgreSQL (the outbox in PostgreSQL)", withPostgres: true },
])("over $shape", ({ withPostgres }) => {
  test("40 rooms due at once, a slow receiver (150 ms an answer): all delivered within a few answers' time, none waits out a lease", async () => {
    // The lease is WEBHOOK_TIMEOUT_MS + 5 s = 15 s: a room that waited on one would be seconds late.
    const extra: Record<string, string> = { WEBHOOK_TIMEOUT_MS: "10000" };
    if (withPostgres) extra.DATABASE_URL = await postgres.createDatabase();
    const node = await startNode(redis.url, "whm-a", env("a", extra));
    receiver.delay(150);
    const writer = await connectClient(node.url, { claims: person("W") });
    const roomIds = Array.from({ length: 40 }, () => freshRoom("many"));
    await Promise.all(roomIds.map((roomId) => joinRoom(writer, roomId)));
    const startedAt = Date.now();
    const changes: Change[] = (await Promise.all(roomIds.map((roomId) => sendMessage(writer, roomId, "one each")))).map(
      created,
    );
    // 40 rooms, 16 at a time, 150 ms each: about half a second of answers.
    await eventually(() => deliveredOf(receiver, roomIds).length === changes.length, "all 40 rooms delivered", 20_000);
    const tookMs = Date.now() - startedAt;
    expectDelivered(receiver, changes);
    expect(tookMs).toBeLessThan(5000);
  }, 60_000);

  test("SIGTERM while an attempt hangs: the node drains and exits 0 at once, and another node delivers the event", async () => {
    // A timeout longer than the 10 s a draining node has: the drain must not wait for the attempt.
    const extra: Record<string, string> = { WEBHOOK_TIMEOUT_MS: "20000" };
    if (withPostgres) extra.DATABASE_URL = await postgres.createDatabase();
    const [stopping] = await Promise.all([
      startNode(redis.url, "wht-a", env("a", extra)),
      startNode(redis.url, "wht-b", env("b", extra)),
    ]);
    const roomId = freshRoom("term");
    receiver.answer((d) => (d.path === "/hooks?node=a" ? "hang" : 200));
    const writer = await connectClient(stopping.url, { claims: person("W") });
    await joinRoom(writer, roomId);
    // Both nodes dispatch: send until the stopping node is the one whose attempt hangs.
    for (let i = 0; i < 20 && !requestsOf(receiver, [roomId]).some((r) => r.status === "hang"); i++) {
      const sent = await sendMessage(writer, roomId, `attempt ${i}`);
      await eventually(
        () => requestsOf(receiver, [roomId]).some((r) => r.data.id === sent.id),
        "an attempt of the new message",
        5000,
      );
    }
    const hung = requestsOf(receiver, [roomId]).find((r) => r.status === "hang");
    expect(hung).toBeDefined();
    const stoppedAt = Date.now();
    expect(await stopping.kill("SIGTERM")).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    // The other node takes the event over (at once if the attempt was given up, else when the lease runs out).
    await eventually(
      () => deliveredOf(receiver, [roomId]).some((d) => d.id === hung!.id),
      "the event delivered",
      30_000,
    );
  }, 60_000);
});
