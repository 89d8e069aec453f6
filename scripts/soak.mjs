#!/usr/bin/env node
// Soak test (not part of CI): two Huddle nodes on a private Redis, thousands of
// clients with steady chat, joins, leaves and reconnect churn, for a chosen
// duration. Every few seconds it samples each node's RSS, heap, event-loop
// delay p99 and open file descriptors (from /metrics) and Redis memory and key
// count, then writes a CSV and a PNG plot (rendered by headless Chromium).
//
//   npm run soak -- --minutes 30 --clients 3000
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { io } from "socket.io-client";
import { createClient } from "redis";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--"))
      pairs.push([arg.slice(2), all[i + 1]?.startsWith("--") || all[i + 1] === undefined ? "1" : all[i + 1]]);
    return pairs;
  }, []),
);
const minutes = Number(args.minutes ?? 30);
const clientCount = Number(args.clients ?? 3000);
const roomCount = Number(args.rooms ?? 100);
const messagesPerSec = Number(args.rate ?? 100);
const churnPerSec = Number(args.churn ?? 20);
const sampleEveryMs = Number(args.sample ?? 5000);
const cooldownMs = Number(args.cooldown ?? 60_000);
const outDir = resolve(root, args.out ?? "soak-results");
const SECRET = "soak-secret-soak-secret-soak-secret-0123456789";

const children = [];
const stopChildren = () => children.forEach((child) => child.exitCode === null && child.kill("SIGKILL"));
process.on("exit", stopChildren);
process.on("SIGINT", () => process.exit(130));

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForHttp(url, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

async function main() {
  if (!existsSync(join(root, "dist/server.js"))) throw new Error("run `npm run build` first");
  const redisPort = await freePort();
  const redisDir = mkdtempSync(join(tmpdir(), "soak-redis-"));
  children.push(
    spawn(
      "/usr/bin/redis-server",
      ["--port", String(redisPort), "--save", "", "--appendonly", "no", "--dir", redisDir],
      { stdio: "ignore" },
    ),
  );
  await sleep(300);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = createClient({ url: redisUrl });
  await redis.connect();

  const nodes = [];
  for (const name of ["soak-a", "soak-b"]) {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, "dist/server.js")], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ID: name,
        REDIS_URL: redisUrl,
        JWT_SECRET: SECRET,
        LOG_LEVEL: "warn",
        RATE_BURST: "1000",
        RATE_PER_SEC: "1000",
        MAX_CONNECTIONS_PER_USER: "1000",
        // thousands of loopback connections from a handful of addresses: no per-address handshake limit
        CONNECT_RATE_PER_IP: "0",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    nodes.push({ name, port, url: `http://127.0.0.1:${port}`, pid: child.pid });
  }
  await Promise.all(nodes.map((node) => waitForHttp(`${node.url}/readyz`)));

  const token = (i) => jwt.sign({ sub: `soak-user-${i}`, name: `User ${i}` }, SECRET);
  const room = (i) => `soak-${i % roomCount}`;
  const clients = new Array(clientCount);
  let delivered = 0;
  const connect = (i) =>
    new Promise((resolve) => {
      const node = nodes[i % nodes.length];
      const socket = io(node.url, {
        auth: { token: token(i), v: 1 },
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        localAddress: `127.0.0.${2 + (i % 8)}`,
      });
      socket.on("message:new", () => delivered++);
      socket.once("connect", async () => {
        await socket.emitWithAck("room:join", { roomId: room(i) }).catch(() => {});
        resolve(socket);
      });
      socket.once("connect_error", () => resolve(socket));
      clients[i] = socket;
    });

  console.log(`connecting ${clientCount} clients to ${nodes.length} nodes…`);
  for (let i = 0; i < clientCount; i += 200)
    await Promise.all(Array.from({ length: Math.min(200, clientCount - i) }, (_, k) => connect(i + k)));

  const metric = (text, name) => {
    const line = text.split("\n").find((l) => l.startsWith(name + "{") || l.startsWith(name + " "));
    return line ? Number(line.split(" ").pop()) : NaN;
  };
  const rows = [];
  const startedAt = Date.now();
  const sample = async (phase) => {
    const row = { t: ((Date.now() - startedAt) / 1000).toFixed(0), phase };
    for (const node of nodes) {
      const text = await fetch(`${node.url}/metrics`)
        .then((r) => r.text())
        .catch(() => "");
      row[`${node.name}_rss_mb`] = (metric(text, "process_resident_memory_bytes") / 2 ** 20).toFixed(1);
      row[`${node.name}_heap_mb`] = (metric(text, "nodejs_heap_size_used_bytes") / 2 ** 20).toFixed(1);
      row[`${node.name}_loop_p99_ms`] = (metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000).toFixed(1);
      row[`${node.name}_fds`] = metric(text, "process_open_fds");
    }
    const info = await redis.info("memory");
    row.redis_mb = (Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 2 ** 20).toFixed(2);
    // Idempotency records (huddle:sent:*) and room streams grow with traffic by design (24 h TTL, HISTORY_MAX):
    // count them apart from everything else, whose growth would be a leak.
    const kinds = { sent: 0, log: 0, bucket: 0, other: 0 };
    for await (const batch of redis.scanIterator({ COUNT: 1000 })) {
      for (const key of Array.isArray(batch) ? batch : [batch]) {
        const kind = /^huddle:(sent|log|bucket):/.exec(key)?.[1] ?? "other";
        kinds[kind]++;
      }
    }
    row.redis_keys_sent = kinds.sent;
    row.redis_keys_rooms = kinds.log;
    row.redis_keys_buckets = kinds.bucket;
    row.redis_keys_other = kinds.other;
    row.delivered = delivered;
    rows.push(row);
    console.log(JSON.stringify(row));
  };

  await sample("baseline");
  const endAt = Date.now() + minutes * 60_000;
  let seq = 0;
  const chat = setInterval(() => {
    for (let k = 0; k < messagesPerSec / 10; k++) {
      const i = Math.floor(Math.random() * clientCount);
      clients[i]?.connected &&
        clients[i].emit(
          "message:send",
          { roomId: room(i), text: `soak ${seq++}`, clientMsgId: `soak-${seq}` },
          () => {},
        );
    }
  }, 100);
  const churn = setInterval(() => {
    for (let k = 0; k < churnPerSec; k++) {
      const i = Math.floor(Math.random() * clientCount);
      const socket = clients[i];
      if (Math.random() < 0.5) {
        socket?.close();
        connect(i);
      } else if (socket?.connected) {
        const other = `soak-extra-${Math.floor(Math.random() * roomCount)}`;
        socket.emit("room:join", { roomId: other }, () => socket.emit("room:leave", { roomId: other }, () => {}));
      }
    }
  }, 1000);
  while (Date.now() < endAt) {
    await sleep(sampleEveryMs);
    await sample("load");
  }
  clearInterval(chat);
  clearInterval(churn);
  const coolEnd = Date.now() + cooldownMs;
  while (Date.now() < coolEnd) {
    await sleep(sampleEveryMs);
    await sample("cooldown");
  }
  clients.forEach((socket) => socket?.close());
  await sleep(3000);
  await sample("closed");

  mkdirSync(outDir, { recursive: true });
  const columns = Object.keys(rows[0]);
  const csv = [columns.join(","), ...rows.map((row) => columns.map((c) => row[c]).join(","))].join("\n") + "\n";
  writeFileSync(join(outDir, "soak.csv"), csv);
  await plot(rows, join(outDir, "soak.png"));
  console.log(`wrote ${join(outDir, "soak.csv")} and soak.png`);
  await redis.quit();
  stopChildren();
  process.exit(0);
}

