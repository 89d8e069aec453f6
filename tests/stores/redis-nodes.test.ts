/**
 * What only the Redis stores do: fail fast while Redis is away and serve
 * again by themselves when it returns, restore the event subscription and
 * deliver what was missed, reap nodes that died, remove a node's entries on
 * shutdown, and put a node's entries back when Redis comes back empty.
 * Every test has its own redis-server, since some kill it.
 */
import type { RoomEvent } from "../../server/core/bus";
import { StoreUnavailableError } from "../../server/errors";
import { command } from "../../server/redis/client";
import { createRoomOrder } from "../../server/transport/room-order";
import type { User } from "../../shared";
import { eventually } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { kitConfig, redisStores, type RedisStores } from "./store-kits";

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };
/** Short node heartbeats, so that a dead node is reaped within a test. */
const FAST = { PRESENCE_HEARTBEAT_MS: "100", PRESENCE_TTL_MS: "500", PRESENCE_REAP_MS: "100" };

let redis: TestRedis;
const opened: RedisStores[] = [];
let prefixes = 0;
let prefix: string;

beforeEach(async () => {
  redis = await startRedis();
  prefix = `n${++prefixes}:`;
});
afterEach(async () => {
  for (const stores of opened.splice(0)) await stores.close();
  await redis.stop();
});

async function node(nodeId: string, options: { connectWaitMs?: number } = {}) {
  const stores = await redisStores(kitConfig({ ...FAST, REDIS_URL: redis.url, NODE_ID: nodeId }), prefix, options);
  opened.push(stores);
  const events: RoomEvent[] = [];
  stores.bus.subscribe((event) => events.push(event));
  // Every test here watches room "r": a node hears a room's events only while it follows it (§12).
  // Without Redis it fails, and the bus subscribes once Redis is there.
  await stores.bus.followRoom?.("r").catch(() => {});
  return { stores, events };
}

/** A raw command on a node's command connection. */
const raw = (stores: RedisStores, ...args: string[]) => command(stores.client, undefined, args);

