/**
 * The scenarios, each run against servers that bench/lib/sessions.mjs started
 * (`env`: nodes, load generators, redis-server for two nodes). A scenario
 * leaves its clients connected: the session disconnects them before the next
 * one, or stops the servers first, which is quicker for 10,000 connections.
 *
 * CPU is read from /proc for the server processes only, between the moment a
 * measured phase starts and the moment its last delivery has arrived, so it
 * covers exactly the work for the deliveries counted.
 */
import { performance } from "node:perf_hooks";
import { cpuMs, preciseCpuMs, rssKiB, totalCpuMs, totalCpuSplitMs, totalSyscalls } from "./procfs.mjs";
import { commandsBetween, redisCommandCounts } from "./redis-info.mjs";
import { Histogram } from "./stats.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wall = () => performance.timeOrigin + performance.now();
/** Source addresses for the clients: 127.0.0.2–127.0.0.9, so no one address runs out of ports. */
const sourceAddress = (i) => `127.0.0.${2 + (i % 8)}`;
/**
 * Waits until the servers are idle (≤ 5% of a core over 200 ms: a join storm's
 * presence broadcasts or a backlog are over), at most `maxMs`.
 */
export async function untilIdle(env, maxMs) {
  const pids = env.nodes.map((n) => n.pid);
  const deadline = Date.now() + maxMs;
  let last = totalCpuMs(pids);
  while (Date.now() < deadline) {
    await sleep(200);
    const now = totalCpuMs(pids);
    if (now - last <= 10) return;
    last = now;
  }
}
/** A redis-server ({ pid, port }) or a Redis Cluster's six ({ pids, ports }): CPU and commands are summed. */
const redisPids = (redis) => redis.pids ?? [redis.pid];
const redisPorts = (redis) => redis.ports ?? [redis.port];
/** Redis CPU to the nanosecond: a Redis Cluster's six share a few ms per window, below /proc/<pid>/stat's 10 ms ticks. */
const preciseTotalCpuMs = (pids) => pids.reduce((sum, pid) => sum + (preciseCpuMs(pid) ?? 0), 0);
export const round = (x, digits = 2) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

/** Opens `connections` idle connections: connects/s, connect latency, RSS per connection. */
export async function connectScenario(ctx, env) {
  const { opts } = ctx;
  const { loaders } = env;
  const server = env.nodes[0];
  const n = loaders.spread;
  const specs = (prefix, count) => {
    const perLoader = Array.from({ length: loaders.count }, () => []);
    for (let i = 0; i < count; i++) {
      perLoader[i % n].push({ url: server.url, userId: `${prefix}-${i}`, localAddress: sourceAddress(i) });
    }
    return perLoader;
  };
  const connect = (perLoader, concurrency) =>
    loaders.all((i) => ({
      cmd: "connect",
      specs: perLoader[i],
      concurrency: Math.ceil(concurrency / n),
      timeoutMs: 30_000,
    }));
  // Warm up the code paths, then measure memory from an idle server.
  await connect(specs("warm", Math.min(200, opts.connections)), 50);
  await loaders.all(() => ({ cmd: "disconnect" }));
  await sleep(opts.settleMs);
  const rssBefore = rssKiB(server.pid);
  const cpu0 = cpuMs(server.pid);
  const loaders0 = totalCpuMs(loaders.pids);
  const t0 = wall();
  const mono0 = process.hrtime.bigint();
  const results = await connect(specs("user", opts.connections), opts.connectConcurrency);
  const elapsedMs = wall() - t0;
  const mono1 = process.hrtime.bigint();
  const cpu1 = cpuMs(server.pid);
  const loaderCpu = totalCpuMs(loaders.pids) - loaders0;
  await sleep(opts.settleMs);
  const rssAfter = rssKiB(server.pid);

  const connected = results.reduce((a, r) => a + r.connected, 0);
  const errors = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const latency = results.reduce((h, r) => h.merge(new Histogram(r.latency)), new Histogram());
  const spanMs = Math.max(...results.map((r) => r.endWall)) - Math.min(...results.map((r) => r.startWall));
  return [
    {
      scenario: "connect",
      params: { connections: opts.connections, concurrency: opts.connectConcurrency, sourceAddresses: 8 },
      metrics: {
        connected,
        errors: opts.connections - connected,
        connectsPerSec: round((connected * 1000) / spanMs, 0),
        connectP50Ms: round(latency.quantileMs(0.5)),
        connectP99Ms: round(latency.quantileMs(0.99)),
        rssBeforeMiB: round(rssBefore / 1024, 1),
        rssAfterMiB: round(rssAfter / 1024, 1),
        rssPerConnKiB: connected ? round((rssAfter - rssBefore) / connected) : null,
        cpuUsPerConnect: connected ? round(((cpu1 - cpu0) * 1000) / connected, 1) : null,
        serverCpuCores: round((cpu1 - cpu0) / elapsedMs, 2),
        loaderCpuCores: round(loaderCpu / elapsedMs, 2),
      },
      errorSamples: errors,
      window: { monoStartUs: Number(mono0 / 1000n), monoEndUs: Number(mono1 / 1000n), serverPids: [server.pid] },
    },
  ];
}

