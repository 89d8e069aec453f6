/**
 * Sessions: the servers one A/B run starts and the scenarios run on them in
 * turn. The connect scenario gets a fresh node of its own (it measures memory
 * from idle); the other one-node scenarios share one node; the two-node
 * scenarios share a cluster and a private redis-server. Everything a session
 * starts, it stops. A group with `targets` runs only against those (bare
 * Socket.IO has no room list).
 */
import { startRedis, StartError } from "./processes.mjs";
import {
  changesScenario,
  connectScenario,
  fanoutScenarios,
  readsScenario,
  roomsListScenario,
  roomsScenario,
} from "./scenarios.mjs";
import { startNodes, stopNodes } from "./servers.mjs";

/** Groups selectable with --only, the scenarios each reports, and how each runs. */
export const GROUPS = {
  connect: { session: "connect", scenarios: ["connect"], run: (ctx, env) => connectScenario(ctx, env) },
  fanout: {
    session: "single",
    scenarios: ["fanout", "fanout-light"],
    run: (ctx, env) => fanoutScenarios(ctx, env, ""),
  },
  rooms: { session: "single", scenarios: ["rooms"], run: (ctx, env) => roomsScenario(ctx, env, "") },
  changes: {
    session: "single",
    scenarios: ["changes", "changes-only"],
    run: (ctx, env) => changesScenario(ctx, env, ""),
  },
  "rooms-list": {
    session: "single",
    scenarios: ["rooms-list"],
    targets: ["huddle"],
    run: (ctx, env) => roomsListScenario(ctx, env, ""),
  },
  // Last of its session: its big room is not left member by member (the nodes are stopped instead).
  reads: { session: "single", scenarios: ["reads"], run: (ctx, env) => readsScenario(ctx, env, "") },
  "redis-fanout": {
    session: "redis",
    scenarios: ["redis-fanout", "redis-fanout-light"],
    run: (ctx, env) => fanoutScenarios(ctx, env, "redis-"),
  },
  "redis-rooms": {
    session: "redis",
    scenarios: ["redis-rooms"],
    run: (ctx, env) => roomsScenario(ctx, env, "redis-"),
  },
  "redis-changes": {
    session: "redis",
    scenarios: ["redis-changes", "redis-changes-only"],
    run: (ctx, env) => changesScenario(ctx, env, "redis-"),
  },
  "redis-rooms-list": {
    session: "redis",
    scenarios: ["redis-rooms-list"],
    targets: ["huddle"],
    run: (ctx, env) => roomsListScenario(ctx, env, "redis-"),
  },
  "redis-reads": {
    session: "redis",
    scenarios: ["redis-reads"],
    run: (ctx, env) => readsScenario(ctx, env, "redis-"),
  },
};
const SESSION_NODES = { connect: 1, single: 1, redis: 2 };

/** The sessions needed for `groups`, in order, each with its groups. */
export function plan(groups) {
  const sessions = [];
  for (const name of Object.keys(SESSION_NODES)) {
    const inSession = groups.filter((g) => GROUPS[g].session === name);
    if (inSession.length) sessions.push({ name, nodes: SESSION_NODES[name], groups: inSession });
  }
  return sessions;
}

/**
 * Runs one session against `target`; returns its results. A node that cannot
 * start makes the session's scenarios "skipped" rather than failing the
 * whole bench.
 */
export async function runSession(ctx, loaders, target, session) {
  const groups = session.groups.filter((g) => !GROUPS[g].targets || GROUPS[g].targets.includes(target));
  if (groups.length === 0) return [];
  const redis = session.nodes > 1 ? await startRedis() : undefined;
  let nodes = [];
  try {
    try {
      const t0 = Date.now();
      nodes = await startNodes(target, session.nodes, { ...ctx, redisUrl: redis?.url });
      process.stderr.write(`bench:   started in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      // A node that cannot start (Huddle without working Redis stores, a broken build) is reported, not fatal.
      if (!(error instanceof StartError)) throw error;
      const skipped = `cannot start${redis ? " with REDIS_URL" : ""}: ${error.message}`;
      return groups.flatMap((g) => GROUPS[g].scenarios.map((scenario) => ({ scenario, skipped })));
    }
    const results = [];
    for (const [i, group] of groups.entries()) {
      const t0 = Date.now();
      if (i > 0) await loaders.all(() => ({ cmd: "disconnect" }));
      results.push(...(await GROUPS[group].run(ctx, { nodes, loaders, redis })));
      process.stderr.write(`bench:   ${group} ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    return results;
  } finally {
    await stopNodes(nodes);
    await loaders.all(() => ({ cmd: "disconnect" })).catch(() => {});
    await redis?.stop();
  }
}
