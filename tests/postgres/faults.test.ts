/**
 * §10 with many nodes: two real nodes over one Redis and one PostgreSQL.
 * Clients on both nodes see a room's changes in one order; PostgreSQL killed
 * (-9) mid-traffic makes writes answer `unavailable` at once and `/readyz`
 * 503 while sockets stay, and once it is back nothing acknowledged is missing
 * or doubled; Redis flushed, and every node restarted, lose nothing either.
 */
import type { Message } from "../../shared";
import { closeAllClients, collect, connectClient, eventually, type HuddleClient } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
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
} from "../cluster/nodes";

let redis: TestRedis;
let postgres: TestPostgres;
let nodes: NodeProcess[];
const env = { RATE_BURST: "100000", RATE_PER_SEC: "100000" };
let databaseUrl: string;
const start = (id: string) => startNode(redis.url, id, { ...env, DATABASE_URL: databaseUrl });

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  databaseUrl = await postgres.createDatabase();
  nodes = await Promise.all([start("pg-a"), start("pg-b")]);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
  await postgres?.destroy();
});

let rooms = 0;
const freshRoom = () => `pgf-${process.pid}-${++rooms}`;
const person = (name: string) => ({ sub: uniqueUserId(name), name });

/** Changes a socket saw, as "new <id>" / "updated <rev>", in arrival order. */
function changes(socket: HuddleClient) {
  const seen: string[] = [];
  socket.on("message:new", (m) => seen.push(`new ${m.id}`));
  socket.on("message:updated", (m) => seen.push(`updated ${m.rev}`));
  return seen;
}
const position = (entry: string) => Number(entry.split("-").at(-1));

test("concurrent senders and changes on two nodes: every client on both nodes sees one order, the order of positions", async () => {
  const room = freshRoom();
  const writers = await Promise.all(
    [0, 1, 2, 3].map((i) => connectClient(nodes[i % 2]!.url, { claims: person(`W${i}`) })),
  );
  const watchers = await Promise.all(nodes.map((node) => connectClient(node.url, { claims: person("Watch") })));
  for (const socket of [...writers, ...watchers]) await joinRoom(socket, room);
  const seen = [...writers, ...watchers].map(changes);
  const base = await sendMessage(writers[0]!, room, "base");
  await Promise.all(
    writers.flatMap((socket, i) => [
      ...Array.from({ length: 10 }, (_, j) => sendMessage(socket, room, `w${i}-${j}`)),
      request(socket, "reaction:add", { roomId: room, id: base.id, emoji: `:w${i}:` }),
    ]),
  );
  await eventually(() => seen.every((list) => list.length === 45), "45 changes on every client", 10_000);
  for (const list of seen) {
    expect(list).toEqual(seen[0]);
    expect(list.map(position)).toEqual([...list.map(position)].sort((x, y) => x - y));
  }
});

test("PostgreSQL killed mid-traffic: writes answer unavailable at once, /readyz 503, sockets stay; back: nothing acknowledged lost or doubled", async () => {
  const room = freshRoom();
  const senders = await Promise.all(nodes.map((node) => connectClient(node.url, { claims: person("Sender") })));
  for (const socket of senders) await joinRoom(socket, room);
  const disconnects = senders.map((socket) => collect(socket, "disconnect"));
  const acked = new Map<string, Message>();
  const pending = new Set<string>();
  let counter = 0;
  let stop = false;
  const slowest: number[] = [];
  const traffic = senders.map(async (socket, s) => {
    while (!stop) {
      const clientMsgId = `s${s}-${++counter}`;
      const startedAt = Date.now();
      const ack = await request(socket, "message:send", { roomId: room, text: clientMsgId, clientMsgId }, 10_000);
      slowest.push(Date.now() - startedAt);
      if (ack.ok) acked.set(clientMsgId, ack.message);
      else {
        expect(ack.error.code).toBe("unavailable");
        pending.add(clientMsgId);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
  await eventually(() => acked.size >= 40, "traffic before the fault", 10_000);
  await postgres.kill();
  await eventually(
    async () => (await Promise.all(nodes.map((n) => readiness(n.url)))).every((s) => s === 503),
    "/readyz 503 on both nodes",
    10_000,
  );
  await eventually(() => pending.size >= 4, "writes refused while PostgreSQL is away", 10_000);
  await postgres.start();
  await eventually(
    async () => (await Promise.all(nodes.map((n) => readiness(n.url)))).every((s) => s === 200),
    "/readyz 200 again",
    20_000,
  );
  const ackedBefore = acked.size;
  await eventually(() => acked.size >= ackedBefore + 20, "traffic after the fault", 10_000);
  stop = true;
  await Promise.all(traffic);
  // Clients re-send what was refused, with its clientMsgId (the outbox of a real client does).
  for (const clientMsgId of pending) {
    const ack = await request(senders[0]!, "message:send", { roomId: room, text: clientMsgId, clientMsgId });
    expect(ack.ok).toBe(true);
    acked.set(clientMsgId, ack.message);
  }
  expect(Math.max(...slowest)).toBeLessThan(6000);
  expect(disconnects.map((d) => d.items)).toEqual([[], []]);
  const history = await restHistory(nodes[0]!.url, room, signToken(person("Reader")));
  const byClientMsgId = new Map(history.map((m) => [m.clientMsgId, m]));
  expect(history).toHaveLength(byClientMsgId.size);
  for (const [clientMsgId, message] of acked) expect(byClientMsgId.get(clientMsgId)?.id).toBe(message.id);
  expect(history.length).toBe(acked.size);
  expect(history.map((m) => m.seq)).toEqual(history.map((_, i) => i + 1));
}, 90_000);

test("Redis flushed, then every node restarted: history, markers and idempotency intact", async () => {
  const room = freshRoom();
  const alice = person("Alice");
  const bob = person("Bob");
  const a = await connectClient(nodes[0]!.url, { token: signToken(alice) });
  const b = await connectClient(nodes[1]!.url, { token: signToken(bob) });
  await joinRoom(b, room);
  await joinRoom(a, room);
  const sent: Message[] = [];
  for (let i = 0; i < 6; i++) sent.push(await sendMessage(a, room, `m${i}`, `keep-${i}`));
  await request(b, "room:read", { roomId: room, upTo: sent[3]!.id });
  await request(b, "reaction:add", { roomId: room, id: sent[0]!.id, emoji: "🎉" });
  const reader = signToken(person("Reader"));
  const before = await restHistory(nodes[0]!.url, room, reader);

  const check = async (node: NodeProcess) => {
    expect(await restHistory(node.url, room, reader)).toEqual(before);
    const again = await connectClient(node.url, { token: signToken(bob) });
    expect(await joinRoom(again, room)).toMatchObject({ readUpTo: sent[3]!.id, unread: 2 });
    const author = await connectClient(node.url, { token: signToken(alice) });
    await joinRoom(author, room);
    expect(await request(author, "message:send", { roomId: room, text: "dup?", clientMsgId: "keep-1" })).toEqual({
      ok: true,
      message: before[1],
    });
  };

  const admin = await connectClient(nodes[0]!.url, { claims: person("Admin") });
  admin.close();
  const { createClient } = await import("redis");
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.flushAll();
  await client.close();
  await eventually(async () => (await readiness(nodes[0]!.url)) === 200, "node ready after the flush", 10_000);
  await check(nodes[0]!);

  for (const [i, node] of nodes.entries()) {
    await node.kill("SIGTERM");
    nodes[i] = await start(node.nodeId);
  }
  await check(nodes[1]!);
}, 60_000);
