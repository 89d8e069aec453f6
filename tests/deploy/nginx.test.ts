/**
 * A real nginx running the repo's template in front of two real node
 * processes sharing a private redis-server. Everything here is about what
 * nginx itself does (round-robin without stickiness, upgrades, buffering,
 * Host forwarding, body limits); nginx-cluster.test.ts covers clients chatting
 * across the nodes, round-robin.test.ts every kind of client at once.
 */
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllClients, createClient, waitForEvent } from "../helpers/clients";
import { openSse } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { startNginx, type TestNginx } from "./nginx-harness";
import { startNode, type NodeProcess } from "./node-processes";
import { openPlain } from "../ws/ws-client";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { ack, connectFrom, destroyAgents, http } from "./through-nginx";

let redis: TestRedis;
let nodes: NodeProcess[] = [];
let nginx: TestNginx;

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all(["node-a", "node-b"].map((nodeId) => startNode({ nodeId, redisUrl: redis.url })));
  nginx = await startNginx(nodes.map((node) => node.address));
}, 30_000);
afterEach(() => {
  closeAllClients();
  destroyAgents();
});
afterAll(async () => {
  await nginx?.stop();
  await Promise.all(nodes.map((node) => node.stop()));
  await stopAllApps();
  await redis?.stop();
});