/**
 * Connects and joins `members` (each `{ node, room, sender, userId }`), spread
 * round-robin over the load generators unless `loader` is given.
 */
export async function setupMembers(env, members, timeoutMs = 30_000) {
  const { loaders, nodes } = env;
  const perLoader = Array.from({ length: loaders.count }, () => []);
  members.forEach((m, i) => {
    perLoader[m.loader ?? i % loaders.spread].push({
      url: nodes[m.node].url,
      userId: m.userId,
      room: m.room,
      sender: m.sender,
      reader: m.reader,
      changes: m.changes,
      localAddress: sourceAddress(i),
    });
  });
  const t0 = wall();
  const results = await loaders.all((i) => ({ cmd: "setup", members: perLoader[i], concurrency: 100, timeoutMs }));
  const setupMs = Math.round(wall() - t0);
  const joined = results.reduce((a, r) => a + r.joined, 0);
  const errors = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  // Senders per loader: each loader sends its share of the rate.
  const senders = perLoader.map((specs) => specs.filter((s) => s.sender).length);
  return { joined, errors, setupErrors: members.length - joined, setupMs, senders };
}

let phaseCounter = 0;

const sumOf = (list, key) => list.reduce((a, x) => a + (x[key] ?? 0), 0);
const mergeHistograms = (list, key) => list.reduce((h, x) => h.merge(new Histogram(x[key])), new Histogram());
const per = (value, count, digits = 3) => (count ? round(value / count, digits) : null);

/**
 * One sending phase at `rate` operations/s for `durationMs`, measured from the first send to the last delivery
 * (and, with readers, the last `room:read` ack). With `mix` ({ reaction, edit }) that share of the operations are
 * changes, each of which every client of the room must receive once as `message:updated`. With `outstanding`,
 * a closed loop instead: each sender keeps that many sends in flight for `durationMs` (`rate` is ignored).
 * A session's backing may measure over the same window: `await env.backing.phaseStart({ phaseId, nodes })` first,
 * `await env.backing.phaseEnd(state, counts)` before the servers' CPU is read (it may wait for work that
 * follows the deliveries, e.g. webhooks), its metrics added to the phase's.
 */
