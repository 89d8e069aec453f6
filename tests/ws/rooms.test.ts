/**
 * §6 clients as full members of the rooms of §3–§4, next to Socket.IO
 * clients on the same node: chat both ways, one presence member per user
 * whatever the transport, typing, history, idempotency, rate limits, access.
 */
import { closeAllClients, collect, connectClient, eventually, sleep, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "./ws-client";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "3", RATE_PER_SEC: "1", TYPING_TTL_MS: "400" });
});
afterEach(() => {
  closeAllPlain();
  closeAllClients();
});
afterAll(() => stopAllApps());

let rooms = 0;
const freshRoom = () => `ws-room-${++rooms}`;

describe("chat between a plain client and a Socket.IO client", () => {
  test("each receives the other's messages, and its own, as message:new", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url, { claims: { name: "Sio" } });
    const { client: plain } = await connectPlain(server.url, { claims: { name: "Plain" } });
    await sio.emitWithAck("room:join", { roomId });
    await plain.request("room:join", { roomId });

    const atSio = waitForEvent(sio, "message:new", { predicate: (m: any) => m.text === "hello from ws" });
    const fromPlain = await plain.request("message:send", { roomId, text: "hello from ws" });
    expect(fromPlain).toMatchObject({ ok: true, message: { roomId, text: "hello from ws", user: { name: "Plain" } } });
    await expect(atSio).resolves.toEqual(fromPlain.message);
    await expect(plain.event("message:new", (m) => m.text === "hello from ws")).resolves.toEqual(fromPlain.message);

    const fromSio = await sio.emitWithAck("message:send", { roomId, text: "hello from socket.io" });
    if (!fromSio.ok) throw new Error("send failed");
    await expect(plain.event("message:new", (m) => m.text === "hello from socket.io")).resolves.toEqual(
      fromSio.message,
    );
  });

  test("the join ack lists members, typing, history and resumed as for Socket.IO", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url, { claims: { sub: "ws-carol", name: "Carol" } });
    await sio.emitWithAck("room:join", { roomId });
    const sent = await sio.emitWithAck("message:send", { roomId, text: "before you came" });
    if (!sent.ok) throw new Error("send failed");
    const { client: plain } = await connectPlain(server.url, { claims: { sub: "ws-dave", name: "Dave" } });
    const ack = await plain.request("room:join", { roomId });
    expect(ack).toEqual({
      ok: true,
      roomId,
      members: [
        { id: "ws-carol", name: "Carol" },
        { id: "ws-dave", name: "Dave" },
      ],
      typing: [],
      history: [expect.objectContaining({ text: "before you came", user: { id: "ws-carol", name: "Carol" } })],
      resumed: false,
      updates: [],
      readUpTo: sent.message.id,
      unread: 0,
    });
  });

  test("sees everyone's messages in the same order as history", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url);
    const { client: plain } = await connectPlain(server.url);
    await sio.emitWithAck("room:join", { roomId });
    await plain.request("room:join", { roomId });
    await Promise.all([
      plain.request("message:send", { roomId, text: "p1" }),
      sio.emitWithAck("message:send", { roomId, text: "s1" }),
      plain.request("message:send", { roomId, text: "p2" }),
    ]);
    await eventually(() => plain.frames.filter((f) => f.type === "message:new").length === 3, "three messages");
    const live = plain.frames.filter((f) => f.type === "message:new").map((f) => f.data.id);
    const { messages } = await plain.request("room:history", { roomId });
    expect(live).toEqual(messages.map((m: any) => m.id));
  });
});

