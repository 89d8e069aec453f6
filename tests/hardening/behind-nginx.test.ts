/**
 * The per-address connection limit behind the repo's nginx template: every
 * connection reaches the node from nginx's address, so the node must read the
 * client's address from the X-Forwarded-For nginx sets (TRUST_PROXY=1).
 * Real nginx (/usr/sbin/nginx) with nginx/default.conf.template.
 */
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients } from "../helpers/clients";
import { startNginx, type TestNginx } from "../deploy/nginx-harness";
import { connectFrom, destroyAgents } from "../deploy/through-nginx";
import { createLogger } from "../../server/logger";
import { metric, request } from "./support";

const BURST = 10;
const limits = { CONNECT_BURST_PER_IP: String(BURST), CONNECT_RATE_PER_IP: "0.5" };

const running: TestNginx[] = [];
async function behindNginx(
  env: Record<string, string>,
  logger = createLogger({ level: "silent", nodeId: "n" }),
): Promise<{ node: TestApp; nginx: TestNginx }> {
  const node = await startApp(env, { logger });
  const nginx = await startNginx([`127.0.0.1:${node.port}`]);
  running.push(nginx);
  return { node, nginx };
}

afterEach(() => {
  closeAllClients();
  destroyAgents();
});
afterAll(async () => {
  await Promise.all(running.map((nginx) => nginx.stop()));
  await stopAllApps();
});

/** `count` Socket.IO polling handshakes through nginx from `address`, with a client-written X-Forwarded-For. */
async function flood(nginx: TestNginx, address: string, count: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      request(`${nginx.url}/socket.io/?EIO=4&transport=polling&t=${i}`, {
        localAddress: address,
        // A client trying to pass for many others: nginx appends its real address after this.
        headers: { "x-forwarded-for": `198.51.100.${i}` },
      }),
    ),
  );
  return answers.map((answer) => answer.status);
}

test("TRUST_PROXY=1: a flood from 127.0.0.2 through nginx gets 429s, 127.0.0.3 still connects", async () => {
  const { node, nginx } = await behindNginx({ ...limits, TRUST_PROXY: "1" });
  const statuses = await flood(nginx, "127.0.0.2", 30);
  expect(statuses.filter((status) => status === 429)).toHaveLength(30 - BURST);
  expect(statuses.filter((status) => status === 200)).toHaveLength(BURST);

  const { session } = await connectFrom(nginx.url, "127.0.0.3");
  expect(session.nodeId).toBe(node.config.nodeId);
  expect(await metric(node.url, "huddle_connections_refused_total", { code: "429" })).toBe(30 - BURST);
});

test("without TRUST_PROXY every client behind nginx shares nginx's budget, and the node says so once", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", nodeId: "n" }, { write: (line: string) => void lines.push(line) });
  const { nginx } = await behindNginx(limits, logger);
  await flood(nginx, "127.0.0.2", 30);
  const other = await request(`${nginx.url}/socket.io/?EIO=4&transport=polling`, { localAddress: "127.0.0.3" });
  expect(other.status).toBe(429);
  const hints = lines.filter((line) => line.includes("TRUST_PROXY"));
  expect(hints).toHaveLength(1);
  expect(JSON.parse(hints[0]!).level).toBe(40);
});
