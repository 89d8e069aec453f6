/**
 * §6 connecting: `?token=` or a first `auth` frame, `session` first, the
 * refusals as close codes with their §1 message, the auth timeout, expiry on
 * a live connection, the Origin check before the upgrade, the connection cap
 * shared with Socket.IO.
 */
import jwt from "jsonwebtoken";
import { closeAllClients, connectClient, connectError, eventually } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain, openPlain, refusedUpgradeStatus, type Closed } from "./ws-client";

const AUTH_TIMEOUT_MS = 300;
let server: TestApp;
beforeAll(async () => {
  server = await startApp(
    {
      NODE_ID: "node-ws",
      TYPING_TTL_MS: "1234",
      MAX_CONNECTIONS_PER_USER: "2",
      CORS_ORIGINS: "http://allowed.example",
    },
    { wsAuthTimeoutMs: AUTH_TIMEOUT_MS },
  );
});
afterEach(() => {
  closeAllPlain();
  closeAllClients();
});
afterAll(() => stopAllApps());

const expectedSession = (id: string, name: string) => ({
  type: "session",
  data: {
    user: { id, name },
    nodeId: "node-ws",
    protocol: 1,
    revision: 2,
    limits: { maxMessageLength: 4000, typingTtlMs: 1234 },
  },
});

/** Sends `frames` as the first frames of an unauthenticated connection and returns how it closed. */
async function closeAfterFirstFrames(...frames: unknown[]): Promise<Closed & { received: string[] }> {
  const client = await openPlain(server.url);
  for (const frame of frames) client.send(frame);
  const closed = await client.closed;
  return { ...closed, received: client.frames.map((f) => f.type) };
}

describe("with the token in the query", () => {
  test("sends session first, with the user, node id, protocol and limits", async () => {
    const token = signToken({ sub: "ws-alice", name: "Alice" });
    const client = await openPlain(server.url, { query: { token, v: "1" } });
    await client.event("session");
    expect(client.frames[0]).toEqual(expectedSession("ws-alice", "Alice"));
  });

  test("accepts a connection without v (absent means 1)", async () => {
    const client = await openPlain(server.url, { query: { token: signToken() } });
    await expect(client.event("session")).resolves.toMatchObject({ protocol: 1 });
  });
});

describe("refusals", () => {
  const expired = () => signToken({ exp: Math.floor(Date.now() / 1000) - 120 });
  test.each([
    ["a malformed token", () => ({ token: "not-a-jwt" }), 4002, "Invalid token"],
    [
      "a token signed with another secret",
      () => ({ token: jwt.sign({ sub: "x" }, "another-secret") }),
      4002,
      "Invalid token",
    ],
    ["an expired token", () => ({ token: expired() }), 4003, "Token expired"],
    ["an unsupported version", () => ({ token: signToken(), v: "2" }), 4010, "Unsupported protocol version"],
  ])("closes a connection with %s in the query with its code and message", async (_what, query, code, reason) => {
    const client = await openPlain(server.url, { query: query() });
    await expect(client.closed).resolves.toEqual({ code, reason });
    expect(client.frames).toEqual([]);
  });

  test.each([
    ["no token", { type: "auth", data: {} }, 4001, "Authentication required"],
    ["no data at all", { type: "auth" }, 4001, "Authentication required"],
    ["an empty token", { type: "auth", data: { token: "" } }, 4001, "Authentication required"],
    ["a malformed token", { type: "auth", data: { token: "not-a-jwt" } }, 4002, "Invalid token"],
    ["a token that is not a string", { type: "auth", data: { token: 42 } }, 4002, "Invalid token"],
    [
      "an unsupported version",
      { type: "auth", data: { token: signToken(), v: 2 } },
      4010,
      "Unsupported protocol version",
    ],
  ])(
    "closes a connection whose auth frame has %s with its close code and message",
    async (_what, frame, code, reason) => {
      await expect(closeAfterFirstFrames(frame)).resolves.toMatchObject({ code, reason, received: [] });
    },
  );

  test("refuses an unsupported version given in the query to an auth-frame client", async () => {
    const client = await openPlain(server.url, { query: { v: "7" } });
    client.send({ type: "auth", data: { token: signToken() } });
    await expect(client.closed).resolves.toEqual({ code: 4010, reason: "Unsupported protocol version" });
  });

  test("refuses an expired token in the auth frame with 4003", async () => {
    await expect(closeAfterFirstFrames({ type: "auth", data: { token: expired() } })).resolves.toMatchObject({
      code: 4003,
      reason: "Token expired",
    });
  });

  test.each([
    ["ping", { type: "ping" }],
    ["a request", { type: "room:join", id: 1, data: { roomId: "lobby" } }],
    ["a frame that is not JSON", "hello"],
    ["a binary frame", Buffer.from([1, 2, 3])],
    ["a JSON array", "[]"],
  ])("closes with 4001 when the first frame of an unauthenticated socket is %s", async (_what, frame) => {
    await expect(closeAfterFirstFrames(frame)).resolves.toEqual({
      code: 4001,
      reason: "Authentication required",
      received: [],
    });
  });

  test("closes with 4001 when no frame arrives within the auth timeout", async () => {
    const client = await openPlain(server.url);
    await expect(client.closed).resolves.toEqual({ code: 4001, reason: "Authentication required" });
    expect(client.frames).toEqual([]);
  });
});

