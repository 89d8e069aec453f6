/**
 * From the runs to the verdict: medians per scenario, metric and target
 * (worst value instead of the median for counts that must be zero), the
 * Huddle/bare ratio, the issue's targets, and the Markdown table.
 */
import { max, median } from "./stats.mjs";
import { CHAT_ROOMS_CORE } from "./metric-lists.mjs";
import * as clusterGroups from "./groups-cluster.mjs";
import * as postgresGroups from "./groups-postgres.mjs";

/**
 * Metrics shown per scenario, in order, with their unit and a flag: "zero" for counts that must be zero,
 * "huddle" for figures bare Socket.IO has no counterpart of.
 */
const SHOWN = {
  connect: [
    ["connectsPerSec", "connects/s"],
    ["connectP50Ms", "connect p50 (ms)"],
    ["connectP99Ms", "connect p99 (ms)"],
    ["errors", "connection errors", "zero"],
    ["rssPerConnKiB", "RSS per idle connection (KiB)"],
    ["cpuUsPerConnect", "server CPU per connect (µs)"],
  ],
  fanout: [
    ["offeredDeliveriesPerSec", "deliveries/s offered"],
    ["deliveriesPerSec", "deliveries/s achieved"],
    ["lost", "lost", "zero"],
    ["duplicates", "duplicates", "zero"],
    ["latencyP50Ms", "latency p50 (ms)"],
    ["latencyP95Ms", "latency p95 (ms)"],
    ["latencyP99Ms", "latency p99 (ms)"],
    ["sendErrors", "send errors", "zero"],
    ["cpuUsPerDelivery", "server CPU per delivery (µs)"],
    ["serverCpuCores", "server CPU (cores)"],
    ["writeSyscallsPerDelivery", "server write syscalls per delivery"],
    ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
  ],
  rooms: [
    ...CHAT_ROOMS_CORE,
    ["writeSyscallsPerDelivery", "server write syscalls per delivery"],
    ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
  ],
  changes: [
    ["deliveriesPerSec", "message:new deliveries/s"],
    ["lost", "message:new lost", "zero"],
    ["duplicates", "message:new duplicates", "zero"],
    ["updatesDelivered", "message:updated deliveries"],
    ["updatesLost", "message:updated lost", "zero"],
    ["updateDuplicates", "message:updated duplicates", "zero"],
    ["updatesUnexpected", "message:updated not acked to anyone", "zero"],
    ["changeNoops", "changes acked without changing", "zero"],
    ["ackP50Ms", "send ack p50 (ms)"],
    ["ackP99Ms", "send ack p99 (ms)"],
    ["reactionAckP50Ms", "reaction ack p50 (ms)"],
    ["reactionAckP99Ms", "reaction ack p99 (ms)"],
    ["editAckP50Ms", "edit ack p50 (ms)"],
    ["editAckP99Ms", "edit ack p99 (ms)"],
    ["sendErrors", "send errors", "zero"],
    ["changeErrors", "change errors", "zero"],
    ["cpuUsPerDelivery", "server CPU per delivery, both kinds (µs)"],
    ["cpuUsPerNewDelivery", "server CPU per message:new delivery (µs)"],
    ["cpuUsPerUpdateDelivery", "server CPU per message:updated delivery (µs)"],
    ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
    ["redisCommandsPerDelivery", "redis commands per delivery"],
  ],
  "changes-only": [
    ["updatesDelivered", "message:updated deliveries"],
    ["updatesLost", "message:updated lost", "zero"],
    ["updateDuplicates", "message:updated duplicates", "zero"],
    ["changeNoops", "changes acked without changing", "zero"],
    ["reactionAckP50Ms", "reaction ack p50 (ms)"],
    ["reactionAckP99Ms", "reaction ack p99 (ms)"],
    ["editAckP50Ms", "edit ack p50 (ms)"],
    ["editAckP99Ms", "edit ack p99 (ms)"],
    ["changeErrors", "change errors", "zero"],
    ["cpuUsPerDelivery", "server CPU per message:updated delivery (µs)"],
    ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
    ["redisCommandsPerDelivery", "redis commands per delivery"],
  ],
  reads: [
    ["offeredReadsPerSec", "reads/s offered"],
    ["readsPerSec", "reads/s achieved"],
    ["lost", "message:new lost", "zero"],
    ["readErrors", "read errors", "zero"],
    ["probeReadAckP50Ms", "room:read ack p50, probe members (ms)"],
    ["probeReadAckP99Ms", "room:read ack p99, probe members (ms)"],
    ["readAckP50Ms", "room:read ack p50, all members (ms)"],
    ["readAckP99Ms", "room:read ack p99, all members (ms)"],
    ["latencyP50Ms", "message delivery p50 (ms)"],
    ["latencyP99Ms", "message delivery p99 (ms)"],
    ["cpuUsPerRead", "server CPU per read, its delivery included (µs)"],
    ["serverCpuCores", "server CPU (cores)"],
    ["loaderCpuCores", "load generators' CPU (cores)"],
    ["readUpdatedPerRead", "read:updated received per read", "huddle"],
    ["redisCpuUsPerRead", "redis-server CPU per read (µs)"],
    ["redisCommandsPerRead", "redis commands per read (in scripts too)", "huddle"],
    ["redisScriptsPerRead", "redis scripts per read", "huddle"],
  ],
  "rooms-list": [
    ["fewestRooms", "rooms listed (fewest)"],
    ["callsPerSec", "calls/s, one at a time"],
    ["listP50Ms", "rooms:list ack p50 (ms)"],
    ["listP99Ms", "rooms:list ack p99 (ms)"],
    ["listErrors", "errors", "zero"],
    ["cpuUsPerCall", "server CPU per call (µs)"],
    ["redisCpuUsPerCall", "redis-server CPU per call (µs)"],
    ["redisCommandsPerCall", "redis commands per call (in scripts too)"],
    ["redisScriptsPerCall", "redis scripts per call"],
  ],
  ...postgresGroups.SHOWN,
  ...clusterGroups.SHOWN,
};
/** A scenario without its `redis-` prefix and `-at-<rate>` suffix (a rate of a ladder). */
const baseOf = (scenario) => scenario.replace(/^redis-/, "").replace(/-at-[\d.]+$/, "");
/** The metrics a scenario shows: its own list, or its family's (fan-out for the light one). */
const kindOf = (scenario) => {
  const base = baseOf(scenario);
  return SHOWN[base] ? base : base.startsWith("fanout") ? "fanout" : base;
};

