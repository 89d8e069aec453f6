/**
 * Bench groups for scale-out (issue 15): locality, four nodes, Redis Cluster: merged into sessions.mjs (SESSIONS, GROUPS)
 * and report.mjs (SHOWN, TARGETS).
 *
 * - locality: two nodes on one Redis, busy rooms all on node A, node B serving only idle rooms: B's CPU as a share
 *   of A's. Bare Socket.IO's classic redis adapter sends every room's traffic to every node: the old behaviour.
 * - four-rooms: four nodes on one Redis, each room on one node: total CPU per delivery, rooms spread over the four
 *   against all of them on one node (four-rooms-one), same session; and against one node at the load each node
 *   carries when spread (four-rooms-one-quarter: a quarter of the rate).
 * - cluster-*: two nodes on a private six-node Redis Cluster (bare: @socket.io/redis-adapter's sharded adapter),
 *   the scenarios of redis-rooms and redis-fanout; cluster-rooms-noacks with REDIS_REPLICA_ACKS=0, so the cost of
 *   waiting for a replica is visible. Compare their Huddle/bare ratios with redis-rooms' from the same run.
 */
import { startRedis } from "./processes.mjs";
import { startRedisCluster } from "./redis-cluster.mjs";
import { fanoutScenarios, roomsScenario } from "./scenarios.mjs";
import { fourNodesScenario, localityScenario } from "./scenarios-cluster.mjs";
import { CHAT_ROOMS_CORE } from "./metric-lists.mjs";

/** A private redis-server, as the `redis` session's. */
async function oneRedis() {
  const redis = await startRedis();
  return { redis, nodeOptions: { redisUrl: redis.url }, stop: () => redis.stop() };
}

/** A private Redis Cluster; Huddle gets its six nodes as REDIS_CLUSTER_NODES (and `env`), bare `--redis-cluster`. */
function redisCluster(env = {}) {
  return async () => {
    const cluster = await startRedisCluster();
    return {
      // CPU and commands are summed over the six (scenarios.mjs reads `pids` and `ports`).
      redis: { pids: cluster.pids, ports: cluster.ports },
      nodeOptions: {
        env: () => ({ REDIS_CLUSTER_NODES: cluster.seeds, ...env }),
        bareArgs: ["--redis-cluster", cluster.seeds],
      },
      stop: () => cluster.stop(),
    };
  };
}

/** Sessions: { nodes, backing(target, ctx) } (see SESSIONS in sessions.mjs). */
export const SESSIONS = {
  locality: { nodes: 2, backing: oneRedis },
  four: { nodes: 4, backing: oneRedis },
  cluster: { nodes: 2, backing: redisCluster() },
  "cluster-noacks": { nodes: 2, backing: redisCluster({ REDIS_REPLICA_ACKS: "0" }) },
};

/** Groups selectable with --only: { session, scenarios, targets?, run(ctx, env) }. */
export const GROUPS = {
  locality: { session: "locality", scenarios: ["locality"], run: (ctx, env) => localityScenario(ctx, env) },
  "four-rooms": {
    session: "four",
    scenarios: ["four-rooms-one", "four-rooms-one-quarter", "four-rooms"],
    run: (ctx, env) => fourNodesScenario(ctx, env),
  },
  "cluster-rooms": {
    session: "cluster",
    scenarios: ["cluster-rooms"],
    run: (ctx, env) => roomsScenario(ctx, env, "cluster-"),
  },
  "cluster-fanout": {
    session: "cluster",
    scenarios: ["cluster-fanout", "cluster-fanout-light"],
    run: (ctx, env) => fanoutScenarios(ctx, env, "cluster-"),
  },
  "cluster-rooms-noacks": {
    session: "cluster-noacks",
    scenarios: ["cluster-rooms-noacks"],
    run: (ctx, env) => roomsScenario(ctx, env, "cluster-", { scenario: "cluster-rooms-noacks" }),
  },
};