export async function runPhase(env, setup, rate, durationMs, opts, { mix, readSpreadMs, outstanding } = {}) {
  const { loaders, nodes, redis } = env;
  const phaseId = ++phaseCounter;
  const totalSenders = setup.senders.reduce((a, b) => a + b, 0);
  await loaders.all(() => ({ cmd: "phase-prepare", phaseId, readSpreadMs }));
  const commands0 = redis ? await redisCommandCounts(redisPorts(redis)) : null;
  const serverPids = nodes.map((n) => n.pid);
  const cpu0 = totalCpuMs(serverPids);
  // Per node too, to the nanosecond (schedstat): the locality scenario compares a nearly idle node with a busy one.
  const nodeCpu0 = serverPids.map((pid) => preciseCpuMs(pid) ?? 0);
  const sys0 = totalSyscalls(serverPids);
  const split0 = totalCpuSplitMs(serverPids);
  const redis0 = redis ? preciseTotalCpuMs(redisPids(redis)) : 0;
  const loaders0 = totalCpuMs(loaders.pids);
  const backing0 = await env.backing?.phaseStart?.({ phaseId, nodes });
  const t0 = wall();
  const mono0 = process.hrtime.bigint();
  const sends = await loaders.all((i) => ({
    cmd: "phase-send",
    rate: totalSenders ? (rate * setup.senders[i]) / totalSenders : 0,
    durationMs,
    mix,
    outstanding,
  }));
  const expectedByRoom = {};
  for (const s of sends)
    for (const [room, c] of Object.entries(s.sentByRoom)) expectedByRoom[room] = (expectedByRoom[room] ?? 0) + c;
  // An overloaded server drains its backlog slowly but steadily: only silence means loss.
  const capMs = durationMs * 3 + 60_000;
  // The changes acked, by room: every client of the room must receive each as message:updated.
  const expectedUpdates = {};
  if (mix) {
    const acks = await loaders.all(() => ({ cmd: "phase-acks", quietMs: opts.quietMs, capMs }));
    for (const a of acks)
      for (const [room, keys] of Object.entries(a.changeKeys)) (expectedUpdates[room] ??= []).push(...keys);
  }
  const waits = await loaders.all(() => ({
    cmd: "phase-wait",
    expectedByRoom,
    expectedUpdates,
    quietMs: opts.quietMs,
    capMs,
  }));
  const backingMetrics = env.backing?.phaseEnd
    ? await env.backing.phaseEnd(backing0, { acked: sumOf(waits, "acked"), sent: sumOf(waits, "sent"), opts })
    : {};
  const t1 = wall();
  const mono1 = process.hrtime.bigint();
  const cpu = totalCpuMs(serverPids) - cpu0;
  const nodeCpuMs = serverPids.map((pid, i) => (preciseCpuMs(pid) ?? 0) - nodeCpu0[i]);
  const sys1 = totalSyscalls(serverPids);
  const split1 = totalCpuSplitMs(serverPids);
  const redisCpu = redis ? preciseTotalCpuMs(redisPids(redis)) - redis0 : null;
  const loaderCpu = totalCpuMs(loaders.pids) - loaders0;
  const commands = redis ? commandsBetween(commands0, await redisCommandCounts(redisPorts(redis))) : null;

  const sum = (key) => sumOf(waits, key);
  const expected = sum("expected");
  const delivered = sum("unique");
  const sendStart = Math.min(...sends.map((s) => s.startWall));
  const lastRecv = Math.max(...waits.map((w) => w.lastRecv ?? 0));
  const spanMs = Math.max(durationMs, lastRecv - sendStart);
  const latency = mergeHistograms(waits, "latency");
  const ack = mergeHistograms(waits, "ack");
  const ackErrors = {};
  for (const w of waits) for (const [k, v] of Object.entries(w.ackErrors)) ackErrors[k] = (ackErrors[k] ?? 0) + v;
  const sendErrors = Object.values(ackErrors).reduce((a, b) => a + b, 0) + sum("unacked");
  for (const w of waits) for (const [k, v] of Object.entries(w.otherErrors)) ackErrors[k] = (ackErrors[k] ?? 0) + v;
  // message:updated deliveries count as deliveries: the CPU is for both kinds.
  const updatesDelivered = sum("updatesExpected") - sum("updatesLost");
  const deliveries = delivered + updatesDelivered;
  const readsAcked = sum("readsAcked");
  const changes = mix && {
    changesSent: sum("changesSent"),
    changeErrors: sum("changeErrors") + sum("changesUnanswered"),
    changeNoops: sum("changeNoops"),
    changeFallbacks: sum("changeFallbacks"),
    updatesExpected: sum("updatesExpected"),
    updatesDelivered,
    updatesLost: sum("updatesLost"),
    updateDuplicates: sum("updateDuplicates"),
    updatesUnexpected: sum("updatesUnexpected"),
    reactionAckP50Ms: round(mergeHistograms(waits, "reactionAck").quantileMs(0.5)),
    reactionAckP99Ms: round(mergeHistograms(waits, "reactionAck").quantileMs(0.99)),
    editAckP50Ms: round(mergeHistograms(waits, "editAck").quantileMs(0.5)),
    editAckP99Ms: round(mergeHistograms(waits, "editAck").quantileMs(0.99)),
  };
  const reads = sum("readsExpected") > 0 && {
    readsExpected: sum("readsExpected"),
    readsAcked,
    readErrors: sum("readErrors") + sum("readsUnanswered"),
    offeredReadsPerSec: round((sum("readsExpected") * 1000) / durationMs, 0),
    readsPerSec: round((readsAcked * 1000) / spanMs, 0),
    readAckP50Ms: round(mergeHistograms(waits, "readAck").quantileMs(0.5)),
    readAckP99Ms: round(mergeHistograms(waits, "readAck").quantileMs(0.99)),
    // The probe generator's few members: their acks are timed by an event loop with little else to do.
    ...(waits[loaders.probe]?.readsAcked > 0 && {
      probeReads: waits[loaders.probe].readsAcked,
      probeReadAckP50Ms: round(new Histogram(waits[loaders.probe].readAck).quantileMs(0.5)),
      probeReadAckP90Ms: round(new Histogram(waits[loaders.probe].readAck).quantileMs(0.9)),
      probeReadAckP99Ms: round(new Histogram(waits[loaders.probe].readAck).quantileMs(0.99)),
    }),
    cpuUsPerRead: per(cpu * 1000, readsAcked),
    ...(redis && { redisCpuUsPerRead: per(redisCpu * 1000, readsAcked) }),
    readUpdatedPerRead: per(sum("readUpdated"), readsAcked),
    ...(commands && {
      redisCommandsPerRead: per(commands.total, readsAcked),
      redisScriptsPerRead: per(commands.scripts, readsAcked),
    }),
  };
  return {
    metrics: {
      messagesSent: sum("sent"),
      // A closed loop's rate: acks that came back within the window, per second of it.
      ...(outstanding && { ackedPerSec: round((sumOf(sends, "ackedInWindow") * 1000) / durationMs, 0) }),
      offeredDeliveriesPerSec: round((expected * 1000) / durationMs, 0),
      deliveriesPerSec: round((delivered * 1000) / spanMs, 0),
      expected,
      delivered,
      lost: expected - delivered,
      duplicates: sum("duplicates"),
      wrongRoom: sum("wrongRoom"),
      latencyP50Ms: round(latency.quantileMs(0.5)),
      latencyP95Ms: round(latency.quantileMs(0.95)),
      latencyP99Ms: round(latency.quantileMs(0.99)),
      ackP50Ms: round(ack.quantileMs(0.5)),
      ackP99Ms: round(ack.quantileMs(0.99)),
      sendErrors,
      ...changes,
      ...reads,
      cpuUsPerDelivery: per(cpu * 1000, deliveries),
      serverCpuCores: round(cpu / (t1 - t0), 2),
      userCpuUsPerDelivery: per((split1.user - split0.user) * 1000, deliveries),
      systemCpuUsPerDelivery: per((split1.system - split0.system) * 1000, deliveries),
      writeSyscallsPerDelivery: per(sys1.writes - sys0.writes, deliveries),
      readSyscallsPerDelivery: per(sys1.reads - sys0.reads, deliveries),
      loaderCpuCores: round(loaderCpu / (t1 - t0), 2),
      ...(redis ? { redisCpuUsPerDelivery: per(redisCpu * 1000, deliveries) } : {}),
      ...(commands ? { redisCommandsPerDelivery: per(commands.total, deliveries) } : {}),
      ...backingMetrics,
    },
    // Raw figures the scenarios combine (CPU per kind of delivery).
    totals: { serverCpuMs: cpu, nodeCpuMs, delivered, updatesDelivered, readsAcked, sent: sum("sent"), spanMs },
    ...(commands ? { redisCommands: commands } : {}),
    errorSamples: Object.keys(ackErrors).length ? ackErrors : undefined,
    // CLOCK_MONOTONIC µs, the clock of V8 CPU profiles: profile-summary.mjs can keep only this window's samples.
    window: { monoStartUs: Number(mono0 / 1000n), monoEndUs: Number(mono1 / 1000n), serverPids },
  };
}