/** Fails naming `what` unless `promise` settles within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const leaves = (events: RoomEvent[], roomId: string) =>
  events.filter((e) => e.type === "presence" && e.change === "leave" && e.roomId === roomId);

test("while Redis is down a store call rejects at once with StoreUnavailableError, and the same stores serve again when it returns", async () => {
  const { stores } = await node("a");
  expect(stores.isReady()).toBe(true);
  await redis.kill();
  await eventually(() => !stores.isReady(), "the stores to report not ready");
  const send = stores.messages.append({ roomId: "r", user: alice, text: "lost", ts: Date.now() });
  await expect(within(send, 1500, "the append to fail")).rejects.toBeInstanceOf(StoreUnavailableError);
  await expect(within(stores.presence.members("r"), 1500, "members to fail")).rejects.toBeInstanceOf(
    StoreUnavailableError,
  );
  await redis.start();
  await eventually(() => stores.isReady(), "the stores to report ready again", 5000);
  const { message } = await stores.messages.append({ roomId: "r", user: alice, text: "kept", ts: Date.now() });
  expect((await stores.messages.latest("r", 10)).messages).toEqual([message]);
});

test("a command Redis does not answer fails as unavailable after the command timeout", async () => {
  const { stores } = await node("a");
  const { stores: admin } = await node("admin");
  await raw(admin, "CLIENT", "PAUSE", "2500", "ALL");
  const send = stores.messages.append({ roomId: "r", user: alice, text: "x", ts: Date.now() });
  await expect(within(send, 2000, "the append to time out")).rejects.toBeInstanceOf(StoreUnavailableError);
});

test("starts without Redis, not ready, and becomes ready by itself when Redis comes", async () => {
  await redis.kill();
  const { stores } = await node("a", { connectWaitMs: 200 });
  expect(stores.isReady()).toBe(false);
  await expect(stores.messages.latest("r", 1)).rejects.toBeInstanceOf(StoreUnavailableError);
  await redis.start();
  await eventually(() => stores.isReady(), "the stores to become ready", 5000);
  expect(await stores.messages.latest("r", 1)).toEqual({ messages: [], more: false });
});

test("events published after Redis restarted still reach every node (the subscription is restored)", async () => {
  const a = await node("a");
  const b = await node("b");
  await a.stores.messages.append({ roomId: "r", user: alice, text: "before", ts: Date.now() });
  await eventually(() => b.events.length === 1, "the first message on node b");
  await redis.kill();
  await redis.start();
  await eventually(() => a.stores.isReady() && b.stores.isReady(), "both nodes ready again", 5000);
  const { message } = await a.stores.messages.append({ roomId: "r", user: alice, text: "after", ts: Date.now() });
  await b.stores.bus.publish({ type: "typing", roomId: "r", users: [bob] });
  await eventually(
    () => b.events.length === 3 && a.events.length === 3,
    "the message and the typing event on both nodes",
  );
  expect(b.events[1]).toEqual({ type: "message", roomId: "r", message });
  expect(a.events[2]).toEqual({ type: "typing", roomId: "r", users: [bob] });
});

test("messages stored while a node's subscription was down are delivered to it once it is back, in order, once each", async () => {
  const a = await node("a");
  const b = await node("b");
  // What the node's delivery does with its bus: rooms in order, and a catch-up when the bus resumes.
  const delivered: RoomEvent[] = [];
  const order = createRoomOrder({
    messages: a.stores.messages,
    deliver: (event) => delivered.push(event),
    subscribe: (roomId) => a.stores.bus.followRoom!(roomId),
    unsubscribe: (roomId) => a.stores.bus.unfollowRoom!(roomId),
    onError: () => {},
  });
  a.stores.bus.subscribe((event) => order.push(event));
  a.stores.bus.onResume!(() => order.catchUp());
  try {
    await order.follow("r");
    await b.stores.messages.append({ roomId: "r", user: bob, text: "m0", ts: Date.now() });
    await eventually(() => delivered.length === 1, "the first message on node a");
    const clients = String(await raw(b.stores, "CLIENT", "LIST"));
    const id = /id=(\d+) .*name=huddle-a-events /.exec(clients)?.[1];
    expect(id).toBeDefined();
    // Drop node a's subscription and, in the same transaction, refuse new connections, so that
    // these messages are surely stored while node a is not listening.
    const connected = clients.trim().split("\n").length;
    await (b.stores.client as import("redis").RedisClientType)
      .multi()
      .addCommand(["CONFIG", "SET", "maxclients", String(connected - 1)])
      .addCommand(["CLIENT", "KILL", "ID", id!])
      .exec();
    const missed = [];
    for (const text of ["m1", "m2", "m3"]) {
      missed.push((await b.stores.messages.append({ roomId: "r", user: bob, text, ts: Date.now() })).message);
    }
    await raw(b.stores, "CONFIG", "SET", "maxclients", "10000");
    await eventually(() => delivered.length >= 4, "the messages stored meanwhile on node a", 5000);
    const more = await b.stores.messages.append({ roomId: "r", user: bob, text: "m4", ts: Date.now() });
    await eventually(() => delivered.length >= 5, "the next message on node a");
    const texts = delivered.map((e) => (e.type === "message" ? e.message.text : e.type));
    expect(texts).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(delivered.slice(1, 4)).toEqual(missed.map((message) => ({ type: "message", roomId: "r", message })));
    expect(delivered[4]).toEqual({ type: "message", roomId: "r", message: more.message });
  } finally {
    order.close();
  }
});

test("a node hears only the rooms it follows, and stops hearing a room it unfollowed", async () => {
  const a = await node("a");
  const b = await node("b");
  await a.stores.messages.append({ roomId: "elsewhere", user: alice, text: "not for b", ts: Date.now() });
  await a.stores.messages.append({ roomId: "r", user: alice, text: "for b", ts: Date.now() });
  await eventually(() => b.events.length === 1, "the followed room's message on node b");
  b.stores.bus.unfollowRoom!("r");
  await eventually(
    async () =>
      Number(((await raw(a.stores, "PUBSUB", "SHARDNUMSUB", a.stores.keys.roomEvents("r"))) as [string, number])[1]) ===
      1,
    "node b's subscription gone (node a's stays)",
  );
  await a.stores.messages.append({ roomId: "r", user: alice, text: "after", ts: Date.now() });
  await eventually(() => a.events.filter((e) => e.type === "message").length === 2, "node a hears it");
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(b.events.map((e) => (e.type === "message" ? e.message.text : e.type))).toEqual(["for b"]);
});

test("a node that dies without cleaning up is reaped by another: presence:leave for its users' last connections, slots freed", async () => {
  const a = await node("a");
  const b = await node("b");
  await b.stores.presence.join("r", alice, "b:1");
  await b.stores.connections.acquire(alice.id, "b:1", 1);
  await a.stores.presence.join("r", bob, "a:1");
  await b.stores.presence.join("r", bob, "b:2");
  expect(await a.stores.connections.acquire(alice.id, "a:9", 1)).toBe(false);
  await b.stores.close(); // a crash: nothing removed
  await eventually(() => leaves(a.events, "r").length > 0, "presence:leave for alice on node a", 5000);
  expect(leaves(a.events, "r")).toEqual([{ type: "presence", roomId: "r", change: "leave", user: alice }]);
  expect(await a.stores.presence.members("r")).toEqual([bob]);
  expect(await a.stores.connections.acquire(alice.id, "a:9", 1)).toBe(true);
  const nodes = (await raw(a.stores, "SMEMBERS", a.stores.keys.nodes)) as string[];
  expect(nodes).toEqual(["a"]);
});

test("a new process with a dead node's id clears what the dead one left at once", async () => {
  const a = await node("a");
  const first = await node("b");
  await first.stores.presence.join("r", alice, "b:1");
  await first.stores.close();
  await node("b");
  await eventually(() => leaves(a.events, "r").length === 1, "presence:leave for alice", 400);
  expect(await a.stores.presence.members("r")).toEqual([]);
});

test("shutdown removes this node's entries at once and publishes the leaves", async () => {
  const a = await node("a");
  const b = await node("b");
  await b.stores.presence.join("r", alice, "b:1");
  await b.stores.connections.acquire(alice.id, "b:1", 1);
  await b.stores.shutdown();
  await eventually(() => leaves(a.events, "r").length === 1, "presence:leave for alice", 400);
  expect(await a.stores.presence.members("r")).toEqual([]);
  expect(await a.stores.connections.acquire(alice.id, "a:1", 1)).toBe(true);
  const keys = (await raw(a.stores, "KEYS", `${prefix}{nodes}:*:b`)) as string[];
  expect(keys).toEqual([]);
});

test("when Redis comes back empty, a node puts back its members and connections and announces them", async () => {
  const a = await node("a");
  await a.stores.presence.join("r", alice, "a:1");
  await a.stores.presence.join("r", bob, "a:2");
  await a.stores.connections.acquire(alice.id, "a:1", 1);
  await redis.kill();
  await redis.start();
  await eventually(
    async () => a.stores.isReady() && (await a.stores.presence.members("r")).length === 2,
    "members back",
    5000,
  );
  expect(await a.stores.presence.members("r")).toEqual([alice, bob]);
  expect(await a.stores.connections.acquire(alice.id, "other:1", 1)).toBe(false);
  const joins = () => a.events.filter((e) => e.type === "presence" && e.change === "join");
  await eventually(() => joins().length === 2, "the members announced again");
  expect(joins()).toEqual([
    { type: "presence", roomId: "r", change: "join", user: alice },
    { type: "presence", roomId: "r", change: "join", user: bob },
  ]);
  await eventually(
    () => a.events.some((e) => e.type === "typing" && e.roomId === "r" && e.users.length === 0),
    "a typing:update correcting what clients show",
  );
});

test("a leave that failed while Redis was unreachable is applied, and announced, once Redis answers again", async () => {
  const a = await node("a");
  const { stores: admin } = await node("admin");
  await a.stores.presence.join("r", alice, "a:1");
  await raw(admin, "CLIENT", "PAUSE", "1500", "ALL");
  await expect(a.stores.presence.leave("r", alice.id, "a:1")).rejects.toBeInstanceOf(StoreUnavailableError);
  await eventually(() => leaves(a.events, "r").length === 1, "the retried leave", 5000);
  expect(await a.stores.presence.members("r")).toEqual([]);
});

test("typing left behind by a dead node is ended and announced by another node", async () => {
  const a = await node("a");
  const b = await node("b");
  await b.stores.typing.start("r", alice, Date.now() + 200);
  await b.stores.close();
  await eventually(
    () => a.events.some((e) => e.type === "typing" && e.roomId === "r" && e.users.length === 0),
    "typing:update without alice",
    5000,
  );
  expect(await a.stores.typing.list("r", Date.now() - 10_000)).toEqual([]);
});
