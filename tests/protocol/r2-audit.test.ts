/**
 * Audit of the (r2) sentences of §2–§5, §8 and §9 of the contract, each test asserting one sentence a client
 * author relies on, on the in-memory store and on Redis.
 */
import type { Message } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, collect, connectError, eventually, sleep, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, TEST_SECRET, uniqueUserId } from "../helpers/tokens";
import { loadConfig } from "../../server/config";
import { createLogger } from "../../server/logger";
import { createStores } from "../../server/store-factory";
import { closeAllPlain, connectPlain, openPlain } from "../ws/ws-client";
import { openSse } from "../helpers/sse";
import { startNode, stopAllNodes } from "../cluster/nodes";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

let redis: TestRedis;
let postgres: TestPostgres;
let databaseUrl: string;
const apps: Record<string, TestApp> = {};
/** Every store the contract holds on: memory (one node), Redis, and PostgreSQL (§10). */
const BACKENDS = ["memory", "redis", "postgres"];
const backendEnv = (backend: string): Record<string, string> =>
  backend === "redis" ? { REDIS_URL: redis.url } : backend === "postgres" ? { DATABASE_URL: databaseUrl } : {};
let nodes = 0;
/**
 * A real app on `backend`. An in-process app takes its stores as a dependency (memory by default), so the Redis
 * and PostgreSQL ones are made here, as the process makes them (server/store-factory.ts).
 */
async function startOn(backend: string, env: Record<string, string> = {}): Promise<TestApp> {
  const full = { NODE_ID: `audit-${process.pid}-${++nodes}`, ...env, ...backendEnv(backend) };
  if (backend === "memory") return startApp(full);
  const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", HOST: "127.0.0.1", ...full });
  const stores = await createStores(config, createLogger({ level: "silent", nodeId: config.nodeId }));
  return startApp(full, { stores });
}

