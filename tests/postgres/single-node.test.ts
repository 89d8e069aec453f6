/**
 * §10 on one node with PostgreSQL and no Redis (a durable single node): the
 * schema is made on an empty database at start-up, history is not capped by
 * HISTORY_MAX, and messages, changes, read markers and idempotency survive a
 * killed and restarted node.
 */
import type { Message } from "../../shared";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, readiness, request, restHistory, sendMessage, startNode, stopAllNodes } from "../cluster/nodes";

let postgres: TestPostgres;
let databaseUrl: string;
beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase();
}, 30_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllNodes();
  await postgres?.destroy();
});

const env = () => ({ DATABASE_URL: databaseUrl, HISTORY_MAX: "5", RATE_BURST: "1000", RATE_PER_SEC: "1000" });

test("an empty database, a node that dies: every acknowledged message, change, marker and clientMsgId is still there", async () => {
  let node = await startNode("", "durable-1", env());
  const room = `durable-${process.pid}`;
  const alice = { sub: uniqueUserId("alice"), name: "Alice" };
  const bob = { sub: uniqueUserId("bob"), name: "Bob" };
  const aliceToken = signToken(alice);
  const bobToken = signToken(bob);
  let a = await connectClient(node.url, { token: aliceToken });
  let b = await connectClient(node.url, { token: bobToken });
  await joinRoom(b, room);
  await joinRoom(a, room);
  const sent: Message[] = [];
  for (let i = 0; i < 12; i++) sent.push(await sendMessage(a, room, `m${i}`, `c-${i}`));
  const edited = await request(a, "message:edit", { roomId: room, id: sent[0]!.id, text: "m0 edited" });
  const reacted = await request(b, "reaction:add", { roomId: room, id: sent[1]!.id, emoji: "👍" });
  const deleted = await request(a, "message:delete", { roomId: room, id: sent[2]!.id });
  expect([edited.ok, reacted.ok, deleted.ok]).toEqual([true, true, true]);
  expect(await request(b, "room:read", { roomId: room, upTo: sent[7]!.id })).toEqual({
    ok: true,
    readUpTo: sent[7]!.id,
    unread: 4,
  });

  // HISTORY_MAX (5) does not cap a store of record.
  const before = await restHistory(node.url, room, bobToken);
  expect(before.map((m) => m.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  expect(before[0]).toEqual(edited.message);
  expect(before[2]).toEqual(deleted.message);

  await node.kill("SIGKILL");
  node = await startNode("", "durable-1", env());
  a = await connectClient(node.url, { token: aliceToken });
  b = await connectClient(node.url, { token: bobToken });
  expect(await restHistory(node.url, room, bobToken)).toEqual(before);
  expect(await joinRoom(b, room, sent[11]!.id)).toMatchObject({ resumed: true, readUpTo: sent[7]!.id, unread: 4 });
  await joinRoom(a, room);
  // The same clientMsgId, after the restart: the first message, not a second one.
  expect(await request(a, "message:send", { roomId: room, text: "again", clientMsgId: "c-3" })).toEqual({
    ok: true,
    message: sent[3],
  });
  expect((await request(b, "rooms:list", {})).rooms).toEqual([
    { roomId: room, readUpTo: sent[7]!.id, unread: 4, lastMessage: before[11] },
  ]);
  const next = await sendMessage(a, room, "after the restart");
  expect(next.seq).toBe(13);
  await eventually(async () => (await readiness(node.url)) === 200, "the node ready");
});
