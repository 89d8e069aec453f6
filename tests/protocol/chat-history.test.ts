/**
 * §2 text and clientMsgId, §3 `message:send` and `room:history` (acks, the
 * rate limit, idempotency, oversized packets, paging, resuming with `since`,
 * trimming), §4 `message:new` fan-out and order.
 */
import {
  closeAllClients,
  collect,
  createClient,
  eventually,
  sleep,
  waitForEvent,
  type HuddleClient,
} from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, uniqueUserId } from "../helpers/tokens";
import type { Message } from "../../shared";
import { createMemoryStores } from "../../server/stores";
import { StoreUnavailableError } from "../../server/errors";
import { connectSession, fullHistory, join, refusedWith, request, send, uniqueRoom } from "./support";

let server: TestApp; // RATE_BURST high so bulk inserts are quick
let limited: TestApp; // RATE_BURST 3, RATE_PER_SEC 1
let small: TestApp; // HISTORY_MAX 5

beforeAll(async () => {
  server = await startApp({ RATE_BURST: "100000", RATE_PER_SEC: "100000" });
  limited = await startApp({ RATE_BURST: "3", RATE_PER_SEC: "1" });
  small = await startApp({ HISTORY_MAX: "5", RATE_BURST: "1000" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

async function user(app: TestApp = server, name?: string, sub = uniqueUserId()) {
  const token = signToken({ sub, ...(name ? { name } : {}) });
  const { socket, session } = await connectSession(app.url, { token });
  return { socket, user: session.user, token };
}

/** A round trip through the server on each socket, then a little slack: a stray event would be in by now. */
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
  await sleep(30);
}

/** Sends `count` messages "m<i>" from `socket`, `parallel` at a time; returns them in the order the room delivered them. */
async function fill(socket: HuddleClient, roomId: string, count: number, parallel = 50): Promise<Message[]> {
  const delivered = collect<Message>(socket, "message:new");
  for (let i = 0; i < count; i += parallel) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + parallel); j++) batch.push(send(socket, roomId, `m${j}`));
    await Promise.all(batch);
  }
  await eventually(() => delivered.items.length === count, `${count} message:new while filling ${roomId}`);
  return delivered.items;
}

describe("message:send", () => {
  test("answers { ok, message } with id, roomId, user, text and ts, and no clientMsgId when none was given", async () => {
    const alice = await user(server, "Alice");
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    const before = Date.now();
    const ack = await request(alice.socket, "message:send", { roomId, text: "hello" });
    expect(ack).toEqual({
      ok: true,
      message: {
        id: expect.any(String),
        roomId,
        user: alice.user,
        text: "hello",
        ts: expect.any(Number),
        seq: 1,
        rev: expect.any(String),
      },
    });
    const message = (ack as { message: Message }).message;
    expect(message).not.toHaveProperty("clientMsgId");
    expect(message.ts).toBeGreaterThanOrEqual(before - 1000);
    expect(message.ts).toBeLessThanOrEqual(Date.now() + 1000);
  });

  test("echoes the clientMsgId the sender gave", async () => {
    const { socket } = await user();
    const roomId = uniqueRoom();
    await join(socket, roomId);
    await expect(request(socket, "message:send", { roomId, text: "hi", clientMsgId: "c-1" })).resolves.toMatchObject({
      ok: true,
      message: { clientMsgId: "c-1" },
    });
  });

  test("before joining the room is not_joined, and nothing is stored", async () => {
    const { socket } = await user();
    const roomId = uniqueRoom();
    await expect(request(socket, "message:send", { roomId, text: "early" })).resolves.toEqual(
      refusedWith("not_joined"),
    );
    await expect(join(socket, roomId)).resolves.toMatchObject({ history: [] });
  });

  test("room:history before joining the room is not_joined", async () => {
    const { socket } = await user();
    await expect(request(socket, "room:history", { roomId: uniqueRoom() })).resolves.toEqual(refusedWith("not_joined"));
  });

  test("acks only once the message is stored: history read right after the ack holds it", async () => {
    const alice = await user();
    const bob = await user();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const message = await send(alice.socket, roomId, "stored first");
    await expect(request(bob.socket, "room:history", { roomId })).resolves.toEqual({
      ok: true,
      messages: [message],
      more: false,
    });
  });

  test("a send that cannot be stored is answered unavailable and not broadcast", async () => {
    const memory = createMemoryStores({
      historyMax: 1000,
      messageLimit: { burst: 20, perSecond: 5 },
      typingLimit: { burst: 20, perSecond: 5 },
    });
    const failing = await startApp(
      {},
      {
        stores: {
          ...memory,
          messages: {
            ...memory.messages,
            append: async () => {
              throw new StoreUnavailableError();
            },
          },
        },
      },
    );
    const alice = await user(failing);
    const bob = await user(failing);
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const received = [collect(alice.socket, "message:new"), collect(bob.socket, "message:new")];
    await expect(request(alice.socket, "message:send", { roomId, text: "lost" })).resolves.toEqual(
      refusedWith("unavailable"),
    );
    await settle(alice.socket, bob.socket);
    expect(received.flatMap((r) => r.items)).toEqual([]);
    await expect(request(bob.socket, "room:history", { roomId })).resolves.toMatchObject({ messages: [] });
  });
});

