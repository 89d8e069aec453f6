/**
 * Two nodes on a private Redis Cluster (three masters, a replica each), §12:
 * the master holding a busy room is SIGKILLed mid-traffic and its replica
 * takes over. Once the cluster has recovered, no acknowledged message is
 * lost or doubled (senders retry with their clientMsgId, as clients do), the
 * other node's member got every message, and presence and typing are right.
 */
import type { Message } from "../../shared";
import { createKeys } from "../../server/redis/keys";
import { closeAllClients, collect, connectClient, eventually, sleep, waitForEvent } from "../helpers/clients";
import { nodeCommand, startRedisCluster, type TestRedisCluster } from "../helpers/redis-cluster";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, restHistory, startNode, stopAllNodes, type NodeProcess } from "./nodes";

let cluster: TestRedisCluster;
let A: NodeProcess;
let B: NodeProcess;
beforeAll(async () => {
  cluster = await startRedisCluster();
  // A budget the test's sender stays within: refusals here would only slow it down.
  const env = { RATE_BURST: "1000", RATE_PER_SEC: "1000" };
  [A, B] = await Promise.all([startNode(cluster.seeds, "fo-a", env), startNode(cluster.seeds, "fo-b", env)]);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllNodes();
  await cluster?.stop();
});

/** Sends until acknowledged (the same clientMsgId each time), as a client does while the service recovers. */
async function sendUntilStored(socket: Parameters<typeof request>[0], roomId: string, text: string, deadline: number) {
  for (;;) {
    const ack = await request(socket, "message:send", { roomId, text, clientMsgId: text }, 3000).catch(() => null);
    if (ack?.ok) return ack.message as Message;
    if (Date.now() > deadline) throw new Error(`"${text}" not stored before the deadline: ${JSON.stringify(ack)}`);
    await sleep(100);
  }
}

/** Runs `attempt` until it resolves, for at most `ms`; then its last error. */
async function retryFor<T>(ms: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** The port of the replica of the master serving `key`'s slot, and its process id. */
async function replicaOf(key: string): Promise<{ port: number; pid: number }> {
  const master = await cluster.masterForKey(key);
  const slot = Number(await nodeCommand(master.port, ["CLUSTER", "KEYSLOT", key]));
  const ranges = (await nodeCommand(master.port, ["CLUSTER", "SLOTS"])) as [number, number, ...[string, number][]][];
  const [, , , replica] = ranges.find(([from, to]) => from <= slot && slot <= to)!;
  const info = String(await nodeCommand(replica![1], ["INFO", "server"]));
  return { port: replica![1], pid: Number(/process_id:(\d+)/.exec(info)![1]) };
}

test("a message is acknowledged once its master's replica has it; a replica that does not answer delays only the first", async () => {
  const roomId = `replicated-${process.pid}`;
  const token = signToken({ sub: uniqueUserId("alice"), name: "Alice" });
  const alice = await connectClient(A.url, { token });
  await joinRoom(alice, roomId);
  const replica = await replicaOf(createKeys().room(roomId));
  const timed = async (text: string) => {
    const started = Date.now();
    const ack = await request(alice, "message:send", { roomId, text });
    expect(ack.ok).toBe(true);
    return Date.now() - started;
  };
  await timed("warm");
  process.kill(replica.pid, "SIGSTOP");
  try {
    // The master's WAIT runs out (250 ms): the message is acknowledged, as safe as its master can make it.
    expect(await timed("while the replica is frozen")).toBeGreaterThanOrEqual(240);
    // The next ones do not wait for a replica that just failed to answer.
    const started = Date.now();
    for (const text of ["a", "b", "c"]) await timed(text);
    expect(Date.now() - started).toBeLessThan(600);
  } finally {
    process.kill(replica.pid, "SIGCONT");
  }
  const history = await restHistory(A.url, roomId, token);
  expect(history.map((m) => m.text)).toEqual(["warm", "while the replica is frozen", "a", "b", "c"]);
});

test("a master killed mid-traffic: after the failover every acknowledged message is there once, and presence and typing are right", async () => {
  const roomId = `failover-${process.pid}`;
  const victim = await cluster.masterForKey(createKeys().room(roomId));
  const aliceToken = signToken({ sub: uniqueUserId("alice"), name: "Alice" });
  const alice = await connectClient(A.url, { token: aliceToken });
  const bob = await connectClient(B.url, { claims: { sub: uniqueUserId("bob"), name: "Bob" } });
  await joinRoom(alice, roomId);
  await joinRoom(bob, roomId);
  const heard = collect<Message>(bob, "message:new");

  const deadline = Date.now() + 40_000;
  const acked: Message[] = [];
  let killed: Promise<void> | undefined;
  for (let i = 0; i < 60; i++) {
    if (i === 20) killed = victim.kill();
    acked.push(await sendUntilStored(alice, roomId, `m${i}`, deadline));
    await sleep(20);
  }
  await killed;
  await cluster.waitForFailover(victim.port);

  // The node's own client finds the new master within a topology refresh (about a second): until then it may
  // answer 503, as a client retrying would see.
  const history = await retryFor(5000, () => restHistory(B.url, roomId, aliceToken));
  const texts = history.map((m) => m.text);
  expect(texts).toEqual(acked.map((m) => m.text));
  expect(new Set(history.map((m) => m.id)).size).toBe(60);
  const heardTexts = () => new Set(heard.items.map((m) => m.text));
  await eventually(() => heardTexts().size === 60, "every message on bob's node", 10_000).catch((error) => {
    const missing = texts.filter((text) => !heardTexts().has(text));
    throw new Error(`${(error as Error).message}; missing: ${missing.join(" ")}`);
  });
  expect([...new Set(heard.items.map((m) => m.text))].sort()).toEqual(texts.slice().sort());

  // Presence: a newcomer sees exactly alice and bob (and themself); typing flows between the nodes again.
  const carol = await connectClient(B.url, { claims: { sub: uniqueUserId("carol"), name: "Carol" } });
  const joined = await joinRoom(carol, roomId);
  expect(joined.members.map((u) => u.name).sort()).toEqual(["Alice", "Bob", "Carol"]);
  const typing = waitForEvent<{ users: { name: string }[] }>(bob, "typing:update", {
    predicate: (e) => e.users.some((u) => u.name === "Alice"),
  });
  expect((await request(alice, "typing:start", { roomId })).ok).toBe(true);
  await typing;
}, 90_000);
