/**
 * Starting the two contenders the same way: each node its own process on a
 * free port (so /proc gives its CPU and memory alone), with the same secret.
 * Huddle runs as the product does, `node dist/server.js` (a copy taken when
 * the bench starts), with its limits set high enough not to interfere with
 * the load.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startListening } from "./processes.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const HUDDLE_ENTRY = `${ROOT}dist/server.js`;
/** The bundle dist/server.js runs: dist/current links to the latest build (see scripts/build.mjs). */
export const HUDDLE_BUILD = `${ROOT}dist/current/server.js`;
const BARE_ENTRY = `${ROOT}bench/bare-server.mjs`;

/**
 * Copies the bundle dist/server.js runs (and its source map) to a private
 * directory, so that a rebuild in the working tree while the bench runs
 * cannot change what is measured. The copy finds its packages through
 * NODE_PATH. Returns its path and a short hash naming the build.
 * @param keepIn a directory to copy to and keep (default: a temporary one, removed at exit)
 */
export function snapshotHuddle(keepIn) {
  // Kept beside CPU profiles (their frames point into it); otherwise a temporary copy.
  const dir = keepIn ?? mkdtempSync(join(tmpdir(), "huddle-bench-build-"));
  if (keepIn) mkdirSync(dir, { recursive: true });
  else process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const entry = join(dir, "server.js");
  // Resolved once, so the bundle and its map come from the same build even if dist/current switches.
  const build = realpathSync(HUDDLE_BUILD);
  copyFileSync(build, entry);
  if (existsSync(`${build}.map`)) copyFileSync(`${build}.map`, `${entry}.map`);
  const hash = createHash("sha256").update(readFileSync(entry)).digest("hex").slice(0, 12);
  return { entry, hash };
}

/**
 * Starts `count` nodes of `target` ("bare" | "huddle") side by side; with `redisUrl` they form one cluster.
 * `env(i)` adds variables to Huddle node i (DATABASE_URL, REDIS_CLUSTER_NODES…), `bareArgs` arguments to bare's.
 */
export async function startNodes(
  target,
  count,
  { secret, redisUrl, cpuProfDir, huddleEntry = HUDDLE_ENTRY, env = () => ({}), bareArgs = [] },
) {
  // Profiles go to <dir>/<target>/, written when the node exits on SIGTERM.
  const nodeArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}/${target}`] : [];
  const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };
  const startOne = async (i) => {
    const port = await freePort();
    const node =
      target === "huddle"
        ? await startListening("huddle", process.execPath, [...nodeArgs, huddleEntry], {
            port,
            env: {
              ...base,
              NODE_PATH: `${ROOT}node_modules`,
              NODE_ENV: "production",
              PORT: String(port),
              HOST: "0.0.0.0",
              NODE_ID: `bench-${i}`,
              JWT_SECRET: secret,
              LOG_LEVEL: "warn",
              RATE_BURST: "1000000",
              RATE_PER_SEC: "1000000",
              MAX_CONNECTIONS_PER_USER: "1000000",
              // The per-address handshake limit would refuse the connect scenario's burst; 0 turns it off.
              CONNECT_RATE_PER_IP: "0",
              // A receiver behind on an overloaded fan-out must lag, not be disconnected as a slow consumer.
              MAX_BUFFERED_BYTES: String(1024 * 1024 * 1024),
              ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
              ...env(i),
            },
          })
        : await startListening(
            "bare socket.io",
            process.execPath,
            [...nodeArgs, BARE_ENTRY, "--port", String(port), ...(redisUrl ? ["--redis", redisUrl] : []), ...bareArgs],
            { port, env: { ...base, NODE_ENV: "production", JWT_SECRET: secret } },
          );
    return { ...node, url: `http://127.0.0.1:${port}`, graceful: Boolean(cpuProfDir) };
  };
  const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => startOne(i)));
  const nodes = settled.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    await stopNodes(nodes);
    throw failed.reason;
  }
  return nodes;
}

/** Stops nodes: SIGKILL (nothing to drain once the clients are gone), SIGTERM when a profile must be written. */
export async function stopNodes(nodes) {
  await Promise.all(nodes.map((node) => (node.graceful ? node.stop() : node.stop(0))));
}