describe("presence across the two kinds of connection", () => {
  test("a user with a Socket.IO tab and a /ws connection is one member, gone only when both left", async () => {
    const roomId = freshRoom();
    const sub = uniqueUserId("both");
    const watcher = await connectClient(server.url);
    await watcher.emitWithAck("room:join", { roomId });
    const joins = collect(watcher, "presence:join");
    const leaves = collect(watcher, "presence:leave");

    const tab = await connectClient(server.url, { claims: { sub, name: "Both" } });
    await tab.emitWithAck("room:join", { roomId });
    const { client: plain } = await connectPlain(server.url, { claims: { sub, name: "Both" } });
    const ack = await plain.request("room:join", { roomId });
    expect(ack.members.filter((m: any) => m.id === sub)).toHaveLength(1);

    await tab.emitWithAck("room:leave", { roomId });
    await sleep(100);
    expect(leaves.items).toEqual([]);
    plain.close();
    await eventually(() => leaves.items.length === 1, "presence:leave after both left");
    expect(joins.items).toEqual([{ roomId, user: { id: sub, name: "Both" } }]);
    expect(leaves.items).toEqual([{ roomId, user: { id: sub, name: "Both" } }]);
  });

  test("a /ws connection first, then a Socket.IO tab of the same user: one presence:join, leave after both", async () => {
    const roomId = freshRoom();
    const sub = uniqueUserId("ws-first");
    const { client: watcher } = await connectPlain(server.url);
    await watcher.request("room:join", { roomId });

    const { client: plain } = await connectPlain(server.url, { claims: { sub } });
    await plain.request("room:join", { roomId });
    await watcher.event("presence:join", (p) => p.user.id === sub);
    const tab = await connectClient(server.url, { claims: { sub } });
    const tabAck = await tab.emitWithAck("room:join", { roomId });
    expect(tabAck.ok && tabAck.members.filter((m) => m.id === sub)).toHaveLength(1);

    await plain.request("room:leave", { roomId });
    tab.disconnect();
    await watcher.event("presence:leave", (p) => p.user.id === sub);
    expect(watcher.frames.filter((f) => f.type.startsWith("presence:")).map((f) => f.type)).toEqual([
      "presence:join",
      "presence:leave",
    ]);
  });

  test("a /ws client is not told of its own join, and hears others join and leave", async () => {
    const roomId = freshRoom();
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    const other = await connectClient(server.url, { claims: { sub: "ws-erin", name: "Erin" } });
    await other.emitWithAck("room:join", { roomId });
    await expect(plain.event("presence:join")).resolves.toEqual({ roomId, user: { id: "ws-erin", name: "Erin" } });
    await other.emitWithAck("room:leave", { roomId });
    await expect(plain.event("presence:leave")).resolves.toEqual({ roomId, user: { id: "ws-erin", name: "Erin" } });
    expect(plain.frames.filter((f) => f.type === "presence:join")).toHaveLength(1);
  });
});

describe("typing", () => {
  test("typing:start and typing:stop from /ws reach Socket.IO members as typing:update", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url);
    await sio.emitWithAck("room:join", { roomId });
    const { client: plain, session } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });

    const typing = waitForEvent(sio, "typing:update", { predicate: (u: any) => u.users.length === 1 });
    await expect(plain.request("typing:start", { roomId })).resolves.toEqual({ ok: true });
    await expect(typing).resolves.toEqual({ roomId, users: [session.user] });
    const stopped = waitForEvent(sio, "typing:update", { predicate: (u: any) => u.users.length === 0 });
    await expect(plain.request("typing:stop", { roomId })).resolves.toEqual({ ok: true });
    await expect(stopped).resolves.toEqual({ roomId, users: [] });
  });

  test("a /ws client sees Socket.IO members type", async () => {
    const roomId = freshRoom();
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    const sio = await connectClient(server.url, { claims: { sub: "ws-typist", name: "Typist" } });
    await sio.emitWithAck("room:join", { roomId });
    await sio.emitWithAck("typing:start", { roomId });
    await expect(plain.event("typing:update", (u) => u.users.length === 1)).resolves.toEqual({
      roomId,
      users: [{ id: "ws-typist", name: "Typist" }],
    });
  });

  test("typing ends at once when the /ws connection closes", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url);
    await sio.emitWithAck("room:join", { roomId });
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    const started = waitForEvent(sio, "typing:update", { predicate: (u: any) => u.users.length === 1 });
    await plain.request("typing:start", { roomId });
    await started;
    const cleared = waitForEvent(sio, "typing:update", { predicate: (u: any) => u.users.length === 0, timeoutMs: 300 });
    plain.close();
    // Within 300 ms: well before the 400 ms typing TTL would have ended it.
    await expect(cleared).resolves.toEqual({ roomId, users: [] });
  });
});

describe("history", () => {
  test("room:history pages the room's messages, oldest first", async () => {
    const roomId = freshRoom();
    const sio = await connectClient(server.url, { claims: { sub: uniqueUserId("hist") } });
    await sio.emitWithAck("room:join", { roomId });
    for (const text of ["m1", "m2", "m3"]) await sio.emitWithAck("message:send", { roomId, text });
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    const newest = await plain.request("room:history", { roomId, limit: 2 });
    expect(newest).toMatchObject({ ok: true, more: true });
    expect(newest.messages.map((m: any) => m.text)).toEqual(["m2", "m3"]);
    const older = await plain.request("room:history", { roomId, before: newest.messages[0].id, limit: 2 });
    expect(older).toMatchObject({ ok: true, more: false });
    expect(older.messages.map((m: any) => m.text)).toEqual(["m1"]);
  });

  test("room:join with since resumes with the missed messages", async () => {
    const roomId = freshRoom();
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    const seen = await plain.request("message:send", { roomId, text: "seen" });
    plain.close();
    const sio = await connectClient(server.url);
    await sio.emitWithAck("room:join", { roomId });
    await sio.emitWithAck("message:send", { roomId, text: "missed" });

    const { client: back } = await connectPlain(server.url);
    const ack = await back.request("room:join", { roomId, since: seen.message.id });
    expect(ack).toMatchObject({ ok: true, resumed: true });
    expect(ack.history.map((m: any) => m.text)).toEqual(["missed"]);
  });
});

