/** §5 `GET /api/rooms/:roomId/poll?after=&timeout=`: long polling and its cursor rules. */
import { closeAllClients, connectClient, sleep } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { bearer, expectError, http, publish, publishMany, uniqueRoom, type HttpResponse } from "./support";

let server: TestApp;
const token = signToken();
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "1000000" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

function poll(roomId: string, query: string, headers: Record<string, string> = bearer(token)): Promise<HttpResponse> {
  return http(`${server.url}/api/rooms/${roomId}/poll${query}`, { headers, timeoutMs: 10_000 });
}

/** Resolves true if `promise` settles within `ms` (and leaves no timer behind). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}

describe("long poll: answering at once", () => {
  test("with newer messages, answers the oldest 100 after `after`, cursor the 100th", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 120);
    const res = await poll(roomId, `?after=${sent[0]!.id}&timeout=5`);
    expect(res.status).toBe(200);
    expect(res.body.messages).toEqual(sent.slice(1, 101));
    expect(res.body.cursor).toBe(sent[100]!.id);
    const rest = await poll(roomId, `?after=${res.body.cursor}&timeout=5`);
    expect(rest.body.messages).toEqual(sent.slice(101));
    expect(rest.body.cursor).toBe(sent[119]!.id);
  });

  test("with a few newer messages, answers them all, oldest first", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 4);
    const res = await poll(roomId, `?after=${sent[1]!.id}&timeout=5`);
    expect(res.body).toEqual({ messages: sent.slice(2), updates: [], cursor: sent[3]!.id });
  });

  test("accepts the token as ?token=", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 2);
    const res = await poll(roomId, `?after=${sent[0]!.id}&token=${token}`, {});
    expect(res.body.messages).toEqual([sent[1]]);
  });
});

describe("long poll: waiting", () => {
  test("answers as soon as a message arrives", async () => {
    const roomId = uniqueRoom();
    const [last] = await publishMany(server.url, token, roomId, 1);
    const pending = poll(roomId, `?after=${last!.id}&timeout=20`);
    await sleep(100);
    const sent = await publish(server.url, token, roomId, "wake up");
    expect(await settlesWithin(pending, 3000)).toBe(true);
    expect((await pending).body).toEqual({ messages: [sent], updates: [], cursor: sent.id });
  });

  test("answers a message sent over Socket.IO", async () => {
    const roomId = uniqueRoom();
    const pending = poll(roomId, "?timeout=20");
    await sleep(100);
    const socket = await connectClient(server.url);
    await socket.emitWithAck("room:join", { roomId });
    const ack = await socket.emitWithAck("message:send", { roomId, text: "socket" });
    const res = await pending;
    expect(ack.ok && res.body.messages).toEqual(ack.ok && [ack.message]);
  });

  test("without `after`, waits for the next message even when the room has history", async () => {
    const roomId = uniqueRoom();
    await publishMany(server.url, token, roomId, 3);
    const pending = poll(roomId, "?timeout=20");
    expect(await settlesWithin(pending, 300)).toBe(false);
    const sent = await publish(server.url, token, roomId, "next");
    expect((await pending).body).toEqual({ messages: [sent], updates: [], cursor: sent.id });
  });

  test("ignores events other than messages", async () => {
    const roomId = uniqueRoom();
    const pending = poll(roomId, "?timeout=1");
    await sleep(100);
    const socket = await connectClient(server.url);
    await socket.emitWithAck("room:join", { roomId });
    await socket.emitWithAck("typing:start", { roomId });
    expect((await pending).body).toEqual({ messages: [], updates: [], cursor: null });
  });
});

describe("long poll: timing out and the cursor", () => {
  test("after `timeout` seconds answers no messages and the known `after` as cursor", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 2);
    const pending = poll(roomId, `?after=${sent[1]!.id}&timeout=1`);
    expect(await settlesWithin(pending, 500)).toBe(false);
    expect(await settlesWithin(pending, 2500)).toBe(true);
    expect((await pending).body).toEqual({ messages: [], updates: [], cursor: sent[1]!.id });
  });

  test("with an unknown `after` and nothing newer, the cursor is the room's newest id", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 2);
    const res = await poll(roomId, "?after=999999-0&timeout=0");
    expect(res.body).toEqual({ messages: [], updates: [], cursor: sent[1]!.id });
  });

  test("without `after`, the cursor is the room's newest id", async () => {
    const roomId = uniqueRoom();
    const sent = await publishMany(server.url, token, roomId, 2);
    expect((await poll(roomId, "?timeout=0")).body).toEqual({ messages: [], updates: [], cursor: sent[1]!.id });
  });

  test("in an empty room the cursor is null", async () => {
    expect((await poll(uniqueRoom(), "?timeout=0")).body).toEqual({ messages: [], updates: [], cursor: null });
    expect((await poll(uniqueRoom(), "?after=123-4&timeout=0")).body).toEqual({
      messages: [],
      updates: [],
      cursor: null,
    });
  });

  test("an unknown `after` means from now on: older messages are not returned, the next one is", async () => {
    const roomId = uniqueRoom();
    await publishMany(server.url, token, roomId, 3);
    const pending = poll(roomId, "?after=not-an-id&timeout=20");
    expect(await settlesWithin(pending, 300)).toBe(false);
    const sent = await publish(server.url, token, roomId, "now");
    expect((await pending).body).toEqual({ messages: [sent], updates: [], cursor: sent.id });
  });

  test("following the cursor visits every message once", async () => {
    const roomId = uniqueRoom();
    let cursor: string | null = (await poll(roomId, "?timeout=0")).body.cursor;
    expect(cursor).toBeNull();
    const sent = await publishMany(server.url, token, roomId, 7);
    const seen: string[] = [];
    // With no cursor (null) the next poll would wait for new messages: start from the first, as a client that saw it.
    cursor = sent[0]!.id;
    seen.push(sent[0]!.id);
    for (let i = 0; i < 3; i++) {
      const res = await poll(roomId, `?after=${cursor}&timeout=0`);
      seen.push(...res.body.messages.map((m: { id: string }) => m.id));
      cursor = res.body.cursor;
    }
    expect(seen).toEqual(sent.map((m) => m.id));
  });
});

describe("long poll: timeout parameter", () => {
  test("a negative timeout is clamped to 0: an immediate empty answer", async () => {
    const roomId = uniqueRoom();
    const pending = poll(roomId, "?timeout=-5");
    expect(await settlesWithin(pending, 1000)).toBe(true);
    expect((await pending).body).toEqual({ messages: [], updates: [], cursor: null });
  });

  test("timeout=0 answers at once", async () => {
    const pending = poll(uniqueRoom(), "?timeout=0");
    expect(await settlesWithin(pending, 1000)).toBe(true);
    expect((await pending).status).toBe(200);
  });

  test("a fractional timeout is honoured", async () => {
    const pending = poll(uniqueRoom(), "?timeout=0.3");
    expect(await settlesWithin(pending, 2000)).toBe(true);
  });

  test("a timeout above 30 is accepted (clamped to 30), not refused", async () => {
    const roomId = uniqueRoom();
    const pending = poll(roomId, "?timeout=1000");
    await sleep(100);
    const sent = await publish(server.url, token, roomId, "in time");
    expect((await pending).body.messages).toEqual([sent]);
  });

  test.each(["abc", "1s", "NaN"])("timeout=%s is a bad request", async (timeout) => {
    expectError(await poll(uniqueRoom(), `?timeout=${timeout}`), 400, "bad_request");
  });

  test("no token is refused with 401", async () => {
    expectError(await poll(uniqueRoom(), "?timeout=0", {}), 401, "unauthorized");
  });
});
