/**
 * §10 "PostgreSQL unreachable: writes and history answer `unavailable`,
 * `/readyz` is 503, connections stay open; when it returns, service resumes
 * without a restart." `/readyz` is part of that service: a balancer sends
 * traffic back only once it answers 200, so it must not lag the database's
 * return by the seconds between two healthy-time probes.
 */
import { closeAllClients, connectClient, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { signToken } from "../helpers/tokens";
import { startNode, stopAllNodes } from "../cluster/nodes";

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
}, 30_000);
afterAll(async () => {
  closeAllClients();
  await stopAllNodes();
  await postgres?.destroy();
});

const ask = (socket: HuddleClient, event: string, payload: unknown): Promise<any> =>
  new Promise((resolve) => (socket.emit as any)(event, payload, resolve));

test("the database back: /readyz answers 200 again within about a second, and writes work", async () => {
  const node = await startNode("", "pg-ready", { DATABASE_URL: await postgres.createDatabase() });
  const socket = await connectClient(node.url, { token: signToken() });
  expect((await ask(socket, "room:join", { roomId: "ready" })).ok).toBe(true);

  await postgres.kill();
  // A write finds the database away at once; the node stays up and the socket stays connected.
  expect(await ask(socket, "message:send", { roomId: "ready", text: "away" })).toMatchObject({
    ok: false,
    error: { code: "unavailable" },
  });
  expect((await http(`${node.url}/readyz`)).status).toBe(503);
  expect(socket.connected).toBe(true);

  await postgres.start(); // resolves once the database answers SELECT 1
  const back = Date.now();
  let status = 0;
  while (Date.now() - back < 10_000) {
    status = (await http(`${node.url}/readyz`)).status;
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(status).toBe(200);
  expect(Date.now() - back).toBeLessThan(2500);
  expect((await ask(socket, "message:send", { roomId: "ready", text: "back" })).ok).toBe(true);
}, 60_000);