beforeAll(async () => {
  redis = await startRedis();
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase();
  const env = { RATE_BURST: "100000", RATE_PER_SEC: "100000", JOIN_RATE_BURST: "100000", JOIN_RATE_PER_SEC: "100000" };
  for (const backend of BACKENDS) apps[backend] = await startOn(backend, env);
}, 60_000);
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(async () => {
  await stopAllApps();
  await redis?.stop();
  await postgres?.destroy();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(BACKENDS)("on %s", (backend) => {
  const app = () => apps[backend]!;
  async function person(name = "P") {
    const token = signToken({ sub: uniqueUserId(name), name });
    const { socket, session } = await connectSession(app().url, { token });
    return { socket, user: session.user, token };
  }

  // §2: "A message id given to a revision-2 event or route (`id`, `upTo`, `replyTo`, `:id`) that is not a message
  // of the room is `not_found`, whatever its form."
  test("an id, upTo or replyTo of any form that is not a message of the room is not_found", async () => {
    const roomId = uniqueRoom();
    const a = await person();
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    for (const id of ["", "x".repeat(65), "nope", "1-1", `${m.id}0`]) {
      expect([id, await request(a.socket, "message:edit", { roomId, id, text: "y" })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
      expect([id, await request(a.socket, "message:delete", { roomId, id })]).toEqual([id, refusedWith("not_found")]);
      expect([id, await request(a.socket, "reaction:add", { roomId, id, emoji: "x" })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
      expect([id, await request(a.socket, "room:read", { roomId, upTo: id })]).toEqual([id, refusedWith("not_found")]);
      expect([id, await request(a.socket, "message:send", { roomId, text: "r", replyTo: id })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
    }
  });

  // §2, over REST: the same sentence, with the status of not_found (404).
  test("over REST, an upTo, replyTo or :id of any form that is not a message of the room is 404 not_found", async () => {
    const roomId = uniqueRoom();
    const a = await person();
    for (const upTo of ["", "x".repeat(65), "nope"]) {
      const res = await http(`${app().url}/api/rooms/${roomId}/read`, {
        method: "POST",
        headers: bearer(a.token),
        body: { upTo },
      });
      expect([upTo, res.status]).toEqual([upTo, 404]);
      const pub = await http(`${app().url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers: bearer(a.token),
        body: { text: "x", replyTo: upTo },
      });
      expect([upTo, pub.status]).toEqual([upTo, 404]);
    }
    const res = await http(`${app().url}/api/rooms/${roomId}/messages/${"x".repeat(100)}`, {
      method: "PATCH",
      headers: bearer(a.token),
      body: { text: "y" },
    });
    expect(res.status).toBe(404);
  });

  // §9 / §2: `lastMessage: Message | null`, a Message being its current state (edited, then a tombstone).
  test("rooms:list and GET /api/rooms show lastMessage in its current state", async () => {
    const roomId = uniqueRoom();
    const a = await person();
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    const edited = await request(a.socket, "message:edit", { roomId, id: m.id, text: "y" });
    const list = await request(a.socket, "rooms:list", {});
    expect(list).toMatchObject({ ok: true });
    expect((list as any).rooms[0]).toEqual({ roomId, readUpTo: m.id, unread: 0, lastMessage: (edited as any).message });
    const del = await request(a.socket, "message:delete", { roomId, id: m.id });
    const list2 = await request(a.socket, "rooms:list", {});
    expect((list2 as any).rooms[0].lastMessage).toEqual((del as any).message);
    const rest = await http(`${app().url}/api/rooms`, { headers: bearer(a.token) });
    expect(rest.body.rooms[0].lastMessage).toEqual((del as any).message);
  });

  // §9: "A user's own message moves their marker to it, without an event." and "What others see of a marker is
  // its public position: moved by a public `room:read` and by the user's own messages".
  test("an author's own message moves their public marker, shown by room:reads, with no read:updated", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const seen = collect(b.socket, "read:updated");
    const seenA = collect(a.socket, "read:updated");
    const m = await send(a.socket, roomId, "x");
    const reads = await request(b.socket, "room:reads", { roomId });
    expect(reads).toEqual({ ok: true, reads: [{ user: a.user, readUpTo: m.id, readSeq: 1 }] });
    await sleep(100);
    expect(seen.items).toEqual([]);
    expect(seenA.items).toEqual([]);
  });

  // §9: "a marker never moves back: an older `upTo` is `ok` and answered with the current marker"; unread counts
  // tombstones.
  test("room:read with an older upTo is ok and answers the current marker; a tombstone can be read up to", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const m3 = await send(a.socket, roomId, "3");
    expect(await request(b.socket, "room:read", { roomId, upTo: m2.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    await request(a.socket, "message:delete", { roomId, id: m3.id });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    // upTo may be a tombstone
    expect(await request(b.socket, "room:read", { roomId, upTo: m3.id })).toEqual({
      ok: true,
      readUpTo: m3.id,
      unread: 0,
    });
  });

  // §8: "`since` ... accept[s] any position"; `history` is every message whose id is after `since`, `updates` every
  // message at or before it whose rev is after it; "Without `since`, `updates` is empty".
  test("room:join since a rev, or a message id, answers history and updates split at that position", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const e1 = (await request(a.socket, "message:edit", { roomId, id: m1.id, text: "1b" })) as any;
    const b = await person("B");
    const j = await join(b.socket, roomId, e1.message.rev);
    expect(j).toMatchObject({ resumed: true, history: [], updates: [] });
    const j2 = await join(b.socket, roomId, m2.id);
    expect(j2).toMatchObject({ resumed: true, history: [], updates: [e1.message] });
    const j3 = await join(b.socket, roomId, m1.id);
    expect(j3).toMatchObject({ resumed: true, history: [m2], updates: [e1.message] });
    const j4 = await join(b.socket, roomId);
    expect(j4).toMatchObject({ resumed: false, updates: [] });
    const j5 = await join(b.socket, roomId, "garbage");
    expect(j5).toMatchObject({ resumed: false, updates: [] });
    expect(j5.history).toEqual([e1.message, m2]);
  });

  // §8: "A poll answers `{ messages, updates, cursor }`" with "`cursor` the newest position returned", and "A waiting
  // poll is answered as soon as a message or a change arrives."
  test("a poll answers messages, updates and the newest position as cursor, and a change ends a waiting poll", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const empty = await http(`${app().url}/api/rooms/${roomId}/poll?timeout=0`, { headers: bearer(a.token) });
    expect(empty.body).toEqual({ messages: [], updates: [], cursor: null });
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const e1 = (await request(a.socket, "message:edit", { roomId, id: m1.id, text: "1b" })) as any;
    const p = await http(`${app().url}/api/rooms/${roomId}/poll?after=${m1.id}&timeout=0`, {
      headers: bearer(a.token),
    });
    expect(p.body).toEqual({ messages: [m2], updates: [e1.message], cursor: e1.message.rev });
    const p2 = await http(`${app().url}/api/rooms/${roomId}/poll?after=${e1.message.rev}&timeout=0`, {
      headers: bearer(a.token),
    });
    expect(p2.body).toEqual({ messages: [], updates: [], cursor: e1.message.rev });
    const p3 = await http(`${app().url}/api/rooms/${roomId}/poll?after=nope&timeout=0`, { headers: bearer(a.token) });
    expect(p3.body).toEqual({ messages: [], updates: [], cursor: e1.message.rev });
    const p4 = await http(`${app().url}/api/rooms/${roomId}/poll?timeout=0`, { headers: bearer(a.token) });
    expect(p4.body).toEqual({ messages: [], updates: [], cursor: e1.message.rev });
    // waiting poll answered by a change
    const waiting = http(`${app().url}/api/rooms/${roomId}/poll?after=${e1.message.rev}&timeout=5`, {
      headers: bearer(a.token),
    });
    await sleep(100);
    const r = (await request(a.socket, "reaction:add", { roomId, id: m2.id, emoji: "👍" })) as any;
    expect((await waiting).body).toEqual({ messages: [], updates: [r.message], cursor: r.message.rev });
  });

  // §3: "Over `/ws` they are sent like every §3 event (§6)"; §4 message:updated and read:updated reach /ws clients.
  test("/ws clients get message:updated and their own read:updated, and use the r2 events", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const tokenB = signToken({ sub: uniqueUserId("B"), name: "B" });
    const { client: b } = await connectPlain(app().url, { token: tokenB });
    expect(await b.request("room:join", { roomId })).toMatchObject({
      ok: true,
      updates: [],
      readUpTo: null,
      unread: 0,
    });
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    const upd = (await request(a.socket, "message:edit", { roomId, id: m.id, text: "y" })) as any;
    expect(await b.event("message:updated")).toEqual(upd.message);
    await request(a.socket, "room:read", { roomId, upTo: m.id }); // own message: no move
    expect(await b.request("room:read", { roomId, upTo: m.id })).toEqual({ ok: true, readUpTo: m.id, unread: 0 });
    expect(await b.event("read:updated")).toEqual({
      roomId,
      user: expect.objectContaining({ name: "B" }),
      readUpTo: m.id,
      readSeq: 1,
    });
    expect(await b.request("rooms:list", {})).toMatchObject({
      ok: true,
      rooms: [{ roomId, readUpTo: m.id, unread: 0 }],
    });
    expect(await b.request("room:reads", { roomId })).toMatchObject({ ok: true });
  });

  // §9: "`room:leave` with `forget: true` also removes the room and its marker from the list (joining again starts
  // afresh)."
  test("room:leave with forget removes the room and its marker; joining again starts afresh", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    expect(await request(b.socket, "room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await request(b.socket, "rooms:list", {})).toEqual({ ok: true, rooms: [] });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m2.id, readSeq: 2 }],
    });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m2.id, unread: 0 });
  });

  // §2: "seq: 1 for a room's first message, then +1 for each message"; "rev ... equals id until it changes"; the
  // optional fields are absent on a plain message.
  test("seq counts messages (not changes) and rev equals id on a new message", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    await request(a.socket, "reaction:add", { roomId, id: m1.id, emoji: "x" });
    const m2 = await send(a.socket, roomId, "2");
    expect([m1.seq, m2.seq]).toEqual([1, 2]);
    expect(m2.rev).toBe(m2.id);
    expect(m1).not.toHaveProperty("reactions");
    expect(m1).not.toHaveProperty("editedAt");
    expect(m1).not.toHaveProperty("deleted");
    expect(m1).not.toHaveProperty("replyTo");
  });
});

describe.each(BACKENDS)("probe2 on %s", (backend) => {
  const app = () => apps[backend]!;
  async function person(name = "P", claims: Record<string, unknown> = {}) {
    const token = signToken({ sub: uniqueUserId(name), name, ...claims });
    const { socket, session } = await connectSession(app().url, { token });
    return { socket, user: session.user, token };
  }
  const rest = (token: string, path: string, method = "GET", body?: unknown) =>
    http(`${app().url}/api${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });

  test("p2: SSE update event and replay from a rev in change order", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const sse = await openSse(`${app().url}/api/rooms/${roomId}/events?token=${a.token}`);
    const e2 = (await request(a.socket, "message:edit", { roomId, id: m2.id, text: "2b" })) as any;
    const ev = await sse.next("update");
    expect(ev).toEqual({ event: "update", id: e2.message.rev, data: JSON.stringify(e2.message) });
    const r1 = (await request(a.socket, "reaction:add", { roomId, id: m1.id, emoji: "👍" })) as any;
    const m3 = await send(a.socket, roomId, "3");
    sse.close();
    const replay = await openSse(`${app().url}/api/rooms/${roomId}/events?token=${a.token}`, {
      "last-event-id": m2.id,
    });
    const got = [await replay.next(), await replay.next(), await replay.next()];
    expect(got.map((e) => [e.event, e.id, JSON.parse(e.data)])).toEqual([
      ["update", e2.message.rev, e2.message],
      ["update", r1.message.rev, r1.message],
      ["message", m3.id, m3],
    ]);
    replay.close();
    const replay2 = await openSse(
      `${app().url}/api/rooms/${roomId}/events?token=${a.token}&lastEventId=${e2.message.rev}`,
    );
    const got2 = [await replay2.next(), await replay2.next()];
    expect(got2.map((e) => e.id)).toEqual([r1.message.rev, m3.id]);
    replay2.close();
  });

  test("p2: private read: own sockets told, others not, reads hidden", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    const btab = (await connectSession(app().url, { token: b.token })).socket; // not joined
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const seenA = collect(a.socket, "read:updated");
    const seenTab = collect(btab, "read:updated");
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id, private: true })).toEqual({
      ok: true,
      readUpTo: m1.id,
      unread: 0,
    });
    await eventually(() => seenTab.items.length === 1, "tab told");
    expect(seenTab.items[0]).toEqual({ roomId, user: b.user, readUpTo: m1.id, readSeq: 1 });
    await sleep(100);
    expect(seenA.items).toEqual([]);
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
  });

  test("p2: coalescing of public reads", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const ms = [];
    for (let i = 0; i < 4; i++) ms.push(await send(a.socket, roomId, `m${i}`));
    const seenA = collect(a.socket, "read:updated");
    const seenB = collect(b.socket, "read:updated");
    for (const m of ms) await request(b.socket, "room:read", { roomId, upTo: m.id });
    await sleep(1500);
    expect(seenA.items.at(-1)).toEqual({ roomId, user: b.user, readUpTo: ms[3]!.id, readSeq: 4 });
    expect(seenB.items.at(-1)).toEqual({ roomId, user: b.user, readUpTo: ms[3]!.id, readSeq: 4 });
    expect(seenA.items.length).toBeLessThanOrEqual(2);
  });

  test("p2: rooms:list ordering", async () => {
    const a = await person("A");
    const r1 = uniqueRoom(),
      r2 = uniqueRoom(),
      r3 = uniqueRoom(),
      r4 = uniqueRoom();
    await join(a.socket, r1);
    await sleep(5);
    await join(a.socket, r2);
    await sleep(5);
    await join(a.socket, r3);
    await sleep(5);
    await join(a.socket, r4);
    await send(a.socket, r2, "x");
    await sleep(5);
    await send(a.socket, r1, "y");
    const list = (await request(a.socket, "rooms:list", {})) as any;
    expect(list.rooms.map((r: any) => r.roomId)).toEqual([r1, r2, r4, r3]);
    const restList = await rest(a.token, "/rooms");
    expect(restList.body.rooms.map((r: any) => r.roomId)).toEqual([r1, r2, r4, r3]);
    expect(restList.body.rooms[3]).toEqual({ roomId: r3, readUpTo: null, unread: 0, lastMessage: null });
  });

  test("p2: changes semantics", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    const mod = await person("M", { role: "moderator" });
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    await join(mod.socket, roomId);
    const m = await send(a.socket, roomId, "hello", "c1");
    expect(await request(b.socket, "message:edit", { roomId, id: m.id, text: "x" })).toEqual(refusedWith("forbidden"));
    expect(await request(b.socket, "message:delete", { roomId, id: m.id })).toEqual(refusedWith("forbidden"));
    const reply = (await request(b.socket, "message:send", { roomId, text: "re", replyTo: m.id })) as any;
    expect(reply.message.replyTo).toBe(m.id);
    const ed = (await request(b.socket, "message:edit", { roomId, id: reply.message.id, text: "re2" })) as any;
    const rx = (await request(a.socket, "reaction:add", { roomId, id: reply.message.id, emoji: "🎉" })) as any;
    expect(rx.message.reactions).toEqual([{ emoji: "🎉", count: 1, userIds: [a.user.id] }]);
    const updates = collect(a.socket, "message:updated");
    const del = (await request(mod.socket, "message:delete", { roomId, id: reply.message.id })) as any;
    expect(del).toEqual({
      ok: true,
      message: {
        id: reply.message.id,
        roomId,
        user: b.user,
        text: "",
        ts: reply.message.ts,
        seq: 2,
        rev: expect.any(String),
        deleted: true,
      },
    });
    // The delete's own broadcast first (over Redis it may land after its ack), then the no-ops add nothing.
    await eventually(() => updates.items.some((m: Message) => m.rev === del.message.rev), "the delete's broadcast");
    updates.items.length = 0;
    expect(await request(b.socket, "message:delete", { roomId, id: reply.message.id })).toEqual({
      ok: true,
      message: del.message,
    });
    expect(await request(mod.socket, "message:delete", { roomId, id: reply.message.id })).toEqual({
      ok: true,
      message: del.message,
    });
    expect(await request(a.socket, "message:delete", { roomId, id: reply.message.id })).toEqual(
      refusedWith("forbidden"),
    );
    expect(await request(b.socket, "message:edit", { roomId, id: reply.message.id, text: "z" })).toEqual(
      refusedWith("not_found"),
    );
    expect(await request(a.socket, "reaction:add", { roomId, id: reply.message.id, emoji: "x" })).toEqual(
      refusedWith("not_found"),
    );
    expect(await request(a.socket, "reaction:remove", { roomId, id: reply.message.id, emoji: "🎉" })).toEqual(
      refusedWith("not_found"),
    );
    await sleep(100);
    expect(updates.items).toEqual([]);
    // repeated clientMsgId of a deleted message
    await request(a.socket, "message:delete", { roomId, id: m.id });
    const again = (await request(a.socket, "message:send", { roomId, text: "hello", clientMsgId: "c1" })) as any;
    expect(again.message).toMatchObject({ id: m.id, deleted: true, text: "" });
    const againRest = await rest(a.token, `/rooms/${roomId}/messages`, "POST", { text: "hello", clientMsgId: "c1" });
    expect(againRest.status).toBe(200);
    expect(againRest.body.message).toMatchObject({ id: m.id, deleted: true });
    // replyTo a tombstone?
    const r2 = await request(a.socket, "message:send", { roomId, text: "re", replyTo: m.id });
    expect(r2).toMatchObject({ ok: true });
    void ed;
  });

  test("p2: reactions limits and REST", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    for (let i = 0; i < 20; i++)
      expect(await request(a.socket, "reaction:add", { roomId, id: m.id, emoji: `:e${i}:` })).toMatchObject({
        ok: true,
      });
    expect(await request(a.socket, "reaction:add", { roomId, id: m.id, emoji: ":e20:" })).toEqual(
      refusedWith("bad_request"),
    );
    const put = await rest(
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e21:")}`,
      "PUT",
    );
    expect(put.status).toBe(400);
    const put2 = await rest(
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e0:")}`,
      "PUT",
    );
    expect(put2.status).toBe(200);
    const del = await rest(
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e0:")}`,
      "DELETE",
    );
    expect(del.status).toBe(200);
    expect(del.body.message.reactions.map((r: any) => r.emoji)[0]).toBe(":e1:");
    const put3 = await rest(a.token, `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent("👍")}`, "PUT");
    expect(put3.status).toBe(200);
    expect(put3.body.message.reactions.at(-1)).toEqual({ emoji: "👍", count: 1, userIds: [a.user.id] });
    const b = await person("B");
    const bad = await rest(b.token, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y" });
    expect(bad.status).toBe(403);
    const gone = await rest(a.token, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    expect(gone.status).toBe(200);
    expect(gone.body.message.reactions).toBeUndefined();
    const edit = await rest(a.token, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y" });
    expect(edit.status).toBe(404);
  });

  test("p2: rev positions: edit rev is newer than any id", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const e = (await request(a.socket, "message:edit", { roomId, id: m1.id, text: "2" })) as any;
    expect(e.message).toEqual({ ...m1, text: "2", rev: expect.any(String), editedAt: expect.any(Number) });
    expect(e.message.rev).not.toBe(m1.id);
    const m2 = await send(a.socket, roomId, "3");
    expect(m2.seq).toBe(2);
    const page = await rest(a.token, `/rooms/${roomId}/messages?after=${e.message.rev}`);
    expect(page.body).toEqual({ messages: [m2], more: false });
    const page2 = await rest(a.token, `/rooms/${roomId}/messages?before=${e.message.rev}`);
    expect(page2.body).toEqual({ messages: [e.message], more: false });
  });
});

describe.each(BACKENDS)("ids are compared for equality on %s", (backend) => {
  const app = () => apps[backend]!;
  // §2: "Ids are opaque strings: clients compare them only for equality" and an id "that is not a message of the
  // room is `not_found`, whatever its form": "E-03" is not message "E-3".
  test("an id that differs from a message's only by a leading zero is not_found", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(app().url, { token });
    await join(socket, roomId);
    const m = await send(socket, roomId, "x");
    const [epoch, n] = m.id.split("-");
    for (const id of [`${epoch}-0${n}`, `0${epoch}-${n}`]) {
      expect(await request(socket, "message:edit", { roomId, id, text: "y" })).toEqual(refusedWith("not_found"));
      expect(await request(socket, "room:read", { roomId, upTo: id })).toEqual(refusedWith("not_found"));
      expect(await request(socket, "message:send", { roomId, text: "r", replyTo: id })).toEqual(
        refusedWith("not_found"),
      );
    }
  });
});

describe.each(BACKENDS)("probe4 on %s", (backend) => {
  const app = () => apps[backend]!;
  const rest = (token: string, path: string, method = "GET", body?: unknown) =>
    http(`${app().url}/api${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });

  test("p4: join since with more than 500 involved (counting updates) is not resumed", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const ms: Message[] = [];
    for (let i = 0; i < 260; i++)
      ms.push((await rest(token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    const since = ms.at(-1)!.id;
    for (let i = 0; i < 250; i++)
      ms.push((await rest(token, `/rooms/${roomId}/messages`, "POST", { text: `n${i}` })).body.message);
    for (let i = 0; i < 251; i++) await rest(token, `/rooms/${roomId}/messages/${ms[i]!.id}/reactions/x`, "PUT");
    const { socket } = await connectSession(app().url, { token });
    const j = await join(socket, roomId, since);
    expect([j.resumed, j.history.length, j.updates.length]).toEqual([false, 50, 0]);
    await rest(token, `/rooms/${roomId}/messages/${ms[0]!.id}/reactions/x`, "DELETE");
    // now updates: 250 (ms[1..250]) + ms[0] = 251 still; history 250 => 501
    const j2 = await join(socket, roomId, since);
    expect(j2.resumed).toBe(false);
    const p = await rest(token, `/rooms/${roomId}/poll?after=${since}&timeout=0`);
    expect(p.body.messages.length).toBe(100);
    const lastPos = Number(p.body.messages[99].id.split("-")[1]);
    expect(p.body.updates).toEqual([]);
    expect(p.body.cursor).toBe(p.body.messages[99].id);
    void lastPos;
  });

  test("p4: poll cut at 100 keeps only updates before the last message", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const first = (await rest(token, `/rooms/${roomId}/messages`, "POST", { text: "first" })).body.message;
    const second = (await rest(token, `/rooms/${roomId}/messages`, "POST", { text: "second" })).body.message;
    const r1 = (await rest(token, `/rooms/${roomId}/messages/${first.id}/reactions/a`, "PUT")).body.message;
    const ms: Message[] = [];
    for (let i = 0; i < 101; i++)
      ms.push((await rest(token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    const r2 = (await rest(token, `/rooms/${roomId}/messages/${first.id}/reactions/b`, "PUT")).body.message;
    const p = await rest(token, `/rooms/${roomId}/poll?after=${second.id}&timeout=0`);
    expect(p.body.messages.length).toBe(100);
    // `first` changed before the cut (r1) and after it (r2): its state shows r2, so it waits for the next poll.
    expect(p.body.updates).toEqual([]);
    void r1;
    expect(p.body.cursor).toBe(ms[99]!.id);
    const p2 = await rest(token, `/rooms/${roomId}/poll?after=${p.body.cursor}&timeout=0`);
    expect(p2.body).toEqual({ messages: [ms[100]], updates: [r2], cursor: r2.rev });
  });

  test("p4: rate limited changes over REST: 429 with Retry-After", async () => {
    const limited = await startOn(backend, { RATE_BURST: "2", RATE_PER_SEC: "1" });
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const m = (
      await http(`${limited.url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers: bearer(token),
        body: { text: "a" },
      })
    ).body.message;
    await http(`${limited.url}/api/rooms/${roomId}/messages/${m.id}`, {
      method: "PATCH",
      headers: bearer(token),
      body: { text: "b" },
    });
    const res = await http(`${limited.url}/api/rooms/${roomId}/messages/${m.id}`, {
      method: "PATCH",
      headers: bearer(token),
      body: { text: "c" },
    });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    expect(res.headers["retry-after"]).toMatch(/^\d+$/);
    const { socket } = await connectSession(limited.url, { token });
    await join(socket, roomId);
    const ack = (await request(socket, "reaction:add", { roomId, id: m.id, emoji: "x" })) as any;
    expect(ack).toEqual({
      ok: false,
      error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
    });
    await limited.close();
  });

  test("p4: SSE over the cap: 429 limit_exceeded without Retry-After", async () => {
    const capped = await startOn(backend, { MAX_CONNECTIONS_PER_USER: "1" });
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const s1 = await openSse(`${capped.url}/api/rooms/${roomId}/events?token=${token}`);
    expect(s1.status).toBe(200);
    const res = await http(`${capped.url}/api/rooms/${roomId}/poll?timeout=1`, { headers: bearer(token) });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("limit_exceeded");
    expect(res.headers["retry-after"]).toBeUndefined();
    s1.close();
    await capped.close();
  });

  test("p4: room:reads at most 100, highest first; REST read and reads", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const ms: Message[] = [];
    for (let i = 0; i < 3; i++)
      ms.push((await rest(token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    for (let i = 0; i < 102; i++) {
      const t = signToken({ sub: uniqueUserId("R") });
      const upTo = i === 101 ? ms[2]!.id : i === 100 ? ms[1]!.id : ms[0]!.id;
      const res = await rest(t, `/rooms/${roomId}/read`, "POST", { upTo });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ readUpTo: upTo, unread: 2 - (i === 101 ? 2 : i === 100 ? 1 : 0) });
    }
    const reads = await rest(token, `/rooms/${roomId}/reads`);
    expect(reads.body.reads.length).toBe(100);
    expect(reads.body.reads.slice(0, 2).map((r: any) => r.readSeq)).toEqual([3, 2]);
  });
});

describe.each(BACKENDS)("probe5 on %s", (backend) => {
  const app = () => apps[backend]!;
  async function person(name = "P", claims: Record<string, unknown> = {}) {
    const token = signToken({ sub: uniqueUserId(name), name, ...claims });
    const { socket, session } = await connectSession(app().url, { token });
    return { socket, user: session.user, token };
  }
  test("p5: no callback, extra keys, forget removes public marker, rejoin keeps unread", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const updated = collect(b.socket, "message:updated");
    (a.socket as any).emit("message:edit", { roomId, id: m1.id, text: "1b", extra: { x: 1 } });
    (a.socket as any).emit("reaction:add", { roomId, id: m1.id, emoji: "x" });
    (a.socket as any).emit("rooms:list");
    (a.socket as any).emit("room:read", { roomId, upTo: m1.id });
    await eventually(() => updated.items.length === 2, "two updates");
    expect(await request(a.socket, "rooms:list", { foo: 1 })).toMatchObject({ ok: true });
    expect(await request(a.socket, "room:read", { roomId, upTo: m1.id, foo: 1 })).toMatchObject({ ok: true });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toMatchObject({ ok: true });
    expect(((await request(a.socket, "room:reads", { roomId })) as any).reads.length).toBe(2);
    expect(await request(b.socket, "room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
    // rejoin: starts afresh (marker at newest), then a message arrives, leave and rejoin: unread 1
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 0 });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
    await request(b.socket, "room:leave", { roomId });
    const m2 = await send(a.socket, roomId, "2");
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 1 });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 1 });
    const list = (await request(b.socket, "rooms:list", {})) as any;
    expect(list.rooms).toEqual([{ roomId, readUpTo: m1.id, unread: 1, lastMessage: m2 }]);
  });

  test("p5: empty room join readUpTo null then unread counts, read moves", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    const b = await person("B");
    expect(await join(b.socket, roomId)).toMatchObject({
      readUpTo: null,
      unread: 0,
      history: [],
      updates: [],
      resumed: false,
    });
    await join(a.socket, roomId);
    await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    await request(a.socket, "message:delete", { roomId, id: m2.id });
    expect(((await request(b.socket, "rooms:list", {})) as any).rooms[0]).toMatchObject({ readUpTo: null, unread: 2 });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: null, unread: 2 });
  });

  test("p5: SSE update for delete and reactions; message:new then updated", async () => {
    const roomId = uniqueRoom();
    const a = await person("A");
    await join(a.socket, roomId);
    const sse = await openSse(`${app().url}/api/rooms/${roomId}/events?token=${a.token}`);
    const m = await send(a.socket, roomId, "1");
    const r = (await request(a.socket, "reaction:add", { roomId, id: m.id, emoji: "x" })) as any;
    const d = (await request(a.socket, "message:delete", { roomId, id: m.id })) as any;
    const e1 = await sse.next("message");
    expect(e1.id).toBe(m.id);
    const u1 = await sse.next("update");
    const u2 = await sse.next("update");
    expect([u1.id, JSON.parse(u1.data)]).toEqual([r.message.rev, r.message]);
    expect([u2.id, JSON.parse(u2.data)]).toEqual([d.message.rev, d.message]);
    sse.close();
  });
});

