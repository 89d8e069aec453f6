/**
 * Two real node processes over one Redis behave, for clients spread over
 * them, like one node: messages, order, presence, typing, idempotency, rate
 * limits, the connection cap, REST publishing to SSE and long polls, and
 * resuming on the other node.
 */
import type { Message } from "../../shared";
import {
  closeAllClients,
  collect,
  connectClient,
  connectError,
  eventually,
  sleep,
  waitForEvent,
} from "../helpers/clients";
import { startSharedRedis, type SharedRedis } from "../helpers/shared-redis";
import { openSse } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, restHistory, sendMessage, startNode, stopAllNodes, type NodeProcess } from "./nodes";

let redis: SharedRedis;
let A: NodeProcess;
let B: NodeProcess;
beforeAll(async () => {
  redis = await startSharedRedis();
  const env = { RATE_BURST: "5", RATE_PER_SEC: "1", MAX_CONNECTIONS_PER_USER: "2" };
  [A, B] = await Promise.all([startNode(redis.url, "node-a", env), startNode(redis.url, "node-b", env)]);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
});

let rooms = 0;
const freshRoom = () => `cross-${process.pid}-${++rooms}`;
const person = (name: string) => ({ sub: uniqueUserId(name), name });

test("a message sent through node A reaches the room's clients on node B (WebSocket and polling) and the sender", async () => {
  const room = freshRoom();
  const alice = await connectClient(A.url, { claims: person("Alice") });
  const bob = await connectClient(B.url, { claims: person("Bob"), transport: "polling" });
  const carol = await connectClient(B.url, { claims: person("Carol") });
  for (const socket of [alice, bob, carol]) await joinRoom(socket, room);
  const received = [alice, bob, carol].map((socket) => waitForEvent<Message>(socket, "message:new"));
  const message = await sendMessage(alice, room, "hello from A");
  for (const got of await Promise.all(received)) expect(got).toEqual(message);
});

test("concurrent senders on two nodes: every receiver on both nodes sees exactly the history order", async () => {
  const room = freshRoom();
  const senders = await Promise.all(
    ["S1", "S2", "S3", "S4"].map((name, i) => connectClient(i % 2 ? B.url : A.url, { claims: person(name) })),
  );
  const watchers = await Promise.all([A, B].map((node) => connectClient(node.url, { claims: person("W") })));
  const everyone = [...senders, ...watchers];
  for (const socket of everyone) await joinRoom(socket, room);
  const seen = everyone.map((socket) => collect<Message>(socket, "message:new"));
  await Promise.all(
    senders.flatMap((socket, s) => Array.from({ length: 5 }, (_, i) => sendMessage(socket, room, `s${s}-${i}`))),
  );
  await eventually(() => seen.every((sink) => sink.items.length >= 20), "20 messages at every receiver", 5000);
  const history = (await restHistory(A.url, room, signToken())).map((m) => m.id);
  expect(history).toHaveLength(20);
  for (const sink of seen) expect(sink.items.map((m) => m.id)).toEqual(history);
});

test("two tabs of one user on two nodes are one member: one presence:join, and a leave only when the last one goes", async () => {
  const room = freshRoom();
  const aliceClaims = person("Alice");
  const bob = await connectClient(A.url, { claims: person("Bob") });
  await joinRoom(bob, room);
  const joins = collect(bob, "presence:join");
  const leaves = collect(bob, "presence:leave");
  const tab1 = await connectClient(A.url, { claims: aliceClaims });
  const tab2 = await connectClient(B.url, { claims: aliceClaims });
  await joinRoom(tab1, room);
  await joinRoom(tab2, room);
  const carol = await connectClient(B.url, { claims: person("Carol") });
  const { members } = await joinRoom(carol, room);
  expect(members.filter((m) => m.id === aliceClaims.sub)).toEqual([{ id: aliceClaims.sub, name: "Alice" }]);
  expect(joins.items.filter((e) => e.user.id === aliceClaims.sub)).toHaveLength(1);
  tab1.close();
  await sleep(300);
  expect(leaves.items).toEqual([]);
  tab2.close();
  const left = await waitForEvent(bob, "presence:leave");
  expect(left).toEqual({ roomId: room, user: { id: aliceClaims.sub, name: "Alice" } });
});

