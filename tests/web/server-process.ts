/**
 * The built server (`dist/server.js`) as a child process on a fixed port, so a
 * test can kill it and start it again on the same port: what a deploy or a
 * crash looks like to a client. Needs `npm run build` first (npm test runs it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../helpers/ports";
import { TEST_SECRET } from "../helpers/tokens";

export const ROOT = join(__dirname, "..", "..");
const SERVER = join(ROOT, "dist", "server.js");

export interface ServerProcess {
  readonly port: number;
  readonly url: string;
  /** Ends the process (SIGKILL by default: connections drop without a goodbye). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: the in-memory history is gone). */
  start(): Promise<void>;
}

export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let stderr = "";

  const start = async () => {
    stderr = "";
    child = spawn(process.execPath, [SERVER], {
      cwd: ROOT,
      // A clean environment: nothing of the developer's (REDIS_URL…) leaks in.
      env: {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        HOST: "127.0.0.1",
        JWT_SECRET: TEST_SECRET,
        DEV_TOKENS: "1",
        LOG_LEVEL: "warn",
        NODE_ID: "web-test",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (chunk) => (stderr += String(chunk)));
    const started = child;
    await waitForHealth(url, 10_000, () => {
      if (started.exitCode !== null)
        throw new Error(`dist/server.js exited with ${started.exitCode}: ${stderr.slice(0, 500)}`);
      return stderr;
    });
  };

  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill(signal);
    });
  };

  await start();
  return { port, url, kill, start };
}

/** Polls /healthz; `stderr()` returns the output so far, or throws once the process has exited. */
async function waitForHealth(url: string, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    stderr();
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`server at ${url} not healthy within ${timeoutMs} ms; stderr: ${stderr().slice(0, 500)}`);
}
