/**
 * No sticky sessions (§12): the repo's nginx template (plain round-robin) in
 * front of three real node processes sharing a private redis-server. Every
 * kind of client chats in one room — Socket.IO polling-only, Socket.IO
 * polling then WebSocket, plain /ws, SSE and REST long polls — while nginx
 * spreads the polling client's requests over all three nodes (counted in an
 * access log of nginx's upstream choices), and the polling client never
 * errors or reconnects.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAllClients, collect, createClient, eventually, waitForEvent } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { openPlain, type PlainClient } from "../ws/ws-client";
import { startNginx, type TestNginx } from "./nginx-harness";
import { startNode, type NodeProcess } from "./node-processes";
import { ack, http } from "./through-nginx";
import type { HuddleClient } from "../helpers/clients";
import type { Message } from "../../shared";

const MESSAGES = 100;

let redis: TestRedis;
let nodes: NodeProcess[] = [];
let nginx: TestNginx;
let logDir: string;
const accessLog = () => join(logDir, "access.log");

/** Adds an access log of each request's upstream (the node nginx picked) to the rendered template. */
export function withUpstreamLog(path: string) {
  return (rendered: string) =>
    `log_format huddle_upstream '$request_method $request_uri $upstream_addr $status';\n` +
    rendered.replace(/^(\s*server_name _;)$/m, `$1\n    access_log ${path} huddle_upstream;`);
}

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all(
    ["rr-1", "rr-2", "rr-3"].map((nodeId) =>
      startNode({ nodeId, redisUrl: redis.url, env: { RATE_BURST: "1000", RATE_PER_SEC: "1000" } }),
    ),
  );
  logDir = mkdtempSync(join(tmpdir(), "huddle-rr-"));
  nginx = await startNginx(
    nodes.map((node) => node.address),
    { transform: withUpstreamLog(accessLog()) },
  );
}, 30_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await nginx?.stop();
  await Promise.all(nodes.map((node) => node.stop()));
  await redis?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

/** A Socket.IO client that records every error and reconnect it sees. */
function watched(socket: HuddleClient) {
  const trouble: string[] = [];
  socket.on("connect_error", (error) => trouble.push(`connect_error: ${error.message}`));
  socket.on("disconnect", (reason) => trouble.push(`disconnect: ${reason}`));
  return trouble;
}

function sentId(answer: { ok: boolean; message?: Message }): string {
  if (!answer.ok || !answer.message) throw new Error(`message:send failed: ${JSON.stringify(answer)}`);
  return answer.message.id;
}

async function connected(socket: HuddleClient) {
  const session = await waitForEvent(socket, "session", { timeoutMs: 5000 });
  return session as { nodeId: string };
}

