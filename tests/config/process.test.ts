/**
 * The real process (§7): the bundled server started by `node`, with only the
 * environment a test gives it. Refusals exit non-zero with one stderr line;
 * the defaults serve with dev tokens; SIGTERM drains and exits 0.
 *
 * The bundle is built from the current sources with the same esbuild options
 * as scripts/build.mjs, into a private file, so the test neither depends on a
 * stale dist/ nor races another `npm run build`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { build } from "esbuild";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { freePort } from "../helpers/ports";
import { bearer, http } from "../http/support";

const root = join(__dirname, "..", "..");
// Inside node_modules so the bundle's external packages resolve from the repo's node_modules.
const outDir = join(root, "node_modules", ".cache", "huddle-tests");
const serverJs = join(outDir, `server-${process.pid}.js`);

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, "server/main.ts")],
    outfile: serverJs,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    packages: "external",
    sourcemap: false,
    logLevel: "warning",
  });
}, 60_000);

afterAll(() => rmSync(serverJs, { force: true }));

const children = new Set<ChildProcess>();
afterEach(() => {
  closeAllClients();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name), failing after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
}

/** Starts `node server.js` with exactly `env` (nothing inherited). */
function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [serverJs], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the server did not exit within ${timeoutMs} ms`)), timeoutMs);
      });
      return Promise.race([exit, late]).finally(() => clearTimeout(timer));
    },
  };
}

/** Waits until /healthz answers 200, failing early if the process exits. */
async function serving(proc: Run, base: string): Promise<void> {
  await eventually(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`the server exited early: ${proc.stderr()}${proc.stdout()}`);
      try {
        return (await http(`${base}/healthz`, { timeoutMs: 1000 })).status === 200;
      } catch {
        return false;
      }
    },
    "the server to answer /healthz",
    10_000,
  );
}

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0);

describe("refusing to start", () => {
  test("PORT=abc exits non-zero with exactly one stderr line naming PORT", async () => {
    const proc = run({ PORT: "abc" });
    expect(await proc.exited()).not.toBe(0);
    expect(lines(proc.stderr())).toHaveLength(1);
    expect(proc.stderr()).toContain("PORT");
    expect(proc.stderr()).toContain('"abc"');
  });

  test("NODE_ENV=production without JWT_SECRET or JWT_PUBLIC_KEY exits non-zero with one line naming them", async () => {
    const proc = run({ NODE_ENV: "production", PORT: String(await freePort()) });
    expect(await proc.exited()).not.toBe(0);
    expect(lines(proc.stderr())).toHaveLength(1);
    expect(proc.stderr()).toMatch(/JWT_SECRET/);
  });

  test("several bad variables are named in the one line", async () => {
    const proc = run({ PORT: "70000", RATE_PER_SEC: "-1", REDIS_URL: "http://x" });
    expect(await proc.exited()).not.toBe(0);
    expect(lines(proc.stderr())).toHaveLength(1);
    for (const name of ["PORT", "RATE_PER_SEC", "REDIS_URL"]) expect(proc.stderr()).toContain(name);
  });

  test("a port already taken exits non-zero with one stderr line", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const proc = run({ PORT: String(port), HOST: "127.0.0.1" });
      expect(await proc.exited()).not.toBe(0);
      expect(lines(proc.stderr())).toHaveLength(1);
      expect(proc.stderr()).toMatch(/EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

describe("starting with no configuration", () => {
  test("serves /healthz, enables dev tokens with a warning, and exits 0 on SIGTERM within 10 s", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Nothing but where to listen: loopback keeps the test off the network.
    const proc = run({ PORT: String(port), HOST: "127.0.0.1" });
    await serving(proc, base);

    expect((await http(`${base}/readyz`)).status).toBe(200);
    expect(proc.stdout()).toMatch(/dev tokens/);
    expect(proc.stdout()).toMatch(/"level":40/); // the warning about the ephemeral secret

    const issued = await http(`${base}/api/token`, { method: "POST", body: { name: "Process" } });
    expect(issued.status).toBe(200);
    const socket = await connectClient(base, { token: issued.body.token });
    expect(socket.connected).toBe(true);
    const sent = await http(`${base}/api/rooms/lobby/messages`, {
      method: "POST",
      headers: bearer(issued.body.token),
      body: { text: "hello from a real process" },
    });
    expect(sent.status).toBe(201);
    expect(proc.stdout()).not.toContain(issued.body.token);

    proc.child.kill("SIGTERM");
    expect(await proc.exited(10_000)).toBe(0);
    expect(proc.stderr()).toBe("");
  });
});