describe.each(BACKENDS)("probe6 on %s", (backend) => {
  const app = () => apps[backend]!;
  const rest = (token: string, path: string, method = "GET", body?: unknown) =>
    http(`${app().url}/api${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });
  test("p6: REST read on a never-joined room, then list", async () => {
    const roomId = uniqueRoom();
    const a = signToken({ sub: uniqueUserId("A") });
    const b = signToken({ sub: uniqueUserId("B") });
    const m = (await rest(a, `/rooms/${roomId}/messages`, "POST", { text: "x" })).body.message;
    expect((await rest(a, `/rooms`)).body).toEqual({ rooms: [] });
    const r = await rest(b, `/rooms/${roomId}/read`, "POST", { upTo: m.id });
    expect(r.body).toEqual({ readUpTo: m.id, unread: 0 });
    console.log(backend, JSON.stringify((await rest(b, `/rooms`)).body));
  });
  test("p6: rooms:list at most 200", async () => {
    const many = await startOn(backend, {
      MAX_ROOMS_PER_CONNECTION: "1000",
      JOIN_RATE_BURST: "100000",
      JOIN_RATE_PER_SEC: "100000",
    });
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(many.url, { token });
    for (let i = 0; i < 205; i++) await join(socket, uniqueRoom());
    const list = (await request(socket, "rooms:list", {})) as any;
    expect(list.rooms.length).toBe(200);
    await many.close();
  });
});

describe.each(BACKENDS)("probe7 on %s", (backend) => {
  const app = () => apps[backend]!;
  const rest = (token: string, path: string, method = "GET", body?: unknown) =>
    http(`${app().url}/api${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });
  test("p7: REST statuses", async () => {
    const roomId = uniqueRoom();
    const a = signToken({ sub: uniqueUserId("A") });
    const m = (await rest(a, `/rooms/${roomId}/messages`, "POST", { text: "x" })).body.message;
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y".repeat(4001) })).status).toBe(413);
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "  " })).status).toBe(400);
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", {})).status).toBe(400);
    const same = await rest(a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "x", extra: 1 });
    expect([same.status, same.body]).toEqual([200, { message: m }]);
    expect((await rest(a, `/rooms/${roomId}/read`, "POST", {})).status).toBe(400);
    expect((await rest(a, `/rooms/${roomId}/read`, "POST", { upTo: m.id, private: "x" })).status).toBe(400);
    const d = await rest(a, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    const d2 = await rest(a, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    expect([d2.status, d2.body]).toEqual([200, d.body]);
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "PUT")).status).toBe(404);
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "DELETE")).status).toBe(404);
    expect((await rest(a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "z" })).status).toBe(404);
    const noauth = await http(`${app().url}/api/rooms`);
    expect(noauth.status).toBe(401);
    const forb = signToken({ sub: uniqueUserId("F"), rooms: ["other-*"] });
    expect((await rest(forb, `/rooms/${roomId}/reads`)).status).toBe(403);
    expect((await rest(forb, `/rooms/${roomId}/read`, "POST", { upTo: m.id })).status).toBe(403);
    expect((await rest(forb, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "PUT")).status).toBe(403);
  });
});

