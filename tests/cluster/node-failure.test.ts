/**
 * When a node goes away. SIGKILL: the other nodes reap it, its users leave
 * their rooms with presence:leave and its connection slots are freed.
 * SIGTERM: a drain that reports not ready at once, answers the acks in
 * flight, makes clients reconnect (to another node behind the balancer),
 * removes the node's entries from Redis and exits well within 10 s.
 */
import { createKeys } from "../../server/redis/keys";
import type { Socket } from "socket.io-client";
import type { Message } from "../../shared";
import {
  closeAllClients,
  connectClient,
  connectError,
  createClient,
  eventually,
  waitForEvent,
} from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import {
  joinRoom,
  readiness,
  request,
  restHistory,
  startBalancer,
  startNode,
  stopAllNodes,
  type Balancer,
} from "./nodes";
import { createClient as createRedisClient } from "redis";

let redis: TestRedis;
let balancer: Balancer | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  closeAllClients();
  await balancer?.close();
  balancer = undefined;
  await stopAllNodes();
});
afterAll(() => redis?.stop());

const person = (name: string) => ({ sub: uniqueUserId(name), name });

async function redisKeys(pattern: string): Promise<string[]> {
  const client = createRedisClient({ url: redis.url });
  await client.connect();
  try {
    return (await client.sendCommand(["KEYS", pattern])) as string[];
  } finally {
    client.destroy();
  }
}

async function redisCommand(args: string[]): Promise<unknown> {
  const client = createRedisClient({ url: redis.url });
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

test("SIGKILL of a node: the others send presence:leave for its users within the bound and free its connection slots", async () => {
  const env = { MAX_CONNECTIONS_PER_USER: "1" };
  const [A, C] = await Promise.all([startNode(redis.url, "kill-a", env), startNode(redis.url, "kill-c", env)]);
  const room = `kill-${process.pid}`;
  const aliceClaims = person("Alice");
  const bob = await connectClient(A.url, { claims: person("Bob") });
  await joinRoom(bob, room);
  const alice = await connectClient(C.url, { claims: aliceClaims });
  await joinRoom(alice, room);
  expect((await connectError(A.url, { claims: aliceClaims })).data).toMatchObject({ code: 4029 });
  const left = waitForEvent(bob, "presence:leave", { timeoutMs: 10_000 });
  await C.kill("SIGKILL");
  // FAST_PRESENCE: a 800 ms heartbeat TTL and a 150 ms reaper, so the bound here is about a second.
  expect(await left).toEqual({ roomId: room, user: { id: aliceClaims.sub, name: "Alice" } });
  const again = await connectClient(A.url, { claims: aliceClaims });
  const { members } = await joinRoom(again, room);
  expect(members.map((m) => m.name).sort()).toEqual(["Alice", "Bob"]);
});

test("SIGTERM drains: not ready at once, the ack in flight is answered, clients reconnect elsewhere, entries removed, exit 0", async () => {
  const [A, D] = await Promise.all([startNode(redis.url, "drain-a"), startNode(redis.url, "drain-d")]);
  balancer = await startBalancer(D.port);
  const room = `drain-${process.pid}`;
  const watcher = await connectClient(A.url, { claims: person("Watcher") });
  await joinRoom(watcher, room);
  const token = signToken(person("Mover"));
  const mover: Socket = createClient(balancer.url, { token, reconnection: true, reconnectionDelay: 100 });
  const firstSession = await waitForEvent(mover, "session");
  expect(firstSession.nodeId).toBe("drain-d");
  await joinRoom(mover, room);

  // Hold Redis writes for a moment so that this send is still in flight when SIGTERM arrives.
  await redisCommand(["CLIENT", "PAUSE", "600", "WRITE"]);
  const inFlight = request(mover, "message:send", { roomId: room, text: "in flight", clientMsgId: "drain-1" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const reason = waitForEvent<string>(mover, "disconnect", { timeoutMs: 5000 });
  const signalledAt = Date.now();
  let ackedAt = Infinity;
  void inFlight.then(() => (ackedAt = Date.now()));
  balancer.target = A.port;
  D.child.kill("SIGTERM");
  // The signal is handled on the node's next turn: from then on /readyz is 503, until the node is gone.
  const statuses: number[] = [];
  let notReadyAt = Infinity;
  while (D.child.exitCode === null && statuses.length < 500) {
    const status = await readiness(D.url);
    statuses.push(status);
    if (status === 503) notReadyAt = Math.min(notReadyAt, Date.now());
    if (status === 0) break;
  }
  const draining = statuses.indexOf(503);
  expect(draining).toBeGreaterThanOrEqual(0);
  expect(statuses.slice(draining)).not.toContain(200);

  const ack = await inFlight;
  // Not ready while the ack was still in flight, not only once the drain was over.
  expect(notReadyAt).toBeLessThan(ackedAt);
  expect(ack).toEqual({ ok: true, message: expect.objectContaining({ text: "in flight", clientMsgId: "drain-1" }) });
  // "transport close" makes socket.io-client reconnect; "io server disconnect" would not.
  expect(await reason).toBe("transport close");
  const secondSession = await waitForEvent(mover, "session", { timeoutMs: 5000 });
  expect(secondSession.nodeId).toBe("drain-a");

  expect(await D.exited).toBe(0);
  expect(Date.now() - signalledAt).toBeLessThan(10_000);
  expect(await redisKeys(`huddle:{nodes}:*:drain-d`)).toEqual([]);
  expect(await redisCommand(["SMEMBERS", createKeys().nodes])).toEqual(["drain-a"]);
  const history = await restHistory(A.url, room, token);
  expect(history.map((m: Message) => m.id)).toEqual([ack.message.id]);
  // Back in the room on node A, the user is a member again, once.
  const { members } = await joinRoom(mover, room);
  expect(members.filter((m) => m.name === "Mover")).toHaveLength(1);
  await eventually(async () => (await readiness(A.url)) === 200, "node A still ready");
});
