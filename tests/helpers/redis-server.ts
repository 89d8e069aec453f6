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

/** Throws, with the apt-get line that installs it, when `bin` is missing. */
export function requireRedisBinary(bin: string = REDIS_SERVER): void {
  if (!existsSync(bin)) {
    throw new Error(
      `${bin} not found: install redis-server (apt-get install -y redis-server); Redis tests do not skip`,
    );
  }
}

/** A redis-server process that may be started, SIGKILLed and started again. */
export interface RedisProcess {
  /** Spawns it; resolves once it accepts TCP connections on `port`. */
  start(): Promise<void>;
  /** SIGKILLs it; resolves once it has exited. A no-op when it is not running. */
  kill(): Promise<void>;
  /** Whether it is running (started and not yet exited). */
  readonly running: boolean;
}

/**
 * One redis-server on 127.0.0.1:`port` with its files in `dir`, without
 * persistence; `args` come after the defaults (a later one wins). Shared by
 * startRedis and the cluster harness (tests/helpers/redis-cluster.ts).
 */
export function redisProcess(port: number, dir: string, args: string[] = []): RedisProcess {
  let child: ChildProcess | undefined;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    get running() {
      return running();
    },
    async start() {
      // `--save ""` turns RDB snapshots off and `--appendonly no` the AOF: each start is empty.
      const defaults = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
      child = spawn(REDIS_SERVER, [...defaults, "--dir", dir, "--daemonize", "no", ...args], { stdio: "ignore" });
      await waitForPort(port, 5000, child);
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGKILL");
      });
    },
  };
}

/** @param options.args extra redis-server arguments, after the defaults (a later one wins), e.g. `["--appendonly", "yes"]`. */
export async function startRedis(options: { args?: string[] } = {}): Promise<TestRedis> {
  requireRedisBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "huddle-redis-"));
  const server = redisProcess(port, dir, options.args);
  await server.start();
  return { port, url: `redis://127.0.0.1:${port}`, kill: server.kill, start: server.start, stop: server.kill };
}