/**
 * The issues' targets, as checks on Huddle's figures and the ratio to bare; `absolute` ones need no bare figure.
 * Looked up by scenario, then by scenario without its `redis-` prefix.
 */
const TARGETS = {
  connect: {
    rssPerConnKiB: { text: "< bare and ≤ 16", check: (h, b) => h < b && h <= 16 },
    errors: { text: "0", check: (h) => h === 0 },
  },
  fanout: {
    cpuUsPerDelivery: { text: "≤ 1.10×", check: (h, b) => h <= b * 1.1 },
    deliveriesPerSec: { text: "≥ 0.95×", check: (h, b) => h >= b * 0.95 },
  },
  "fanout-light": { latencyP99Ms: { text: "≤ 1.2×", check: (h, b) => h <= b * 1.2 } },
  rooms: { cpuUsPerDelivery: { text: "≤ 1.3×", check: (h, b) => h <= b * 1.3 } },
  // Issue 11: the chat rooms' target, with 10% of the operations changes.
  changes: { cpuUsPerDelivery: { text: "≤ 1.3×", check: (h, b) => h <= b * 1.3 } },
  // Issue 12.
  reads: { probeReadAckP99Ms: { text: "≤ 5 ms", absolute: true, check: (h) => h <= 5 } },
  "redis-reads": { probeReadAckP99Ms: { text: "≤ 10 ms", absolute: true, check: (h) => h <= 10 } },
  "redis-rooms-list": { listP99Ms: { text: "≤ 10 ms", absolute: true, check: (h) => h <= 10 } },
  ...postgresGroups.TARGETS,
  ...clusterGroups.TARGETS,
};
const ZERO = { text: "0", check: (h) => h === 0 };

function targetFor(scenario, metric, mustBeZero) {
  const full = scenario.replace(/-at-[\d.]+$/, "");
  return TARGETS[full]?.[metric] ?? TARGETS[baseOf(scenario)]?.[metric] ?? (mustBeZero ? ZERO : undefined);
}

/**
 * One row per (scenario, metric): values per round, median (or worst), ratio
 * and verdict. A target that could not start (Huddle without working Redis
 * stores) leaves its column empty and the reason in `skipped`.
 */
