/**
 * Measures cross-node message latency and Redis round trips per send, with
 * two real nodes over a private redis-server. Not a test (no timing is
 * asserted anywhere); run it by hand:
 *
 *   npx esbuild tests/cluster/latency.bench.ts --bundle --platform=node --packages=external \
 *     --outfile=tests/cluster/latency.bench.js && node tests/cluster/latency.bench.js; rm tests/cluster/latency.bench.js
 *
 * Env: BENCH_MESSAGES (default 300), BENCH_GAP_MS between sends (default 5),
 * REDIS_ADAPTER (classic | sharded).
 */
import { createClient as createRedisClient } from "redis";
import type { Message } from "../../shared";
import { connectClient, closeAllClients } from "../helpers/clients";
import { startRedis } from "../helpers/redis-server";
import { uniqueUserId } from "../helpers/tokens";
import { joinRoom, sendMessage, startNode, stopAllNodes } from "./nodes";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function commandStats(url: string): Promise<Map<string, number>> {
  const client = createRedisClient({ url });
  await client.connect();
  const info = String(await client.sendCommand(["INFO", "commandstats"]));
  client.destroy();
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) stats.set(match[1]!, Number(match[2]));
  return stats;
}

async function main() {
  const count = Number(process.env.BENCH_MESSAGES ?? 300);
  const gapMs = Number(process.env.BENCH_GAP_MS ?? 5);
  const adapter = process.env.REDIS_ADAPTER ?? "classic";
  const redis = await startRedis();
  const env = { RATE_BURST: "100000", RATE_PER_SEC: "100000", REDIS_ADAPTER: adapter, LOG_LEVEL: "error" };
  // Default heartbeat settings, so that background traffic is what production sees.
  const defaults = { PRESENCE_HEARTBEAT_MS: "3000", PRESENCE_TTL_MS: "10000", PRESENCE_REAP_MS: "5000" };
  const [A, B] = await Promise.all([
    startNode(redis.url, "bench-a", { ...env, ...defaults }),
    startNode(redis.url, "bench-b", { ...env, ...defaults }),
  ]);
  const room = "bench";
  const sender = await connectClient(A!.url, { claims: { sub: uniqueUserId("sender") } });
  const remote = await connectClient(B!.url, { claims: { sub: uniqueUserId("remote") } });
  const local = await connectClient(A!.url, { claims: { sub: uniqueUserId("local") } });
  for (const socket of [sender, remote, local]) await joinRoom(socket, room);
  for (let i = 0; i < 50; i++) await sendMessage(sender, room, `warm-up ${i}`);

  const sentAt = new Map<string, number>();
  const remoteLatency: number[] = [];
  const localLatency: number[] = [];
  const ackLatency: number[] = [];
  remote.on("message:new", (m: Message) => {
    const t = sentAt.get(m.clientMsgId ?? "");
    if (t !== undefined) remoteLatency.push(performance.now() - t);
  });
  local.on("message:new", (m: Message) => {
    const t = sentAt.get(m.clientMsgId ?? "");
    if (t !== undefined) localLatency.push(performance.now() - t);
  });

  const before = await commandStats(redis.url);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const id = `bench-${i}`;
    const t = performance.now();
    sentAt.set(id, t);
    await sendMessage(sender, room, `message ${i}`, id);
    ackLatency.push(performance.now() - t);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  const elapsedSec = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await commandStats(redis.url);

  const calls: Record<string, number> = {};
  let total = 0;
  for (const [name, n] of after) {
    const delta = n - (before.get(name) ?? 0);
    if (delta > 0 && name !== "info") {
      calls[name] = delta;
      total += delta;
    }
  }
  const report = (name: string, values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${name}: n=${values.length} p50=${percentile(sorted, 0.5).toFixed(2)} ms p99=${percentile(sorted, 0.99).toFixed(2)} ms max=${sorted[sorted.length - 1]!.toFixed(2)} ms`;
  };
  console.log(`adapter=${adapter} messages=${count} gap=${gapMs} ms duration=${elapsedSec.toFixed(1)} s`);
  console.log(report("send -> message:new on the other node", remoteLatency));
  console.log(report("send -> message:new on the same node ", localLatency));
  console.log(report("send -> ack                         ", ackLatency));
  console.log(
    `redis commands during the run: ${JSON.stringify(calls)} (${(total / count).toFixed(2)} a send, background included)`,
  );

  closeAllClients();
  await stopAllNodes();
  await redis.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
