/**
 * Forwarding to the node that holds an Engine.IO session (§12, no sticky
 * sessions), with raw Engine.IO requests so that each one goes to the node the
 * test chooses: two apps in this process share a private redis-server (and so
 * the node directory). Then the forwarder alone, against stand-in owners, for
 * what it sends: headers, X-Forwarded-For, and never an address outside the
 * directory.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import WebSocket from "ws";
import { createApp, type App } from "../../server/app";
import { loadConfig } from "../../server/config";
import { createLogger } from "../../server/logger";
import { withDirectory } from "../../server/store-factory";
import { createStaticDirectory, newNodeTag, sessionTag } from "../../server/core/node-directory";
import { clientAddress } from "../../server/transport/connection-rate";
import { createForwarder, FORWARDED_HEADER, sidOf } from "../../server/transport/socket/forwarding";
import { request } from "../helpers/http";
import { freePort } from "../helpers/ports";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, TEST_SECRET, uniqueUserId } from "../helpers/tokens";
import { redisStores } from "../stores/store-kits";

let redis: TestRedis;
const apps: App[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await redis?.stop();
});

interface Node {
  app: App;
  nodeId: string;
  url: string;
  tag: string;
  metrics(): Promise<string>;
}

/** An app with the Redis stores and its entry in the node directory, listening on a port chosen first. */
async function startNode(prefix: string, name: string): Promise<Node> {
  const port = await freePort();
  const env = {
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: "silent",
    REDIS_URL: redis.url,
    NODE_ID: `${prefix}${name}`,
    PORT: String(port),
    ADVERTISE_URL: `http://127.0.0.1:${port}`,
    PRESENCE_HEARTBEAT_MS: "150",
    PRESENCE_TTL_MS: "800",
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: "silent", nodeId: config.nodeId });
  const stores = await withDirectory(config, logger, await redisStores(config, prefix));
  const app = createApp(config, { logger, stores });
  apps.push(app);
  await app.listen(port, "127.0.0.1");
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    nodeId: config.nodeId,
    url,
    tag: stores.directory!.tag,
    metrics: async () => (await request(`${url}/metrics`)).text,
  };
}

const forwardedCount = (metrics: string, transport: string, outcome: string) =>
  Number(
    new RegExp(
      `huddle_socketio_forwarded_total\\{[^}]*transport="${transport}",outcome="${outcome}"[^}]*\\} (\\d+)`,
    ).exec(metrics)?.[1] ?? 0,
  );

const eio = (url: string, query: string) => `${url}/socket.io/?EIO=4&${query}`;

/** Opens an Engine.IO session on `node` over polling; resolves with its sid. */
async function handshake(node: Node): Promise<string> {
  const answer = await request(eio(node.url, "transport=polling"));
  expect(answer.status).toBe(200);
  return JSON.parse(answer.text.slice(1)).sid as string;
}

let A: Node;
let B: Node;
beforeAll(async () => {
  const prefix = `fwd-${uniqueUserId()}:`;
  [A, B] = await Promise.all([startNode(prefix, "a"), startNode(prefix, "b")]);
});