test("typing on node A is seen on node B, and sending ends it", async () => {
  const room = freshRoom();
  const aliceClaims = person("Alice");
  const alice = await connectClient(A.url, { claims: aliceClaims });
  const bob = await connectClient(B.url, { claims: person("Bob") });
  await joinRoom(alice, room);
  await joinRoom(bob, room);
  const typing = waitForEvent(bob, "typing:update");
  expect((await request(alice, "typing:start", { roomId: room })).ok).toBe(true);
  expect(await typing).toEqual({ roomId: room, users: [{ id: aliceClaims.sub, name: "Alice" }] });
  const stopped = waitForEvent(bob, "typing:update");
  await sendMessage(alice, room, "done typing");
  expect(await stopped).toEqual({ roomId: room, users: [] });
});

test("the same clientMsgId sent to node A, then to node B and over REST on node B, is stored and broadcast once", async () => {
  const room = freshRoom();
  const aliceClaims = person("Alice");
  const token = signToken(aliceClaims);
  const onA = await connectClient(A.url, { token });
  const onB = await connectClient(B.url, { token });
  const watcher = await connectClient(B.url, { claims: person("W") });
  for (const socket of [onA, onB, watcher]) await joinRoom(socket, room);
  const seen = collect<Message>(watcher, "message:new");
  const first = await sendMessage(onA, room, "once", "retry-1");
  const again = await sendMessage(onB, room, "twice?", "retry-1");
  expect(again).toEqual(first);
  const rest = await fetch(`${B.url}/api/rooms/${room}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ text: "thrice?", clientMsgId: "retry-1" }),
  });
  expect(rest.status).toBe(200);
  expect(((await rest.json()) as { message: Message }).message).toEqual(first);
  await sleep(300);
  expect(seen.items).toEqual([first]);
  expect(await restHistory(B.url, room, token)).toEqual([first]);
});

test("the message budget is the user's across nodes", async () => {
  const room = freshRoom();
  const token = signToken(person("Fast"));
  const onA = await connectClient(A.url, { token });
  const onB = await connectClient(B.url, { token });
  await joinRoom(onA, room);
  await joinRoom(onB, room);
  const acks = [];
  for (let i = 0; i < 6; i++)
    acks.push(await request(i % 2 ? onB : onA, "message:send", { roomId: room, text: `m${i}` }));
  expect(acks.filter((ack) => ack.ok)).toHaveLength(5);
  expect(acks[5]).toEqual({
    ok: false,
    error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
  });
  expect(acks[5].error.retryAfterMs).toBeGreaterThan(0);
});

test("MAX_CONNECTIONS_PER_USER counts the user's connections on every node", async () => {
  const token = signToken(person("Busy"));
  const first = await connectClient(A.url, { token });
  await connectClient(B.url, { token });
  for (const node of [A, B]) expect((await connectError(node.url, { token })).data).toMatchObject({ code: 4029 });
  first.close();
  await eventually(async () => {
    try {
      (await connectClient(B.url, { token })).close();
      return true;
    } catch {
      return false;
    }
  }, "a connection on node B once the slot on node A is freed");
});

test("a message published over REST on node A reaches an SSE stream and a long poll on node B", async () => {
  const room = freshRoom();
  const token = signToken(person("Poster"));
  const post = async (text: string) => {
    const response = await fetch(`${A.url}/api/rooms/${room}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ text }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { message: Message }).message;
  };
  const first = await post("first");
  const sse = await openSse(`${B.url}/api/rooms/${room}/events?token=${token}`);
  try {
    expect(sse.status).toBe(200);
    const poll = fetch(`${B.url}/api/rooms/${room}/poll?after=${first.id}&timeout=10&token=${token}`);
    await sleep(100);
    const second = await post("second");
    const event = await sse.next("message", 5000);
    expect(event.id).toBe(second.id);
    expect(JSON.parse(event.data)).toEqual(second);
    const answer = await poll;
    expect(await answer.json()).toEqual({ messages: [second], updates: [], cursor: second.id });
  } finally {
    sse.close();
  }
});

test("a client that comes back on the other node with since gets exactly the messages it missed, in order", async () => {
  const room = freshRoom();
  const readerClaims = person("Reader");
  const writer = await connectClient(B.url, { claims: person("Writer") });
  await joinRoom(writer, room);
  const reader = await connectClient(A.url, { claims: readerClaims });
  await joinRoom(reader, room);
  const seen = waitForEvent<Message>(reader, "message:new");
  const m1 = await sendMessage(writer, room, "m1");
  expect(await seen).toEqual(m1);
  reader.close();
  const missed = [];
  for (const text of ["m2", "m3", "m4"]) missed.push(await sendMessage(writer, room, text));
  const back = await connectClient(B.url, { claims: readerClaims });
  const result = await joinRoom(back, room, m1.id);
  expect(result.resumed).toBe(true);
  expect(result.history).toEqual(missed);
});