describe("text (§2)", () => {
  let socket: HuddleClient;
  let roomId: string;
  beforeEach(async () => {
    socket = (await user()).socket;
    roomId = uniqueRoom("text");
    await join(socket, roomId);
  });

  const sent = async (text: string) => request(socket, "message:send", { roomId, text });

  test.each([
    ["\\r\\n becomes \\n", "a\r\nb", "a\nb"],
    ["a lone \\r becomes \\n", "a\rb\r\rc", "a\nb\n\nc"],
    ["\\r\\n is one line ending, \\n\\r two", "a\n\rb", "a\n\nb"],
    ["C0 controls other than tab and newline are removed", "a\u0000b\u0007c\u001bd\u000be\u000cf", "abcdef"],
    ["DEL and C1 controls are removed", "a\u007fb\u0080c\u0085d\u009fe", "abcde"],
    ["tab and newline inside are kept", "a\tb\nc", "a\tb\nc"],
    ["the text is trimmed like String.prototype.trim", " \t\n\u00a0\ufeff\u2028hello world\u3000 \n", "hello world"],
    ["line endings are fixed before trimming", "\r\r x \r\n", "x"],
    ["controls are removed before trimming", "\u0001 x \u0002", "x"],
    ["characters that only look special are kept", "<b>&amp;</b> \u200b é 🎉", "<b>&amp;</b> \u200b é 🎉"],
  ])("normalises: %s", async (_name, raw, expected) => {
    await expect(sent(raw)).resolves.toMatchObject({ ok: true, message: { text: expected } });
  });

  test.each([
    ["empty", ""],
    ["spaces only", "   "],
    ["whitespace of every kind", " \t\n\r\n\u00a0\u2028\ufeff"],
    ["control characters only", "\u0000\u0001\u007f\u0085"],
  ])("refuses text that is %s after normalisation with bad_request", async (_name, text) => {
    await expect(sent(text)).resolves.toEqual(refusedWith("bad_request"));
  });

  test.each([
    ["4000 ASCII characters", "a".repeat(4000)],
    ["4000 emoji (astral characters count as one)", "😀".repeat(4000)],
    ["3999 characters and one emoji", "a".repeat(3999) + "😀"],
    ["4000 characters inside surrounding whitespace", `  ${"b".repeat(4000)}\n\n`],
    ["4000 characters once a control character is removed", "c".repeat(2000) + "\u0000" + "c".repeat(2000)],
  ])("accepts %s", async (_name, text) => {
    const ack = await sent(text);
    expect(ack).toMatchObject({ ok: true });
    expect([...(ack as { message: Message }).message.text]).toHaveLength(4000);
  });

  test.each([
    ["4001 ASCII characters", "a".repeat(4001)],
    ["4001 emoji", "😀".repeat(4001)],
    ["4000 characters and one emoji", "a".repeat(4000) + "😀"],
  ])("refuses %s with too_large", async (_name, text) => {
    await expect(sent(text)).resolves.toEqual(refusedWith("too_large"));
  });

  test("a refused text stores nothing", async () => {
    const room = uniqueRoom();
    await join(socket, room);
    await request(socket, "message:send", { roomId: room, text: " \n " });
    await request(socket, "message:send", { roomId: room, text: "x".repeat(4001) });
    await expect(request(socket, "room:history", { roomId: room })).resolves.toEqual({
      ok: true,
      messages: [],
      more: false,
    });
  });
});

