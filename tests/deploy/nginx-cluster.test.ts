/**
 * Two nodes behind the repo's nginx template (round-robin), sharing a private
 * redis-server, behave as one service for every kind of client: each scenario
 * puts its clients on different nodes (connecting until they land there, see
 * through-nginx.ts) and checks they see each other.
 */
import { closeAllClients, waitForEvent, collect, eventually } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { openSse } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { startNginx, type TestNginx } from "./nginx-harness";
import { startNode, type NodeProcess } from "./node-processes";
import { openPlain } from "../ws/ws-client";
import { ack, connectTo, destroyAgents, http, type Connected } from "./through-nginx";

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
  await redis?.stop();
});

const roomId = () => `cluster-${Math.random().toString(36).slice(2, 10)}`;

/** A plain /ws client whose connection landed on `nodeId` (round-robin: a few tries at most). */
async function openPlainOn(nodeId: string, token: string) {
  for (let attempt = 0; attempt < 12; attempt++) {
    const plain = await openPlain(nginx.url, { query: { token, v: "1" } });
    if ((await plain.event("session")).nodeId === nodeId) return plain;
    plain.close();
  }
  throw new Error(`no /ws connection landed on ${nodeId}`);
}

async function joined(client: Connected, room: string) {
  const result = await ack(client.socket, "room:join", { roomId: room });
  if (!result.ok) throw new Error(`join failed on ${client.session.nodeId}: ${JSON.stringify(result)}`);
  return result;
}

describe("clients on different nodes, through nginx", () => {
  test("polling-only clients on the two nodes chat, and both see one order", async () => {
    const alice = await connectTo(nginx.url, "node-a", { transport: "polling", claims: { name: "Alice" } });
    const bob = await connectTo(nginx.url, "node-b", { transport: "polling", claims: { name: "Bob" } });
    expect([alice.session.nodeId, bob.session.nodeId]).toEqual(["node-a", "node-b"]);
    const room = roomId();
    await joined(alice, room);
    await joined(bob, room);
    const seenByAlice = collect(alice.socket, "message:new");
    const seenByBob = collect(bob.socket, "message:new");
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      const sender = i % 2 === 0 ? alice : bob;
      const result = await ack(sender.socket, "message:send", { roomId: room, text: `m${i}` });
      expect(result).toMatchObject({ ok: true });
      sent.push(result.message.id);
    }
    await eventually(
      () => seenByAlice.items.length === 6 && seenByBob.items.length === 6,
      "6 messages on both polling clients",
      5000,
    );
    expect(seenByAlice.items.map((m) => m.id)).toEqual(seenByBob.items.map((m) => m.id));
    expect(seenByBob.items.map((m) => m.text)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    expect(alice.socket.io.engine.transport.name).toBe("polling");
    expect(alice.socket.connected && bob.socket.connected).toBe(true);
  });

  test("a WebSocket client and a polling client on the two nodes see each other's presence and messages", async () => {
    const ws = await connectTo(nginx.url, "node-a", { transport: "websocket", claims: { name: "Wes" } });
    const poll = await connectTo(nginx.url, "node-b", { transport: "polling", claims: { name: "Polly" } });
    const room = roomId();
    await joined(ws, room);
    const joinSeen = waitForEvent(ws.socket, "presence:join", { timeoutMs: 3000 });
    const pollJoin = await joined(poll, room);
    expect(pollJoin.members.map((m: { name: string }) => m.name).sort()).toEqual(["Polly", "Wes"]);
    await expect(joinSeen).resolves.toMatchObject({ roomId: room, user: { name: "Polly" } });

    // Each sender also gets its own message back, possibly after its ack: wait for the other's.
    const fromOther = (name: string) => (message: any) => message.user.name === name;
    const toPoll = waitForEvent(poll.socket, "message:new", { predicate: fromOther("Wes") });
    await ack(ws.socket, "message:send", { roomId: room, text: "from the websocket node" });
    await expect(toPoll).resolves.toMatchObject({ text: "from the websocket node", user: { name: "Wes" } });
    const toWs = waitForEvent(ws.socket, "message:new", { predicate: fromOther("Polly") });
    await ack(poll.socket, "message:send", { roomId: room, text: "from the polling node" });
    await expect(toWs).resolves.toMatchObject({ text: "from the polling node", user: { name: "Polly" } });

    const typing = waitForEvent(ws.socket, "typing:update", {
      timeoutMs: 3000,
      predicate: (update: any) => update.users.some((u: { name: string }) => u.name === "Polly"),
    });
    await ack(poll.socket, "typing:start", { roomId: room });
    await typing;

    const left = waitForEvent(ws.socket, "presence:leave", { timeoutMs: 5000 });
    poll.socket.close();
    await expect(left).resolves.toMatchObject({ roomId: room, user: { name: "Polly" } });
  });

  test("a plain /ws client and a Socket.IO client on the two nodes chat", async () => {
    const token = signToken({ name: "Plain" });
    const plain = await openPlainOn("node-a", token);
    try {
      const sio = await connectTo(nginx.url, "node-b", { transport: "websocket", claims: { name: "Sio" } });
      const room = roomId();
      expect(await plain.request("room:join", { roomId: room })).toMatchObject({ ok: true });
      await joined(sio, room);
      const toSio = waitForEvent(sio.socket, "message:new", { timeoutMs: 3000 });
      await plain.request("message:send", { roomId: room, text: "plain to sio" });
      await expect(toSio).resolves.toMatchObject({ text: "plain to sio", user: { name: "Plain" } });
      await ack(sio.socket, "message:send", { roomId: room, text: "sio to plain" });
      const fromSio = plain.next((f) => f.type === "message:new" && f.data.user.name === "Sio", "Sio's message");
      await expect(fromSio).resolves.toMatchObject({ data: { text: "sio to plain" } });
    } finally {
      plain.close();
    }
  });
});

