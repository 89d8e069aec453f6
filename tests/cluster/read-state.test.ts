/**
 * §9 across two real nodes over one Redis: a user's tabs on two nodes, public
 * and private reads, coalescing, the broadcast limit, and rooms:list.
 */
import type { Message, ReadUpdate } from "../../shared";
import { closeAllClients, collect, connectClient, eventually, sleep, waitForEvent } from "../helpers/clients";
import { startSharedRedis, type SharedRedis } from "../helpers/shared-redis";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, sendMessage, startNode, stopAllNodes, type NodeProcess } from "./nodes";

let redis: SharedRedis;
let A: NodeProcess;
let B: NodeProcess;
beforeAll(async () => {
  redis = await startSharedRedis();
  const env = { RATE_BURST: "1000", RATE_PER_SEC: "1000", READ_BROADCAST_MAX_MEMBERS: "3" };
  [A, B] = await Promise.all([startNode(redis.url, "reads-a", env), startNode(redis.url, "reads-b", env)]);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
});

let rooms = 0;
const freshRoom = () => `reads-${process.pid}-${++rooms}`;
const person = (name: string) => {
  const sub = uniqueUserId(name);
  return { sub, name, token: signToken({ sub, name }) };
};

test("two tabs of one user on two nodes: reading in one clears the other's unread at once; others see public reads only", async () => {
  const room = freshRoom();
  const alice = person("Alice");
  const bob = person("Bob");
  const writer = await connectClient(A.url, { token: alice.token });
  const tabA = await connectClient(A.url, { token: bob.token });
  const tabB = await connectClient(B.url, { token: bob.token });
  const watcher = await connectClient(B.url, { token: person("Carol").token });
  for (const socket of [writer, tabA, tabB, watcher]) await joinRoom(socket, room);
  const m1 = await sendMessage(writer, room, "one");
  const m2 = await sendMessage(writer, room, "two");
  expect((await joinRoom(tabB, room)).unread).toBe(2);

  const atTabB = waitForEvent<ReadUpdate>(tabB, "read:updated");
  const atWatcher = waitForEvent<ReadUpdate>(watcher, "read:updated");
  expect(await request(tabA, "room:read", { roomId: room, upTo: m1.id })).toEqual({
    ok: true,
    readUpTo: m1.id,
    unread: 1,
  });
  await expect(atTabB).resolves.toEqual({
    roomId: room,
    user: { id: bob.sub, name: "Bob" },
    readUpTo: m1.id,
    readSeq: 1,
  });
  await expect(atWatcher).resolves.toMatchObject({ readUpTo: m1.id });
  expect((await request(tabB, "rooms:list", {})).rooms).toEqual([
    expect.objectContaining({ roomId: room, readUpTo: m1.id, unread: 1 }),
  ]);

  // Private: the other tab hears it, the watcher on the other node does not, room:reads keeps the public position.
  await sleep(1100);
  const seenByWatcher = collect<ReadUpdate>(watcher, "read:updated");
  const privateAtTabB = waitForEvent<ReadUpdate>(tabB, "read:updated", { predicate: (u) => u.readUpTo === m2.id });
  await request(tabA, "room:read", { roomId: room, upTo: m2.id, private: true });
  await expect(privateAtTabB).resolves.toMatchObject({ readSeq: 2 });
  await sleep(200);
  expect(seenByWatcher.items).toEqual([]);
  const reads = await request(watcher, "room:reads", { roomId: room });
  expect(reads.reads.find((r: { user: { id: string } }) => r.user.id === bob.sub)).toEqual({
    user: { id: bob.sub, name: "Bob" },
    readUpTo: m1.id,
    readSeq: 1,
  });
  expect((await request(tabB, "rooms:list", {})).rooms[0]).toMatchObject({ readUpTo: m2.id, unread: 0 });
});

test("coalescing across nodes delivers the latest marker", async () => {
  const room = freshRoom();
  const alice = person("Alice");
  const bob = person("Bob");
  const writer = await connectClient(A.url, { token: alice.token });
  const reader = await connectClient(B.url, { token: bob.token });
  await joinRoom(writer, room);
  await joinRoom(reader, room);
  const sent: Message[] = [];
  for (let i = 0; i < 8; i++) sent.push(await sendMessage(writer, room, `m${i}`));
  const seen = collect<ReadUpdate>(writer, "read:updated");
  for (const m of sent) await request(reader, "room:read", { roomId: room, upTo: m.id });
  await eventually(() => seen.items.at(-1)?.readUpTo === sent[7]!.id, "the latest marker on the other node", 3000);
  expect(seen.items.length).toBeLessThanOrEqual(2);
});

test("past READ_BROADCAST_MAX_MEMBERS no public read:updated crosses nodes, and room:reads still answers", async () => {
  const room = freshRoom();
  const people = ["P1", "P2", "P3", "P4"].map(person);
  const sockets = await Promise.all(people.map((p, i) => connectClient(i % 2 ? B.url : A.url, { token: p.token })));
  for (const socket of sockets) await joinRoom(socket, room);
  const m = await sendMessage(sockets[0]!, room, "busy room");
  const others = sockets.slice(2).map((socket) => collect<ReadUpdate>(socket, "read:updated"));
  const own = waitForEvent<ReadUpdate>(sockets[1]!, "read:updated");
  await request(sockets[1]!, "room:read", { roomId: room, upTo: m.id });
  await expect(own).resolves.toMatchObject({ readUpTo: m.id });
  await sleep(300);
  expect(others.flatMap((o) => o.items)).toEqual([]);
  const reads = await request(sockets[3]!, "room:reads", { roomId: room });
  expect(reads.reads.map((r: { user: { id: string } }) => r.user.id).sort()).toEqual(
    [people[0]!.sub, people[1]!.sub].sort(),
  );
});
