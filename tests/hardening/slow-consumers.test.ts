/**
 * Slow consumers (MAX_BUFFERED_BYTES): a client that stops reading its TCP
 * socket while its room floods is disconnected once its unsent output passes
 * the cap, so the server's memory stays bounded; the disconnect is counted
 * and the other members keep receiving everything. Before that, a client
 * that is behind stops getting typing updates. Covered for Socket.IO over
 * WebSocket, /ws and SSE.
 */
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import {
  closeAllClients,
  collect,
  connectClient,
  eventually,
  sleep,
  waitForEvent,
  type HuddleClient,
} from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { createLogger } from "../../server/logger";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { collectGarbage, metric, request } from "./support";

jest.setTimeout(60_000);

const CAP = 256 * 1024;
/** Close to the longest message allowed (4000 characters), so a flood is big in few messages. */
const TEXT = "x".repeat(3990);
/** Enough that, without the cap, the paused client's queue would hold far more than the cap and the kernel's buffers. */
const FLOOD = 6000;

const env = {
  MAX_BUFFERED_BYTES: String(CAP),
  RATE_BURST: "1000000",
  RATE_PER_SEC: "1000000",
  HISTORY_MAX: "20",
};

afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(() => stopAllApps());

/** Sends `count` messages to `roomId`, keeping `window` unacknowledged at a time. */
async function flood(sender: HuddleClient, roomId: string, count: number, window = 64): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const ack = await sender.emitWithAck("message:send", { roomId, text: `${i} ${TEXT}` });
      if (!ack.ok) throw new Error(`message ${i} refused: ${JSON.stringify(ack)}`);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Stops reading the client's TCP socket (the kernel buffers fill, then the server's queue grows). */
function pauseReading(client: HuddleClient): TcpSocket {
  const socket = (client.io.engine.transport as unknown as { ws: { _socket: TcpSocket } }).ws._socket;
  socket.pause();
  return socket;
}

async function joined(client: HuddleClient, roomId: string) {
  const ack = await client.emitWithAck("room:join", { roomId });
  if (!ack.ok) throw new Error(`join failed: ${JSON.stringify(ack)}`);
}

describe("Socket.IO over WebSocket", () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startApp(env, { slowConsumerSweepMs: 50 });
  });

  test("a paused client is disconnected, memory stays bounded, the others get every message", async () => {
    const roomId = "flooded";
    const slow = await connectClient(server.url, {
      reconnection: true,
      reconnectionDelay: 100,
      claims: { name: "Slow" },
    });
    const fast = await connectClient(server.url, { claims: { name: "Fast" } });
    const sender = await connectClient(server.url, { claims: { name: "Flood" } });
    for (const client of [slow, fast, sender]) await joined(client, roomId);
    let fastReceived = 0;
    fast.on("message:new", () => void fastReceived++);
    const slowDisconnects = collect<string>(slow, "disconnect");

    collectGarbage();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
    }, 20);

    const tcp = pauseReading(slow);
    await flood(sender, roomId, FLOOD);
    await eventually(() => fastReceived === FLOOD, `the fast client to receive all ${FLOOD} messages`, 20_000);
    clearInterval(sampler);

    collectGarbage();
    const after = process.memoryUsage();
    const floodBytes = FLOOD * TEXT.length;
    const retained = after.heapUsed - before.heapUsed;
    // SHOW_FIGURES=1 prints the figures quoted in the README.
    if (process.env.SHOW_FIGURES) {
      console.log(
        `slow consumer: flood ${(floodBytes / 2 ** 20).toFixed(1)} MiB per member; heap retained ${(retained / 2 ** 20).toFixed(1)} MiB; ` +
          `peak heap +${((peakHeap - before.heapUsed) / 2 ** 20).toFixed(1)} MiB; peak RSS +${((peakRss - before.rss) / 2 ** 20).toFixed(1)} MiB`,
      );
    }
    // Without the cap the paused socket's queue holds the whole flood until it dies (measured: 25 MiB retained of a
    // 23 MiB flood with MAX_BUFFERED_BYTES at 1 GiB); with it, about 2 MiB of test-process noise.
    expect(retained).toBeLessThan(floodBytes / 4);
    expect(fastReceived).toBe(FLOOD);
    await eventually(
      async () =>
        (await metric(server.url, "huddle_slow_consumers_disconnected_total", { transport: "socket.io" })) === 1,
      "the slow consumer to be disconnected and counted",
    );
    expect(fast.connected && sender.connected).toBe(true);

    // The slow client, reading again, finds its connection closed and reconnects (to resume with `since`).
    const reconnected = waitForEvent(slow, "session", { timeoutMs: 10_000 });
    tcp.resume();
    await reconnected;
    expect(slowDisconnects.items[0]).toMatch(/^transport (close|error)$/);
    expect(slow.connected).toBe(true);
  });

  test("a client that is behind stops getting typing updates but still gets messages", async () => {
    // A cap high enough that the client can be held "behind" (past half) without being dropped.
    const big = await startApp({ ...env, MAX_BUFFERED_BYTES: String(8 * 1024 * 1024) }, { slowConsumerSweepMs: 50 });
    const roomId = "typing-behind";
    const slow = await connectClient(big.url, { claims: { name: "Slow" } });
    const fast = await connectClient(big.url, { claims: { name: "Fast" } });
    const sender = await connectClient(big.url, { claims: { name: "Typist" } });
    for (const client of [slow, fast, sender]) await joined(client, roomId);
    const slowTyping = collect(slow, "typing:update");
    const slowMessages = collect<{ text: string }>(slow, "message:new");

    const tcp = pauseReading(slow);
    const lagging = () => metric(big.url, "huddle_slow_consumers_lagging", { transport: "socket.io" });
    for (let round = 0; round < 100 && (await lagging()) < 1; round++) {
      await flood(sender, roomId, 100);
      await sleep(120);
    }
    expect(await lagging()).toBe(1);

    const typingSeen = waitForEvent(fast, "typing:update", { predicate: (u: any) => u.users.length === 1 });
    expect((await sender.emitWithAck("typing:start", { roomId })).ok).toBe(true);
    await typingSeen;
    expect((await sender.emitWithAck("message:send", { roomId, text: "after typing" })).ok).toBe(true);

    tcp.resume();
    await eventually(
      () => slowMessages.items.some((m) => m.text === "after typing"),
      "the slow client to catch up",
      15_000,
    );
    expect(slowTyping.items).toEqual([]);
    expect(slow.connected).toBe(true);
    expect(await metric(big.url, "huddle_slow_consumers_disconnected_total", { transport: "socket.io" })).toBe(0);
  });
});