describe("probe8 two nodes on one Redis", () => {
  test("p8: changes cross nodes: message:updated, SSE update, poll updates, /ws", async () => {
    const env = { RATE_BURST: "1000", RATE_PER_SEC: "1000" };
    const [nodeA, nodeB] = await Promise.all([
      startNode(redis.url, `audit-a-${process.pid}`, env),
      startNode(redis.url, `audit-b-${process.pid}`, env),
    ]);
    const roomId = uniqueRoom();
    const ta = signToken({ sub: uniqueUserId("A") });
    const tb = signToken({ sub: uniqueUserId("B") });
    const a = (await connectSession(nodeA.url, { token: ta })).socket;
    const b = (await connectSession(nodeB.url, { token: tb })).socket;
    const { client: w } = await connectPlain(nodeB.url, { token: tb });
    await join(a, roomId);
    await join(b, roomId);
    expect(await w.request("room:join", { roomId })).toMatchObject({ ok: true });
    const news = collect(b, "message:new");
    const m = await send(a, roomId, "x");
    await eventually(() => news.items.length === 1, "b gets message:new");
    const sse = await openSse(`${nodeB.url}/api/rooms/${roomId}/events?token=${tb}`);
    const poll = http(`${nodeB.url}/api/rooms/${roomId}/poll?after=${m.id}&timeout=5`, { headers: bearer(tb) });
    await sleep(200);
    const updated = collect(b, "message:updated");
    const e = (await request(a, "message:edit", { roomId, id: m.id, text: "y" })) as any;
    await eventually(() => updated.items.length === 1, "b updated");
    expect(updated.items[0]).toEqual(e.message);
    expect(await w.event("message:updated")).toEqual(e.message);
    const ev = await sse.next("update");
    expect(ev.id).toBe(e.message.rev);
    expect((await poll).body).toEqual({ messages: [], updates: [e.message], cursor: e.message.rev });
    const readSeen = collect(a, "read:updated");
    expect(await request(b, "room:read", { roomId, upTo: m.id })).toMatchObject({ ok: true });
    await eventually(() => readSeen.items.length === 1, "a sees b's read");
    sse.close();
    await stopAllNodes();
  });
});

