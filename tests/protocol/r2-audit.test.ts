/**
 * Audit of the (r2) sentences of §2–§5, §8 and §9 of the contract, each test asserting one sentence a client
 * author relies on, on the in-memory store and on Redis.
 */
import type { Message } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, collect, eventually, sleep, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

let redis: TestRedis;
const apps: Record<string, TestApp> = {};
beforeAll(async () => {
  redis = await startRedis();
  const env = { RATE_BURST: "100000", RATE_PER_SEC: "100000", JOIN_RATE_BURST: "100000", JOIN_RATE_PER_SEC: "100000" };
  apps.memory = await startApp(env);
  apps.redis = await startApp({ ...env, REDIS_URL: redis.url });
});
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(async () => {
  await stopAllApps();
  await redis?.stop();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(["memory", "redis"])("on %s", (backend) => {
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
