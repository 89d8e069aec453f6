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
import { openSse } from "../helpers/sse";
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

describe.each(["memory", "redis"])("probe2 on %s", (backend) => {
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
    const updates = collect(a.socket, "message:updated");
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

describe.each(["memory", "redis"])("ids are compared for equality on %s", (backend) => {
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
