/**
 * Audit of protocol revision 2 over REST, SSE and long polling (§2, §5, §8, §9 of the contract): each test
 * asserts one sentence a client author relies on (quoted above it), on the memory, Redis and PostgreSQL stores.
 */
import type { Message } from "../../shared";
import { startNode, stopAllNodes } from "../cluster/nodes";
import { closeAllClients, collect, connectError, eventually, sleep } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { openSse } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { BACKENDS, bearer, person, rest, useAuditBackends } from "../protocol/r2-audit-support";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "../protocol/support";
import { closeAllPlain, connectPlain, openPlain } from "../ws/ws-client";

const backends = useAuditBackends();
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});

describe.each(BACKENDS)("on %s", (backend) => {
  const app = () => backends.app(backend);

  // §2: "A message id given to a revision-2 event or route (`id`, `upTo`, `replyTo`, `:id`) that is not a message
  // of the room is `not_found`, whatever its form"; §5: `not_found` 404.
  test("an upTo, replyTo or :id of any form that is not a message of the room is 404 not_found", async () => {
    const roomId = uniqueRoom();
    const a = await person(app());
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

  // §5: "the status follows the code: `bad_request` 400, `unauthorized` 401, `forbidden` 403, `not_found` 404,
  // `too_large` 413".
  test("change and read routes answer the status of each code", async () => {
    const roomId = uniqueRoom();
    const a = signToken({ sub: uniqueUserId("A") });
    const m = (await rest(app(), a, `/rooms/${roomId}/messages`, "POST", { text: "x" })).body.message;
    expect(
      (await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y".repeat(4001) })).status,
    ).toBe(413);
    expect((await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "  " })).status).toBe(400);
    expect((await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", {})).status).toBe(400);
    const same = await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "x", extra: 1 });
    expect([same.status, same.body]).toEqual([200, { message: m }]);
    expect((await rest(app(), a, `/rooms/${roomId}/read`, "POST", {})).status).toBe(400);
    expect((await rest(app(), a, `/rooms/${roomId}/read`, "POST", { upTo: m.id, private: "x" })).status).toBe(400);
    const d = await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    const d2 = await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    expect([d2.status, d2.body]).toEqual([200, d.body]);
    expect((await rest(app(), a, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "PUT")).status).toBe(404);
    expect((await rest(app(), a, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "DELETE")).status).toBe(404);
    expect((await rest(app(), a, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "z" })).status).toBe(404);
    const noauth = await http(`${app().url}/api/rooms`);
    expect(noauth.status).toBe(401);
    const forb = signToken({ sub: uniqueUserId("F"), rooms: ["other-*"] });
    expect((await rest(app(), forb, `/rooms/${roomId}/reads`)).status).toBe(403);
    expect((await rest(app(), forb, `/rooms/${roomId}/read`, "POST", { upTo: m.id })).status).toBe(403);
    expect((await rest(app(), forb, `/rooms/${roomId}/messages/${m.id}/reactions/x`, "PUT")).status).toBe(403);
  });

  // §8: "At most 20 different emojis on a message (`bad_request` past it)"; §2: "in order of first use"; §5:
  // "`:emoji` is URL-encoded".
  test("PUT and DELETE reactions: URL-encoded emoji, 20 emojis at most, order of first use", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
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
      app(),
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e21:")}`,
      "PUT",
    );
    expect(put.status).toBe(400);
    const put2 = await rest(
      app(),
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e0:")}`,
      "PUT",
    );
    expect(put2.status).toBe(200);
    const del = await rest(
      app(),
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent(":e0:")}`,
      "DELETE",
    );
    expect(del.status).toBe(200);
    expect(del.body.message.reactions.map((r: any) => r.emoji)[0]).toBe(":e1:");
    const put3 = await rest(
      app(),
      a.token,
      `/rooms/${roomId}/messages/${m.id}/reactions/${encodeURIComponent("👍")}`,
      "PUT",
    );
    expect(put3.status).toBe(200);
    expect(put3.body.message.reactions.at(-1)).toEqual({ emoji: "👍", count: 1, userIds: [a.user.id] });
    const b = await person(app(), "B");
    const bad = await rest(app(), b.token, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y" });
    expect(bad.status).toBe(403);
    const gone = await rest(app(), a.token, `/rooms/${roomId}/messages/${m.id}`, "DELETE");
    expect(gone.status).toBe(200);
    expect(gone.body.message.reactions).toBeUndefined();
    const edit = await rest(app(), a.token, `/rooms/${roomId}/messages/${m.id}`, "PATCH", { text: "y" });
    expect(edit.status).toBe(404);
  });

  // §8: "Edits, deletes and reactions ... count against the sender's message budget (`rate_limited`)"; §5:
  // "`rate_limited` 429 (with `Retry-After`)".
  test("changes count against the message budget: 429 with Retry-After over REST, retryAfterMs over Socket.IO", async () => {
    const limited = await backends.startOn(backend, { RATE_BURST: "2", RATE_PER_SEC: "1" });
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

  // §5: "`limit_exceeded` 429 (without `Retry-After`)".
  test("past the connection cap a poll is 429 limit_exceeded without Retry-After", async () => {
    const capped = await backends.startOn(backend, { MAX_CONNECTIONS_PER_USER: "1" });
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

  // §8: "Positions are opaque strings of the same kind as ids"; an edit "keeps `id`, `seq`, `ts`, gets a new
  // `rev` and `editedAt`".
  test("a rev is a position: pages before and after it", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const e = (await request(a.socket, "message:edit", { roomId, id: m1.id, text: "2" })) as any;
    expect(e.message).toEqual({ ...m1, text: "2", rev: expect.any(String), editedAt: expect.any(Number) });
    expect(e.message.rev).not.toBe(m1.id);
    const m2 = await send(a.socket, roomId, "3");
    expect(m2.seq).toBe(2);
    const page = await rest(app(), a.token, `/rooms/${roomId}/messages?after=${e.message.rev}`);
    expect(page.body).toEqual({ messages: [m2], more: false });
    const page2 = await rest(app(), a.token, `/rooms/${roomId}/messages?before=${e.message.rev}`);
    expect(page2.body).toEqual({ messages: [e.message], more: false });
  });

  // §5: "`event: update` (data `Message`, `id:` its `rev`)"; "`Last-Event-ID` (or `?lastEventId=`) first replays ...
  // the changes after that position, in change order".
  test("SSE sends event: update with id: its rev, and replays changes after a Last-Event-ID in change order", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
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

  // §8: "SSE sends `event: update` for a change".
  test("SSE sends a reaction and a delete as event: update after the message", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
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

  // §8: "A poll answers `{ messages, updates, cursor }`" with "`cursor` the newest position returned"; "A waiting
  // poll is answered as soon as a message or a change arrives."
  test("a poll answers messages, updates and the newest position as cursor; a change ends a waiting poll", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
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

  // §8: "A waiting poll is answered as soon as a message or a change arrives."
  test("a poll without after is answered by a change", async () => {
    const server = backends.app(backend);
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(server.url, { token });
    await join(socket, roomId);
    const m = await send(socket, roomId, "x");
    const waiting = http(`${server.url}/api/rooms/${roomId}/poll?timeout=5`, { headers: bearer(token) });
    await sleep(150);
    const d = (await request(socket, "message:delete", { roomId, id: m.id })) as any;
    expect((await waiting).body).toEqual({ messages: [], updates: [d.message], cursor: d.message.rev });
  });

  // §8: "when `messages` is cut at 100, `updates` holds only changes made before the last of them, so the next poll
  // from `cursor` misses nothing."
  test("when messages are cut at 100, updates hold only what changed before the last of them", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const first = (await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: "first" })).body.message;
    const second = (await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: "second" })).body.message;
    const r1 = (await rest(app(), token, `/rooms/${roomId}/messages/${first.id}/reactions/a`, "PUT")).body.message;
    const ms: Message[] = [];
    for (let i = 0; i < 101; i++)
      ms.push((await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    const r2 = (await rest(app(), token, `/rooms/${roomId}/messages/${first.id}/reactions/b`, "PUT")).body.message;
    const p = await rest(app(), token, `/rooms/${roomId}/poll?after=${second.id}&timeout=0`);
    expect(p.body.messages.length).toBe(100);
    // `first` changed before the cut (r1) and after it (r2): its state shows r2, so it waits for the next poll.
    expect(p.body.updates).toEqual([]);
    void r1;
    expect(p.body.cursor).toBe(ms[99]!.id);
    const p2 = await rest(app(), token, `/rooms/${roomId}/poll?after=${p.body.cursor}&timeout=0`);
    expect(p2.body).toEqual({ messages: [ms[100]], updates: [r2], cursor: r2.rev });
  });

  // §9: "`room:reads` answers the users that have a public position in the room, at most 100, highest `readSeq`
  // first"; §5: `POST /api/rooms/:roomId/read` → 200 `{ readUpTo, unread }`.
  test("POST read answers readUpTo and unread; GET reads answers at most 100, highest readSeq first", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const ms: Message[] = [];
    for (let i = 0; i < 3; i++)
      ms.push((await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    for (let i = 0; i < 102; i++) {
      const t = signToken({ sub: uniqueUserId("R") });
      const upTo = i === 101 ? ms[2]!.id : i === 100 ? ms[1]!.id : ms[0]!.id;
      const res = await rest(app(), t, `/rooms/${roomId}/read`, "POST", { upTo });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ readUpTo: upTo, unread: 2 - (i === 101 ? 2 : i === 100 ? 1 : 0) });
    }
    const reads = await rest(app(), token, `/rooms/${roomId}/reads`);
    expect(reads.body.reads.length).toBe(100);
    expect(reads.body.reads.slice(0, 2).map((r: any) => r.readSeq)).toEqual([3, 2]);
  });

  // §3: "`room:join` without `since` returns the latest 50 messages"; "A page (`limit` 1–100, default 50 ...) holds
  // the newest messages older than `before` ...; `more` says whether older ones exist. Over REST, `after` instead
  // gives the oldest `limit` messages newer than it"; §8: pages "return messages in their current state".
  test("join, room:history and REST pages: latest 50, oldest first, current state, more", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const sent: Message[] = [];
    for (let i = 0; i < 60; i++)
      sent.push((await rest(app(), a.token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    const gone = (await rest(app(), a.token, `/rooms/${roomId}/messages/${sent[55]!.id}`, "DELETE")).body.message;
    const now = sent.map((m, i) => (i === 55 ? gone : m));
    const joined = await join(a.socket, roomId);
    expect(joined).toMatchObject({ resumed: false, updates: [], history: now.slice(10) });
    expect(await request(a.socket, "room:history", { roomId, before: sent[10]!.id })).toEqual({
      ok: true,
      messages: now.slice(0, 10),
      more: false,
    });
    expect(await request(a.socket, "room:history", { roomId, limit: 5 })).toEqual({
      ok: true,
      messages: now.slice(55),
      more: true,
    });
    expect((await rest(app(), a.token, `/rooms/${roomId}/messages?after=${sent[50]!.id}&limit=5`)).body).toEqual({
      messages: now.slice(51, 56),
      more: true,
    });
    expect((await rest(app(), a.token, `/rooms/${roomId}/messages?after=${gone.rev}`)).body).toEqual({
      messages: [],
      more: false,
    });
  });

  // §9: "A user's own message moves their marker to it, without an event" — a message published over REST too.
  test("a message published over REST moves its author's marker and public position", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(b.socket, roomId);
    await rest(app(), b.token, `/rooms/${roomId}/messages`, "POST", { text: "b1" });
    await join(a.socket, roomId);
    const mine = (await rest(app(), a.token, `/rooms/${roomId}/messages`, "POST", { text: "a1" })).body.message;
    expect((await rest(app(), a.token, `/rooms`)).body.rooms).toEqual([
      { roomId, readUpTo: mine.id, unread: 0, lastMessage: mine },
    ]);
    const reads = (await rest(app(), b.token, `/rooms/${roomId}/reads`)).body.reads;
    expect(reads).toContainEqual({ user: a.user, readUpTo: mine.id, readSeq: 2 });
  });

  // §3: "over REST, access to the room (§1) is enough".
  test("over REST, access to the room is enough to read", async () => {
    const roomId = uniqueRoom();
    const a = signToken({ sub: uniqueUserId("A") });
    const b = signToken({ sub: uniqueUserId("B") });
    const m = (await rest(app(), a, `/rooms/${roomId}/messages`, "POST", { text: "x" })).body.message;
    expect((await rest(app(), a, `/rooms`)).body).toEqual({ rooms: [] });
    const r = await rest(app(), b, `/rooms/${roomId}/read`, "POST", { upTo: m.id });
    expect(r.body).toEqual({ readUpTo: m.id, unread: 0 });
    // A REST reader has a marker like any reader: the room is listed with it.
    expect((await rest(app(), b, `/rooms`)).body.rooms).toEqual([
      { roomId, readUpTo: m.id, unread: 0, lastMessage: m },
    ]);
  });
});

describe("connection cap", () => {
  // §1: "4029 ... (r2) SSE streams and waiting polls count".
  test("an open SSE stream counts toward MAX_CONNECTIONS_PER_USER for Socket.IO and /ws", async () => {
    const capped = await backends.startOn("memory", { MAX_CONNECTIONS_PER_USER: "1" });
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

describe("two nodes on one Redis", () => {
  // §4: "`message:updated` ... every socket in the room, on every node"; §8: SSE `event: update`, polls.
  test("a change on node A reaches Socket.IO, /ws, SSE and a waiting poll on node B", async () => {
    const env = { RATE_BURST: "1000", RATE_PER_SEC: "1000" };
    const [nodeA, nodeB] = await Promise.all([
      startNode(backends.env("redis").REDIS_URL!, `audit-a-${process.pid}`, env),
      startNode(backends.env("redis").REDIS_URL!, `audit-b-${process.pid}`, env),
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
