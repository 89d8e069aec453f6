// The abuse tries of issue 17, against a node started with the defaults (and INTERNAL_PORT for the last one):
//   node scripts/abuse-tries.mjs
// 1. one user, one token, one address: 400 SSE streams to one room in one burst;
// 2. one Socket.IO connection joining 20,000 rooms as fast as it can for 5 s;
// 3. GET /metrics on the public port.
// Prints what was accepted and refused, and the process's RSS before and after.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { io } from "socket.io-client";

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);

const port = await freePort();
const internal = await freePort();
const child = spawn(process.execPath, ["dist/server.js"], {
  env: {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: "127.0.0.1",
    INTERNAL_PORT: String(internal),
    LOG_LEVEL: "error",
  },
  stdio: "inherit",
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {}
  await sleep(100);
}
const { token } = await (
  await fetch(`${base}/api/token`, { method: "POST", body: JSON.stringify({ name: "abuser" }) })
).json();
const rss0 = rssKiB(child.pid);

// 1. 400 SSE streams at once.
const controllers = [];
const statuses = await Promise.all(
  Array.from({ length: 400 }, async () => {
    const controller = new AbortController();
    controllers.push(controller);
    try {
      const response = await fetch(`${base}/api/rooms/lobby/events?token=${token}`, { signal: controller.signal });
      const body = response.status === 200 ? "stream" : (await response.json()).error.code;
      return `${response.status} ${body}`;
    } catch (error) {
      return `error ${error.message}`;
    }
  }),
);
const count = (list) => Object.entries(list.reduce((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {}));
console.log("400 SSE streams, one token, one address:", count(statuses));
for (const c of controllers) c.abort();
await sleep(500);

// 2. One connection joining 20,000 rooms for 5 s.
const socket = io(base, { auth: { token, v: 1 }, transports: ["websocket"], reconnection: false });
await new Promise((resolve) => socket.once("connect", resolve));
const outcomes = [];
const deadline = Date.now() + 5000;
for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
  const ack = await socket.timeout(5000).emitWithAck("room:join", { roomId: `abuse-${i}` });
  outcomes.push(ack.ok ? "ok" : ack.error.code);
}
console.log(`room:join on one connection for 5 s (${outcomes.length} tried):`, count(outcomes));
socket.close();
await sleep(500);
const rss1 = rssKiB(child.pid);
console.log(`RSS ${Math.round(rss0 / 1024)} MiB before, ${Math.round(rss1 / 1024)} MiB after`);

// 3. /metrics on the public port and on the internal one.
console.log(
  "GET /metrics on PORT:",
  (await fetch(`${base}/metrics`)).status,
  "on INTERNAL_PORT:",
  (await fetch(`http://127.0.0.1:${internal}/metrics`)).status,
);
child.kill("SIGTERM");