describe("between two nodes", () => {
  test("a session id names the node that issued it", async () => {
    const sid = await handshake(A);
    expect(sid).toMatch(/^[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{20}$/);
    expect(sessionTag(sid)).toBe(A.tag);
    expect(A.tag).not.toBe(B.tag);
  });

  test("every polling request of a session opened on A may go to B: B forwards it, and the session works", async () => {
    const sid = await handshake(A);
    const before = forwardedCount(await B.metrics(), "polling", "ok");
    // Socket.IO CONNECT with the token, through B.
    const token = signToken({ name: "Far" });
    const connect = await request(eio(B.url, `transport=polling&sid=${sid}`), {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8" },
      body: `40${JSON.stringify({ token, v: 1 })}`,
    });
    expect({ status: connect.status, text: connect.text }).toEqual({ status: 200, text: "ok" });
    // The CONNECT answer and the `session` event, on a GET through B.
    const packets = await pollUntil(B, sid, (text) => text.includes('"session"'));
    expect(packets).toMatch(/^40\{"sid":/);
    expect(packets).toContain(`"nodeId":"${A.nodeId}"`);
    // An event with an ack, sent through B, answered on a GET through B.
    const join = await request(eio(B.url, `transport=polling&sid=${sid}`), {
      method: "POST",
      body: `421["room:join",{"roomId":"fwd-room"}]`,
    });
    expect(join.text).toBe("ok");
    const answer = await pollUntil(B, sid, (text) => text.includes("431["));
    expect(answer).toContain('"ok":true');
    expect(forwardedCount(await B.metrics(), "polling", "ok")).toBeGreaterThanOrEqual(before + 4);
    // A served it all itself: a node never forwards its own sessions.
    expect(forwardedCount(await A.metrics(), "polling", "ok")).toBe(0);
  });

  test("the upgrade to WebSocket through B reaches the session on A", async () => {
    const sid = await handshake(A);
    const token = signToken({ name: "Upgrader" });
    await request(eio(B.url, `transport=polling&sid=${sid}`), {
      method: "POST",
      body: `40${JSON.stringify({ token })}`,
    });
    await pollUntil(A, sid, (text) => text.includes('"session"'));
    const ws = new WebSocket(eio(B.url, `transport=websocket&sid=${sid}`).replace(/^http/, "ws"));
    const frames: string[] = [];
    ws.on("message", (data) => frames.push(data.toString()));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.send("2probe");
    await until(() => frames.includes("3probe"), "3probe");
    ws.send("5");
    ws.send(`421["room:join",{"roomId":"fwd-upgraded"}]`);
    await until(() => frames.some((f) => f.startsWith("431[")), "the join's ack over the WebSocket");
    expect(frames.find((f) => f.startsWith("431["))).toContain('"ok":true');
    expect(forwardedCount(await B.metrics(), "websocket", "ok")).toBeGreaterThanOrEqual(1);
    // Polling is over for this session: A says so to a poll that still comes (through B).
    const stale = await request(eio(B.url, `transport=polling&sid=${sid}`));
    expect(stale.status).toBe(400);
    ws.close();
  });

  test("a session id of no live node gets Engine.IO's own 400 Session ID unknown, on polling and on upgrade", async () => {
    const sid = `${newNodeTag()}.${"x".repeat(20)}`;
    const before = forwardedCount(await B.metrics(), "polling", "unknown");
    for (const method of ["GET", "POST"]) {
      const answer = await request(eio(B.url, `transport=polling&sid=${sid}`), {
        method,
        body: method === "POST" ? "2" : undefined,
      });
      expect({ method, status: answer.status, body: answer.body }).toEqual({
        method,
        status: 400,
        body: { code: 1, message: "Session ID unknown" },
      });
    }
    expect(forwardedCount(await B.metrics(), "polling", "unknown")).toBe(before + 2);
    const ws = new WebSocket(eio(B.url, `transport=websocket&sid=${sid}`).replace(/^http/, "ws"));
    const status = await new Promise<number>((resolve) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => resolve(101));
      ws.once("error", () => resolve(-1));
    });
    expect(status).toBe(400);
  });

  test("a node that is gone (its entry removed as it closed) is an unknown owner: 400", async () => {
    const prefix = `fwd-gone-${uniqueUserId()}:`;
    const [C, D] = await Promise.all([startNode(prefix, "c"), startNode(prefix, "d")]);
    const sid = await handshake(C);
    await C.app.close();
    const answer = await request(eio(D.url, `transport=polling&sid=${sid}`));
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 400,
      body: { code: 1, message: "Session ID unknown" },
    });
  });

  test("a forwarded request is never forwarded again: with the mark, B serves it itself (400 for A's session)", async () => {
    const sid = await handshake(A);
    const answer = await request(eio(B.url, `transport=polling&sid=${sid}`), { headers: { [FORWARDED_HEADER]: "x" } });
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 400,
      body: { code: 1, message: "Session ID unknown" },
    });
    // The session itself is untouched on A.
    expect((await request(eio(A.url, `transport=polling&sid=${sid}`), { method: "POST", body: "6" })).text).toBe("ok");
  });

  test("without Redis nothing changes: Engine.IO's own ids, no forwarding", async () => {
    const port = await freePort();
    const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", PORT: String(port) });
    const app = createApp(config, { logger: createLogger({ level: "silent", nodeId: "solo" }) });
    apps.push(app);
    await app.listen(port, "127.0.0.1");
    const answer = await request(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`);
    const sid = JSON.parse(answer.text.slice(1)).sid as string;
    expect(sid).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const foreign = await request(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling&sid=${A.tag}.x`);
    expect(foreign.status).toBe(400);
  });
});