test(`polling, upgrading, /ws, SSE and REST poll clients chat through round-robin nginx (${MESSAGES} messages)`, async () => {
  const room = `rr-${Math.random().toString(36).slice(2, 10)}`;
  const polling = createClient(nginx.url, { transports: ["polling"], claims: { name: "Polly" } });
  const pollingTrouble = watched(polling);
  const upgrading = createClient(nginx.url, { transports: ["polling", "websocket"], claims: { name: "Uma" } });
  const upgradingTrouble = watched(upgrading);
  await Promise.all([connected(polling), connected(upgrading)]);
  const pollingSid = polling.io.engine.id;
  await eventually(() => upgrading.io.engine.transport.name === "websocket", "the upgrade to WebSocket", 5000);

  const plain: PlainClient = await openPlain(nginx.url, { query: { token: signToken({ name: "Wes" }), v: "1" } });
  const restToken = signToken({ name: "Rest" });
  let sse: SseStream | undefined;
  try {
    await plain.event("session");
    for (const socket of [polling, upgrading])
      expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
    expect(await plain.request("room:join", { roomId: room })).toMatchObject({ ok: true });
    sse = await openSse(`${nginx.url}/api/rooms/${room}/events?token=${signToken({ name: "Sse" })}`);
    expect(sse.status).toBe(200);

    const post = async (text: string) => {
      const response = await http(`${nginx.url}/api/rooms/${room}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${restToken}`, "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
      expect(response.status).toBe(201);
      return response.json().message.id as string;
    };
    // A first message, so the REST client's first long poll has a position to wait after.
    const startId = await post("start");
    // A REST client that long-polls the room, each poll through nginx to whichever node.
    const polled: Message[] = [];
    const pollDeadline = Date.now() + 30_000;
    const restPoller = (async () => {
      let after = startId;
      while (polled.length < MESSAGES) {
        if (Date.now() > pollDeadline) throw new Error(`the REST client got ${polled.length} messages in 30 s`);
        const answer = await http(`${nginx.url}/api/rooms/${room}/poll?timeout=5&after=${encodeURIComponent(after)}`, {
          headers: { authorization: `Bearer ${restToken}` },
          timeoutMs: 10_000,
        });
        if (answer.status !== 200) throw new Error(`poll answered ${answer.status}: ${answer.text}`);
        const body = answer.json() as { messages: Message[]; cursor: string | null };
        polled.push(...body.messages);
        if (body.cursor) after = body.cursor;
      }
    })();
    // Surfaces at the end, not as an unhandled rejection meanwhile.
    restPoller.catch(() => {});

    const seenByPolling = collect(polling, "message:new");
    const seenByUpgrading = collect(upgrading, "message:new");
    const sent: string[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const text = `m${i}`;
      switch (i % 4) {
        case 0:
          sent.push(sentId(await ack(polling, "message:send", { roomId: room, text }, 5000)));
          break;
        case 1:
          sent.push(sentId(await ack(upgrading, "message:send", { roomId: room, text }, 5000)));
          break;
        case 2:
          sent.push(sentId(await plain.request("message:send", { roomId: room, text })));
          break;
        default:
          sent.push(await post(text));
      }
    }
    expect(new Set(sent).size).toBe(MESSAGES);

    const ids = (messages: { id: string }[]) => messages.map((m) => m.id).filter((id) => id !== startId);
    await eventually(
      () => ids(seenByPolling.items).length >= MESSAGES && ids(seenByUpgrading.items).length >= MESSAGES,
      "every message on both Socket.IO clients",
      10_000,
    );
    expect(ids(seenByPolling.items)).toEqual(sent);
    expect(ids(seenByUpgrading.items)).toEqual(sent);
    const plainSeen = async () => ids(plain.frames.filter((f) => f.type === "message:new").map((f) => f.data));
    await eventually(async () => (await plainSeen()).length >= MESSAGES, "every message on /ws", 10_000);
    expect(await plainSeen()).toEqual(sent);
    const sseSeen = () => ids(sse!.events.filter((e) => e.event === "message").map((e) => JSON.parse(e.data)));
    await eventually(() => sseSeen().length >= MESSAGES, "every SSE event", 10_000);
    expect(sseSeen()).toEqual(sent);
    await restPoller;
    expect(ids(polled)).toEqual(sent);

    // The polling client kept one session throughout, never saw an error, and its requests went to every node.
    expect(pollingTrouble).toEqual([]);
    expect(upgradingTrouble).toEqual([]);
    expect(polling.connected).toBe(true);
    expect(polling.io.engine.id).toBe(pollingSid);
    expect(polling.io.engine.transport.name).toBe("polling");
    const perNode = new Map<string, number>();
    for (const line of readFileSync(accessLog(), "utf8").split("\n")) {
      const [, uri, upstream, status] = line.split(" ");
      if (!uri?.startsWith("/socket.io/") || !uri.includes(`sid=${pollingSid}`)) continue;
      expect({ line, status }).toEqual({ line, status: "200" });
      perNode.set(upstream!, (perNode.get(upstream!) ?? 0) + 1);
    }
    const counts = nodes.map((node) => perNode.get(node.address) ?? 0);
    // Each send is a POST and each message:new comes back on a GET: a few hundred requests over three nodes.
    expect(counts.reduce((a, b) => a + b)).toBeGreaterThan(MESSAGES);
    for (const count of counts) expect(count).toBeGreaterThan(MESSAGES / 10);
    process.stderr.write(`polling client's requests per node: ${counts.join(", ")}\n`);

    // The nodes that got a request of another node's session forwarded it.
    const forwardedOk = await Promise.all(
      nodes.map(async (node) => {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        const match = /huddle_socketio_forwarded_total\{[^}]*transport="polling"[^}]*outcome="ok"[^}]*\} (\d+)/.exec(
          text,
        );
        return Number(match?.[1] ?? 0);
      }),
    );
    expect(forwardedOk.reduce((a, b) => a + b)).toBeGreaterThan(MESSAGES / 2);
  } finally {
    sse?.close();
    plain.close();
  }
}, 60_000);

test("a polling client whose session's node dies reconnects through nginx to a live node", async () => {
  const doomed = await startNode({ nodeId: "rr-doomed", redisUrl: redis.url });
  const front = await startNginx([nodes[0]!.address, nodes[1]!.address, doomed.address]);
  try {
    // Round-robin: within a few tries a session opens on the doomed node.
    let socket: HuddleClient | undefined;
    for (let attempt = 0; attempt < 12 && !socket; attempt++) {
      const candidate = createClient(front.url, {
        transports: ["polling"],
        reconnection: true,
        reconnectionDelay: 100,
      });
      if ((await connected(candidate)).nodeId === "rr-doomed") socket = candidate;
      else candidate.close();
    }
    if (!socket) throw new Error("no session opened on rr-doomed");
    const room = `rr-dies-${Math.random().toString(36).slice(2, 8)}`;
    expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
    const reason = waitForEvent<string>(socket, "disconnect", { timeoutMs: 10_000 });
    const again = waitForEvent<{ nodeId: string }>(socket, "session", { timeoutMs: 15_000 });
    const killedAt = Date.now();
    doomed.child.kill("SIGKILL");
    const why = await reason;
    expect(why).toMatch(/transport (error|close)/);
    expect((await again).nodeId).not.toBe("rr-doomed");
    process.stderr.write(`owner killed: "${why}", new session ${Date.now() - killedAt} ms later\n`);
    expect(await ack(socket, "room:join", { roomId: room })).toMatchObject({ ok: true });
    expect(await ack(socket, "message:send", { roomId: room, text: "after the node died" })).toMatchObject({
      ok: true,
    });
  } finally {
    await front.stop();
    await doomed.stop();
  }
}, 30_000);
