/**
 * §11: "Bans live in the store of record (PostgreSQL, else Redis, else
 * memory)." With PostgreSQL, a ban survives a restart of every node and a
 * Redis FLUSHALL; with Redis only, it survives a restart of every node.
 * After the restart the bans are listed as they were, still refused on every
 * way in, and can be lifted.
 */
import { createClient as createRedisClient } from "redis";
import { closeAllClients, connectClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { joinRoom, request, startNode, stopAllNodes, type NodeProcess } from "../cluster/nodes";

let redis: TestRedis;
let postgres: TestPostgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterEach(async () => {
  closeAllClients();
  await stopAllNodes();
});
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
  await postgres?.destroy();
});

const moderator = signToken({ sub: uniqueUserId("mod"), role: "moderator" });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const forbidden = { ok: false, error: { code: "forbidden", message: expect.any(String) } };

async function flushRedis(): Promise<void> {
  const client = createRedisClient({ url: redis.url });
  await client.connect();
  await client.flushAll();
  client.destroy();
}

describe.each([
  { shape: "Redis and PostgreSQL: every node restarted and Redis flushed", withPostgres: true },
  { shape: "Redis only: every node restarted", withPostgres: false },
])("$shape", ({ withPostgres }) => {
  test("the bans are still listed, still refused on both nodes, and can be lifted", async () => {
    const env: Record<string, string> = withPostgres ? { DATABASE_URL: await postgres.createDatabase() } : {};
    const start = (id: string) => startNode(redis.url, id, env);
    let nodes: NodeProcess[] = await Promise.all([start("modd-a"), start("modd-b")]);
    const roomId = `modd-${process.pid}-${withPostgres ? "pg" : "redis"}`;
    const forever = { id: uniqueUserId("forever") };
    const timed = { id: uniqueUserId("timed") };
    const bystander = signToken();

    const bans = [];
    for (const body of [
      { userId: forever.id, reason: "for good" },
      { userId: timed.id, durationSec: 3600 },
    ]) {
      const answer = await http(`${nodes[0]!.url}/api/rooms/${roomId}/bans`, {
        method: "POST",
        headers: auth(moderator),
        body,
      });
      expect(answer.status).toBe(200);
      bans.push(answer.body.ban);
    }

    await Promise.all(nodes.map((node) => node.kill("SIGKILL")));
    if (withPostgres) await flushRedis();
    nodes = await Promise.all([start("modd-a2"), start("modd-b2")]);

    for (const node of nodes) {
      const listed = await http(`${node.url}/api/rooms/${roomId}/bans`, { headers: auth(moderator) });
      expect(listed.status).toBe(200);
      expect(listed.body.bans).toHaveLength(2);
      expect(listed.body.bans).toEqual(expect.arrayContaining(bans));
      for (const user of [forever, timed]) {
        const socket = await connectClient(node.url, { token: signToken({ sub: user.id }) });
        expect(await request(socket, "room:join", { roomId })).toEqual(forbidden);
        const rest = await http(`${node.url}/api/rooms/${roomId}/messages`, {
          headers: auth(signToken({ sub: user.id })),
        });
        expect(rest.status).toBe(403);
      }
      // Nobody else is kept out.
      await joinRoom(await connectClient(node.url, { token: bystander }), roomId);
    }

    const lifted = await http(`${nodes[1]!.url}/api/rooms/${roomId}/bans/${forever.id}`, {
      method: "DELETE",
      headers: auth(moderator),
    });
    expect(lifted.status).toBe(200);
    for (const node of nodes) {
      const socket = await connectClient(node.url, { token: signToken({ sub: forever.id }) });
      await joinRoom(socket, roomId);
    }
    const listed = await http(`${nodes[0]!.url}/api/rooms/${roomId}/bans`, { headers: auth(moderator) });
    expect(listed.body).toEqual({ bans: [bans[1]] });
  }, 60_000);
});
