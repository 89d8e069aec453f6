/**
 * The processes the bench starts (Huddle, the bare server, redis-server, load
 * generators): every one is tracked here and killed when the bench exits,
 * whether it finishes, fails or is interrupted.
 */
import { fork, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const children = new Set();

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    killAll();
    process.exit(130);
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" }, () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Spawns a long-running process and resolves once it accepts TCP connections on
 * `port`; rejects with the tail of its output if it exits or is not up in time.
 */
export async function startListening(name, command, args, { port, env, timeoutMs = 20_000 }) {
  const child = track(spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.once("exit", (code, signal) => (exited = { code, signal }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      throw new StartError(name, `exited (${exited.signal ?? exited.code}) before listening: ${output.trim()}`);
    }
    if (await portOpen(port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new StartError(name, `did not listen on ${port} within ${timeoutMs} ms: ${output.trim()}`);
    }
    await sleep(30);
  }
  return {
    name,
    pid: child.pid,
    port,
    output: () => output,
    /** SIGTERM (a profile is written on a clean exit), SIGKILL after `graceMs`; `graceMs` 0: SIGKILL at once. */
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill(graceMs === 0 ? "SIGKILL" : "SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

export class StartError extends Error {
  constructor(name, detail) {
    super(`${name} ${detail}`);
    this.name = "StartError";
  }
}

/** A private, empty, non-persistent redis-server on a free port. */
export async function startRedis(bin = "/usr/bin/redis-server") {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "huddle-bench-redis-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // Also when the bench is interrupted and never reaches stop().
  process.on("exit", removeDir);
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const server = await startListening("redis-server", bin, [...args, "--dir", dir, "--daemonize", "no"], {
    port,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  return {
    ...server,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await server.stop(1000);
      removeDir();
      process.off("exit", removeDir);
    },
  };
}

/** Forks a load generator with an IPC channel; it exits by itself if the bench goes away. */
export function forkLoader(path) {
  return track(fork(path, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
}
