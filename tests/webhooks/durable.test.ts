/**
 * §11 webhooks from a durable outbox: two real node processes over Redis and
 * PostgreSQL (the outbox in PostgreSQL), and two over Redis only (the outbox
 * in Redis). Changes made on both nodes reach the receiver whatever it does
 * for a while (fails with 500, hangs past WEBHOOK_TIMEOUT_MS, is away): every
 * one once it is healthy, in change order per room, with one webhook-id per
 * change on every retry and valid signatures. Under a busy run with both
 * nodes dispatching, no event is ever in flight twice at once.
 */
import type { Message } from "../../shared";
import { closeAllClients, connectClient, eventually, sleep, type HuddleClient } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { request as http } from "../helpers/http";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request as ack, startNode, stopAllNodes, type NodeProcess } from "../cluster/nodes";
import { startReceiver, WEBHOOK_SECRET, type Receiver } from "./receiver";
import { created, deliveredOf, expectDelivered, requestsOf, updated, type Change } from "./support";

/** An ack, with room to spare on a loaded machine (the busy run sends ~100 messages at once). */
const request = (socket: HuddleClient, event: string, payload: unknown) => ack(socket, event, payload, 20_000);
async function sendMessage(socket: HuddleClient, roomId: string, text: string): Promise<Message> {
  const answer = await request(socket, "message:send", { roomId, text });
  if (!answer.ok) throw new Error(`message:send failed: ${JSON.stringify(answer.error)}`);
  return answer.message;
}
const person = (name: string) => ({ sub: uniqueUserId(name), name });
let rooms = 0;
const freshRoom = (tag: string) => `whd-${tag}-${process.pid}-${++rooms}`;

/**
 * One round of changes in each room, on both nodes: each writer sends a message, and one more is posted over REST
 * (on the other node); the first is edited and reacted to, the REST one deleted. Repeats that change nothing (the
 * same clientMsgId, the same text, the same reaction) are made too: they must not become events.
 */
async function writeRound(
  writers: HuddleClient[],
  rest: { url: string; token: string },
  roomIds: string[],
  tag: string,
): Promise<Change[]> {
  const changes: Change[] = [];
  const headers = { authorization: `Bearer ${rest.token}` };
  await Promise.all(
    roomIds.map(async (roomId) => {
      const sent = [];
      for (const [i, writer] of writers.entries()) sent.push(await sendMessage(writer, roomId, `${tag} from ${i}`));
      const post = { text: `${tag} over REST`, clientMsgId: `${tag}-${roomId}` };
      const posted = await http(`${rest.url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers,
        body: post,
        timeoutMs: 20_000,
      });
      expect(posted.status).toBe(201);
      sent.push(posted.body.message);
      changes.push(...sent.map(created));
      const again = await http(`${rest.url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers,
        body: post,
        timeoutMs: 20_000,
      });
      expect({ status: again.status, message: again.body.message }).toEqual({ status: 200, message: sent.at(-1) });

      const edit = { roomId, id: sent[0]!.id, text: `${tag} edited` };
      const edited = await request(writers[0]!, "message:edit", edit);
      const react = { roomId, id: sent[0]!.id, emoji: "🪝" };
      const reacted = await request(writers[1]!, "reaction:add", react);
      expect([edited.ok, reacted.ok]).toEqual([true, true]);
      changes.push(updated(edited.message), updated(reacted.message));
      // Nothing changes: no event.
      expect((await request(writers[0]!, "message:edit", edit)).message).toEqual(reacted.message);
      expect((await request(writers[1]!, "reaction:add", react)).message).toEqual(reacted.message);

      const removed = await http(`${rest.url}/api/rooms/${roomId}/messages/${sent.at(-1)!.id}`, {
        method: "DELETE",
        headers,
        timeoutMs: 20_000,
      });
      expect(removed.status).toBe(200);
      changes.push(updated(removed.body.message));
    }),
  );
  return changes;
}

/** Failed delivery attempts so far, all nodes together, from their /metrics. */
async function failedAttempts(nodes: NodeProcess[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (line.startsWith("huddle_webhooks_attempts_failed_total{")) total += Number(line.split(" ").at(-1));
    }
  }
  return total;
}

