/**
 * §13 on one node: rooms per connection, the join budget, SSE streams and
 * waiting polls counted with sockets toward MAX_CONNECTIONS_PER_USER, the
 * per-address connection rate covering streams and polls before any token
 * work, and /metrics on INTERNAL_PORT only. Every refusal leaves nothing
 * behind.
 */
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, collect, connectClient, eventually, sleep } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { join, refusedWith, request, uniqueRoom } from "../protocol/support";
import { closeAllPlain, connectPlain } from "../ws/ws-client";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({
    MAX_ROOMS_PER_CONNECTION: "3",
    JOIN_RATE_BURST: "1000",
    MAX_CONNECTIONS_PER_USER: "3",
  });
});
const streams: SseStream[] = [];
afterEach(() => {
  closeAllClients();
  closeAllPlain();
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(() => stopAllApps());

const limitExceeded = { ok: false, error: { code: "limit_exceeded", message: expect.any(String) } };

describe("MAX_ROOMS_PER_CONNECTION", () => {
  test("one join more is limit_exceeded; a room already joined stays ok; leaving frees a place", async () => {
    const socket = await connectClient(server.url);
    const rooms = [uniqueRoom(), uniqueRoom(), uniqueRoom()];
    for (const roomId of rooms) await join(socket, roomId);
    const extra = uniqueRoom();
    expect(await request(socket, "room:join", { roomId: extra })).toEqual(limitExceeded);
    expect(await request(socket, "room:join", { roomId: rooms[1] })).toMatchObject({ ok: true });
    expect(await request(socket, "room:leave", { roomId: rooms[0] })).toEqual({ ok: true });
    expect(await request(socket, "room:join", { roomId: extra })).toMatchObject({ ok: true });
    // Another connection of the same user has places of its own.
    const other = await connectClient(server.url);
    expect(await request(other, "room:join", { roomId: uniqueRoom() })).toMatchObject({ ok: true });
  });

  test("a refused join leaves no membership, presence, marker or room-list entry", async () => {
    const sub = uniqueUserId("capped");
    const socket = await connectClient(server.url, { claims: { sub } });
    for (let i = 0; i < 3; i++) await join(socket, uniqueRoom());
    const roomId = uniqueRoom();
    const watcher = await connectClient(server.url);
    await join(watcher, roomId);
    const arrivals = collect(watcher, "presence:join");
    expect(await request(socket, "room:join", { roomId })).toEqual(limitExceeded);
    expect(await request(socket, "message:send", { roomId, text: "in?" })).toEqual(refusedWith("not_joined"));
    await sleep(50);
    expect(arrivals.items).toEqual([]);
    expect((await join(watcher, roomId)).members).toHaveLength(1);
    const listed = (await request(socket, "rooms:list", {})) as { rooms: { roomId: string }[] };
    expect(listed.rooms.map((r) => r.roomId)).not.toContain(roomId);
    expect((await request(watcher, "room:reads", { roomId })) as unknown).toEqual({ ok: true, reads: [] });
  });

  test("/ws connections have the same cap", async () => {
    const { client } = await connectPlain(server.url);
    for (let i = 0; i < 3; i++)
      expect(await client.request("room:join", { roomId: uniqueRoom() })).toMatchObject({ ok: true });
    expect(await client.request("room:join", { roomId: uniqueRoom() })).toEqual(limitExceeded);
  });

  test("limit_exceeded is counted in huddle_errors_total", async () => {
    const socket = await connectClient(server.url);
    for (let i = 0; i < 3; i++) await join(socket, uniqueRoom());
    await request(socket, "room:join", { roomId: uniqueRoom() });
    const metrics = await http(`${server.url}/metrics`);
    expect(metrics.text).toMatch(/huddle_errors_total\{code="limit_exceeded",node="[^"]+"\} [1-9]/);
  });
});

describe("the join budget", () => {
  let budgeted: TestApp;
  beforeAll(async () => {
    budgeted = await startApp({ JOIN_RATE_BURST: "3", JOIN_RATE_PER_SEC: "2" });
  });

  test("past the burst a join is rate_limited with retryAfterMs, changes nothing, and works again after the wait", async () => {
    const socket = await connectClient(budgeted.url);
    const rooms = [uniqueRoom(), uniqueRoom(), uniqueRoom()];
    for (const roomId of rooms) await join(socket, roomId);
    // Joining a room the connection is in spends nothing.
    expect(await request(socket, "room:join", { roomId: rooms[0] })).toMatchObject({ ok: true });
    const refused = await request(socket, "room:join", { roomId: uniqueRoom() });
    expect(refused).toEqual({
      ok: false,
      error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
    });
    const wait = (refused as { error: { retryAfterMs: number } }).error.retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(500);
    await sleep(wait + 20);
    expect(await request(socket, "room:join", { roomId: uniqueRoom() })).toMatchObject({ ok: true });
  });

  test("the budget is the user's, across connections", async () => {
    const claims = { sub: uniqueUserId("joiner") };
    const first = await connectClient(budgeted.url, { claims });
    const second = await connectClient(budgeted.url, { claims });
    await join(first, uniqueRoom());
    await join(second, uniqueRoom());
    await join(first, uniqueRoom());
    expect(await request(second, "room:join", { roomId: uniqueRoom() })).toMatchObject({
      ok: false,
      error: { code: "rate_limited" },
    });
  });
});

describe("SSE streams and polls count toward MAX_CONNECTIONS_PER_USER", () => {
  const streamUrl = (roomId: string, token: string) => `${server.url}/api/rooms/${roomId}/events?token=${token}`;
  const pollUrl = (roomId: string, token: string) => `${server.url}/api/rooms/${roomId}/poll?token=${token}&timeout=10`;

  test("three open (a socket, a stream, a waiting poll), the fourth refused 429 limit_exceeded, one closed, the next accepted", async () => {
    const token = signToken({ sub: uniqueUserId("streamer") });
    const roomId = uniqueRoom();
    await connectClient(server.url, { token });
    const stream = await openSse(streamUrl(roomId, token));
    streams.push(stream);
    expect(stream.status).toBe(200);
    let pollSettled = false;
    const poll = http(pollUrl(roomId, token), { timeoutMs: 15_000 }).finally(() => (pollSettled = true));
    // A refused poll answers at once: still waiting after a moment, it holds its place.
    await sleep(300);
    expect(pollSettled).toBe(false);
    const refused = await http(streamUrl(roomId, token));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("limit_exceeded");
    expect(refused.headers["retry-after"]).toBeUndefined();
    const refusedPoll = await http(pollUrl(roomId, token));
    expect([refusedPoll.status, refusedPoll.body.error.code]).toEqual([429, "limit_exceeded"]);
    // A socket is refused too (4029): the slots are shared whatever the transport.
    await expect(connectClient(server.url, { token })).rejects.toThrow();
    stream.close();
    await eventually(async () => {
      const again = await openSse(streamUrl(roomId, token));
      streams.push(again);
      return again.status === 200;
    }, "a stream accepted once one closed");
    await http(`${server.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken()}` },
      body: { text: "wake the poll" },
    });
    expect((await poll).status).toBe(200);
  });
});

test("CONNECT_BURST_PER_IP covers SSE and polls, before any token work: a bad token past it is 429, not 401", async () => {
  const tight = await startApp({ CONNECT_RATE_PER_IP: "0.001", CONNECT_BURST_PER_IP: "3" });
  const token = signToken();
  const roomId = uniqueRoom();
  const answers = [];
  for (let i = 0; i < 3; i++) {
    const stream = await openSse(`${tight.url}/api/rooms/${roomId}/events?token=${token}`);
    streams.push(stream);
    answers.push(stream.status);
  }
  expect(answers).toEqual([200, 200, 200]);
  const past = await http(`${tight.url}/api/rooms/${roomId}/events?token=${token}`);
  expect([past.status, past.body.error.code]).toEqual([429, "rate_limited"]);
  expect(Number(past.headers["retry-after"])).toBeGreaterThan(0);
  const badToken = await http(`${tight.url}/api/rooms/${roomId}/poll?token=junk&timeout=0`);
  expect(badToken.status).toBe(429);
  // Other API routes are not connections: they are not counted.
  expect(
    (await http(`${tight.url}/api/rooms/${roomId}/messages`, { headers: { authorization: `Bearer ${token}` } })).status,
  ).toBe(200);
});

test("INTERNAL_PORT: /metrics only there (404 on PORT); /healthz and /readyz on both", async () => {
  const app = await startApp({ INTERNAL_PORT: "0" });
  expect(app.app.internalPort).toEqual(expect.any(Number));
  const internal = `http://127.0.0.1:${app.app.internalPort}`;
  const metrics = await http(`${internal}/metrics`);
  expect(metrics.status).toBe(200);
  expect(metrics.text).toContain("huddle_connections");
  expect((await http(`${app.url}/metrics`)).status).toBe(404);
  for (const base of [app.url, internal]) {
    expect((await http(`${base}/healthz`)).status).toBe(200);
    expect((await http(`${base}/readyz`)).status).toBe(200);
  }
  // Nothing else is served on the internal port.
  expect((await http(`${internal}/api/rooms`)).status).toBe(404);
  expect((await http(`${internal}/`)).status).toBe(404);
});
