/**
 * §11 bans across two real node processes over Redis. A ban takes the user
 * out of the room at once on every node: their Socket.IO sockets and /ws
 * connections get `room:removed { roomId, reason: "banned" }` (§4) and leave
 * the room (the others get one `presence:leave`), their SSE streams end and
 * their waiting long polls answer 403; until it ends, every way back in is
 * forbidden, on both nodes. Nobody else is affected, nor the user's other
 * rooms. Lifting a ban, or its duration ending, lets the user back at once
 * (nodes forget their cached bans when a ban or a lift is announced).
 */
import type { HuddleClient } from "../helpers/clients";
import { closeAllClients, collect, connectClient, eventually, sleep } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { openSse } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { joinRoom, request, sendMessage, startNode, stopAllNodes, type NodeProcess } from "../cluster/nodes";

let redis: TestRedis;
let a: NodeProcess;
let b: NodeProcess;
const env = {
  RATE_BURST: "100000",
  RATE_PER_SEC: "100000",
  JOIN_RATE_BURST: "100000",
  JOIN_RATE_PER_SEC: "100000",
};
beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([startNode(redis.url, "mod-a", env), startNode(redis.url, "mod-b", env)]);
}, 60_000);
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
});

let rooms = 0;
const freshRoom = () => `modc-${process.pid}-${++rooms}`;
const person = (name: string) => {
  const id = uniqueUserId(name);
  return { id, token: signToken({ sub: id, name }) };
};
const moderator = signToken({ sub: uniqueUserId("mod"), name: "Mod", role: "moderator" });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

const ban = (node: NodeProcess, roomId: string, body: Record<string, unknown>) =>
  http(`${node.url}/api/rooms/${roomId}/bans`, { method: "POST", headers: auth(moderator), body });
const lift = (node: NodeProcess, roomId: string, userId: string) =>
  http(`${node.url}/api/rooms/${roomId}/bans/${userId}`, { method: "DELETE", headers: auth(moderator) });
const forbidden = { ok: false, error: { code: "forbidden", message: expect.any(String) } };

/** The status of each REST way into the room for `token` on `node`: history, publishing, SSE and a poll. */
async function restStatuses(node: NodeProcess, roomId: string, token: string): Promise<Record<string, number>> {
  const base = `${node.url}/api/rooms/${roomId}`;
  const [get, post, poll] = await Promise.all([
    http(`${base}/messages`, { headers: auth(token) }),
    http(`${base}/messages`, { method: "POST", headers: auth(token), body: { text: "let me in" } }),
    http(`${base}/poll?timeout=0`, { headers: auth(token) }),
  ]);
  const sse = await openSse(`${base}/events?token=${encodeURIComponent(token)}`);
  sse.close();
  return { get: get.status, post: post.status, sse: sse.status, poll: poll.status };
}