describe.each([
  { shape: "Redis and PostgreSQL (the outbox in PostgreSQL)", withPostgres: true },
  { shape: "Redis only (the outbox in Redis)", withPostgres: false },
])("two nodes over $shape", ({ withPostgres }) => {
  let redis: TestRedis;
  let postgres: TestPostgres | undefined;
  let receiver: Receiver;
  let nodes: NodeProcess[];

  beforeAll(async () => {
    [redis, postgres, receiver] = await Promise.all([
      startRedis(),
      withPostgres ? startPostgres() : undefined,
      startReceiver(),
    ]);
    const databaseUrl = postgres ? await postgres.createDatabase() : undefined;
    const env = (node: string) => ({
      WEBHOOK_URL: `${receiver.url}?node=${node}`,
      WEBHOOK_SECRET,
      // Short enough for quick retries of a hanging receiver, long enough that a loaded machine does not make a
      // 25 ms answer look like no answer.
      WEBHOOK_TIMEOUT_MS: "1000",
      WEBHOOK_RETRY_BASE_MS: "10",
      RATE_BURST: "100000",
      RATE_PER_SEC: "100000",
      ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    });
    nodes = await Promise.all(["a", "b"].map((id) => startNode(redis.url, `whd-${id}`, env(id))));
  }, 60_000);
  afterEach(() => {
    closeAllClients();
    receiver.answer(200);
    receiver.delay(5);
  });
  afterAll(async () => {
    await stopAllNodes();
    await receiver?.stop();
    await redis?.stop();
    await postgres?.destroy();
  });

  test("failing (500), hanging past the timeout, then away: once healthy every change arrives, in change order per room, one id per change, signed", async () => {
    const writers = await Promise.all(nodes.map((node) => connectClient(node.url, { claims: person("W") })));
    const rest = { url: nodes[1]!.url, token: signToken(person("R")) };
    const joinAll = (roomIds: string[]) =>
      Promise.all(writers.flatMap((writer) => roomIds.map((roomId) => joinRoom(writer, roomId))));
    const all: string[] = [];
    const changes: Change[] = [];
    const attempts = (roomIds: string[], status: number | "hang") =>
      requestsOf(receiver, roomIds).filter((r) => r.status === status);

    // Failing: each new room's first change is attempted and retried (same id), and the rest queue behind it.
    receiver.answer(500);
    const failing = [freshRoom("fail"), freshRoom("fail")];
    await joinAll(failing);
    all.push(...failing);
    changes.push(...(await writeRound(writers, rest, all, "failing")));
    await eventually(
      () => failing.every((roomId) => attempts([roomId], 500).length >= 2),
      "each failing room's first change attempted twice",
      10_000,
    );

    // Hanging: no answer within WEBHOOK_TIMEOUT_MS is a failure too.
    receiver.answer("hang");
    const hanging = [freshRoom("hang"), freshRoom("hang")];
    await joinAll(hanging);
    all.push(...hanging);
    changes.push(...(await writeRound(writers, rest, all, "hanging")));
    await eventually(
      () => hanging.every((roomId) => attempts([roomId], "hang").length >= 2),
      "each hanging room's first change attempted twice",
      10_000,
    );

    // Away: connections refused (nothing to see at the receiver meanwhile).
    await receiver.close();
    const away = [freshRoom("away"), freshRoom("away")];
    await joinAll(away);
    all.push(...away);
    changes.push(...(await writeRound(writers, rest, all, "away")));
    await sleep(500);

    receiver.answer(200);
    await receiver.reopen();
    await eventually(
      () => deliveredOf(receiver, all).length === changes.length,
      `all ${changes.length} changes delivered`,
      30_000,
    );
    expectDelivered(receiver, changes);
    // The retries carried the first id again: a failed attempt, then the same id delivered.
    for (const roomId of [...failing, ...hanging]) {
      const first = requestsOf(receiver, [roomId])[0]!;
      expect(first.status).not.toBe(200);
      expect(deliveredOf(receiver, [roomId])[0]!.id).toBe(first.id);
    }
  }, 60_000);

  test("a busy run with both nodes dispatching: no event is ever in flight twice at once, none is sent twice unless an attempt failed, rooms in order", async () => {
    receiver.delay(25);
    const writers = await Promise.all(
      [0, 1, 2, 3].map((i) => connectClient(nodes[i % 2]!.url, { claims: person(`B${i}`) })),
    );
    const busy = Array.from({ length: 24 }, () => freshRoom("busy"));
    await Promise.all(writers.flatMap((writer) => busy.map((roomId) => joinRoom(writer, roomId))));
    const failedBefore = await failedAttempts(nodes);
    const changes: Change[] = [];
    await Promise.all(
      writers.map(async (writer, i) => {
        for (let round = 0; round < 3; round++) {
          const sent = await Promise.all(busy.map((roomId) => sendMessage(writer, roomId, `busy ${i}.${round}`)));
          changes.push(...sent.map(created));
        }
      }),
    );
    await eventually(
      () => deliveredOf(receiver, busy).length === changes.length,
      `all ${changes.length} busy changes delivered`,
      40_000,
    );
    const requests = requestsOf(receiver, busy);
    expect(Math.max(...requests.map((r) => r.concurrent))).toBe(1);
    // None sent twice, unless a node saw an attempt fail (no answer in time on a loaded machine: at least once).
    expect(requests.length - changes.length).toBeLessThanOrEqual((await failedAttempts(nodes)) - failedBefore);
    expectDelivered(receiver, changes);
    // Both nodes took part.
    expect(new Set(requests.map((r) => r.path))).toEqual(new Set(["/hooks?node=a", "/hooks?node=b"]));
  }, 60_000);
});