/** Messages trimmed past HISTORY_MAX are no longer kept: not_found for changes, reads and replies; no resume from them. */
async function expectTrimmed(socket: HuddleClient, roomId: string, ms: Message[]) {
  expect(await request(socket, "message:edit", { roomId, id: ms[0]!.id, text: "z" })).toEqual(refusedWith("not_found"));
  expect(await request(socket, "room:read", { roomId, upTo: ms[1]!.id })).toEqual(refusedWith("not_found"));
  expect(await request(socket, "message:send", { roomId, text: "r", replyTo: ms[1]!.id })).toEqual(
    refusedWith("not_found"),
  );
  expect(await join(socket, roomId, ms[0]!.id)).toMatchObject({ resumed: false });
  expect(await join(socket, roomId, ms[1]!.id)).toMatchObject({ resumed: false });
  expect(await join(socket, roomId, ms[2]!.id)).toMatchObject({ resumed: true, history: [ms[3], ms[4]] });
}

describe.each(BACKENDS)("probe9 on %s", (backend) => {
  test("p9: trimmed messages are not_found; since before the floor not resumed; 21 reactors", async () => {
    const small = await startOn(backend, { HISTORY_MAX: "3", RATE_BURST: "1000", RATE_PER_SEC: "1000" });
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(small.url, { token });
    await join(socket, roomId);
    const ms: Message[] = [];
    for (let i = 0; i < 5; i++) ms.push(await send(socket, roomId, `m${i}`));
    // §10: with PostgreSQL, HISTORY_MAX no longer caps what is kept.
    if (backend !== "postgres") await expectTrimmed(socket, roomId, ms);
    const last = ms[4]!;
    let final: any;
    for (let i = 0; i < 21; i++) {
      const t = signToken({ sub: `u${String(i).padStart(2, "0")}-${uniqueUserId()}` });
      final = await http(`${small.url}/api/rooms/${roomId}/messages/${last.id}/reactions/x`, {
        method: "PUT",
        headers: bearer(t),
      });
    }
    const r = final.body.message.reactions[0];
    expect([r.count, r.userIds.length, r.userIds[0].slice(0, 3), r.userIds[19].slice(0, 3)]).toEqual([
      21,
      20,
      "u00",
      "u19",
    ]);
    await small.close();
  });

  test("p9: a poll without after is answered by a change", async () => {
    const app = apps[backend]!;
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(app.url, { token });
    await join(socket, roomId);
    const m = await send(socket, roomId, "x");
    const waiting = http(`${app.url}/api/rooms/${roomId}/poll?timeout=5`, { headers: bearer(token) });
    await sleep(150);
    const d = (await request(socket, "message:delete", { roomId, id: m.id })) as any;
    expect((await waiting).body).toEqual({ messages: [], updates: [d.message], cursor: d.message.rev });
  });
});