/** Renders small-multiple line charts as SVG and screenshots them with headless Chromium. */
async function plot(rows, file) {
  const { chromium } = await import("playwright-core");
  const series = [
    ["RSS (MiB)", ["soak-a_rss_mb", "soak-b_rss_mb"]],
    ["Heap used (MiB)", ["soak-a_heap_mb", "soak-b_heap_mb"]],
    ["Event-loop delay p99 (ms)", ["soak-a_loop_p99_ms", "soak-b_loop_p99_ms"]],
    ["Open file descriptors", ["soak-a_fds", "soak-b_fds"]],
    ["Redis memory (MiB)", ["redis_mb"]],
    ["Redis keys: presence, connections, nodes", ["redis_keys_other"]],
    ["Redis keys: idempotency (24 h TTL)", ["redis_keys_sent"]],
  ];
  const colors = ["#2563eb", "#dc2626"];
  const W = 460,
    H = 220,
    P = 40;
  const maxT = Math.max(...rows.map((r) => Number(r.t)), 1);
  const charts = series.map(([title, keys]) => {
    const values = rows.flatMap((r) => keys.map((k) => Number(r[k]))).filter(Number.isFinite);
    const maxV = Math.max(...values, 1) * 1.1;
    const x = (t) => P + ((W - P - 10) * t) / maxT;
    const y = (v) => H - P + 10 - ((H - P - 10) * v) / maxV;
    const lines = keys
      .map(
        (k, i) =>
          `<polyline fill="none" stroke="${colors[i]}" stroke-width="1.5" points="${rows.map((r) => `${x(Number(r.t)).toFixed(1)},${y(Number(r[k])).toFixed(1)}`).join(" ")}"/>`,
      )
      .join("");
    const loadEnd = rows.filter((r) => r.phase === "load").at(-1);
    const marker = loadEnd
      ? `<line x1="${x(Number(loadEnd.t))}" x2="${x(Number(loadEnd.t))}" y1="10" y2="${H - P + 10}" stroke="#999" stroke-dasharray="4"/>`
      : "";
    return `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" style="font:12px sans-serif">
      <text x="${P}" y="14" font-weight="bold">${title}</text>
      <line x1="${P}" y1="${H - P + 10}" x2="${W - 10}" y2="${H - P + 10}" stroke="#333"/><line x1="${P}" y1="20" x2="${P}" y2="${H - P + 10}" stroke="#333"/>
      <text x="${P - 4}" y="26" text-anchor="end">${maxV.toFixed(maxV < 10 ? 1 : 0)}</text><text x="${P - 4}" y="${H - P + 10}" text-anchor="end">0</text>
      <text x="${W - 10}" y="${H - P + 26}" text-anchor="end">${(maxT / 60).toFixed(1)} min</text>${marker}${lines}
      ${keys.map((k, i) => `<text x="${P + 10 + i * 120}" y="${H - 4}" fill="${colors[i]}">${k.split("_")[0]}</text>`).join("")}
    </svg>`;
  });
  const html = `<html><body style="margin:0;background:#fff;display:grid;grid-template-columns:repeat(2,${W}px);gap:8px;padding:8px">${charts.join("")}</body></html>`;
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({
    viewport: { width: W * 2 + 24, height: Math.ceil(series.length / 2) * (H + 8) + 16 },
  });
  await page.setContent(html);
  await page.screenshot({ path: file, fullPage: true });
  await browser.close();
}

main().catch((error) => {
  console.error(error);
  stopChildren();
  process.exit(1);
});