describe("clientMsgId", () => {
  test.each([
    ["1 character", "a"],
    ["64 characters", "k".repeat(64)],
    ["64 emoji (code points)", "🎉".repeat(64)],
  ])("accepts a clientMsgId of %s", async (_name, clientMsgId) => {
    const { socket } = await user();
    const roomId = uniqueRoom();
    await join(socket, roomId);
    await expect(request(socket, "message:send", { roomId, text: "x", clientMsgId })).resolves.toMatchObject({
      ok: true,
      message: { clientMsgId },
    });
  });

  test.each([
    ["empty", ""],
    ["65 characters", "k".repeat(65)],
    ["a number", 7],
    ["null", null],
  ])("refuses a clientMsgId that is %s with bad_request", async (_name, clientMsgId) => {
    const { socket } = await user();
    const roomId = uniqueRoom();
    await join(socket, roomId);
    await expect(request(socket, "message:send", { roomId, text: "x", clientMsgId })).resolves.toEqual(
      refusedWith("bad_request"),
    );
  });

  test("the same clientMsgId from the same user in the same room returns the first message, stored and broadcast once", async () => {
    const alice = await user();
    const bob = await user();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const received = collect<Message>(bob.socket, "message:new");
    const first = await send(alice.socket, roomId, "once", "same-id");
    const again = await send(alice.socket, roomId, "once, retried with other text", "same-id");
    expect(again).toEqual(first);
    await settle(bob.socket, alice.socket);
    expect(received.items).toEqual([first]);
    await expect(fullHistory(bob.socket, roomId)).resolves.toEqual([first]);
  });

  test("CLIENT_MSG_ID_TTL_MS: a send after the window is a new message", async () => {
    const shortWindow = await startApp({ CLIENT_MSG_ID_TTL_MS: "1000" });
    const { socket } = await connectSession(shortWindow.url);
    const roomId = uniqueRoom();
    await join(socket, roomId);
    const first = await send(socket, roomId, "first", "window-1");
    await expect(send(socket, roomId, "retried", "window-1")).resolves.toEqual(first);
    await sleep(1200);
    const later = await send(socket, roomId, "a day later", "window-1");
    expect(later.id).not.toBe(first.id);
    expect((await fullHistory(socket, roomId)).map((m) => m.text)).toEqual(["first", "a day later"]);
    await shortWindow.close();
  });

  test("a retry from the same user's new connection returns the first message", async () => {
    const alice = await user();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    const first = await send(alice.socket, roomId, "before reconnect", "retry-1");
    alice.socket.disconnect();
    const again = (await connectSession(server.url, { token: alice.token })).socket;
    await join(again, roomId);
    await expect(send(again, roomId, "before reconnect", "retry-1")).resolves.toEqual(first);
    await expect(fullHistory(again, roomId)).resolves.toEqual([first]);
  });

  test("a retry over REST returns the first message with 200", async () => {
    const alice = await user();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    const first = await send(alice.socket, roomId, "socket first", "rest-1");
    const response = await fetch(`${server.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "socket first", clientMsgId: "rest-1" }),
    });
    expect(response.status).toBe(200);
    await expect(response.json()).resolves.toEqual({ message: first });
  });

  test("the same clientMsgId from another user is a new message", async () => {
    const alice = await user();
    const bob = await user();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const a = await send(alice.socket, roomId, "from alice", "shared-id");
    const b = await send(bob.socket, roomId, "from bob", "shared-id");
    expect(b.id).not.toBe(a.id);
    expect(b).toMatchObject({ text: "from bob", clientMsgId: "shared-id" });
    await expect(fullHistory(bob.socket, roomId)).resolves.toEqual([a, b]);
  });

  test("the same clientMsgId in another room is a new message", async () => {
    const alice = await user();
    const [one, two] = [uniqueRoom(), uniqueRoom()];
    await join(alice.socket, one);
    await join(alice.socket, two);
    const a = await send(alice.socket, one, "in one", "room-scoped");
    const b = await send(alice.socket, two, "in two", "room-scoped");
    expect(b).toMatchObject({ roomId: two, text: "in two" });
    expect(b.id === a.id && b.roomId === a.roomId).toBe(false);
  });
});

describe("message:new", () => {
  test("reaches every socket in the room, the sender's too, with the acked message", async () => {
    const roomId = uniqueRoom();
    const alice = await user();
    const bob = await user();
    const secondTab = (await connectSession(server.url, { token: bob.token })).socket;
    for (const s of [alice.socket, bob.socket, secondTab]) await join(s, roomId);
    const arrivals = [alice.socket, bob.socket, secondTab].map((s) => waitForEvent<Message>(s, "message:new"));
    const message = await send(alice.socket, roomId, "to all");
    await expect(Promise.all(arrivals)).resolves.toEqual([message, message, message]);
  });

  test("does not reach sockets outside the room, not even the sender's other tab", async () => {
    const roomId = uniqueRoom();
    const alice = await user();
    const otherTab = (await connectSession(server.url, { token: alice.token })).socket;
    const elsewhere = await user();
    await join(alice.socket, roomId);
    await join(otherTab, uniqueRoom("other"));
    await join(elsewhere.socket, uniqueRoom("other"));
    const stray = [collect(otherTab, "message:new"), collect(elsewhere.socket, "message:new")];
    await send(alice.socket, roomId, "only here");
    await settle(otherTab, elsewhere.socket);
    expect(stray.flatMap((s) => s.items)).toEqual([]);
  });

  test("every socket sees concurrent senders' messages in one order, the order of history", async () => {
    const roomId = uniqueRoom("order");
    const senders = await Promise.all([user(), user(), user()]);
    const watchers = await Promise.all([user(), user()]);
    const all = [...senders, ...watchers];
    for (const u of all) await join(u.socket, roomId);
    const perSocket = all.map((u) => collect<Message>(u.socket, "message:new"));
    const perSender = 25;
    await Promise.all(
      senders.map((s, n) =>
        Promise.all(Array.from({ length: perSender }, (_, i) => send(s.socket, roomId, `s${n}-${i}`))),
      ),
    );
    const total = senders.length * perSender;
    await settle(...all.map((u) => u.socket));
    const history = await fullHistory(watchers[0]!.socket, roomId);
    expect(history).toHaveLength(total);
    const ids = history.map((m) => m.id);
    expect(new Set(ids).size).toBe(total);
    for (const received of perSocket) expect(received.items.map((m) => m.id)).toEqual(ids);
  });
});

describe("the message budget (RATE_BURST=3, RATE_PER_SEC=1)", () => {
  test("refuses the send past the burst with rate_limited and retryAfterMs, storing and broadcasting nothing", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    const bob = await user(limited);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const received = collect<Message>(bob.socket, "message:new");
    for (let i = 0; i < 3; i++) await send(alice.socket, roomId, `ok ${i}`);
    const ack = await request(alice.socket, "message:send", { roomId, text: "too fast" });
    expect(ack).toEqual({
      ok: false,
      error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
    });
    const retryAfterMs = (ack as { error: { retryAfterMs: number } }).error.retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1000);
    await settle(bob.socket);
    expect(received.items.map((m) => m.text)).toEqual(["ok 0", "ok 1", "ok 2"]);
    expect((await fullHistory(bob.socket, roomId)).map((m) => m.text)).toEqual(["ok 0", "ok 1", "ok 2"]);
  });

  test("accepts the send again once retryAfterMs has passed", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    await join(alice.socket, roomId);
    for (let i = 0; i < 3; i++) await send(alice.socket, roomId, `ok ${i}`);
    const ack = await request(alice.socket, "message:send", { roomId, text: "too fast" });
    expect(ack).toMatchObject({ ok: false, error: { code: "rate_limited" } });
    await sleep((ack as { error: { retryAfterMs: number } }).error.retryAfterMs + 20);
    await expect(send(alice.socket, roomId, "patient")).resolves.toMatchObject({ text: "patient" });
  });

  test("is one budget across a user's connections", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    const otherTab = (await connectSession(limited.url, { token: alice.token })).socket;
    await join(alice.socket, roomId);
    await join(otherTab, roomId);
    for (let i = 0; i < 3; i++) await send(alice.socket, roomId, `ok ${i}`);
    await expect(request(otherTab, "message:send", { roomId, text: "other tab" })).resolves.toMatchObject({
      ok: false,
      error: { code: "rate_limited" },
    });
  });

  test("answers a retry of a stored clientMsgId with the first message even when the budget is spent", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    const bob = await user(limited);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const first = await send(alice.socket, roomId, "first", "retry-me");
    for (let i = 0; i < 2; i++) await send(alice.socket, roomId, `ok ${i}`);
    await settle(bob.socket);
    const received = collect<Message>(bob.socket, "message:new");
    const retry = await request(alice.socket, "message:send", { roomId, text: "first", clientMsgId: "retry-me" });
    expect(retry).toEqual({ ok: true, message: first });
    const fresh = await request(alice.socket, "message:send", { roomId, text: "new", clientMsgId: "not-stored" });
    expect(fresh).toMatchObject({ ok: false, error: { code: "rate_limited" } });
    await settle(bob.socket);
    expect(received.items).toEqual([]);
  });

  test("is each user's own: another user can still send", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    const bob = await user(limited);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    for (let i = 0; i < 3; i++) await send(alice.socket, roomId, `ok ${i}`);
    await expect(send(bob.socket, roomId, "bob is fine")).resolves.toMatchObject({ text: "bob is fine" });
  });

  test("refused payloads do not use up the budget", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited);
    await join(alice.socket, roomId);
    for (let i = 0; i < 5; i++) await request(alice.socket, "message:send", { roomId, text: "   " });
    for (let i = 0; i < 3; i++) await send(alice.socket, roomId, `ok ${i}`);
  });
});

describe.each(["websocket", "polling"] as const)("a packet over MAX_PAYLOAD_BYTES, over %s", (transport) => {
  let tight: TestApp;
  beforeAll(async () => {
    tight = await startApp({ MAX_PAYLOAD_BYTES: "2048" });
  });

  test("closes the connection, stores and broadcasts nothing, and the client reconnects", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const sender = createClient(tight.url, { transport, token, reconnection: true, reconnectionDelay: 50 });
    await waitForEvent(sender, "session");
    await join(sender, roomId);
    const observer = (await connectSession(tight.url, { transport })).socket;
    await join(observer, roomId);
    const received = [collect(observer, "message:new"), collect(sender, "message:new")];
    const disconnected = waitForEvent<string>(sender, "disconnect");
    sender.emit("message:send", { roomId, text: "x".repeat(3000) }, () => {});
    await expect(disconnected).resolves.toMatch(/transport (close|error)|parse error/);
    await waitForEvent(sender, "session", { timeoutMs: 5000 });
    expect(sender.connected).toBe(true);
    await settle(observer);
    expect(received.flatMap((r) => r.items)).toEqual([]);
    await expect(request(observer, "room:history", { roomId })).resolves.toEqual({
      ok: true,
      messages: [],
      more: false,
    });
  });

  test("a packet just under the limit is served", async () => {
    const roomId = uniqueRoom();
    const { socket } = await connectSession(tight.url, { transport });
    await join(socket, roomId);
    await expect(send(socket, roomId, "y".repeat(1900))).resolves.toMatchObject({ text: "y".repeat(1900) });
  });
});

describe("room:history", () => {
  let reader: HuddleClient;
  let roomId: string;
  let messages: Message[];
  beforeAll(async () => {
    roomId = uniqueRoom("paged");
    const writer = (await user()).socket;
    await join(writer, roomId);
    messages = await fill(writer, roomId, 120);
    writer.close();
  });
  beforeEach(async () => {
    reader = (await user()).socket;
    await join(reader, roomId);
  });

  test("without before or limit returns the newest 50, oldest first, with more: true", async () => {
    await expect(request(reader, "room:history", { roomId })).resolves.toEqual({
      ok: true,
      messages: messages.slice(70),
      more: true,
    });
  });

  test("limit 100 returns the newest 100", async () => {
    await expect(request(reader, "room:history", { roomId, limit: 100 })).resolves.toEqual({
      ok: true,
      messages: messages.slice(20),
      more: true,
    });
  });

  test("limit 1 returns the newest message", async () => {
    await expect(request(reader, "room:history", { roomId, limit: 1 })).resolves.toEqual({
      ok: true,
      messages: [messages[119]],
      more: true,
    });
  });

  test("before pages back to the oldest message, with more: false on the last page", async () => {
    const page2 = await request(reader, "room:history", { roomId, before: messages[70]!.id, limit: 50 });
    expect(page2).toEqual({ ok: true, messages: messages.slice(20, 70), more: true });
    const page3 = await request(reader, "room:history", { roomId, before: messages[20]!.id, limit: 50 });
    expect(page3).toEqual({ ok: true, messages: messages.slice(0, 20), more: false });
    const none = await request(reader, "room:history", { roomId, before: messages[0]!.id });
    expect(none).toEqual({ ok: true, messages: [], more: false });
  });

  test("a page of exactly what is left says more: false", async () => {
    await expect(request(reader, "room:history", { roomId, before: messages[50]!.id, limit: 50 })).resolves.toEqual({
      ok: true,
      messages: messages.slice(0, 50),
      more: false,
    });
  });

  test("an empty room has an empty page", async () => {
    const empty = uniqueRoom();
    await join(reader, empty);
    await expect(request(reader, "room:history", { roomId: empty })).resolves.toEqual({
      ok: true,
      messages: [],
      more: false,
    });
  });

  test.each([
    ["0", 0],
    ["101", 101],
    ["2.5", 2.5],
    ['"5"', "5"],
    ["-1", -1],
    ["null", null],
    ["NaN", Number.NaN],
  ])("refuses limit %s with bad_request", async (_name, limit) => {
    await expect(request(reader, "room:history", { roomId, limit })).resolves.toEqual(refusedWith("bad_request"));
  });

  test.each([
    ["a number", 5],
    ["an empty string", ""],
  ])("refuses a before that is %s with bad_request", async (_name, before) => {
    await expect(request(reader, "room:history", { roomId, before })).resolves.toEqual(refusedWith("bad_request"));
  });
});

describe("room:join with and without since", () => {
  let roomId: string;
  let messages: Message[];
  let reader: HuddleClient;
  beforeAll(async () => {
    roomId = uniqueRoom("resume");
    const writer = (await user()).socket;
    await join(writer, roomId);
    messages = await fill(writer, roomId, 560, 80);
    writer.close();
  });
  beforeEach(async () => {
    reader = (await user()).socket;
  });

  test("without since returns the latest 50 and resumed: false", async () => {
    await expect(request(reader, "room:join", { roomId })).resolves.toMatchObject({
      ok: true,
      history: messages.slice(510),
      resumed: false,
    });
  });

  test("with since returns every message after it and resumed: true", async () => {
    await expect(request(reader, "room:join", { roomId, since: messages[480]!.id })).resolves.toMatchObject({
      history: messages.slice(481),
      resumed: true,
    });
  });

  test("returns up to 500 missed messages, more than the 50 of a plain join", async () => {
    const ack = await join(reader, roomId, messages[59]!.id);
    expect(ack.resumed).toBe(true);
    expect(ack.history).toEqual(messages.slice(60));
    expect(ack.history).toHaveLength(500);
  });

  test("since the newest message returns [] and resumed: true", async () => {
    await expect(request(reader, "room:join", { roomId, since: messages[559]!.id })).resolves.toMatchObject({
      history: [],
      resumed: true,
    });
  });

  test("more than 500 missed returns the latest 50 and resumed: false", async () => {
    await expect(request(reader, "room:join", { roomId, since: messages[58]!.id })).resolves.toMatchObject({
      history: messages.slice(510),
      resumed: false,
    });
  });

  test.each([
    ["an id of this room's shape that was never handed out", "1-0"],
    ["an id from the future", "99999999999999-0"],
    ["a string that is no id at all", "not-an-id"],
    ["another room's message id", "__other__"],
  ])("since %s returns the latest 50 and resumed: false", async (_name, since) => {
    let id = since;
    if (since === "__other__") {
      const other = uniqueRoom();
      const writer = (await user()).socket;
      await join(writer, other);
      id = (await send(writer, other, "elsewhere")).id;
      if (messages.some((m) => m.id === id)) return; // ids are per room; equal ones would be the same position
    }
    await expect(request(reader, "room:join", { roomId, since: id })).resolves.toMatchObject({
      history: messages.slice(510),
      resumed: false,
    });
  });

  test("since in an empty room the id was never from returns [] and resumed: false", async () => {
    await expect(request(reader, "room:join", { roomId: uniqueRoom(), since: messages[0]!.id })).resolves.toMatchObject(
      {
        history: [],
        resumed: false,
      },
    );
  });

  test.each([
    ["a number", 12],
    ["an empty string", ""],
  ])("refuses a since that is %s with bad_request", async (_name, since) => {
    await expect(request(reader, "room:join", { roomId, since })).resolves.toEqual(refusedWith("bad_request"));
  });
});

describe("HISTORY_MAX=5", () => {
  test("keeps the 5 newest messages of a room", async () => {
    const roomId = uniqueRoom();
    const { socket } = await user(small);
    await join(socket, roomId);
    const sent = [];
    for (let i = 0; i < 8; i++) sent.push(await send(socket, roomId, `n${i}`));
    await expect(request(socket, "room:history", { roomId })).resolves.toEqual({
      ok: true,
      messages: sent.slice(3),
      more: false,
    });
    const other = (await user(small)).socket;
    await expect(join(other, roomId)).resolves.toMatchObject({ history: sent.slice(3), resumed: false });
  });

  test("a since that was trimmed away returns the latest and resumed: false", async () => {
    const roomId = uniqueRoom();
    const { socket } = await user(small);
    await join(socket, roomId);
    const sent = [];
    for (let i = 0; i < 8; i++) sent.push(await send(socket, roomId, `n${i}`));
    const other = (await user(small)).socket;
    await expect(join(other, roomId, sent[1]!.id)).resolves.toMatchObject({ history: sent.slice(3), resumed: false });
    await expect(join(other, roomId, sent[3]!.id)).resolves.toMatchObject({ history: sent.slice(4), resumed: true });
  });
});