describe("with the token in an auth frame", () => {
  test("sends session first once the auth frame is checked", async () => {
    const client = await openPlain(server.url);
    client.send({ type: "auth", data: { token: signToken({ sub: "ws-bob", name: "Bob" }), v: 1 } });
    await client.event("session");
    expect(client.frames[0]).toEqual(expectedSession("ws-bob", "Bob"));
  });

  test("accepts an auth frame without v", async () => {
    const client = await openPlain(server.url);
    client.send({ type: "auth", data: { token: signToken() } });
    await expect(client.event("session")).resolves.toMatchObject({ protocol: 1 });
  });

  test("answers frames sent right behind the auth frame, after session and in order", async () => {
    const client = await openPlain(server.url);
    client.send({ type: "auth", data: { token: signToken() } });
    client.send({ type: "ping" });
    client.send({ type: "room:join", id: "j", data: { roomId: "behind-auth" } });
    await client.next((f) => f.type === "ack" && f.id === "j", "the join ack");
    expect(client.frames.map((f) => f.type)).toEqual(["session", "pong", "ack"]);
    expect(client.frames[2]!.data).toMatchObject({ ok: true, roomId: "behind-auth" });
  });

  test("answers a second auth frame with bad_request and stays open", async () => {
    const client = await openPlain(server.url);
    client.send({ type: "auth", data: { token: signToken() } });
    await client.event("session");
    client.send({ type: "auth", data: { token: signToken() } });
    await expect(client.event("error")).resolves.toMatchObject({ code: "bad_request" });
    client.send({ type: "ping" });
    await client.event("pong");
  });
});

describe("a token that expires on a live connection", () => {
  test("sends session:expired, then closes with 4003", async () => {
    // Within the 30 s leeway for another one to two seconds.
    const token = signToken({ exp: Math.floor(Date.now() / 1000) - 28 });
    const { client } = await connectPlain(server.url, { token });
    await expect(client.closed).resolves.toEqual({ code: 4003, reason: "Token expired" });
    expect(client.frames.map((f) => f.type)).toEqual(["session", "session:expired"]);
    expect(client.frames[1]!.data).toEqual({});
  });
});

describe("the Origin check", () => {
  test("refuses a disallowed Origin with HTTP 403 before the upgrade", async () => {
    await expect(
      refusedUpgradeStatus(server.url, { query: { token: signToken() }, origin: "http://evil.example" }),
    ).resolves.toBe(403);
  });

  test("accepts an Origin listed in CORS_ORIGINS", async () => {
    const { session } = await connectPlain(server.url, { origin: "http://allowed.example" });
    expect(session.nodeId).toBe("node-ws");
  });

  test("accepts the same origin as the Host", async () => {
    const { session } = await connectPlain(server.url, { origin: server.url });
    expect(session.nodeId).toBe("node-ws");
  });

  test("serves /ws with other query parameters, and no other path", async () => {
    const { session } = await connectPlain(server.url, { query: { client: "shell" } });
    expect(session.nodeId).toBe("node-ws");
    await expect(refusedUpgradeStatus(server.url, { path: "/wsx" })).resolves.toBe(404);
    await expect(refusedUpgradeStatus(server.url, { path: "/ws/deeper" })).resolves.toBe(404);
  });
});

test("answers a plain GET /ws without an upgrade with 426", async () => {
  const response = await fetch(`${server.url}/ws`);
  expect(response.status).toBe(426);
  expect(response.headers.get("upgrade")).toBe("websocket");
});

describe("the connection cap", () => {
  test("counts Socket.IO and /ws connections of a user together", async () => {
    const sub = uniqueUserId("capped");
    await connectClient(server.url, { claims: { sub } });
    const { client: first } = await connectPlain(server.url, { claims: { sub } });
    const third = await openPlain(server.url, { query: { token: signToken({ sub }) } });
    await expect(third.closed).resolves.toEqual({ code: 4029, reason: "Too many connections" });
    const refused = await connectError(server.url, { claims: { sub } });
    expect(refused.data).toEqual({ code: 4029, message: "Too many connections" });

    first.close();
    await first.closed;
    // The slot comes back once the /ws connection is gone.
    let admitted: Awaited<ReturnType<typeof connectPlain>> | undefined;
    for (let attempt = 0; attempt < 50 && !admitted; attempt++) {
      admitted = await connectPlain(server.url, { claims: { sub } }).catch(() => undefined);
    }
    expect(admitted?.session.user.id).toBe(sub);
  });

  test("refuses with 4029 through the auth frame too", async () => {
    const sub = uniqueUserId("capped-frame");
    await connectPlain(server.url, { claims: { sub } });
    await connectPlain(server.url, { claims: { sub } });
    await expect(closeAfterFirstFrames({ type: "auth", data: { token: signToken({ sub }) } })).resolves.toMatchObject({
      code: 4029,
      reason: "Too many connections",
    });
  });
});

describe("metrics", () => {
  test('counts open /ws connections in huddle_connections{transport="ws"}', async () => {
    const gauge = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith("huddle_connections{") && l.includes('transport="ws"'));
      return line === undefined ? 0 : Number(line.split(" ").pop());
    };
    // Connections of earlier tests may still be closing on the server side.
    await eventually(async () => (await gauge()) === 0, "no /ws connection left");
    const { client } = await connectPlain(server.url);
    const second = await connectPlain(server.url);
    expect(await gauge()).toBe(2);
    client.close();
    await eventually(async () => (await gauge()) === 1, "the gauge back to 1");
    second.client.close();
    await eventually(async () => (await gauge()) === 0, "the gauge back to 0");
  });
});
