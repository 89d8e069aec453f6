/**
 * §2 (r2): "A message id given to a revision-2 event or route (`id`, `upTo`,
 * `replyTo`, `:id`) that is not a message of the room is `not_found`,
 * whatever its form." An empty or very long string is such an id: it is
 * `not_found` (404), never `bad_request`, on every store (memory, Redis,
 * PostgreSQL), and a send with such a `replyTo` stores nothing.
 */
import { closeAllClients, connectClient, type HuddleClient } from "../helpers/clients";
import { startApp, stopAllApps } from "../helpers/app";
import { startNode, stopAllNodes } from "../cluster/nodes";
import { request as http } from "../helpers/http";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";

let redis: TestRedis;
let postgres: TestPostgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterEach(async () => {
  closeAllClients();
  await stopAllApps();
  await stopAllNodes();
});
afterAll(async () => {
  await redis?.stop();
  await postgres?.destroy();
});

const ask = (socket: HuddleClient, event: string, payload: unknown): Promise<any> =>
  new Promise((resolve) => (socket.emit as any)(event, payload, resolve));

/** A server on each store: in-process in memory; a real node process (which makes its stores) on the others. */
const stores: Array<[string, () => Promise<{ url: string }>]> = [
  ["memory", () => startApp()],
  ["Redis", () => startNode(redis.url, "refs-redis")],
  ["PostgreSQL", async () => startNode("", "refs-pg", { DATABASE_URL: await postgres.createDatabase() })],
];

describe.each(stores)("on %s", (_name, start) => {
  let app: { url: string };
  let token: string;
  let socket: HuddleClient;
  let room: string;
  let rooms = 0;
  beforeEach(async () => {
    // A room of its own per test: Redis and PostgreSQL outlive each node.
    room = `refs-${process.pid}-${++rooms}`;
    app = await start();
    token = signToken({ sub: uniqueUserId("refs") });
    socket = await connectClient(app.url, { token });
    expect((await ask(socket, "room:join", { roomId: room })).ok).toBe(true);
    expect((await ask(socket, "message:send", { roomId: room, text: "first" })).ok).toBe(true);
  });

  test.each([
    ["an empty id", ""],
    ["a 65-character id", "1".repeat(65)],
    ["a 300-character id", "x".repeat(300)],
  ])("%s is not_found for every revision-2 event, and a reply to it is not stored", async (_what, id) => {
    const acks = await Promise.all([
      ask(socket, "message:edit", { roomId: room, id, text: "t" }),
      ask(socket, "message:delete", { roomId: room, id }),
      ask(socket, "reaction:add", { roomId: room, id, emoji: "👍" }),
      ask(socket, "reaction:remove", { roomId: room, id, emoji: "👍" }),
      ask(socket, "room:read", { roomId: room, upTo: id }),
      ask(socket, "message:send", { roomId: room, text: "a reply", replyTo: id }),
    ]);
    expect(acks.map((ack) => ack.error?.code)).toEqual(Array(6).fill("not_found"));
    const history = await ask(socket, "room:history", { roomId: room });
    expect(history.messages.map((m: { text: string }) => m.text)).toEqual(["first"]);
  });

  test.each([
    ["an empty id", ""],
    ["a 300-character id", "x".repeat(300)],
  ])("%s in a REST body (upTo, replyTo) is 404 not_found", async (_what, id) => {
    const headers = { authorization: `Bearer ${token}` };
    const base = `${app.url}/api/rooms/${room}`;
    const read = await http(`${base}/read`, { method: "POST", headers, body: { upTo: id } });
    const reply = await http(`${base}/messages`, { method: "POST", headers, body: { text: "r", replyTo: id } });
    expect([read.status, reply.status]).toEqual([404, 404]);
    expect([read.body.error.code, reply.body.error.code]).toEqual(["not_found", "not_found"]);
  });
});