describe.each(BACKENDS)("probe10 on %s", (backend) => {
  test("p10: rooms without messages, the latest joined first, even within one millisecond", async () => {
    const app = apps[backend]!;
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(app.url, { token });
    const base = uniqueRoom();
    const names = Array.from({ length: 12 }, (_, i) => `${base}-${String.fromCharCode(122 - i)}`);
    for (const roomId of names) await join(socket, roomId);
    const list = (await request(socket, "rooms:list", {})) as any;
    expect(list.rooms.map((r: any) => r.roomId)).toEqual([...names].reverse());
  });
});

describe("probe11 /ws", () => {
  test("p11: /ws r2 requests", async () => {
    const app = apps.memory!;
    const token = signToken({ sub: uniqueUserId("W") });
    const { client: w } = await connectPlain(app.url, { token });
    const roomId = uniqueRoom();
    w.send({ type: "rooms:list", id: 7 });
    expect(await w.next((f) => f.type === "ack" && f.id === 7, "ack")).toEqual({
      type: "ack",
      id: 7,
      data: { ok: true, rooms: [] },
    });
    expect(await w.request("room:join", { roomId })).toMatchObject({ ok: true });
    const sent = await w.request("message:send", { roomId, text: "x", clientMsgId: "k" });
    expect(await w.request("message:edit", { roomId, id: sent.message.id, text: "" })).toEqual(
      refusedWith("bad_request"),
    );
    expect(await w.request("message:edit", { roomId, id: "", text: "y" })).toEqual(refusedWith("not_found"));
    expect(await w.request("room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await w.request("rooms:list", {})).toEqual({ ok: true, rooms: [] });
    expect(await w.request("room:read", { roomId, upTo: sent.message.id })).toEqual(refusedWith("not_joined"));
    expect(await w.request("room:reads", { roomId })).toEqual(refusedWith("not_joined"));
    expect(await w.request("reaction:add", { roomId, id: sent.message.id, emoji: "x" })).toEqual(
      refusedWith("not_joined"),
    );
  });
});

describe("probe12 caps", () => {
  test("p12: an open SSE stream counts toward MAX_CONNECTIONS_PER_USER for Socket.IO and /ws", async () => {
    const capped = await startApp({ MAX_CONNECTIONS_PER_USER: "1" });
    const token = signToken({ sub: uniqueUserId("A") });
    const s = await openSse(`${capped.url}/api/rooms/${uniqueRoom()}/events?token=${token}`);
    const err = await connectError(capped.url, { auth: { token } });
    expect(err.data).toEqual({ code: 4029, message: "Too many connections" });
    const w = await openPlain(capped.url, { query: { token } });
    expect(await w.closed).toEqual({ code: 4029, reason: "Too many connections" });
    s.close();
    await capped.close();
  });
});