describe("Socket.IO over long polling", () => {
  test("a client that stops polling is dropped once its queue passes the cap; its next poll finds no session", async () => {
    const server = await startApp(env, { slowConsumerSweepMs: 50 });
    const roomId = "poll-flooded";
    // A raw Engine.IO/Socket.IO client over HTTP (EIO=4 polling framing), so that it can simply stop polling.
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const open = await request(base);
    const sid = JSON.parse(open.text.slice(1)).sid as string;
    const poll = () => request(`${base}&sid=${sid}`, { timeoutMs: 10_000 });
    const post = (packet: string) =>
      request(`${base}&sid=${sid}`, { method: "POST", body: packet, headers: { "content-type": "text/plain" } });
    expect((await post(`40${JSON.stringify({ token: signToken(), v: 1 })}`)).status).toBe(200);
    expect((await poll()).text).toMatch(/^40/);
    expect((await post(`421["room:join",${JSON.stringify({ roomId })}]`)).status).toBe(200);
    await eventually(async () => (await poll()).text.includes("431["), "the join's ack");

    const sender = await connectClient(server.url);
    await joined(sender, roomId);
    // The client polls no more: each message now waits in the connection's write buffer.
    await flood(sender, roomId, 400);
    await eventually(
      async () =>
        (await metric(server.url, "huddle_slow_consumers_disconnected_total", { transport: "socket.io" })) === 1,
      "the silent polling client to be dropped and counted",
    );
    const late = await poll();
    expect(late.status).toBe(400);
    expect(late.text).toContain("Session ID unknown");
    expect(await metric(server.url, "huddle_connections", { transport: "socket.io" })).toBe(1);
  });
});

describe("/ws", () => {
  test("a paused client is disconnected, counted and logged (without message text or token); the others keep receiving", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "info", nodeId: "slow" }, { write: (line: string) => void lines.push(line) });
    const server = await startApp(env, { slowConsumerSweepMs: 50, logger });
    const roomId = "ws-flooded";
    const token = signToken();
    const { client: slow } = await connectPlain(server.url, { token });
    expect((await slow.request("room:join", { roomId })).ok).toBe(true);
    const fast = await connectClient(server.url);
    const sender = await connectClient(server.url);
    await joined(fast, roomId);
    await joined(sender, roomId);
    let fastReceived = 0;
    fast.on("message:new", () => void fastReceived++);

    const tcp = (slow.ws as unknown as { _socket: TcpSocket })._socket;
    tcp.pause();
    await flood(sender, roomId, FLOOD);
    await eventually(() => fastReceived === FLOOD, `the fast client to receive all ${FLOOD} messages`, 20_000);
    await eventually(
      async () => (await metric(server.url, "huddle_slow_consumers_disconnected_total", { transport: "ws" })) === 1,
      "the slow /ws client to be disconnected and counted",
    );
    tcp.resume();
    expect((await slow.closed).code).toBe(1006);
    const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => /slow consumer/.test(entry.msg));
    expect(warnings).toEqual([expect.objectContaining({ level: 40, transport: "ws", max: CAP })]);
    expect(warnings[0].bufferedBytes).toBeGreaterThan(CAP);
    expect(lines.join("")).not.toContain(TEXT.slice(0, 100));
    expect(lines.join("")).not.toContain(token);
  });
});

describe("SSE", () => {
  test("a stream whose reader stops is closed and counted", async () => {
    const server = await startApp(env, { slowConsumerSweepMs: 50 });
    const roomId = "sse-flooded";
    const sender = await connectClient(server.url);
    await joined(sender, roomId);

    // A raw TCP reader, so that it can stop reading.
    const { port } = new URL(server.url);
    const reader = tcpConnect(Number(port), "127.0.0.1");
    let received = "";
    reader.on("data", (chunk) => void (received = (received + chunk.toString("latin1")).slice(-4096)));
    reader.write(
      `GET /api/rooms/${roomId}/events?token=${signToken()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
    );
    await eventually(() => received.includes(": connected"), "the SSE stream to open");
    reader.pause();
    const closed = new Promise<void>((resolve) => reader.once("close", () => resolve()));

    await flood(sender, roomId, FLOOD);
    await eventually(
      async () => (await metric(server.url, "huddle_slow_consumers_disconnected_total", { transport: "sse" })) === 1,
      "the slow SSE stream to be closed and counted",
    );
    reader.resume();
    await closed;
  });
});
