/**
 * `npm run bench`: Huddle against a bare Socket.IO server on this machine, in
 * alternating rounds (bare, Huddle, bare, …), scenario by scenario. Prints one
 * JSON line per run, then a Markdown table of medians and Huddle/bare ratios
 * against the targets of issue 5; both are also written to bench/results/.
 *
 *   npm run bench                       # the default sizes, < 5 minutes
 *   npm run bench -- --full             # 10 s measured windows, as in the issue
 *   npm run bench -- --scale 0.1 --rounds 1 --only fanout,rooms
 *   npm run bench -- --help
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { machineInfo } from "./lib/procfs.mjs";
import { killAll } from "./lib/processes.mjs";
import { markdown, summarise } from "./lib/report.mjs";
import { startLoaders } from "./lib/loaders.mjs";
import { GROUPS, plan, runSession } from "./lib/sessions.mjs";
import { HUDDLE_BUILD, snapshotHuddle } from "./lib/servers.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = `${ROOT}bench/results`;

const FLAGS = {
  scale: ["1", "multiplies every client count and message rate (0.1 for a quick try)"],
  rounds: ["3", "A/B rounds per scenario"],
  window: ["2", "measured seconds per sending phase (--full: 10)"],
  warmup: ["0.5", "seconds of sending before each measured phase (--full: 2)"],
  only: [Object.keys(GROUPS).join(","), "groups to run (redis = every redis group)"],
  targets: ["bare,huddle", "servers to compare"],
  loaders: ["2", "load generator processes (plus one probe)"],
  connections: ["10000", "connect: connections to open"],
  "connect-concurrency": ["200", "connect: handshakes in flight"],
  "fanout-members": ["500", "fan-out: clients in the room (senders included)"],
  "fanout-senders": ["50", "fan-out: clients among them that send"],
  "fanout-rate": ["200", "fan-out: messages/s, all senders together"],
  "light-rate": ["40", "light fan-out: messages/s"],
  "room-clients": ["1000", "chat rooms: clients"],
  "room-size": ["10", "chat rooms: clients per room"],
  "rooms-rate": ["500", "chat rooms and changes: operations/s"],
  "change-share": ["0.1", "changes: share of the operations that are reactions and edits (half each)"],
  "reads-members": ["500", "reads: members of the room, every one marking each message read (issue 12: 2000)"],
  "reads-rate": ["8", "reads: messages/s, not scaled (reads/s = members × this); 2,5,10: one after another"],
  "reads-probes": ["100", "reads: members in a load generator of their own, whose ack latency is the target's"],
  "reads-spread": ["1", "reads: 1 spreads the reads of a message over the time to the next, 0 sends them at once"],
  "list-rooms": ["200", "rooms:list: rooms of the listing user"],
  "list-messages": ["3", "rooms:list: messages per room"],
  "list-calls": ["500", "rooms:list: calls, one after another"],
  settle: ["0.75", "seconds of idle before and after measuring memory"],
  quiet: ["2", "seconds without a delivery after which the rest counts as lost"],
  "cpu-prof": ["", "directory: run the servers with --cpu-prof, profiles in <dir>/<target>/"],
  results: ["", "directory for latest.jsonl and latest.md (default bench/results/, which the README quotes)"],
};

function parseOptions(argv) {
  const options = { full: { type: "boolean" }, build: { type: "boolean" }, help: { type: "boolean" } };
  for (const name of Object.keys(FLAGS)) options[name] = { type: "string" };
  const { values } = parseArgs({ args: argv, options });
  if (values.help) {
    process.stdout.write("npm run bench -- [--full] [--build] [--flag value …]\n\n");
    process.stdout.write(
      "  --full  10 s windows and 2 s warm-up, as in issue 5\n  --build  bring dist/ up to date first (npm run build)\n",
    );
    for (const [name, [def, text]] of Object.entries(FLAGS)) {
      process.stdout.write(`  --${name.padEnd(20)} ${text}${def ? ` (default ${def})` : ""}\n`);
    }
    process.exit(0);
  }
  const get = (name) => values[name] ?? FLAGS[name][0];
  const num = (name) => {
    const value = Number(get(name));
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number (got "${get(name)}")`);
    return value;
  };
  const scale = num("scale");
  const list = (name) => {
    const values = get(name).split(",").map(Number);
    if (values.some((v) => !Number.isFinite(v) || v <= 0))
      throw new Error(`--${name}: positive numbers, comma-separated`);
    return values;
  };
  const count = (name, min = 1) => Math.max(min, Math.round(num(name) * scale));
  const only = get("only")
    .split(",")
    .flatMap((g) => (g === "redis" ? Object.keys(GROUPS).filter((n) => n.startsWith("redis-")) : [g.trim()]))
    .filter(Boolean);
  for (const g of only) if (!GROUPS[g]) throw new Error(`--only: unknown group "${g}" (${Object.keys(GROUPS)})`);
  const targets = get("targets").split(",");
  for (const t of targets) if (t !== "bare" && t !== "huddle") throw new Error(`--targets: unknown "${t}"`);
  const opts = {
    scale,
    rounds: Math.max(1, Math.round(num("rounds"))),
    windowMs: (values.window ? num("window") : values.full ? 10 : num("window")) * 1000,
    warmupMs: (values.warmup ? num("warmup") : values.full ? 2 : num("warmup")) * 1000,
    only,
    targets,
    loaders: Math.max(1, Math.round(num("loaders"))),
    connections: count("connections"),
    connectConcurrency: count("connect-concurrency"),
    fanoutMembers: count("fanout-members", 2),
    fanoutSenders: count("fanout-senders"),
    fanoutRate: num("fanout-rate") * scale,
    lightRate: num("light-rate") * scale,
    roomClients: count("room-clients", 2),
    roomSize: Math.max(2, Math.round(num("room-size"))),
    roomsRate: num("rooms-rate") * scale,
    changeShare: Math.min(1, num("change-share")),
    readsMembers: count("reads-members", 2),
    // --scale scales the members only: reads/s = members × rate stays proportional to it.
    readsRates: list("reads-rate"),
    readsSpread: num("reads-spread") > 0,
    readsProbes: count("reads-probes", 0),
    listRooms: count("list-rooms"),
    listMessages: Math.max(1, Math.round(num("list-messages"))),
    listCalls: count("list-calls"),
    settleMs: num("settle") * 1000,
    quietMs: num("quiet") * 1000,
    cpuProf: get("cpu-prof") || undefined,
    results: get("results") || undefined,
    build: Boolean(values.build),
  };
  // Each process holds one descriptor per connection: stay under the file limit (a server holds them all).
  const limit = machineInfo().openFileLimit;
  if (opts.connections > limit - 500) {
    process.stderr.write(`bench: open file limit ${limit}: connect scenario capped at ${limit - 500} connections\n`);
    opts.connections = limit - 500;
  }
  return opts;
}

function ensureBuild(force, cpuProfDir) {
  if (force || !existsSync(HUDDLE_BUILD)) {
    process.stderr.write("bench: building dist/server.js (npm run build)\n");
    execFileSync(process.execPath, [`${ROOT}scripts/build.mjs`], { cwd: ROOT, stdio: "inherit" });
  }
  const built = statSync(HUDDLE_BUILD).mtime.toISOString().slice(0, 16).replace("T", " ");
  const { entry, hash } = snapshotHuddle(cpuProfDir && `${cpuProfDir}/build`);
  return { entry, label: `dist/server.js built ${built} UTC, sha256 ${hash}` };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const { entry: huddleEntry, label: huddleBuild } = ensureBuild(opts.build, opts.cpuProf);
  const started = Date.now();
  const date = new Date().toISOString();
  const machine = machineInfo();
  const secret = randomBytes(32).toString("base64url");
  const ctx = { opts, secret, cpuProfDir: opts.cpuProf, huddleEntry };
  // A profiling run is not a measurement to publish: its results go beside the profiles.
  const results = opts.results ?? (opts.cpuProf ? `${opts.cpuProf}/results` : RESULTS);
  mkdirSync(results, { recursive: true });
  const jsonl = `${results}/latest.jsonl`;
  const emit = (record) => {
    const line = JSON.stringify(record);
    process.stdout.write(line + "\n");
    appendFileSync(jsonl, line + "\n");
  };
  writeFileSync(jsonl, "");
  emit({ kind: "machine", date, machine, opts, huddleBuild });

  // One set of load generators for the whole bench: forking them per run would cost more than some windows.
  const loaders = await startLoaders(opts.loaders, secret);
  const sessions = plan(opts.only);
  const runs = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const session of sessions) {
      for (const target of opts.targets) {
        const what = `round ${round}/${opts.rounds} ${session.groups.join("+")} ${target}`;
        process.stderr.write(`bench: ${what} …\n`);
        const t0 = Date.now();
        for (const result of await runSession(ctx, loaders, target, session)) {
          const record = { kind: "run", date: new Date().toISOString(), round, target, ...result };
          runs.push(record);
          emit(record);
        }
        process.stderr.write(`bench: ${what} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    }
  }
  await loaders.stop();

  // A ladder of rates (--reads-rate 2,5,10) adds "<scenario>-at-<rate>" runs after their scenario.
  const scenarioOrder = sessions
    .flatMap((session) => session.groups.flatMap((g) => GROUPS[g].scenarios))
    .flatMap((name) => [name, ...new Set(runs.map((r) => r.scenario).filter((s) => s.startsWith(`${name}-at-`)))]);
  const rows = summarise(runs, scenarioOrder);
  const durationS = (Date.now() - started) / 1000;
  emit({ kind: "summary", date, durationS, rows });
  let table = markdown({ machine, date, opts, rows, durationS, huddleBuild });
  try {
    // The table is meant to be pasted into the README, which `npm test` format-checks.
    const prettier = await import("prettier");
    table = await prettier.format(table, { parser: "markdown", printWidth: 120 });
  } catch {
    // prettier is a dev dependency: without it the table is still valid Markdown
  }
  writeFileSync(`${results}/latest.md`, table);
  process.stdout.write("\n" + table);
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`\nbench: ${error?.stack ?? error}\n`);
    killAll();
    process.exit(1);
  },
);