describe("the rules of §3 over /ws", () => {
  test("a repeated clientMsgId returns the first message and is not broadcast again, across transports", async () => {
    const roomId = freshRoom();
    const sub = uniqueUserId("idem");
    const watcher = await connectClient(server.url);
    await watcher.emitWithAck("room:join", { roomId });
    const received = collect(watcher, "message:new");
    const { client: plain } = await connectPlain(server.url, { claims: { sub } });
    await plain.request("room:join", { roomId });

    const first = await plain.request("message:send", { roomId, text: "once", clientMsgId: "c-1" });
    const again = await plain.request("message:send", { roomId, text: "once", clientMsgId: "c-1" });
    const tab = await connectClient(server.url, { claims: { sub } });
    await tab.emitWithAck("room:join", { roomId });
    const viaSio = await tab.emitWithAck("message:send", { roomId, text: "once", clientMsgId: "c-1" });

    expect(first).toMatchObject({ ok: true, message: { clientMsgId: "c-1" } });
    expect(again).toEqual(first);
    expect(viaSio).toEqual(first);
    await sleep(100);
    expect(received.items).toEqual([first.message]);
    const { messages } = await plain.request("room:history", { roomId });
    expect(messages).toHaveLength(1);
  });

  test("a user sending too fast gets rate_limited with retryAfterMs, across transports", async () => {
    const roomId = freshRoom();
    const sub = uniqueUserId("fast");
    const { client: plain } = await connectPlain(server.url, { claims: { sub } });
    const tab = await connectClient(server.url, { claims: { sub } });
    await plain.request("room:join", { roomId });
    await tab.emitWithAck("room:join", { roomId });
    // RATE_BURST 3: two sends here and one there use the user's whole burst.
    await plain.request("message:send", { roomId, text: "1" });
    await tab.emitWithAck("message:send", { roomId, text: "2" });
    await plain.request("message:send", { roomId, text: "3" });
    const limited = await plain.request("message:send", { roomId, text: "4" });
    expect(limited).toEqual({
      ok: false,
      error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
    });
    expect(limited.error.retryAfterMs).toBeGreaterThan(0);
  });

  test("message:send, typing and history need the room joined", async () => {
    const { client: plain } = await connectPlain(server.url);
    const roomId = freshRoom();
    for (const [type, data] of [
      ["message:send", { roomId, text: "hi" }],
      ["typing:start", { roomId }],
      ["typing:stop", { roomId }],
      ["room:history", { roomId }],
    ] as const) {
      await expect(plain.request(type, data)).resolves.toMatchObject({ ok: false, error: { code: "not_joined" } });
    }
  });

  test("the rooms claim applies: a room outside it is forbidden", async () => {
    const { client: plain } = await connectPlain(server.url, { claims: { rooms: ["team-*"] } });
    await expect(plain.request("room:join", { roomId: "team-red" })).resolves.toMatchObject({ ok: true });
    await expect(plain.request("room:join", { roomId: "elsewhere" })).resolves.toMatchObject({
      ok: false,
      error: { code: "forbidden" },
    });
  });

  test("text is normalised and checked as for Socket.IO", async () => {
    const roomId = freshRoom();
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    await expect(plain.request("message:send", { roomId, text: "  a\r\nb\u0000 " })).resolves.toMatchObject({
      ok: true,
      message: { text: "a\nb" },
    });
    await expect(plain.request("message:send", { roomId, text: " \n " })).resolves.toMatchObject({
      ok: false,
      error: { code: "bad_request" },
    });
    await expect(plain.request("message:send", { roomId, text: "x".repeat(4001) })).resolves.toMatchObject({
      ok: false,
      error: { code: "too_large" },
    });
  });

  test("after room:leave no more events of the room arrive; joining twice delivers each event once", async () => {
    const roomId = freshRoom();
    const other = freshRoom();
    const sio = await connectClient(server.url);
    await sio.emitWithAck("room:join", { roomId });
    await sio.emitWithAck("room:join", { roomId: other });
    const { client: plain } = await connectPlain(server.url);
    await plain.request("room:join", { roomId });
    await plain.request("room:join", { roomId });
    await plain.request("room:join", { roomId: other });
    await sio.emitWithAck("message:send", { roomId, text: "while in" });
    await plain.event("message:new", (m) => m.text === "while in");

    await expect(plain.request("room:leave", { roomId })).resolves.toEqual({ ok: true });
    await sio.emitWithAck("message:send", { roomId, text: "after leaving" });
    await sio.emitWithAck("message:send", { roomId: other, text: "marker" });
    await plain.event("message:new", (m) => m.text === "marker");
    expect(plain.frames.filter((f) => f.type === "message:new").map((f) => f.data.text)).toEqual([
      "while in",
      "marker",
    ]);
  });
});
