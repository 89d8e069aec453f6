/**
 * What forwarding a Socket.IO request to the node that holds its session
 * costs (no sticky sessions, §12), with real node processes over a private
 * redis-server. Not a test (no timing is asserted anywhere); run it by hand:
 *
 *   npx esbuild tests/cluster/forwarding.bench.ts --bundle --platform=node --packages=external \
 *     --outfile=tests/cluster/forwarding.bench.js && node tests/cluster/forwarding.bench.js; rm tests/cluster/forwarding.bench.js
 *
 * 1. One polling request (an Engine.IO POST of a noop packet) sent to the node that holds the session, or to
 *    another node that forwards it: latency, and CPU time of each process per request (from /proc, 10 ms ticks,
 *    over many requests).
 * 2. Socket.IO round trips over WebSocket after the upgrade from polling, the upgrade made at the owner or
 *    through another node (which then pipes every frame through a TCP tunnel for the connection's life):
 *    latency, and the tunnelling node's CPU per round trip.
 * 3. Socket.IO round trips of a polling-only client (an emit answered by an ack: a POST and a GET) through nginx
 *    in front of three nodes: round-robin (the template: two requests in three forwarded) and sticky (the
 *    template plus `hash $remote_addr consistent;`: none forwarded).
 *
 *
 * Env: BENCH_REQUESTS (default 5000), BENCH_ROUND_TRIPS (default 500).
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import WebSocket from "ws";
import { closeAllClients, createClient, waitForEvent } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { startRedis } from "../helpers/redis-server";
import { startNginx } from "../deploy/nginx-harness";
import { startNode, type NodeProcess } from "../deploy/node-processes";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (ms: number) => `${ms.toFixed(2)} ms`;
  return `p50 ${f(percentile(sorted, 0.5))}, p90 ${f(percentile(sorted, 0.9))}, p99 ${f(percentile(sorted, 0.99))}, mean ${f(sorted.reduce((a, b) => a + b) / sorted.length)}`;
};

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function post(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "text/plain" } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function handshake(node: NodeProcess): Promise<string> {
  const answer = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
  return JSON.parse((await answer.text()).slice(1)).sid;
}

async function requestCost(owner: NodeProcess, forwarder: NodeProcess, count: number) {
  const sid = await handshake(owner);
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  const run = async (via: NodeProcess) => {
    for (let i = 0; i < 200; i++) await post(`${via.url}${path}`, "6"); // warm-up
    const latencies: number[] = [];
    const cpu0 = { owner: cpuSeconds(owner.child.pid!), via: cpuSeconds(via.child.pid!) };
    for (let i = 0; i < count; i++) {
      const started = process.hrtime.bigint();
      const answer = await post(`${via.url}${path}`, "6");
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (answer.text !== "ok") throw new Error(`answer ${answer.status} ${answer.text}`);
    }
    const usOwner = ((cpuSeconds(owner.child.pid!) - cpu0.owner) * 1e6) / count;
    const usVia = ((cpuSeconds(via.child.pid!) - cpu0.via) * 1e6) / count;
    return { latencies, usOwner, usVia };
  };
  console.log(`\n1. one polling POST, ${count} sequential requests, kept-alive connection (3 rounds)`);
  for (let round = 0; round < 3; round++) {
    const direct = await run(owner);
    const forwarded = await run(forwarder);
    console.log(
      `   to the owner:      ${summary(direct.latencies)}; owner CPU ${direct.usOwner.toFixed(0)} µs/request`,
    );
    console.log(
      `   via another node:  ${summary(forwarded.latencies)}; forwarding node CPU ${forwarded.usVia.toFixed(0)} µs/request, owner ${forwarded.usOwner.toFixed(0)} µs/request`,
    );
  }
}

/** A Socket.IO session opened by polling on `owner`, upgraded to WebSocket at `via`; emit -> ack round trips. */
async function tunnelCost(owner: NodeProcess, via: NodeProcess, count: number) {
  const sid = await handshake(owner);
  await post(
    `${owner.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`,
    `40${JSON.stringify({ token: signToken() })}`,
  );
  await fetch(`${owner.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`).then((r) => r.text());
  const ws = new WebSocket(`${via.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  let wake: ((frame: string) => void) | undefined;
  ws.on("message", (data) => {
    const frame = data.toString();
    if (frame === "2") return ws.send("3");
    wake?.(frame);
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const next = () => new Promise<string>((resolve) => (wake = resolve));
  ws.send("2probe");
  await next();
  ws.send("5");
  let id = 0;
  const once = async () => {
    const answer = next();
    ws.send(`42${++id}["bench:ping",{}]`);
    await answer;
  };
  for (let i = 0; i < 200; i++) await once();
  const latencies: number[] = [];
  const cpu0 = { owner: cpuSeconds(owner.child.pid!), via: cpuSeconds(via.child.pid!) };
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await once();
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const usOwner = ((cpuSeconds(owner.child.pid!) - cpu0.owner) * 1e6) / count;
  const usVia = ((cpuSeconds(via.child.pid!) - cpu0.via) * 1e6) / count;
  ws.close();
  return { latencies, usOwner, usVia };
}

async function roundTrips(url: string, count: number): Promise<number[]> {
  const socket = createClient(url, { transports: ["polling"] });
  await waitForEvent(socket, "session", { timeoutMs: 5000 });
  const once = () =>
    new Promise<void>((resolve) => (socket.emit as (...args: unknown[]) => void)("bench:ping", {}, () => resolve()));
  for (let i = 0; i < 50; i++) await once(); // warm-up
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await once();
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  socket.close();
  return latencies;
}

async function main() {
  const requests = Number(process.env.BENCH_REQUESTS ?? 5000);
  const trips = Number(process.env.BENCH_ROUND_TRIPS ?? 500);
  const redis = await startRedis();
  const env = { LOG_LEVEL: "error", CONNECT_RATE_PER_IP: "0" };
  const nodes = await Promise.all(
    ["bench-1", "bench-2", "bench-3"].map((nodeId) => startNode({ nodeId, redisUrl: redis.url, env })),
  );
  try {
    await requestCost(nodes[0]!, nodes[1]!, requests);

    console.log(`\n2. Socket.IO emit -> ack over WebSocket, ${requests} sequential (3 rounds)`);
    for (let round = 0; round < 3; round++) {
      const direct = await tunnelCost(nodes[0]!, nodes[0]!, requests);
      const tunnelled = await tunnelCost(nodes[0]!, nodes[1]!, requests);
      console.log(
        `   upgraded at the owner:     ${summary(direct.latencies)}; owner CPU ${direct.usOwner.toFixed(0)} µs`,
      );
      console.log(
        `   upgraded via another node: ${summary(tunnelled.latencies)}; tunnel node CPU ${tunnelled.usVia.toFixed(0)} µs, owner ${tunnelled.usOwner.toFixed(0)} µs`,
      );
    }

    const roundRobin = await startNginx(nodes.map((node) => node.address));
    const sticky = await startNginx(
      nodes.map((node) => node.address),
      {
        transform: (text) =>
          text.replace("upstream huddle_nodes {", "upstream huddle_nodes {\n    hash $remote_addr consistent;"),
      },
    );
    console.log(`\n3. Socket.IO emit -> ack of a polling-only client through nginx (3 nodes), ${trips} sequential`);
    for (let round = 0; round < 3; round++) {
      console.log(`   round-robin (forwarded):  ${summary(await roundTrips(roundRobin.url, trips))}`);
      console.log(`   sticky (hash):            ${summary(await roundTrips(sticky.url, trips))}`);
    }
    await roundRobin.stop();
    await sticky.stop();
  } finally {
    closeAllClients();
    agent.destroy();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