export function summarise(runs, scenarioOrder) {
  const rows = [];
  for (const scenario of scenarioOrder) {
    const of = (target) => runs.filter((r) => r.scenario === scenario && r.target === target && r.metrics);
    const skipped = runs.find((r) => r.scenario === scenario && r.skipped);
    if (of("bare").length + of("huddle").length === 0) {
      if (skipped) rows.push({ scenario, label: "(no run)", skipped: skipped.skipped, skippedTarget: skipped.target });
      continue;
    }
    for (const [metric, label, flag] of SHOWN[kindOf(scenario)]) {
      const zero = flag === "zero";
      // A Huddle-only figure (read state, its Redis commands): bare's is not comparable, so not shown.
      const values = (target) =>
        flag === "huddle" && target === "bare" ? [] : of(target).map((r) => r.metrics[metric] ?? null);
      if (![...values("bare"), ...values("huddle")].some((v) => v !== null)) continue;
      const pick = zero ? max : median;
      const bare = pick(values("bare"));
      const huddle = pick(values("huddle"));
      const ratio = bare && huddle !== null ? huddle / bare : null;
      const target = targetFor(scenario, metric, zero);
      const absolute = target?.absolute || target === ZERO;
      const met = target && huddle !== null && (absolute || bare !== null) ? target.check(huddle, bare) : null;
      rows.push({
        scenario,
        metric,
        label: zero ? `${label} (worst round)` : label,
        bare,
        huddle,
        ratio,
        rounds: { bare: values("bare"), huddle: values("huddle") },
        target: target?.text,
        met,
        ...(skipped ? { skipped: skipped.skipped, skippedTarget: skipped.target } : {}),
      });
    }
  }
  return rows;
}

const fmt = (x) => {
  if (x === null || x === undefined) return "–";
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
};

export function markdown({ machine, date, opts, rows, durationS, huddleBuild }) {
  const lines = [];
  lines.push(`## Huddle vs bare Socket.IO, ${date.slice(0, 10)}`);
  lines.push("");
  lines.push(
    `Machine: ${machine.cores} × ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}, ` +
      `load average at start ${machine.loadAvg.join(" / ")}. ` +
      `${opts.rounds} alternating round${opts.rounds === 1 ? "" : "s"} (bare, Huddle, bare, …), ${opts.windowMs / 1000} s measured windows ` +
      `after ${opts.warmupMs / 1000} s of warm-up; medians (worst round for counts that must be zero). ` +
      `Whole run ${Math.round(durationS)} s. Huddle build: ${huddleBuild}.`,
  );
  lines.push("");
  lines.push("| scenario | metric | bare | Huddle | Huddle/bare | target |");
  lines.push("| --- | --- | ---: | ---: | ---: | --- |");
  const skipped = new Map();
  for (const row of rows) {
    if (row.skipped) skipped.set(row.scenario, `${row.skippedTarget}: ${row.skipped}`);
    const cell = (target, value) => (row.skipped && row.skippedTarget === target ? "skipped" : fmt(value));
    const ratio = row.ratio === null || row.ratio === undefined ? "–" : `${row.ratio.toFixed(2)}×`;
    const verdict = row.target ? `${row.target} ${row.met === null ? "?" : row.met ? "✅" : "❌"}` : "";
    lines.push(
      `| ${row.scenario} | ${row.label} | ${cell("bare", row.bare)} | ${cell("huddle", row.huddle)} | ${ratio} | ${verdict} |`,
    );
  }
  const missed = rows.filter((r) => r.met === false);
  lines.push("");
  lines.push(
    missed.length === 0
      ? "Every target checked in this run is met."
      : `Targets missed: ${missed.map((r) => `${r.scenario} ${r.metric} (${fmt(r.huddle)} vs ${fmt(r.bare)}, target ${r.target})`).join("; ")}.`,
  );
  for (const [scenario, reason] of skipped) {
    lines.push("");
    lines.push(`Skipped ${scenario}, ${reason.replace(/\s+/g, " ").slice(0, 300)}`);
  }
  lines.push("");
  lines.push("Parameters: `" + JSON.stringify(scenarioParams(opts)) + "`.");
  return lines.join("\n") + "\n";
}

function scenarioParams(opts) {
  const { connections, fanoutMembers, fanoutSenders, fanoutRate, lightRate, roomClients, roomSize, roomsRate } = opts;
  const { changeShare, readsMembers, readsRates, readsSpread, listRooms, listMessages, listCalls } = opts;
  return {
    connections,
    fanoutMembers,
    fanoutSenders,
    fanoutRate,
    lightRate,
    roomClients,
    roomSize,
    roomsRate,
    changeShare,
    readsMembers,
    readsRates,
    readsSpread,
    listRooms,
    listMessages,
    listCalls,
  };
}