const roomId = () => `nginx-${Math.random().toString(36).slice(2, 10)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Polling requests a node forwarded to the node holding their session, from its /metrics. */
async function forwardedPolling(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /huddle_socketio_forwarded_total\{[^}]*transport="polling",outcome="ok"[^}]*\} (\d+)/.exec(text);
  return Number(match?.[1] ?? 0);
}

describe("round-robin, no sticky sessions", () => {
  test("spreads connections over both nodes", async () => {
    const landed = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const { socket, session } = await connectFrom(nginx.url, "127.0.0.1", { transport: "websocket" });
      landed.add(session.nodeId);
      socket.close();
    }
    expect([...landed].sort()).toEqual(["node-a", "node-b"]);
  });

  test("a polling-only client keeps one session over many requests spread over both nodes", async () => {
    const { socket } = await connectFrom(nginx.url, "127.0.0.1", { transport: "polling" });
    const sid = socket.io.engine.id;
    const disconnects: string[] = [];
    socket.on("disconnect", (reason) => disconnects.push(reason));
    const room = roomId();
    expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
    // Each send is a POST and each message:new comes back on a GET: dozens of separate HTTP requests, which nginx
    // sends to the two nodes in turn; the node that does not hold the session forwards them to the one that does.
    for (let i = 0; i < 15; i++) {
      const delivered = waitForEvent(socket, "message:new", { predicate: (m: any) => m.text === `poll ${i}` });
      expect(await ack(socket, "message:send", { roomId: room, text: `poll ${i}` })).toMatchObject({ ok: true });
      await delivered;
    }
    expect(socket.io.engine.transport.name).toBe("polling");
    expect(socket.io.engine.id).toBe(sid);
    expect(disconnects).toEqual([]);
    expect(socket.connected).toBe(true);
    const forwarded = await Promise.all(nodes.map((node) => forwardedPolling(node.url)));
    expect(forwarded.reduce((a, b) => a + b)).toBeGreaterThan(0);
  });

  test("with the optional hash line uncommented, a polling client stays on one node: nothing is forwarded", async () => {
    const sticky = await startNginx(
      nodes.map((node) => node.address),
      { transform: (rendered) => rendered.replace(/^(\s*)# (hash \$remote_addr consistent;)$/m, "$1$2") },
    );
    try {
      expect(sticky.rendered).toMatch(/^\s*hash \$remote_addr consistent;$/m);
      const before = await Promise.all(nodes.map((node) => forwardedPolling(node.url)));
      const socket = createClient(sticky.url, { transport: "polling" });
      await waitForEvent(socket, "session", { timeoutMs: 5000 });
      const room = roomId();
      for (let i = 0; i < 5; i++) expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
      expect(await Promise.all(nodes.map((node) => forwardedPolling(node.url)))).toEqual(before);
    } finally {
      await sticky.stop();
    }
  });

  test("upgrades a polling client to WebSocket, wherever the upgrade request lands", async () => {
    for (let i = 0; i < 4; i++) {
      const socket = createClient(nginx.url, { transports: ["polling", "websocket"] });
      const session = waitForEvent(socket, "session", { timeoutMs: 5000 });
      const upgraded = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("timed out waiting for the websocket upgrade")), 5000);
        socket.io.on("open", () =>
          socket.io.engine.once("upgrade", (transport: { name: string }) => {
            clearTimeout(timer);
            resolve(transport.name);
          }),
        );
      });
      await session;
      await expect(upgraded).resolves.toBe("websocket");
      const room = roomId();
      expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
      const echo = waitForEvent(socket, "message:new");
      await ack(socket, "message:send", { roomId: room, text: "after upgrade" });
      await expect(echo).resolves.toMatchObject({ text: "after upgrade" });
      socket.close();
    }
  });
});

describe("WebSocket through nginx", () => {
  test("a WebSocket-only client joins, sends and receives", async () => {
    const { socket } = await connectFrom(nginx.url, "127.0.0.1", { transport: "websocket" });
    const room = roomId();
    expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true, members: [expect.any(Object)] });
    const echo = waitForEvent(socket, "message:new");
    expect(await ack(socket, "message:send", { roomId: room, text: "hello via nginx" })).toMatchObject({ ok: true });
    await expect(echo).resolves.toMatchObject({ roomId: room, text: "hello via nginx" });
  });

  test("the plain /ws endpoint upgrades through nginx and speaks its JSON frames", async () => {
    const token = signToken({ name: "Plain" });
    const client = await openPlain(nginx.url, { query: { token, v: "1" } });
    try {
      await expect(client.next((f) => f.type === "session", "session")).resolves.toMatchObject({
        data: { protocol: 1 },
      });
      const room = roomId();
      expect(await client.request("room:join", { roomId: room })).toMatchObject({ ok: true });
      expect(await client.request("message:send", { roomId: room, text: "plain frames" })).toMatchObject({ ok: true });
      await expect(client.next((f) => f.type === "message:new", "message:new")).resolves.toMatchObject({
        data: { text: "plain frames" },
      });
      client.ws.send(JSON.stringify({ type: "ping" }));
      await expect(client.next((f) => f.type === "pong", "pong")).resolves.toEqual({ type: "pong" });
    } finally {
      client.close();
    }
  });
});

describe("streams through nginx", () => {
  test("an SSE stream gets each message while it stays open (not buffered until it ends)", async () => {
    // The stream and the publishes may be on different nodes: Redis carries the messages between them.
    const token = signToken();
    const room = roomId();
    const sse = await openSse(`${nginx.url}/api/rooms/${room}/events?token=${token}`);
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers.get("content-type")).toMatch(/^text\/event-stream/);
      for (const text of ["first", "second"]) {
        const publish = await http(`${nginx.url}/api/rooms/${room}/messages`, {
          method: "POST",
          headers: { ...bearer(token), "content-type": "application/json" },
          body: JSON.stringify({ text }),
        });
        expect(publish.status).toBe(201);
        const event = await sse.next("message", 2000);
        expect(JSON.parse(event.data)).toMatchObject({ text });
      }
      // The comment the node writes first passed through as well.
      expect(sse.comments.length).toBeGreaterThan(0);
    } finally {
      sse.close();
    }
  });

  test("a long poll is answered as soon as a message arrives, long before its timeout", async () => {
    const token = signToken();
    const room = roomId();
    const publish = (text: string) =>
      http(`${nginx.url}/api/rooms/${room}/messages`, {
        method: "POST",
        headers: { ...bearer(token), "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
    const first = (await publish("before")).json().message;
    // `after` the first message: the poll waits for the next one, whenever the node registers it.
    const poll = http(`${nginx.url}/api/rooms/${room}/poll?after=${encodeURIComponent(first.id)}&timeout=25`, {
      headers: bearer(token),
      timeoutMs: 8000,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await publish("during");
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({ messages: [{ text: "during" }] });
  });
});

describe("SSE heartbeat through nginx", () => {
  test("passes the node's heartbeat comments through while no event happens", async () => {
    // An in-process node, so the 15 s heartbeat can be 150 ms.
    const app = await startApp({ NODE_ID: "heartbeat" }, { sseHeartbeatMs: 150 });
    const proxy = await startNginx([`127.0.0.1:${app.port}`]);
    const sse = await openSse(`${proxy.url}/api/rooms/${roomId()}/events?token=${signToken()}`);
    try {
      const deadline = Date.now() + 3000;
      while (sse.comments.filter((c) => c !== "connected").length < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(sse.comments.filter((c) => c !== "connected").length).toBeGreaterThanOrEqual(3);
    } finally {
      sse.close();
      await proxy.stop();
    }
  });
});

describe("Origin and Host through nginx", () => {
  const evil = "http://evil.example";
  const handshake = (origin: string) =>
    http(`${nginx.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });

  test("refuses a Socket.IO polling handshake from a foreign Origin with 403", async () => {
    expect((await handshake(evil)).status).toBe(403);
  });

  test("refuses a WebSocket upgrade from a foreign Origin with 403", async () => {
    const socket = createClient(nginx.url, { transport: "websocket", extraHeaders: { origin: evil } });
    const error = await waitForEvent<Error & { description?: any }>(socket, "connect_error", { timeoutMs: 5000 });
    expect(String(error.description?.message ?? error.description ?? error)).toMatch(/403/);
    await expect(openPlain(nginx.url, { query: { token: signToken() }, headers: { origin: evil } })).rejects.toThrow(
      /403/,
    );
  });

  test("refuses the REST API from a foreign Origin with 403", async () => {
    const response = await http(`${nginx.url}/api/rooms/r1/messages`, {
      headers: { ...bearer(signToken()), origin: evil },
    });
    expect(response.status).toBe(403);
  });

  test("allows a page served by nginx (Origin = nginx's host:port), because Host is forwarded with its port", async () => {
    const origin = nginx.url; // http://127.0.0.1:<nginx port>
    expect((await handshake(origin)).status).toBe(200);
    const { session } = await connectFrom(nginx.url, "127.0.0.1", { transport: "websocket", extraHeaders: { origin } });
    expect(session.protocol).toBe(1);
    const rest = await http(`${nginx.url}/api/rooms/r1/messages`, { headers: { ...bearer(signToken()), origin } });
    expect(rest.status).toBe(200);
    expect(rest.headers["access-control-allow-origin"]).toBe(origin);
  });
});

