/**
 * The typed client against a real server in Node: calls and their typed
 * errors, the outbox, the typing throttle, and token refresh.
 */
import { HuddleClientError, type Message, type OutboxEntry } from "@huddle/client";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { eventually, sleep } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { closeAllTestClients, nextEvent, reachState, startClient } from "./client-helpers";

let server: TestApp;
let room = 0;
const newRoom = () => `client-${process.pid}-${++room}`;

beforeAll(async () => {
  server = await startApp({ TYPING_TTL_MS: "5000" });
});
afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

describe("calls", () => {
  test("joins a room, sends, and every member receives the message once", async () => {
    const roomId = newRoom();
    const alice = startClient(server.url, { claims: { name: "Alice" } }).client;
    const bob = startClient(server.url, { claims: { name: "Bob" } }).client;
    await alice.join(roomId);
    const joined = await bob.join(roomId);
    expect(joined.members.map((m) => m.name).sort()).toEqual(["Alice", "Bob"]);

    const bobSees: Message[] = [];
    bob.on("message", (m) => bobSees.push(m));
    const sent = await alice.send(roomId, "  hello Bob \r\n ");
    expect(sent).toMatchObject({ roomId, text: "hello Bob", user: { name: "Alice" } });
    await nextEvent(bob, "message", (m) => m.id === sent.id).catch(() => undefined);
    await sleep(100);
    expect(bobSees.map((m) => m.id)).toEqual([sent.id]);
  });

  test("rejects a refused call with a HuddleClientError carrying the protocol code", async () => {
    const client = startClient(server.url, { claims: { rooms: ["team-*"] } }).client;
    const refused = await client.join("secret").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HuddleClientError);
    expect(refused).toMatchObject({ code: "forbidden" });

    const bad = await client.join("no spaces allowed").catch((e: unknown) => e);
    expect(bad).toMatchObject({ name: "HuddleClientError", code: "bad_request" });
  });

  test("refuses text over 4000 characters as too_large before sending it", async () => {
    const roomId = newRoom();
    const { client, outgoing } = startClient(server.url);
    await client.join(roomId);
    await expect(client.send(roomId, "x".repeat(4001))).rejects.toMatchObject({ code: "too_large" });
    expect(outgoing.filter((o) => o.event === "message:send")).toEqual([]);
  });

  test("pages older messages with room:history", async () => {
    const roomId = newRoom();
    const { client } = startClient(server.url);
    await client.join(roomId);
    const texts = ["one", "two", "three", "four"];
    for (const text of texts) await client.send(roomId, text);
    const newest = await client.history(roomId, { limit: 2 });
    expect(newest.messages.map((m) => m.text)).toEqual(["three", "four"]);
    expect(newest.more).toBe(true);
    const older = await client.history(roomId, { before: newest.messages[0]!.id, limit: 2 });
    expect(older.messages.map((m) => m.text)).toEqual(["one", "two"]);
    expect(older.more).toBe(false);
  });

  test("rejects with timeout when the server never answers, and keeps the room to join on the next connection", async () => {
    // A bare Socket.IO server that accepts the connection and never acknowledges anything.
    const silent = new Server(0, { serveClient: false });
    try {
      const { port } = silent.httpServer.address() as AddressInfo;
      const { client } = startClient(`http://127.0.0.1:${port}`, { ackTimeoutMs: 300 });
      await reachState(client, "connected");
      await expect(client.join("quiet")).rejects.toMatchObject({ name: "HuddleClientError", code: "timeout" });
      expect(client.rooms).toEqual(["quiet"]);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("outbox", () => {
  test("reports pending then sent for each message", async () => {
    const roomId = newRoom();
    const { client } = startClient(server.url);
    await client.join(roomId);
    const reports: Pick<OutboxEntry, "status" | "clientMsgId">[] = [];
    client.on("outbox", ({ status, clientMsgId }) => reports.push({ status, clientMsgId }));
    const message = await client.send(roomId, "tracked", { clientMsgId: "cm-1" });
    expect(message.clientMsgId).toBe("cm-1");
    expect(reports).toEqual([
      { status: "pending", clientMsgId: "cm-1" },
      { status: "sent", clientMsgId: "cm-1" },
    ]);
    expect(client.pending()).toEqual([]);
  });

  test("a rate-limited message is failed with retryAfterMs, and retry sends it with the same clientMsgId", async () => {
    const limited = await startApp({ RATE_BURST: "1", RATE_PER_SEC: "5" });
    const roomId = newRoom();
    const { client, outgoing } = startClient(limited.url);
    await client.join(roomId);
    await client.send(roomId, "first");
    const failed = nextEvent(client, "outbox", (e) => e.status === "failed");
    const second = client.send(roomId, "second", { clientMsgId: "cm-rate" });
    await expect(second).rejects.toMatchObject({ code: "rate_limited" });
    const entry = await failed;
    expect(entry.error?.retryAfterMs).toBeGreaterThan(0);
    expect(client.pending().map((e) => [e.clientMsgId, e.status])).toEqual([["cm-rate", "failed"]]);

    await sleep(entry.error!.retryAfterMs! + 20);
    const message = await client.retry("cm-rate");
    expect(message).toMatchObject({ text: "second", clientMsgId: "cm-rate" });
    const sends = outgoing.filter((o) => o.event === "message:send" && o.payload.clientMsgId === "cm-rate");
    expect(sends).toHaveLength(2);
  });

  test("a message queued while connecting is sent once the room is joined", async () => {
    const roomId = newRoom();
    const { client } = startClient(server.url);
    const joined = client.join(roomId);
    const sent = client.send(roomId, "early bird");
    expect(client.pending().map((e) => e.status)).toEqual(["pending"]);
    await joined;
    await expect(sent).resolves.toMatchObject({ text: "early bird" });
  });
});

describe("typing throttle", () => {
  test("sends typing:start at most once per interval while typing, and typing:stop after idle", async () => {
    const roomId = newRoom();
    const alice = startClient(server.url, { claims: { name: "Alice" }, typing: { startIntervalMs: 300, idleMs: 250 } });
    const bob = startClient(server.url).client;
    await alice.client.join(roomId);
    await bob.join(roomId);
    const typingSeen = nextEvent(bob, "typing", (u) => u.users.some((x) => x.name === "Alice"));
    const startedAt = Date.now();
    while (Date.now() - startedAt < 700) {
      alice.client.typing(roomId);
      await sleep(20);
    }
    await typingSeen;
    const stopped = nextEvent(bob, "typing", (u) => u.users.length === 0);
    await stopped;
    const typingEvents = alice.outgoing.filter((o) => o.event.startsWith("typing:")).map((o) => o.event);
    // ~35 keystrokes over 700 ms with a 300 ms interval: 3 starts (at 0, 300, 600 ms), then one stop.
    expect(typingEvents.filter((e) => e === "typing:start").length).toBeGreaterThanOrEqual(2);
    expect(typingEvents.filter((e) => e === "typing:start").length).toBeLessThanOrEqual(3);
    expect(typingEvents.at(-1)).toBe("typing:stop");
    expect(typingEvents.filter((e) => e === "typing:stop")).toHaveLength(1);
  });

  test("sending a message ends typing at once", async () => {
    const roomId = newRoom();
    const alice = startClient(server.url, { claims: { name: "Alice" }, typing: { idleMs: 10_000 } });
    const bob = startClient(server.url).client;
    await alice.client.join(roomId);
    await bob.join(roomId);
    const typingSeen = nextEvent(bob, "typing", (u) => u.users.length === 1);
    alice.client.typing(roomId);
    await typingSeen;
    const cleared = nextEvent(bob, "typing", (u) => u.users.length === 0, 1000);
    await alice.client.send(roomId, "done typing");
    await cleared;
    const events = alice.outgoing.map((o) => o.event).filter((e) => e !== "room:join");
    expect(events).toEqual(["typing:start", "typing:stop", "message:send"]);
  });
});

describe("token refresh", () => {
  test("a token expired at connect (4003) is replaced through getToken and the client connects", async () => {
    const expired = signToken({ exp: Math.floor(Date.now() / 1000) - 120 });
    const reasons: string[] = [];
    const { client } = startClient(server.url, {
      getToken: ({ reason }) => {
        reasons.push(reason);
        return reason === "initial" ? expired : signToken({ name: "Fresh" });
      },
    });
    await reachState(client, "connected");
    expect(reasons).toEqual(["initial", "expired"]);
    await eventually(() => client.user?.name === "Fresh", "the session of the fresh token");
  });

  test("session:expired on a live connection gets a new token and reconnects, keeping its rooms", async () => {
    const roomId = newRoom();
    // Within the 30 s leeway by 1–2 s: accepted now, expired by the server a moment later.
    const soon = signToken({ exp: Math.floor(Date.now() / 1000) - 28 });
    const reasons: string[] = [];
    const { client, states } = startClient(server.url, {
      getToken: ({ reason }) => {
        reasons.push(reason);
        return reason === "initial" ? soon : signToken();
      },
    });
    const rejoined = new Promise<void>((resolve) => {
      let joins = 0;
      client.on("joined", () => ++joins === 2 && resolve());
    });
    await client.join(roomId);
    await rejoined;
    expect(reasons).toEqual(["initial", "expired"]);
    await reachState(client, "connected");
    expect(states).toEqual(["connecting", "connected", "connecting", "connected"]);
  });

  test("a connection past MAX_CONNECTIONS_PER_USER is refused limit_exceeded (4029), and retried", async () => {
    const capped = await startApp({ MAX_CONNECTIONS_PER_USER: "1" });
    const claims = { sub: `capped-${process.pid}`, name: "Capped" };
    const first = startClient(capped.url, { claims });
    await reachState(first.client, "connected");
    const second = startClient(capped.url, { claims });
    const refused = await nextEvent(second.client, "error", () => true);
    expect(refused).toMatchObject({ code: "limit_exceeded", connectCode: 4029 });
    first.client.close();
    await reachState(second.client, "connected");
  });

  test("goes offline with reason auth when even the new token is refused", async () => {
    const { client } = startClient(server.url, { getToken: () => "not-a-jwt" });
    const offline = await nextEvent(client, "state", ({ newState }) => newState.status === "offline");
    expect(offline.newState).toMatchObject({ status: "offline", reason: "auth", error: { connectCode: 4002 } });
  });
});