/** Fails after `ms` naming `what` unless `promise` settled. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test("a ban on node B takes the user's socket (A), /ws (B), SSE stream (A) and waiting poll (B) out of the room at once; every way back in is forbidden on both nodes", async () => {
  const roomId = freshRoom();
  const otherRoom = freshRoom();
  const banned = person("Banned");
  const [first, second] = [person("First"), person("Second")];

  const socket = await connectClient(a.url, { token: banned.token });
  await joinRoom(socket, roomId);
  await joinRoom(socket, otherRoom);
  const own = await sendMessage(socket, roomId, "before the ban");
  const { client: plain } = await connectPlain(b.url, { token: banned.token });
  expect(await plain.request("room:join", { roomId })).toMatchObject({ ok: true });
  const others: HuddleClient[] = [
    await connectClient(a.url, { token: first.token }),
    await connectClient(b.url, { token: second.token }),
  ];
  for (const other of others) await joinRoom(other, roomId);
  const sse = await openSse(`${a.url}/api/rooms/${roomId}/events?token=${encodeURIComponent(banned.token)}`);
  expect(sse.status).toBe(200);
  let pollSettled = false;
  const poll = http(`${b.url}/api/rooms/${roomId}/poll?timeout=25`, { headers: auth(banned.token), timeoutMs: 30_000 });
  void poll.finally(() => (pollSettled = true));

  const removed = collect(socket, "room:removed");
  const leaves = others.map((other) => collect(other, "presence:leave"));
  const newOnSocket = collect(socket, "message:new");
  // Time for the poll to be waiting (it would be refused with 403 too if it were not yet).
  await sleep(300);
  expect(pollSettled).toBe(false);

  const answer = await ban(b, roomId, { userId: banned.id, reason: "spam" });
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({ ban: { roomId, userId: banned.id, until: null, reason: "spam" } });

  // Out at once, on both nodes.
  await eventually(() => removed.items.length > 0, "room:removed on the Socket.IO socket (node A)");
  expect(removed.items).toEqual([{ roomId, reason: "banned" }]);
  expect(await plain.event("room:removed")).toEqual({ roomId, reason: "banned" });
  await within(sse.ended, 3000, "the SSE stream to end");
  const polled = await within(poll, 3000, "the waiting poll to answer");
  expect({ status: polled.status, code: polled.body?.error?.code }).toEqual({ status: 403, code: "forbidden" });
  const left = (list: { items: { roomId: string; user: { id: string } }[] }) =>
    list.items.filter((e) => e.roomId === roomId && e.user.id === banned.id);
  await eventually(() => leaves.every((list) => left(list).length > 0), "presence:leave on both nodes");
  // Once: the user had two connections in the room, and leaves once the last is out.
  await sleep(300);
  expect(leaves.map((list) => left(list).length)).toEqual([1, 1]);

  // Every way back in is forbidden, on both nodes.
  expect(await request(socket, "room:join", { roomId })).toEqual(forbidden);
  expect(await request(socket, "message:send", { roomId, text: "still here?" })).toEqual(forbidden);
  expect(await request(socket, "message:edit", { roomId, id: own.id, text: "edited" })).toEqual(forbidden);
  expect(await request(socket, "reaction:add", { roomId, id: own.id, emoji: "👋" })).toEqual(forbidden);
  expect(await request(socket, "message:delete", { roomId, id: own.id })).toEqual(forbidden);
  expect(await plain.request("room:join", { roomId })).toEqual(forbidden);
  expect(await plain.request("message:send", { roomId, text: "still here?" })).toEqual(forbidden);
  expect(await plain.request("reaction:add", { roomId, id: own.id, emoji: "👋" })).toEqual(forbidden);
  const socketOnB = await connectClient(b.url, { token: banned.token });
  expect(await request(socketOnB, "room:join", { roomId })).toEqual(forbidden);
  for (const node of [a, b]) {
    expect(await restStatuses(node, roomId, banned.token)).toEqual({ get: 403, post: 403, sse: 403, poll: 403 });
  }

  // Everyone else is unaffected, and so is the banned user's other room.
  const seenByOther = collect(others[1]!, "message:new");
  const after = await sendMessage(others[0]!, roomId, "after the ban");
  await eventually(() => seenByOther.items.some((m) => m.id === after.id), "the other node's member to hear it");
  expect(await restStatuses(b, roomId, second.token)).toEqual({ get: 200, post: 201, sse: 200, poll: 200 });
  const inOther = await sendMessage(socket, otherRoom, "my other room");
  expect(inOther.roomId).toBe(otherRoom);
  await eventually(() => newOnSocket.items.some((m) => m.id === inOther.id), "the other room's message");
  await sleep(300);
  // The banned socket heard nothing more of the room.
  expect(newOnSocket.items.filter((m) => m.roomId === roomId)).toEqual([]);

  // Both nodes list the ban.
  for (const node of [a, b]) {
    const listed = await http(`${node.url}/api/rooms/${roomId}/bans`, { headers: auth(moderator) });
    expect(listed.body).toEqual({ bans: [answer.body.ban] });
  }
}, 60_000);

test("lifting a ban (on the other node) lets the user back in at once: join, send, REST, SSE", async () => {
  const roomId = freshRoom();
  const banned = person("Lifted");
  const onA = await connectClient(a.url, { token: banned.token });
  await joinRoom(onA, roomId);
  const removed = collect(onA, "room:removed");
  expect((await ban(b, roomId, { userId: banned.id })).status).toBe(200);
  await eventually(() => removed.items.length === 1, "room:removed");
  const onB = await connectClient(b.url, { token: banned.token });
  // Both nodes have now read (and cached) the ban.
  expect(await request(onA, "room:join", { roomId })).toEqual(forbidden);
  expect(await request(onB, "room:join", { roomId })).toEqual(forbidden);

  const lifted = await lift(a, roomId, banned.id);
  expect({ status: lifted.status, body: lifted.body }).toEqual({ status: 200, body: {} });
  // Well within the 5 s a node may keep a room's bans: the lift is announced and forgotten at once.
  for (const socket of [onA, onB]) {
    await eventually(
      async () => (await request(socket, "room:join", { roomId })).ok === true,
      "a join after the lift",
      2500,
    );
  }
  await sendMessage(onB, roomId, "back again");
  for (const node of [a, b]) {
    expect(await restStatuses(node, roomId, banned.token)).toEqual({ get: 200, post: 201, sse: 200, poll: 200 });
  }
  expect((await http(`${a.url}/api/rooms/${roomId}/bans`, { headers: auth(moderator) })).body).toEqual({ bans: [] });
}, 30_000);

test("a ban with durationSec 1 ends by itself: refused at first, then joins work on both nodes once `until` has passed", async () => {
  const roomId = freshRoom();
  const banned = person("Brief");
  const sockets = [
    await connectClient(a.url, { token: banned.token }),
    await connectClient(b.url, { token: banned.token }),
  ];
  const answer = await ban(a, roomId, { userId: banned.id, durationSec: 1 });
  expect(answer.status).toBe(200);
  const until = answer.body.ban.until as number;
  for (const socket of sockets) expect(await request(socket, "room:join", { roomId })).toEqual(forbidden);
  for (const socket of sockets) {
    await eventually(
      async () => (await request(socket, "room:join", { roomId })).ok === true,
      "a join once the ban ended",
      4000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(until);
  }
  expect(Date.now()).toBeLessThan(until + 3000);
  expect((await http(`${b.url}/api/rooms/${roomId}/bans`, { headers: auth(moderator) })).body).toEqual({ bans: [] });
}, 30_000);

test("joins racing a ban on the other node: none is left in the room (each is refused, or taken out)", async () => {
  const witness = person("Witness");
  const watcher = await connectClient(a.url, { token: witness.token });
  for (let round = 0; round < 8; round++) {
    const roomId = freshRoom();
    const victim = person("Racer");
    await joinRoom(watcher, roomId);
    const sockets = await Promise.all(Array.from({ length: 12 }, () => connectClient(a.url, { token: victim.token })));
    const heard = sockets.map((socket) => collect(socket, "message:new"));
    // The ban posted on B, the joins on A within the same few milliseconds.
    const banned = ban(b, roomId, { userId: victim.id });
    await sleep(round % 4);
    const joins = sockets.map((socket) => request(socket, "room:join", { roomId }));
    expect((await banned).status).toBe(200);
    for (const ack of await Promise.all(joins)) if (!ack.ok) expect(ack).toEqual(forbidden);
    await sleep(100);
    await sendMessage(watcher, roomId, `after the ban, round ${round}`);
    await sleep(150);
    expect({ round, leaked: heard.filter((h) => h.items.length > 0).length }).toEqual({ round, leaked: 0 });
    for (const socket of sockets) socket.disconnect();
  }
});
