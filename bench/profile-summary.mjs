/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most
 * self time, and self time per package or source module. Frames of the
 * bundled dist/server.js are attributed to their original `server/…` or
 * `shared/…` module through esbuild's `// path.ts` markers in the bundle.
 *
 *   node bench/profile-summary.mjs /tmp/prof/huddle/*.cpuprofile [--top 30]
 *       [--scenario fanout [--runs /tmp/prof/results/latest.jsonl]]
 *
 * With `--scenario`, only the samples taken inside that scenario's measured
 * windows count (the runs' `window` fields, on the profiles' monotonic clock),
 * so connection set-up and the other scenarios do not blur the picture.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string" }, scenario: { type: "string" }, runs: { type: "string" } },
});
if (positionals.length === 0) {
  process.stderr.write("usage: node bench/profile-summary.mjs <file.cpuprofile>… [--top N]\n");
  process.exit(2);
}
const top = Number(values.top ?? 30);
/** The runs of a `--cpu-prof DIR` bench are in DIR/results/ (profiles are in DIR/<target>/). */
function defaultRuns(profile) {
  const besideProfiles = join(dirname(dirname(profile)), "results", "latest.jsonl");
  return existsSync(besideProfiles) ? besideProfiles : fileURLToPath(new URL("results/latest.jsonl", import.meta.url));
}
const windows = values.scenario
  ? readFileSync(values.runs ?? defaultRuns(positionals[0]), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((r) => r.kind === "run" && r.scenario === values.scenario && r.window)
      .map((r) => r.window)
  : undefined;
if (windows && windows.length === 0) {
  process.stderr.write(`no measured window of scenario "${values.scenario}" in the runs file\n`);
  process.exit(2);
}
const inWindow = (t) => !windows || windows.some((w) => t >= w.monoStartUs && t <= w.monoEndUs);

/**
 * Line marks of an esbuild bundle, read from the file a frame points to (the
 * bench's copy of dist/server.js): esbuild starts each module with a
 * `// server/….ts` comment. Empty for files that are not such a bundle.
 */
const bundles = new Map();
function bundleMarks(url) {
  if (!bundles.has(url)) {
    const marks = [];
    try {
      const lines = readFileSync(url.startsWith("file:") ? fileURLToPath(url) : url, "utf8").split("\n");
      lines.forEach((line, i) => {
        const match = /^\/\/ ((?:server|shared)\/\S+\.ts)$/.exec(line);
        if (match) marks.push({ line: i, module: match[1] });
      });
    } catch {
      // gone or unreadable: frames keep the file's name
    }
    bundles.set(url, marks);
  }
  return bundles.get(url);
}

function moduleOf(frame) {
  const url = frame.url ?? "";
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  if (url.startsWith("node:")) return url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  let found = url.replace(/^file:\/\//, "");
  for (const mark of bundleMarks(url)) if (mark.line <= frame.lineNumber) found = mark.module;
  return found;
}

const byFunction = new Map();
const byModule = new Map();
let totalUs = 0;
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (inWindow(t)) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id).callFrame;
    const module = moduleOf(frame);
    if (module === "(idle)" || module === "(program)") continue;
    totalUs += us;
    const key = `${frame.functionName || "(anonymous)"}  ${module}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byModule.set(module, (byModule.get(module) ?? 0) + us);
  }
}

const print = (title, map, n) => {
  const scope = values.scenario ? `, ${values.scenario} windows only` : "";
  process.stdout.write(`\n${title} (busy time ${(totalUs / 1000).toFixed(0)} ms${scope}, idle excluded)\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    process.stdout.write(
      `${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
    );
  }
};
print("Self time by module or package", byModule, 25);
print("Top functions by self time", byFunction, top);