/** The chat rooms' figures (report.mjs's `rooms` list), for every scenario of chat rooms here. */
const ROOMS = [
  ...CHAT_ROOMS_CORE,
  ["writeSyscallsPerDelivery", "server write syscalls per delivery"],
  ["redisCpuUsPerDelivery", "redis-server CPU per delivery, all of them (µs)"],
  ["redisCommandsPerDelivery", "redis commands per delivery (on a cluster, replicas' too)"],
];
const FANOUT = [
  ["offeredDeliveriesPerSec", "deliveries/s offered"],
  ["deliveriesPerSec", "deliveries/s achieved"],
  ["lost", "lost", "zero"],
  ["duplicates", "duplicates", "zero"],
  ["latencyP50Ms", "latency p50 (ms)"],
  ["latencyP99Ms", "latency p99 (ms)"],
  ["ackP50Ms", "ack p50 (ms)"],
  ["ackP99Ms", "ack p99 (ms)"],
  ["sendErrors", "send errors", "zero"],
  ["cpuUsPerDelivery", "server CPU per delivery, both nodes (µs)"],
  ["redisCpuUsPerDelivery", "redis-server CPU per delivery, all six (µs)"],
];

/** Metrics shown per scenario: [metric, label, flag?]. */
export const SHOWN = {
  locality: [
    ["nodeBCpuSharePct", "node B CPU as a share of node A's (%)"],
    ["nodeBCpuUsPerMessage", "node B CPU per message sent (µs)"],
    ["nodeBIdleCpuMsPerSec", "node B CPU with nobody sending (ms/s)"],
    ["nodeBCpuSharePctLessIdle", "node B CPU less its idle CPU, as a share of A's (%)"],
    ["nodeBCpuUsPerMessageLessIdle", "node B CPU less its idle CPU, per message (µs)"],
    ["nodeACpuUsPerMessage", "node A CPU per message sent (µs)"],
    ["nodeBCpuCores", "node B CPU (cores)"],
    ["deliveriesPerSec", "deliveries/s achieved"],
    ["lost", "lost", "zero"],
    ["duplicates", "duplicates", "zero"],
    ["sendErrors", "send errors", "zero"],
    ["ackP50Ms", "ack p50 (ms)"],
    ["ackP99Ms", "ack p99 (ms)"],
    ["latencyP50Ms", "delivery p50 (ms)"],
    ["latencyP99Ms", "delivery p99 (ms)"],
    ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
  ],
  "four-rooms-one": ROOMS,
  "four-rooms-one-quarter": [["node0CpuUsPerDelivery", "node 0's CPU per delivery (µs)"], ...ROOMS],
  "four-rooms": [
    ["cpuVsOneNode", "CPU per delivery, spread over four ÷ all on one"],
    ["cpuVsOneNodeSameLoad", "CPU per delivery, spread ÷ node 0's at a quarter of the rate"],
    ...ROOMS,
    ["redisCpuVsOneNode", "redis-server CPU per delivery, spread ÷ one"],
  ],
  "cluster-rooms": ROOMS,
  "cluster-rooms-noacks": ROOMS,
  "cluster-fanout": FANOUT,
  "cluster-fanout-light": FANOUT,
};

/** Targets per scenario and metric: { text, check(huddle, bare), absolute? }. */
export const TARGETS = {
  locality: { nodeBCpuSharePct: { text: "≤ 2%", absolute: true, check: (h) => h <= 2 } },
  "four-rooms": { cpuVsOneNode: { text: "≤ 1.10", absolute: true, check: (h) => h <= 1.1 } },
  // As with one Redis (redis-rooms inherits the chat rooms' ≤ 1.3×): compare with its row of the same run.
  "cluster-rooms": { cpuUsPerDelivery: { text: "≤ 1.3×", check: (h, b) => h <= b * 1.3 } },
  "cluster-rooms-noacks": { cpuUsPerDelivery: { text: "≤ 1.3×", check: (h, b) => h <= b * 1.3 } },
};