/** One room, `fanoutMembers` clients of which `fanoutSenders` send: the heavy rate, then the light one. */
export async function fanoutScenarios(ctx, env, prefix) {
  const { opts } = ctx;
  const twoNodes = env.nodes.length > 1;
  const members = [];
  let onSecond = 0;
  for (let i = 0; i < opts.fanoutMembers; i++) {
    const sender = i < opts.fanoutSenders;
    // Two nodes: senders on the first, the receivers split evenly over both.
    const node = twoNodes && !sender && onSecond < opts.fanoutMembers / 2 ? 1 : 0;
    if (node === 1) onSecond++;
    members.push({ node, room: "fanout", sender, userId: `fan-${i}` });
  }
  const setup = await setupMembers(env, members);
  await untilIdle(env, 5000);
  const params = { nodes: env.nodes.length, members: opts.fanoutMembers, senders: opts.fanoutSenders };
  // Warm-up at the light rate: enough calls for the JIT, without a backlog to drain on a busy machine.
  await runPhase(env, setup, opts.lightRate, opts.warmupMs, opts);
  await untilIdle(env, 2000);
  const heavy = await runPhase(env, setup, opts.fanoutRate, opts.windowMs, opts);
  await untilIdle(env, 2000);
  const light = await runPhase(env, setup, opts.lightRate, opts.windowMs, opts);
  const withSetup = (result) => ({
    ...result,
    metrics: { ...result.metrics, setupErrors: setup.setupErrors, setupMs: setup.setupMs },
  });
  return [
    { scenario: `${prefix}fanout`, params: { ...params, rate: opts.fanoutRate }, ...withSetup(heavy) },
    { scenario: `${prefix}fanout-light`, params: { ...params, rate: opts.lightRate }, ...withSetup(light) },
  ].map((r) => (setup.setupErrors ? { ...r, setupErrorSamples: setup.errors } : r));
}

