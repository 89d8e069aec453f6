/**
 * Huddle nodes as separate processes (`node dist/server.js`), the way a
 * deployment runs them, configured only through the environment.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../helpers/ports";
import { ensureServerBuilt, SERVER_BUNDLE } from "../helpers/server-bundle";
import { TEST_SECRET } from "../helpers/tokens";
import { REPO_ROOT } from "./nginx-harness";

export { SERVER_BUNDLE };

/** Brings dist/ up to date with scripts/build.mjs, which does nothing when no input changed (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  ensureServerBuilt();
}

export interface NodeProcess {
  readonly nodeId: string;
  readonly port: number;
  /** host:port, as an nginx `server` line wants it. */
  readonly address: string;
  readonly url: string;
  /** The current process (a new one after `restart()`). */
  readonly child: ChildProcess;
  /** What the process wrote to stdout and stderr so far (every process it ran, after a `restart()`). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /**
   * Stops the process (as `stop`, a no-op if it has exited) and starts a new one with the same id, port and
   * environment, so a balancer's fixed upstream list stays right; resolves once /readyz answers 200.
   */
  restart(graceMs?: number): Promise<void>;
}

export interface NodeOptions {
  nodeId: string;
  redisUrl?: string;
  env?: Record<string, string>;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/** Spawns a node and resolves once its /healthz answers; rejects with its output if it exits first. */
export async function startNode(options: NodeOptions): Promise<NodeProcess> {
  ensureBuilt();
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_ID: options.nodeId,
    JWT_SECRET: TEST_SECRET,
    DEV_TOKENS: "1",
    LOG_LEVEL: "warn",
    // Where the other nodes forward this node's Socket.IO requests (the default, <hostname>:PORT, listens on
    // HOST, loopback here).
    ADVERTISE_URL: `http://127.0.0.1:${port}`,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  let output = "";
  const url = `http://127.0.0.1:${port}`;

  const spawnNode = async (probe: "/healthz" | "/readyz"): Promise<Running> => {
    const child = spawn(process.execPath, ["--enable-source-maps", SERVER_BUNDLE], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `node ${options.nodeId} exited (${child.exitCode ?? child.signalCode}) before ${probe} answered:\n${output}`,
        );
      }
      const healthy = await fetch(`${url}${probe}`, { signal: AbortSignal.timeout(2000) }).then(
        async (response) => {
          await response.arrayBuffer();
          return response.ok;
        },
        () => false,
      );
      if (healthy) return { child, exited };
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`node ${options.nodeId} did not answer ${probe} within 20 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  let current = await spawnNode("/healthz");
  const stop = async (graceMs = 5000) => {
    const { child, exited } = current;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return {
    nodeId: options.nodeId,
    port,
    address: `127.0.0.1:${port}`,
    url,
    get child() {
      return current.child;
    },
    output: () => output,
    stop,
    async restart(graceMs) {
      await stop(graceMs);
      output += `--- ${options.nodeId} restarted\n`;
      current = await spawnNode("/readyz");
    },
  };
}
