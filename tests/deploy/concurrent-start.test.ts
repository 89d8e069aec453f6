/**
 * Issue 18: any number of `npm start`s from one checkout at the same moment.
 * Four nodes start together, ten times in a row, while another process keeps
 * a core busy. The sources change before every other round, so half the
 * rounds race to rebuild and the others must reuse the build. Every node must
 * become healthy and serve what the sources it started from say (the web
 * client from web/public, and a server string), the nodes of the round
 * before must keep serving theirs while the next round rebuilds, and each
 * change must be built exactly once.
 *
 * All of it runs in a scratch copy of the repository (sources, scripts and
 * manifests, with node_modules linked), so the sources can change freely
 * without touching the checkout.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "../helpers/http";
import { freePort } from "../helpers/ports";
import { TEST_SECRET } from "../helpers/tokens";

const ROOT = join(__dirname, "..", "..");
/** What `npm start` needs from a checkout (node_modules is linked, not copied). */
const COPIED = [
  "server",
  "shared",
  "client/src",
  "client/tsconfig.json",
  "web",
  "scripts",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
];
/** A string the server answers with (GET /ws without an upgrade), changed in server/transport/entry.ts per revision. */
const WS_MESSAGE = "GET /ws needs a WebSocket upgrade";
/** The line scripts/build.mjs writes when it built (and nothing when the build was up to date). */
const BUILT = /^build: built /m;

let scratch: string;
let original: { index: string; app: string };
let busy: ChildProcess | undefined;
const running = new Set<StartedNode>();

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "huddle-start-"));
  for (const name of COPIED) cpSync(join(ROOT, name), join(scratch, name), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"));
  original = {
    index: readFileSync(join(scratch, "web/public/index.html"), "utf8"),
    app: readFileSync(join(scratch, "server/transport/entry.ts"), "utf8"),
  };
  expect(original.app.split(WS_MESSAGE).length).toBe(2);
  // The load: one process spinning on a core for the whole file.
  busy = spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
});