/**
 * `roomClients` clients in rooms of `roomSize`, every send acked. `roomNode(room)`: every member of that room on
 * that node, every one a sender (rooms served by one node each, as scale-out wants them); `scenario` names the result.
 */
export async function roomsScenario(ctx, env, prefix, { roomNode, scenario = `${prefix}rooms` } = {}) {
  const { opts } = ctx;
  const members = roomMembers(opts, env, false, roomNode);
  const setup = await setupMembers(env, members);
  await untilIdle(env, 5000);
  await runPhase(env, setup, opts.roomsRate, opts.warmupMs, opts);
  await untilIdle(env, 2000);
  const result = await runPhase(env, setup, opts.roomsRate, opts.windowMs, opts);
  return [
    {
      scenario,
      params: {
        nodes: env.nodes.length,
        clients: opts.roomClients,
        rooms: Math.ceil(opts.roomClients / opts.roomSize),
        rate: opts.roomsRate,
      },
      ...result,
      metrics: { ...result.metrics, setupErrors: setup.setupErrors, setupMs: setup.setupMs },
      ...(setup.setupErrors ? { setupErrorSamples: setup.errors } : {}),
    },
  ];
}

/** Clients in rooms of `roomSize` as in the chat-rooms scenario; `changes`: they also react and edit (§8). */
function roomMembers(opts, env, changes, roomNode) {
  const twoNodes = env.nodes.length > 1 && !roomNode;
  const members = [];
  for (let i = 0; i < opts.roomClients; i++) {
    const room = Math.floor(i / opts.roomSize);
    // Two nodes: in every room half the clients send from the first node, half receive on the second.
    const firstHalf = i % opts.roomSize < opts.roomSize / 2;
    members.push({
      node: roomNode ? roomNode(room) : twoNodes && !firstHalf ? 1 : 0,
      room: `${changes ? "changes" : "room"}-${room}`,
      sender: twoNodes ? firstHalf : true,
      userId: `${changes ? "changer" : "chat"}-${i}`,
      // A room's clients share a load generator, so every delivery's latency is measured.
      loader: room % env.loaders.spread,
      changes,
    });
  }
  return members;
}