/** GETs (through `node`) until the collected packets satisfy `done`. */
async function pollUntil(node: Node, sid: string, done: (text: string) => boolean): Promise<string> {
  let all = "";
  for (let i = 0; i < 10 && !done(all); i++) {
    const answer = await request(eio(node.url, `transport=polling&sid=${sid}`), { timeoutMs: 5000 });
    expect(answer.status).toBe(200);
    all += answer.text;
  }
  if (!done(all)) throw new Error(`polling did not bring what was awaited: ${all}`);
  return all;
}

async function until(check: () => boolean, what: string, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the forwarder alone", () => {
  let owner: Server;
  let ownerUrl: string;
  let seen: IncomingMessage[];
  let front: Server;
  let frontUrl: string;
  let trap: TcpServer;
  let trapPort: number;
  let trapped: number;
  const ownerTag = "OWNERtag";

  beforeAll(async () => {
    seen = [];
    owner = createServer((req, res) => {
      seen.push(req);
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain", "x-owner": "yes" });
        res.end(`owner saw ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((resolve) => owner.listen(0, "127.0.0.1", resolve));
    ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
    trapped = 0;
    trap = createTcpServer((socket) => {
      trapped++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
    trapPort = (trap.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => owner.close(resolve));
    await new Promise((resolve) => front?.close(resolve));
    await new Promise((resolve) => trap.close(resolve));
  });

  /** A front node that forwards whatever it can and answers 599 for what it would serve itself. */
  async function startFront(trustProxyHops: number) {
    if (front) await new Promise((resolve) => front.close(resolve));
    const outcomes: string[] = [];
    const forwarder = createForwarder({
      directory: createStaticDirectory("FRONTtag", new Map([[ownerTag, ownerUrl]])),
      trustProxyHops,
      onForwarded: (kind, outcome) => outcomes.push(`${kind} ${outcome}`),
      onMisrouted: (tag) => outcomes.push(`misrouted ${tag}`),
    });
    front = createServer((req, res) => {
      const tag = forwarder.ownerOf(req);
      const here = () => {
        res.writeHead(599);
        res.end("served here");
      };
      if (tag === undefined) return here();
      forwarder.forwardRequest(req, res, tag, here);
    });
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    return outcomes;
  }

  test("sends method, path, body and headers on, marked, and brings the answer back", async () => {
    const outcomes = await startFront(1);
    seen = [];
    const answer = await request(`${frontUrl}/socket.io/?EIO=4&transport=polling&sid=${ownerTag}.abc`, {
      method: "POST",
      headers: { origin: "https://chat.example.com", "x-forwarded-for": "203.0.113.9", cookie: "c=1" },
      body: '42["x"]',
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(`owner saw POST /socket.io/?EIO=4&transport=polling&sid=${ownerTag}.abc`);
    expect(answer.headers["x-owner"]).toBe("yes");
    const req = seen[0]!;
    expect(req.headers).toMatchObject({
      origin: "https://chat.example.com",
      cookie: "c=1",
      host: new URL(frontUrl).host,
      [FORWARDED_HEADER]: "FRONTtag",
    });
    // TRUST_PROXY=1 on both: the owner finds the same client the front node found.
    expect(clientAddress(req, 1)).toBe("203.0.113.9");
    expect(outcomes).toEqual(["polling ok"]);
  });

  test("with TRUST_PROXY=0 the client (the front node's TCP peer) is appended to X-Forwarded-For", async () => {
    await startFront(0);
    seen = [];
    await request(`${frontUrl}/socket.io/?EIO=4&transport=polling&sid=${ownerTag}.abc`, { localAddress: "127.0.0.7" });
    expect(seen[0]!.headers["x-forwarded-for"]).toBe("127.0.0.7");
  });

  test("a request already forwarded, or of this node, or without a sid, is served here", async () => {
    const outcomes = await startFront(1);
    for (const [url, headers] of [
      [`/socket.io/?EIO=4&transport=polling&sid=${ownerTag}.abc`, { [FORWARDED_HEADER]: "OTHERtag" }],
      [`/socket.io/?EIO=4&transport=polling&sid=FRONTtag.abc`, {}],
      [`/socket.io/?EIO=4&transport=polling`, {}],
    ] as const) {
      expect((await request(`${frontUrl}${url}`, { headers })).status).toBe(599);
    }
    // A forwarded request of a session this node did not issue: some node advertises this node's address.
    expect(outcomes).toEqual([`misrouted ${ownerTag}`]);
  });

  test("a crafted sid never makes the node connect outside the directory", async () => {
    const outcomes = await startFront(1);
    const crafted = [
      `127.0.0.1:${trapPort}.x`,
      `http://127.0.0.1:${trapPort}/.x`,
      `127.0.0.1%3A${trapPort}.x`,
      `${trapPort}.x`,
      `AAAAAAAA.http://127.0.0.1:${trapPort}`,
      `${ownerTag}@127.0.0.1:${trapPort}.x`,
      `localhost.x`,
      `x`.repeat(200),
    ];
    for (const sid of crafted) {
      const answer = await request(`${frontUrl}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`);
      expect({ sid, status: answer.status }).toEqual({ sid, status: 599 });
    }
    expect(trapped).toBe(0);
    // The one shaped like a tag was looked up, found in no directory, and served here.
    expect(outcomes).toEqual(["polling unknown"]);
    expect(sidOf(`/socket.io/?sid=${encodeURIComponent("a.b")}&x=1`)).toBe("a.b");
  });

  test("a closing forwarder answers a poll still waiting for its owner 503, and refuses new ones alike", async () => {
    // An owner that holds every GET open (a long poll with nothing to send yet) and notes when one is closed.
    const held: { req: IncomingMessage; closed: boolean }[] = [];
    const holder = createServer((req) => {
      const entry = { req, closed: false };
      held.push(entry);
      req.socket.on("close", () => (entry.closed = true));
    });
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const holderUrl = `http://127.0.0.1:${(holder.address() as AddressInfo).port}`;
    const forwarder = createForwarder({
      directory: createStaticDirectory("FRONTtag", new Map([["HOLDtag0", holderUrl]])),
      trustProxyHops: 0,
    });
    const served: string[] = [];
    const server = createServer((req, res) =>
      forwarder.forwardRequest(req, res, forwarder.ownerOf(req)!, () => {
        served.push(req.url!);
        res.writeHead(599);
        res.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/socket.io/?EIO=4&transport=polling&sid=HOLDtag0.x`;
    try {
      const waiting = request(url, { timeoutMs: 10_000 });
      for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(held).toHaveLength(1);
      await forwarder.close();
      // The client sees the poll fail (it starts a new session and resumes); it is not resent, nor dropped for a
      // balancer to retry elsewhere in the same session.
      const answer = await waiting;
      expect(answer.status).toBe(503);
      expect(answer.json()).toMatchObject({ error: { code: "unavailable" } });
      expect((await request(url, { timeoutMs: 10_000 })).status).toBe(503);
      for (let i = 0; i < 200 && !held[0]!.closed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(held.map((h) => h.closed)).toEqual([true]);
      expect(served).toEqual([]);
    } finally {
      server.closeAllConnections();
      holder.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test("an owner in the directory that cannot be reached: served here (Session ID unknown), counted as failed", async () => {
    const closedPort = await freePort();
    const outcomes: string[] = [];
    const forwarder = createForwarder({
      directory: createStaticDirectory("FRONTtag", new Map([["DEADnode", `http://127.0.0.1:${closedPort}`]])),
      trustProxyHops: 0,
      onForwarded: (kind, outcome) => outcomes.push(`${kind} ${outcome}`),
    });
    const server = createServer((req, res) =>
      forwarder.forwardRequest(req, res, forwarder.ownerOf(req)!, () => {
        res.writeHead(599);
        res.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const answer = await request(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling&sid=DEADnode.x`);
      expect(answer.status).toBe(599);
      expect(outcomes).toEqual(["polling failed"]);
    } finally {
      await forwarder.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