afterAll(async () => {
  await Promise.all([...running].map((node) => node.stop()));
  busy?.kill("SIGKILL");
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Revision {
  readonly n: number;
  readonly index: string;
  readonly wsMessage: string;
}

/** Writes revision `n` of web/public/index.html and server/transport/entry.ts into the scratch copy (0: as checked out). */
function setRevision(n: number): Revision {
  const index = n === 0 ? original.index : `${original.index}<!-- revision ${n} -->\n`;
  const wsMessage = n === 0 ? WS_MESSAGE : `${WS_MESSAGE} (revision ${n})`;
  writeFileSync(join(scratch, "web/public/index.html"), index);
  writeFileSync(join(scratch, "server/transport/entry.ts"), original.app.replace(WS_MESSAGE, wsMessage));
  return { n, index, wsMessage };
}

interface StartedNode {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What npm, the build and the node wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM to the whole process group (npm, sh, node), SIGKILL after 5 s; resolves when all are gone. */
  stop(): Promise<void>;
}

/** `npm start` in the scratch copy, in memory mode, in a process group of its own. */
function npmStart(name: string, port: number): StartedNode {
  const child = spawn("npm", ["start"], {
    cwd: scratch,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? scratch,
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ID: name,
      JWT_SECRET: TEST_SECRET,
      DEV_TOKENS: "1",
      LOG_LEVEL: "warn",
    },
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const node: StartedNode = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    async stop() {
      signalGroup("SIGTERM");
      const killAt = Date.now() + 5000;
      while (groupAlive()) {
        if (Date.now() > killAt) signalGroup("SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      running.delete(node);
    },
  };
  running.add(node);
  return node;
}

/** Resolves once GET /healthz answers 200; fails with the node's output if npm exits first or time runs out. */
async function waitHealthy(node: StartedNode, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (node.child.exitCode !== null || node.child.signalCode !== null)
      throw new Error(
        `${node.name}: npm start exited (${node.child.exitCode ?? node.child.signalCode}):\n${node.output()}`,
      );
    const status = await request(`${node.url}/healthz`, { timeoutMs: 2000 }).then(
      (answer) => answer.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${node.name}: no /healthz 200 in ${timeoutMs} ms:\n${node.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What is wrong with what `node` serves, given the revision it started from (empty when all is right). */
async function problems(node: StartedNode, revision: Revision): Promise<string[]> {
  const get = (path: string) => request(`${node.url}${path}`, { timeoutMs: 5000 });
  const [health, page, app, map, ws] = await Promise.all([
    get("/healthz"),
    get("/"),
    get("/app.js"),
    get("/app.js.map"),
    get("/ws"),
  ]);
  const found: string[] = [];
  if (health.status !== 200) found.push(`/healthz ${health.status}`);
  if (page.status !== 200) found.push(`/ ${page.status}`);
  else if (page.text !== revision.index)
    found.push(`/ is not index.html of revision ${revision.n}: ${page.text.slice(-60).replace(/\s+/g, " ")}`);
  if (app.status !== 200 || app.text.length < 1000) found.push(`/app.js ${app.status}, ${app.text.length} bytes`);
  if (map.status !== 200) found.push(`/app.js.map ${map.status}`);
  if (ws.body?.error?.message !== revision.wsMessage)
    found.push(`/ws says ${JSON.stringify(ws.body?.error?.message)}, not revision ${revision.n}'s`);
  return found.map((problem) => `${node.name} (revision ${revision.n}): ${problem}`);
}

/** The build dist/current links to, by name (dist/builds/<name>). */
function currentBuild(): string {
  return readlinkSync(join(scratch, "dist", "current")).replace(/^builds\//, "");
}

/** The builds in dist/builds (not the temporary directories of builds under way). */
function builds(): string[] {
  return readdirSync(join(scratch, "dist", "builds"))
    .filter((name) => !name.startsWith("."))
    .sort();
}

test("four nodes started at once, ten times, under CPU load: all healthy, each serving its sources, each change built once", async () => {
  const rounds: { round: number; rebuild: boolean; ms: number }[] = [];
  let previous: { nodes: StartedNode[]; revision: Revision } | undefined;
  for (let round = 0; round < 10; round++) {
    // Round 0 builds from nothing; every other round after it changes a page and a server source first.
    const rebuild = round % 2 === 0;
    const revision = rebuild ? setRevision(round) : previous!.revision;
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    const started = Date.now();
    const nodes = ports.map((port, i) => npmStart(`round${round}-${i}`, port));
    await Promise.all(nodes.map((node) => waitHealthy(node)));
    rounds.push({ round, rebuild, ms: Date.now() - started });

    expect((await Promise.all(nodes.map((node) => problems(node, revision)))).flat()).toEqual([]);
    const built = nodes.filter((node) => BUILT.test(node.output())).map((node) => node.name);
    expect({ round, built: built.length }).toEqual({ round, built: rebuild ? 1 : 0 });
    // The round before still serves its own revision, from its own build, whatever this round built.
    if (previous) {
      const { nodes: old, revision: oldRevision } = previous;
      expect((await Promise.all(old.map((node) => problems(node, oldRevision)))).flat()).toEqual([]);
      await Promise.all(old.map((node) => node.stop()));
    }
    previous = { nodes, revision };
  }
  await Promise.all(previous!.nodes.map((node) => node.stop()));
  // One build per revision: five of them, none pruned yet (all were current minutes ago).
  expect(builds()).toHaveLength(5);
  process.stdout.write(
    `concurrent starts, spawn to all four healthy: ${rounds.map((r) => `${r.ms} ms${r.rebuild ? " (rebuild)" : ""}`).join(", ")}\n`,
  );
}, 150_000);

test("old builds are pruned, but not the last one before the current nor one a running node uses", async () => {
  // d: built and stopped (an old build nobody uses); a: keeps running; b: built and stopped just before c.
  setRevision(99);
  const d = npmStart("prune-d", await freePort());
  await waitHealthy(d);
  const dBuild = currentBuild();
  await d.stop();

  const aRevision = setRevision(100);
  const a = npmStart("prune-a", await freePort());
  await waitHealthy(a);
  const aBuild = currentBuild();

  setRevision(101);
  const b = npmStart("prune-b", await freePort());
  await waitHealthy(b);
  const bBuild = currentBuild();
  await b.stop();

  // Every build last used an hour ago, as if the 10 minutes during which builds are always kept had passed.
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const name of builds()) {
    const dir = join(scratch, "dist", "builds", name);
    for (const path of [dir, join(dir, ".in-use")]) if (existsSync(path)) utimesSync(path, hourAgo, hourAgo);
  }

  setRevision(102);
  const c = npmStart("prune-c", await freePort());
  await waitHealthy(c);
  const cBuild = currentBuild();

  expect(new Set([dBuild, aBuild, bBuild, cBuild]).size).toBe(4);
  expect(builds()).toEqual([aBuild, bBuild, cBuild].sort());
  expect(await problems(a, aRevision)).toEqual([]);
  await Promise.all([a.stop(), c.stop()]);
}, 60_000);

test("a dist/ left by the old in-place build is taken over: dist/web and dist/server.js become the new layout", async () => {
  const dist = join(scratch, "dist");
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(join(dist, "web"), { recursive: true });
  writeFileSync(join(dist, "web", "index.html"), "old build");
  writeFileSync(join(dist, "server.js"), "throw new Error('old bundle')");
  writeFileSync(join(dist, "server.js.map"), "{}");
  const revision = setRevision(200);

  execFileSync(process.execPath, [join(scratch, "scripts", "build.mjs")], { cwd: scratch, stdio: "pipe" });
  expect(lstatSync(join(dist, "web")).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(dist, "web", "index.html"), "utf8")).toBe(revision.index);
  expect(existsSync(join(dist, "server.js.map"))).toBe(false);

  const node = npmStart("migrated", await freePort());
  await waitHealthy(node);
  expect(BUILT.test(node.output())).toBe(false);
  expect(await problems(node, revision)).toEqual([]);
  await node.stop();
});