/**
 * The chat rooms with changes (§8): the same clients and rate, `changeShare` of the operations split evenly
 * between reaction toggles on the room's recent messages and edits of the sender's own recent messages, the
 * rest sends. Then half a window of changes only, at the same rate, for the CPU of a `message:updated` delivery; the
 * mixed phase's CPU less its updates at that cost gives the CPU of a `message:new` delivery beside changes.
 */
export async function changesScenario(ctx, env, prefix) {
  const { opts } = ctx;
  const setup = await setupMembers(env, roomMembers(opts, env, true));
  await untilIdle(env, 5000);
  const mix = { reaction: opts.changeShare / 2, edit: opts.changeShare / 2 };
  // The warm-up also gives every room recent messages to change, and most senders one of their own.
  await runPhase(env, setup, opts.roomsRate, opts.warmupMs, opts, { mix });
  await untilIdle(env, 2000);
  const mixed = await runPhase(env, setup, opts.roomsRate, opts.windowMs, opts, { mix });
  await untilIdle(env, 2000);
  // Half a window: at the same rate it holds ten times the changes of the mixed phase, enough for its CPU.
  const only = await runPhase(env, setup, opts.roomsRate, opts.windowMs / 2, opts, {
    mix: { reaction: 0.5, edit: 0.5 },
  });
  const perUpdateUs = only.totals.updatesDelivered
    ? (only.totals.serverCpuMs * 1000) / only.totals.updatesDelivered
    : null;
  const m = mixed.totals;
  const perNewUs =
    perUpdateUs !== null && m.delivered
      ? (m.serverCpuMs * 1000 - m.updatesDelivered * perUpdateUs) / m.delivered
      : null;
  const params = {
    nodes: env.nodes.length,
    clients: opts.roomClients,
    rooms: Math.ceil(opts.roomClients / opts.roomSize),
    rate: opts.roomsRate,
  };
  const withSetup = (result) => ({
    ...result,
    metrics: { ...result.metrics, setupErrors: setup.setupErrors, setupMs: setup.setupMs },
    ...(setup.setupErrors ? { setupErrorSamples: setup.errors } : {}),
  });
  const withPerKind = (result) => ({
    ...result,
    metrics: {
      ...result.metrics,
      cpuUsPerUpdateDelivery: round(perUpdateUs, 3),
      cpuUsPerNewDelivery: round(perNewUs, 3),
    },
  });
  return [
    {
      scenario: `${prefix}changes`,
      params: { ...params, changeShare: opts.changeShare },
      ...withPerKind(withSetup(mixed)),
    },
    { scenario: `${prefix}changes-only`, params: { ...params, changeShare: 1 }, ...withSetup(only) },
  ];
}

/**
 * Read state (§9) in one room of `readsMembers`: one member sends messages at each rate of `readsRates` in turn
 * and every member answers each message with a public `room:read` of it, so reads/s = members × rate; spread,
 * each member reads at a random moment before the next message. `readsProbes` of the members are held by the
 * probe generator, whose event loop is not busy with the other members' deliveries: their acks give the
 * server's read latency. Two nodes: the members split evenly, the sender on the first.
 */
export async function readsScenario(ctx, env, prefix) {
  const { opts } = ctx;
  const twoNodes = env.nodes.length > 1;
  const members = [];
  for (let i = 0; i < opts.readsMembers; i++) {
    members.push({
      node: twoNodes ? i % 2 : 0,
      room: "reads",
      sender: i === 0,
      reader: true,
      userId: `reader-${i}`,
      // Members 1..readsProbes live in the probe generator: the read ack latency the targets are checked on.
      ...(i >= 1 && i <= opts.readsProbes && { loader: env.loaders.probe }),
    });
  }
  const setup = await setupMembers(env, members, 120_000);
  // A join storm: every join tells the room (presence), so settling takes a while in a big room.
  await untilIdle(env, 30_000);
  const results = [];
  // Several rates (a ladder) share the one set-up: the first is the scenario, the others "reads-at-<rate>".
  for (const [i, rate] of opts.readsRates.entries()) {
    // Spread: each member reads a message at a random moment before the next is due, a steady stream of reads.
    const readSpreadMs = opts.readsSpread ? 1000 / rate : 0;
    await runPhase(env, setup, rate, opts.warmupMs, opts, { readSpreadMs });
    await untilIdle(env, 5000);
    const result = await runPhase(env, setup, rate, opts.windowMs, opts, { readSpreadMs });
    results.push({
      scenario: i === 0 ? `${prefix}reads` : `${prefix}reads-at-${rate}`,
      params: { nodes: env.nodes.length, members: opts.readsMembers, rate, readSpreadMs },
      ...result,
      metrics: { ...result.metrics, setupErrors: setup.setupErrors, setupMs: setup.setupMs },
      ...(setup.setupErrors ? { setupErrorSamples: setup.errors } : {}),
    });
    if (i + 1 < opts.readsRates.length) await untilIdle(env, 5000);
  }
  return results;
}