describe("limits and health through nginx", () => {
  const post = (body: string) =>
    http(`${nginx.url}/api/rooms/${roomId()}/messages`, {
      method: "POST",
      headers: { ...bearer(signToken()), "content-type": "application/json" },
      body,
    });

  test("passes a body just under 64 KiB to the node", async () => {
    const padded = `{"text":"padded"${" ".repeat(60_000)}}`;
    const response = await post(padded);
    expect(response.status).toBe(201);
    expect(response.json()).toMatchObject({ message: { text: "padded" } });
  });

  test("refuses a body over 64 KiB with 413 and the protocol's error shape", async () => {
    const response = await post(JSON.stringify({ text: "x".repeat(70_000) }));
    expect(response.status).toBe(413);
    expect(response.headers["content-type"]).toMatch(/application\/json/);
    expect(response.json()).toMatchObject({ error: { code: "too_large", message: expect.any(String) } });
  });

  test("the 413 carries CORS headers, so a page on another origin can read too_large", async () => {
    const origin = "https://chat.example.com";
    const response = await http(`${nginx.url}/api/rooms/${roomId()}/messages`, {
      method: "POST",
      headers: { ...bearer(signToken()), "content-type": "application/json", origin },
      body: JSON.stringify({ text: "x".repeat(70_000) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers["access-control-allow-origin"]).toBe(origin);
    expect(response.headers["vary"]).toMatch(/Origin/);
    expect(response.json()).toMatchObject({ error: { code: "too_large" } });
    // Without an Origin (curl, a server), no CORS header at all.
    const plain = await post(JSON.stringify({ text: "x".repeat(70_000) }));
    expect(plain.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("passes /healthz and /readyz through to a node", async () => {
    const health = await http(`${nginx.url}/healthz`);
    expect({ status: health.status, body: health.json() }).toEqual({ status: 200, body: { status: "ok" } });
    expect((await http(`${nginx.url}/readyz`)).status).toBe(200);
  });
});
