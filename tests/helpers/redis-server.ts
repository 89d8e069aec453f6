/**
 * A private redis-server on a free port, started by the test run from
 * /usr/bin/redis-server, so a test may kill and restart it. Fails loudly when
 * redis-server is missing: Redis tests are never skipped silently.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports";

export const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server (connections drop at once). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** @param options.args extra redis-server arguments, after the defaults (a later one wins), e.g. `["--appendonly", "yes"]`. */
export async function startRedis(options: { args?: string[] } = {}): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(
      `${REDIS_SERVER} not found: install redis-server (apt-get install -y redis-server); Redis tests do not skip`,
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "huddle-redis-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      REDIS_SERVER,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--daemonize",
        "no",
        ...(options.args ?? []),
      ],
      { stdio: "ignore" },
    );
    await waitForPort(port, 5000);
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}
