/**
 * Redis SIGKILLed and restarted under two real nodes, mid-traffic. Sends
 * during the outage are answered `unavailable` and not broadcast, /readyz
 * turns 503 and back to 200 with no restart of the nodes, no acknowledged
 * message is missing from history, nothing is stored or delivered twice, and
 * delivery works again on both nodes (the subscriptions are restored:
 * socket.io#4845 is the failure this guards against).
 */
import type { Message } from "../../shared";
import { closeAllClients, collect, connectClient, eventually, sleep, waitForEvent } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import {
  joinRoom,
  readiness,
  request,
  restHistory,
  sendMessage,
  startNode,
  stopAllNodes,
  type NodeProcess,
} from "./nodes";

let redis: TestRedis | undefined;
afterEach(async () => {
  closeAllClients();
  await stopAllNodes();
  await redis?.stop();
});

const person = (name: string) => ({ sub: uniqueUserId(name), name });
const RELAXED = { RATE_BURST: "1000", RATE_PER_SEC: "1000" };

async function bothReady(nodes: NodeProcess[], status: number, what: string) {
  await eventually(
    async () => (await Promise.all(nodes.map((n) => readiness(n.url)))).every((s) => s === status),
    what,
    10_000,
  );
}

test("Redis killed and restarted mid-traffic: unavailable meanwhile, nothing acknowledged lost or doubled, delivery resumes on both nodes", async () => {
  // Persistent, as production Redis should be: what was acknowledged survives the kill.
  redis = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
  const nodes = await Promise.all([startNode(redis.url, "rf-a", RELAXED), startNode(redis.url, "rf-b", RELAXED)]);
  const [A, B] = nodes as [NodeProcess, NodeProcess];
  const room = `rf-${process.pid}`;
  const senders = await Promise.all([A, B].map((node) => connectClient(node.url, { claims: person("Sender") })));
  const readers = await Promise.all([A, B].map((node) => connectClient(node.url, { claims: person("Reader") })));
  for (const socket of [...senders, ...readers]) await joinRoom(socket, room);
  const received = readers.map((socket) => collect<Message>(socket, "message:new"));

  type Outcome = { clientMsgId: string; text: string; sender: number; ack: any; sentAt: number };
  const outcomes: Outcome[] = [];
  let phase: "before" | "outage" | "restarting" | "after" = "before";
  const outageSends: Outcome[] = [];
  let running = true;
  const traffic = senders.map(async (socket, sender) => {
    for (let i = 0; running; i++) {
      const clientMsgId = `s${sender}-${i}`;
      const text = `${phase} ${clientMsgId}`;
      const outcome: Outcome = { clientMsgId, text, sender, ack: undefined, sentAt: Date.now() };
      const confirmedDown = phase === "outage";
      outcome.ack = await request(socket, "message:send", { roomId: room, text, clientMsgId }, 8000);
      outcomes.push(outcome);
      if (confirmedDown) outageSends.push(outcome);
      await sleep(15);
    }
  });

  await sleep(400);
  await redis.kill();
  await bothReady(nodes, 503, "/readyz 503 on both nodes while Redis is down");
  phase = "outage";
  await sleep(500);
  phase = "restarting";
  await redis.start();
  await bothReady(nodes, 200, "/readyz 200 again on both nodes");
  phase = "after";
  const recoveredAt = Date.now();
  await sleep(600);
  running = false;
  await Promise.all(traffic);

  // Sends made while Redis was known to be down were refused, and nobody saw them.
  expect(outageSends.length).toBeGreaterThan(0);
  for (const o of outageSends) expect(o.ack).toMatchObject({ ok: false, error: { code: "unavailable" } });
  const seenTexts = new Set(received.flatMap((sink) => sink.items.map((m) => m.text)));
  for (const o of outageSends) expect(seenTexts.has(o.text)).toBe(false);

  // The clients retry what was refused, with the same clientMsgId: stored once.
  const token = signToken(person("Auditor"));
  for (const o of outcomes.filter((o) => !o.ack.ok)) {
    o.ack = { ok: true, message: await sendMessage(senders[o.sender]!, room, o.text, o.clientMsgId) };
  }
  const history = await restHistory(A.url, room, token);
  const ids = history.map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(history.map((m) => `${m.user.id} ${m.clientMsgId}`)).size).toBe(history.length);
  for (const o of outcomes) expect(ids).toContain(o.ack.message.id);
  expect(history).toHaveLength(outcomes.length);

  // Delivery works again on both nodes: everything acknowledged after recovery reached both readers,
  // and no reader saw a message twice or out of history order.
  const afterRecovery = outcomes.filter((o) => o.sentAt > recoveredAt && o.ack.message).map((o) => o.ack.message.id);
  expect(afterRecovery.length).toBeGreaterThan(0);
  await eventually(
    () => received.every((sink) => afterRecovery.every((id) => sink.items.some((m) => m.id === id))),
    "every message sent after recovery at both readers",
    5000,
  );
  for (const sink of received) {
    const seen = sink.items.map((m) => m.id);
    expect(new Set(seen).size).toBe(seen.length);
    const positions = seen.map((id) => ids.indexOf(id));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  }
}, 60_000);

test("Redis restarted empty: the nodes put their members back, and messages flow between them again", async () => {
  redis = await startRedis();
  const nodes = await Promise.all([startNode(redis.url, "re-a"), startNode(redis.url, "re-b")]);
  const [A, B] = nodes as [NodeProcess, NodeProcess];
  const room = `re-${process.pid}`;
  const alice = await connectClient(A.url, { claims: person("Alice") });
  const bob = await connectClient(B.url, { claims: person("Bob") });
  await joinRoom(alice, room);
  await joinRoom(bob, room);
  await redis.kill();
  await bothReady(nodes, 503, "/readyz 503 on both nodes");
  expect(await request(alice, "message:send", { roomId: room, text: "lost" })).toMatchObject({
    ok: false,
    error: { code: "unavailable" },
  });
  await redis.start();
  await bothReady(nodes, 200, "/readyz 200 on both nodes");
  // The sockets stayed connected through the outage, and the room's members are right again.
  expect(alice.connected && bob.connected).toBe(true);
  await eventually(async () => {
    const carol = await connectClient(B.url, { claims: person("Carol") });
    const { members } = await joinRoom(carol, room);
    carol.close();
    return ["Alice", "Bob", "Carol"].every((name) => members.some((m) => m.name === name));
  }, "Alice and Bob members again");
  const onBob = waitForEvent<Message>(bob, "message:new");
  const onAlice = waitForEvent<Message>(alice, "message:new");
  const message = await sendMessage(alice, room, "after the restart");
  expect(await onBob).toEqual(message);
  expect(await onAlice).toEqual(message);
  const back = waitForEvent<Message>(alice, "message:new");
  const reply = await sendMessage(bob, room, "reply from B");
  expect(await back).toEqual(reply);
}, 60_000);