describe("HTTP streams fed from the other node, through nginx", () => {
  test("an SSE stream gets messages sent through Socket.IO on either node while it stays open", async () => {
    const room = roomId();
    const sse = await openSse(`${nginx.url}/api/rooms/${room}/events?token=${signToken()}`);
    try {
      // The stream is on one of the two nodes: one of the senders is on the other.
      for (const nodeId of ["node-a", "node-b"]) {
        const sender = await connectTo(nginx.url, nodeId, { transport: "websocket" });
        await joined(sender, room);
        for (const text of [`one from ${nodeId}`, `two from ${nodeId}`]) {
          await ack(sender.socket, "message:send", { roomId: room, text });
          expect(JSON.parse((await sse.next("message", 3000)).data)).toMatchObject({ text });
        }
      }
    } finally {
      sse.close();
    }
  });

  test.each(["node-a", "node-b"])(
    "a long poll (on whichever node) is answered by a message sent on %s",
    async (nodeId) => {
      const room = roomId();
      const token = signToken();
      const sender = await connectTo(nginx.url, nodeId, { transport: "websocket" });
      await joined(sender, room);
      const first = (await ack(sender.socket, "message:send", { roomId: room, text: "before" })).message;
      const poll = http(`${nginx.url}/api/rooms/${room}/poll?after=${encodeURIComponent(first.id)}&timeout=25`, {
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: 8000,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await ack(sender.socket, "message:send", { roomId: room, text: "during" });
      const answer = await poll;
      expect(answer.status).toBe(200);
      expect(answer.json()).toMatchObject({ messages: [{ text: "during" }] });
    },
  );

  test("a REST publish (on whichever node) reaches polling sockets on both nodes", async () => {
    const room = roomId();
    const listeners = [
      await connectTo(nginx.url, "node-a", { transport: "polling" }),
      await connectTo(nginx.url, "node-b", { transport: "polling" }),
    ];
    for (const listener of listeners) await joined(listener, room);
    const delivered = listeners.map((listener) => waitForEvent(listener.socket, "message:new", { timeoutMs: 3000 }));
    const response = await http(`${nginx.url}/api/rooms/${room}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "rest across nodes" }),
    });
    expect(response.status).toBe(201);
    for (const arrival of delivered) {
      await expect(arrival).resolves.toMatchObject({ id: response.json().message.id, text: "rest across nodes" });
    }
  });
});
