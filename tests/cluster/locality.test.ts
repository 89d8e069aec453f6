/**
 * Rooms only where they are served (§12), seen from Redis: a node subscribes
 * to a room's sharded channel while it has a member, an SSE stream or a long
 * poll there, and to a user's while it holds a connection of theirs; it
 * unsubscribes a linger after the last one went. A node with no one in a
 * room is not subscribed to it (PUBSUB SHARDNUMSUB), and it is not told of its
 * messages. Runs on one Redis and on a Redis Cluster.
 */
import { command, type Redis } from "../../server/redis/client";
import { createKeys } from "../../server/redis/keys";
import { closeAllClients, collect, connectClient, eventually, sleep } from "../helpers/clients";
import { nodeCommand } from "../helpers/redis-cluster";
import { startSharedRedis, type SharedRedis } from "../helpers/shared-redis";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, sendMessage, startNode, stopAllNodes, type NodeProcess } from "./nodes";

let redis: SharedRedis;
let admin: Redis;
let A: NodeProcess;
let B: NodeProcess;
const keys = createKeys();
beforeAll(async () => {
  redis = await startSharedRedis();
  admin = await redis.admin();
  [A, B] = await Promise.all([startNode(redis.url, "loc-a"), startNode(redis.url, "loc-b")]);
}, 60_000);
const streams: SseStream[] = [];
afterEach(() => {
  closeAllClients();
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
});

let rooms = 0;
const freshRoom = () => `loc-${process.pid}-${++rooms}`;
/** How many connections (nodes) subscribe to `channel`, asked of the shard that serves it. */
const subscribers = async (channel: string) => {
  const args = ["PUBSUB", "SHARDNUMSUB", channel];
  const reply = redis.cluster
    ? await nodeCommand((await redis.cluster.masterForKey(channel)).port, args)
    : await command(admin, channel, args);
  return Number((reply as [string, number])[1]);
};
const person = (name: string) => ({ sub: uniqueUserId(name), name });

test("only the node with members subscribes to a room, and the other node hears nothing of its messages", async () => {
  const busy = [freshRoom(), freshRoom(), freshRoom()];
  const quiet = freshRoom();
  const alice = await connectClient(A.url, { claims: person("Alice") });
  const bob = await connectClient(A.url, { claims: person("Bob") });
  const carol = await connectClient(B.url, { claims: person("Carol") });
  for (const room of busy) {
    await joinRoom(alice, room);
    await joinRoom(bob, room);
  }
  await joinRoom(carol, quiet);
  const heardOnB = collect(carol, "message:new");
  for (const room of busy) for (let i = 0; i < 5; i++) await sendMessage(alice, room, `${room} ${i}`);
  for (const room of busy) expect(await subscribers(keys.roomEvents(room))).toBe(1);
  expect(await subscribers(keys.roomEvents(quiet))).toBe(1); // node B's, for carol
  await sendMessage(carol, quiet, "hello from B");
  await eventually(() => heardOnB.items.length === 1, "carol's own message");
  expect(heardOnB.items.map((m: { text: string }) => m.text)).toEqual(["hello from B"]);
  // Node B's own counter: the busy rooms' messages never reached it.
  const metrics = await (await fetch(`${B.url}/metrics`)).text();
  expect(metrics).toMatch(/^huddle_bus_rooms_followed(\{[^}]*\})? 1$/m);
});

test("a second node subscribes when it gets a member, and the first unsubscribes a linger after its last member left", async () => {
  const room = freshRoom();
  const channel = keys.roomEvents(room);
  const alice = await connectClient(A.url, { claims: person("Alice") });
  await joinRoom(alice, room);
  expect(await subscribers(channel)).toBe(1);
  const bob = await connectClient(B.url, { claims: person("Bob") });
  await joinRoom(bob, room);
  expect(await subscribers(channel)).toBe(2);
  const heard = collect(bob, "message:new");
  await sendMessage(alice, room, "to both nodes");
  await eventually(() => heard.items.length === 1, "bob hears alice across nodes");
  expect((await request(alice, "room:leave", { roomId: room })).ok).toBe(true);
  // Lingering (a quick rejoin costs nothing), then gone.
  expect(await subscribers(channel)).toBe(2);
  await eventually(async () => (await subscribers(channel)) === 1, "node A unsubscribed after the linger", 10_000);
});

test("an SSE stream and a long poll make their node subscribe; a user's connection subscribes to the user's channel", async () => {
  const room = freshRoom();
  const user = person("Dana");
  const token = signToken(user);
  expect(await subscribers(keys.roomEvents(room))).toBe(0);
  const stream = await openSse(`${B.url}/api/rooms/${room}/events?token=${token}`);
  streams.push(stream);
  expect(stream.status).toBe(200);
  await eventually(async () => (await subscribers(keys.roomEvents(room))) === 1, "node B subscribed for the stream");
  const other = freshRoom();
  const poll = fetch(`${A.url}/api/rooms/${other}/poll?token=${token}&timeout=2`);
  await eventually(async () => (await subscribers(keys.roomEvents(other))) === 1, "node A subscribed for the poll");
  await (await poll).arrayBuffer();
  const socket = await connectClient(A.url, { token });
  await eventually(async () => (await subscribers(keys.userEvents(user.sub))) >= 1, "the user's channel followed");
  socket.disconnect();
  stream.close();
  await sleep(50);
});