/**
 * `rooms:list` (§9) for a user in `listRooms` rooms, each with `listMessages` messages from another user:
 * `listCalls` calls one after another, each timed from emit to ack. Two nodes: the lister on the second, the
 * rooms written from the first. Huddle only: bare Socket.IO has no room list.
 */
export async function roomsListScenario(ctx, env, prefix) {
  const { opts } = ctx;
  const { loaders, nodes, redis } = env;
  const last = nodes[nodes.length - 1];
  const setup = await loaders.request(0, {
    cmd: "list-setup",
    lister: { url: last.url, userId: "lister", prefix: "list", localAddress: sourceAddress(0) },
    writer: { url: nodes[0].url, userId: "list-writer", localAddress: sourceAddress(1) },
    rooms: opts.listRooms,
    messages: opts.listMessages,
    timeoutMs: 30_000,
  });
  await untilIdle(env, 5000);
  await loaders.request(0, { cmd: "list-run", calls: Math.max(1, Math.round(opts.listCalls / 10)) });
  const serverPids = nodes.map((n) => n.pid);
  const commands0 = redis ? await redisCommandCounts(redisPorts(redis)) : null;
  const cpu0 = totalCpuMs(serverPids);
  const redis0 = redis ? totalCpuMs(redisPids(redis)) : 0;
  const mono0 = process.hrtime.bigint();
  const run = await loaders.request(0, { cmd: "list-run", calls: opts.listCalls });
  const mono1 = process.hrtime.bigint();
  const cpu = totalCpuMs(serverPids) - cpu0;
  const redisCpu = redis ? totalCpuMs(redisPids(redis)) - redis0 : null;
  const commands = redis ? commandsBetween(commands0, await redisCommandCounts(redisPorts(redis))) : null;
  const latency = new Histogram(run.latency);
  const errors = Object.values(run.errors).reduce((a, b) => a + b, 0);
  const calls = opts.listCalls - errors;
  const setupErrors = Object.values(setup.errors).reduce((a, b) => a + b, 0);
  return [
    {
      scenario: `${prefix}rooms-list`,
      params: { nodes: nodes.length, rooms: opts.listRooms, messagesPerRoom: opts.listMessages, calls: opts.listCalls },
      metrics: {
        callsPerSec: round((opts.listCalls * 1000) / (run.endWall - run.startWall), 0),
        listP50Ms: round(latency.quantileMs(0.5)),
        listP99Ms: round(latency.quantileMs(0.99)),
        listErrors: errors,
        fewestRooms: run.fewestRooms,
        cpuUsPerCall: per(cpu * 1000, calls, 1),
        ...(redis && {
          redisCpuUsPerCall: per(redisCpu * 1000, calls, 1),
          redisCommandsPerCall: per(commands.total, calls, 1),
          redisScriptsPerCall: per(commands.scripts, calls, 1),
        }),
        setupErrors,
        setupMs: setup.setupMs,
      },
      ...(commands ? { redisCommands: commands } : {}),
      errorSamples: errors || setupErrors ? { ...run.errors, ...setup.errors } : undefined,
      window: { monoStartUs: Number(mono0 / 1000n), monoEndUs: Number(mono1 / 1000n), serverPids },
    },
  ];
}
