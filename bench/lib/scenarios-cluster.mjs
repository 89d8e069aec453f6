/**
 * Scale-out scenarios (issue 15), run on the nodes a groups-cluster.mjs
 * session started. They reuse the phases of scenarios.mjs; what they add is
 * where the clients stand (each room served by one node) and figures that
 * compare nodes or placements with one another.
 */
import { roomsScenario, round, runPhase, setupMembers, untilIdle } from "./scenarios.mjs";

/** Busy rooms' messages/s in the locality scenario, at --scale 1 (each message reaches the room's 10 members). */
const LOCALITY_RATE = 400;
/** Locality windows are this many times --window: node B's few milliseconds of CPU need a long window to be read. */
const LOCALITY_WINDOW_FACTOR = 2;

/**
 * Locality: `busyRooms` rooms of `roomSize`, every member on node A (0) and sending; node B (1) holds idle
 * clients in rooms of its own and no member of the busy rooms. With per-room delivery B has nothing to do for
 * those messages: its CPU, as a share of A's and per message sent, is what it pays for rooms it does not serve.
 */
export async function localityScenario(ctx, env) {
  const { opts } = ctx;
  const roomSize = opts.roomSize;
  const busyRooms = Math.max(1, Math.round(20 * opts.scale));
  const idleRooms = Math.max(1, Math.round(10 * opts.scale));
  const members = [];
  for (let i = 0; i < busyRooms * roomSize; i++) {
    const room = Math.floor(i / roomSize);
    // A room's clients share a load generator, so every delivery's latency is measured.
    members.push({
      node: 0,
      room: `busy-${room}`,
      sender: true,
      userId: `busy-${i}`,
      loader: room % env.loaders.spread,
    });
  }
  for (let i = 0; i < idleRooms * roomSize; i++) {
    members.push({ node: 1, room: `idle-${Math.floor(i / roomSize)}`, sender: false, userId: `idle-${i}` });
  }
  const setup = await setupMembers(env, members);
  await untilIdle(env, 5000);
  // What B costs with nobody sending (heartbeats, its idle clients): the part of its CPU that is not the messages'.
  const idle = await runPhase(env, setup, 0, opts.windowMs, opts);
  const idleBMsPerSec = idle.totals.nodeCpuMs[1] / (idle.totals.spanMs / 1000);
  const rate = LOCALITY_RATE * opts.scale;
  const windowMs = opts.windowMs * LOCALITY_WINDOW_FACTOR;
  await runPhase(env, setup, rate, opts.warmupMs, opts);
  await untilIdle(env, 2000);
  const result = await runPhase(env, setup, rate, windowMs, opts);
  const [cpuA, cpuB] = result.totals.nodeCpuMs;
  const sent = result.totals.sent;
  const cpuBLessIdle = Math.max(0, cpuB - idleBMsPerSec * (result.totals.spanMs / 1000));
  return [
    {
      scenario: "locality",
      params: { nodes: 2, busyRooms, roomSize, idleClientsOnB: idleRooms * roomSize, rate, windowMs },
      ...result,
      metrics: {
        ...result.metrics,
        nodeBCpuSharePct: cpuA > 0 ? round((cpuB / cpuA) * 100, 2) : null,
        nodeBCpuUsPerMessage: sent ? round((cpuB * 1000) / sent, 2) : null,
        nodeBIdleCpuMsPerSec: round(idleBMsPerSec, 2),
        nodeBCpuSharePctLessIdle: cpuA > 0 ? round((cpuBLessIdle / cpuA) * 100, 2) : null,
        nodeBCpuUsPerMessageLessIdle: sent ? round((cpuBLessIdle * 1000) / sent, 2) : null,
        nodeACpuUsPerMessage: sent ? round((cpuA * 1000) / sent, 1) : null,
        nodeBCpuCores: round(cpuB / result.totals.spanMs, 3),
        setupErrors: setup.setupErrors,
        setupMs: setup.setupMs,
      },
      ...(setup.setupErrors ? { setupErrorSamples: setup.errors } : {}),
    },
  ];
}

/**
 * Four nodes, every room's members on one node. First every room on node 0 (the other three idle beside it: the
 * one-node figure on the same Redis, measured in the same session), then the rooms spread evenly over the four.
 * The second's total CPU per delivery (all four nodes) over the first's is the cost of scaling out, as the issue
 * states it. But a node's CPU per delivery grows as its load falls (fewer messages share each wake-up), and
 * spread, each node carries a quarter: so the rooms all on node 0 again at a quarter of the rate
 * (four-rooms-one-quarter) give node 0's CPU per delivery at the load each node carries when spread.
 */
export async function fourNodesScenario(ctx, env) {
  const nodes = env.nodes.length;
  const rooms = async (roomNode, scenario, c = ctx) => {
    const [result] = await roomsScenario(c, env, "", { roomNode, scenario });
    await env.loaders.all(() => ({ cmd: "disconnect" }));
    await untilIdle(env, 5000);
    return result;
  };
  const one = await rooms(() => 0, "four-rooms-one");
  const quarterCtx = { ...ctx, opts: { ...ctx.opts, roomsRate: ctx.opts.roomsRate / nodes } };
  const quarter = await rooms(() => 0, "four-rooms-one-quarter", quarterCtx);
  const spread = await rooms((room) => room % nodes, "four-rooms");
  const ratio = (key) =>
    one.metrics[key] && spread.metrics[key] !== null ? round(spread.metrics[key] / one.metrics[key], 3) : null;
  // Node 0 alone: the three idle nodes' own CPU (timers, heartbeats) would weigh four times as much at this rate.
  const q = quarter.totals;
  const node0UsPerDelivery = q.delivered ? (q.nodeCpuMs[0] * 1000) / q.delivered : null;
  // Each node's share of the spread phase's CPU: even placement should give each about a quarter.
  const total = spread.totals.nodeCpuMs.reduce((a, b) => a + b, 0);
  const shares = spread.totals.nodeCpuMs.map((ms) => (total ? round(ms / total, 3) : null));
  return [
    one,
    { ...quarter, metrics: { ...quarter.metrics, node0CpuUsPerDelivery: round(node0UsPerDelivery, 1) } },
    {
      ...spread,
      params: { ...spread.params, nodeCpuShares: shares },
      metrics: {
        ...spread.metrics,
        cpuVsOneNode: ratio("cpuUsPerDelivery"),
        cpuVsOneNodeSameLoad:
          node0UsPerDelivery && spread.metrics.cpuUsPerDelivery !== null
            ? round(spread.metrics.cpuUsPerDelivery / node0UsPerDelivery, 3)
            : null,
        redisCpuVsOneNode: ratio("redisCpuUsPerDelivery"),
      },
    },
  ];
}
