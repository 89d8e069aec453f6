/**
 * §6 liveness: the server pings every interval (25 s in production, 100 ms
 * here) and ends a connection that answered neither of the last two pings
 * when the next is due, cleaning up its presence like a disconnect. A node
 * that shuts down closes its /ws clients with 1001 so they reconnect.
 */
import { closeAllClients, collect, connectClient, eventually } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "./ws-client";

const PING_MS = 100;
let server: TestApp;
beforeAll(async () => {
  server = await startApp({ MAX_CONNECTIONS_PER_USER: "1" }, { wsPingIntervalMs: PING_MS });
});
afterEach(() => {
  closeAllPlain();
  closeAllClients();
});
afterAll(() => stopAllApps());

test("pings clients, and keeps a client that answers", async () => {
  const { client } = await connectPlain(server.url);
  let pings = 0;
  client.ws.on("ping", () => pings++);
  // More pings than a silent client survives.
  await eventually(() => pings >= 4, "four pings", 5000);
  expect(client.ws.readyState).toBe(client.ws.OPEN);
  client.send({ type: "ping" });
  await client.event("pong");
});

test("ends a client that answered neither of the last two pings, when the next is due", async () => {
  const { client } = await connectPlain(server.url, { autoPong: false });
  let pings = 0;
  client.ws.on("ping", () => pings++);
  const closed = await client.closed;
  // Ended without a close frame: the connection is considered dead.
  expect(closed.code).toBe(1006);
  expect(pings).toBe(2);
});

test("keeps a client that answers every other ping", async () => {
  // A slower interval here, so that a busy machine cannot delay an answer past the next ping.
  const node = await startApp({}, { wsPingIntervalMs: 250 });
  const { client } = await connectPlain(node.url, { autoPong: false });
  let pings = 0;
  client.ws.on("ping", () => {
    if (++pings % 2 === 0) client.ws.pong();
  });
  await eventually(() => pings >= 6, "six pings", 5000);
  expect(client.ws.readyState).toBe(client.ws.OPEN);
});

test("a dead client's user leaves the room with presence:leave, and frees its slot", async () => {
  const roomId = "liveness-room";
  const sub = uniqueUserId("dead");
  const watcher = await connectClient(server.url);
  await watcher.emitWithAck("room:join", { roomId });
  const leaves = collect(watcher, "presence:leave");
  const { client, session } = await connectPlain(server.url, { claims: { sub }, autoPong: false });
  await client.request("room:join", { roomId });
  await client.closed;
  await eventually(() => leaves.items.length === 1, "presence:leave of the dead client");
  expect(leaves.items).toEqual([{ roomId, user: session.user }]);
  const ack = await watcher.emitWithAck("room:join", { roomId });
  expect(ack.ok && ack.members.map((m) => m.id)).not.toContain(sub);
  // MAX_CONNECTIONS_PER_USER is 1 here: the user can connect again.
  const { session: again } = await connectPlain(server.url, { claims: { sub } });
  expect(again.user.id).toBe(sub);
});

test("closes /ws clients with 1001 when the node shuts down", async () => {
  const node = await startApp();
  const { client } = await connectPlain(node.url);
  await client.request("room:join", { roomId: "shutdown" });
  const closing = node.close();
  await expect(client.closed).resolves.toEqual({ code: 1001, reason: "Server shutting down" });
  await closing;
});
