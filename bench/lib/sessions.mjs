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
import * as clusterGroups from "./groups-cluster.mjs";
import * as postgresGroups from "./groups-postgres.mjs";

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
  ...postgresGroups.GROUPS,
  ...clusterGroups.GROUPS,
};

/**
 * Sessions by name: how many nodes, and what they stand on. `backing(target, ctx)` starts what the nodes need
 * (a Redis, a database…) and returns `{ nodeOptions, stop(), …anything the scenarios read as env.backing }`;
 * `nodeOptions` go to startNodes (redisUrl, env, bareArgs).
 */
export const SESSIONS = {
  connect: { nodes: 1 },
  single: { nodes: 1 },
  redis: {
    nodes: 2,
    async backing() {
      const redis = await startRedis();
      return { redis, nodeOptions: { redisUrl: redis.url }, stop: () => redis.stop() };
    },
  },
  ...postgresGroups.SESSIONS,
  ...clusterGroups.SESSIONS,
};

/** The sessions needed for `groups`, in order, each with its groups. */
export function plan(groups) {
  const sessions = [];
  for (const [name, { nodes }] of Object.entries(SESSIONS)) {
    const inSession = groups.filter((g) => GROUPS[g].session === name);
    if (inSession.length) sessions.push({ name, nodes, groups: inSession });
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
  let backing;
  try {
    backing = await SESSIONS[session.name].backing?.(target, ctx);
  } catch (error) {
    // What the nodes stand on could not start (a Redis Cluster that does not form, PostgreSQL missing): reported.
    const skipped = `cannot start the ${session.name} session's backing: ${error?.message ?? error}`;
    return groups.flatMap((g) => GROUPS[g].scenarios.map((scenario) => ({ scenario, skipped })));
  }
  let nodes = [];
  try {
    try {
      const t0 = Date.now();
      nodes = await startNodes(target, session.nodes, { ...ctx, ...backing?.nodeOptions });
      process.stderr.write(`bench:   started in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      // A node that cannot start (Huddle without working Redis stores, a broken build) is reported, not fatal.
      if (!(error instanceof StartError)) throw error;
      const skipped = `cannot start (${session.name}): ${error.message}`;
      return groups.flatMap((g) => GROUPS[g].scenarios.map((scenario) => ({ scenario, skipped })));
    }
    const results = [];
    for (const [i, group] of groups.entries()) {
      const t0 = Date.now();
      if (i > 0) await loaders.all(() => ({ cmd: "disconnect" }));
      results.push(...(await GROUPS[group].run(ctx, { nodes, loaders, redis: backing?.redis, backing })));
      process.stderr.write(`bench:   ${group} ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    return results;
  } finally {
    await stopNodes(nodes);
    await loaders.all(() => ({ cmd: "disconnect" })).catch(() => {});
    await backing?.stop();
  }
}
