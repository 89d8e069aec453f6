/**
 * The Huddle-only scenarios of the PostgreSQL groups (groups-postgres.mjs): the durable throughput (issue 13) and
 * webhooks on against off (issue 14). Both build on the chat-rooms machinery of scenarios.mjs.
 */
import { roomsScenario, runPhase, setupMembers, untilIdle } from "./scenarios.mjs";

const round = (x, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

/** Closed-loop levels: sends in flight per sender. */
export const DURABLE_IN_FLIGHT = [1, 4, 16];
/** Senders (each its own client), two to a room, all sending. */
const DURABLE_SENDERS = 200;

/**
 * The durable throughput (issue 13): `DURABLE_SENDERS` senders in rooms of two keep k sends each in flight, for
 * each k of `DURABLE_IN_FLIGHT`; acked messages/s within the window, ack latency, CPU per message.
 */
export async function durableScenario(ctx, env) {
  const { opts } = ctx;
  const senders = Math.max(2, Math.round(DURABLE_SENDERS * opts.scale));
  const members = Array.from({ length: senders }, (_, i) => ({
    node: 0,
    room: `durable-${Math.floor(i / 2)}`,
    sender: true,
    userId: `durable-${i}`,
    // A room's two members on one generator, as in the chat rooms.
    loader: Math.floor(i / 2) % env.loaders.spread,
  }));
  const setup = await setupMembers(env, members);
  await untilIdle(env, 5000);
  const levels = [];
  for (const k of DURABLE_IN_FLIGHT) {
    await runPhase(env, setup, 0, opts.warmupMs, opts, { outstanding: k });
    await untilIdle(env, 2000);
    const result = await runPhase(env, setup, 0, opts.windowMs, opts, { outstanding: k });
    await untilIdle(env, 2000);
    const m = result.metrics;
    levels.push({
      k,
      params: { nodes: 1, senders, rooms: Math.ceil(senders / 2), inFlightPerSender: k, inFlight: k * senders },
      ...result,
      metrics: {
        ...m,
        inFlight: k * senders,
        cpuUsPerMessage: m.messagesSent ? round((result.totals.serverCpuMs * 1000) / m.messagesSent, 1) : null,
        setupErrors: setup.setupErrors,
      },
    });
  }
  const best = levels.reduce((a, b) => ((b.metrics.ackedPerSec ?? 0) > (a.metrics.ackedPerSec ?? 0) ? b : a));
  const ladder = {};
  for (const { k, metrics } of levels) {
    ladder[`ackedPerSecK${k}`] = metrics.ackedPerSec;
    ladder[`ackP50MsK${k}`] = metrics.ackP50Ms;
    ladder[`ackP99MsK${k}`] = metrics.ackP99Ms;
  }
  const { k, ...result } = best;
  return [
    {
      ...result,
      scenario: "pg-durable",
      metrics: { ...result.metrics, ...ladder },
      levels: levels.map((l) => ({ k: l.k, params: l.params, metrics: l.metrics, window: l.window })),
    },
  ];
}

/**
 * Webhooks off, then on (on, then off, every other round: neither always comes first on a machine whose load
 * drifts): the chat rooms on each node alone; one result with the on figures, the off ones, and their ratios.
 */
let webhookRounds = 0;
export async function webhooksScenario(ctx, env) {
  const order = webhookRounds++ % 2 === 0 ? ["off", "on"] : ["on", "off"];
  const runs = {};
  for (const [i, which] of order.entries()) {
    if (i > 0) await env.loaders.all(() => ({ cmd: "disconnect" }));
    env.backing.expectWebhooks = which === "on";
    const node = env.nodes[which === "on" ? 1 : 0];
    [runs[which]] = await roomsScenario(ctx, { ...env, nodes: [node] }, `pg-webhooks-${which}-`);
  }
  const on = runs.on.metrics;
  const off = runs.off.metrics;
  const ratio = (key) => (on[key] && off[key] ? round(on[key] / off[key], 3) : null);
  return [
    {
      ...runs.on,
      scenario: "pg-webhooks",
      metrics: {
        ...on,
        offAckP50Ms: off.ackP50Ms,
        offAckP99Ms: off.ackP99Ms,
        offCpuUsPerDelivery: off.cpuUsPerDelivery,
        offPgCpuUsPerMessage: off.pgCpuUsPerMessage,
        offPgXactsPerMessage: off.pgXactsPerMessage,
        offPgWalBytesPerMessage: off.pgWalBytesPerMessage,
        ackP50Ratio: ratio("ackP50Ms"),
        ackP99Ratio: ratio("ackP99Ms"),
        cpuPerDeliveryRatio: ratio("cpuUsPerDelivery"),
      },
      off: { params: runs.off.params, metrics: off, window: runs.off.window },
    },
  ];
}
