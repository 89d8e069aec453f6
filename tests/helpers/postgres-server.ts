/**
 * A private PostgreSQL cluster per test run: initdb into a temp dir, then a
 * postgres process on a free port that the test owns, so it may SIGKILL it
 * mid-traffic and start it again on the same data. Fails loudly when
 * PostgreSQL is missing: these tests never skip.
 *
 * As root (the test run here), initdb and postgres run as the `postgres` user
 * (PostgreSQL refuses root) through spawn's uid/gid rather than runuser: the
 * child is then the postmaster itself, not a runuser that would outlive it
 * or leave it behind when killed.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { freePort, waitForPort } from "./ports";

export const POSTGRES_BIN = process.env.POSTGRES_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  readonly port: number;
  readonly host: "127.0.0.1";
  /** postgres://postgres@127.0.0.1:port/postgres (trust authentication, no password). */
  readonly url: string;
  /** The temp dir: data/ (the cluster), log (the server's output), and the Unix socket. */
  readonly dir: string;
  /** Creates a database (a unique name unless `name` is given); resolves to its URL. */
  createDatabase(name?: string): Promise<string>;
  /** SIGKILLs the postmaster and its backends; resolves once they are gone and the port is free. */
  kill(): Promise<void>;
  /** Starts the server again on the same data dir and port (after kill or stop); resolves once it answers SELECT 1. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): sessions are ended, committed data is kept. The dir stays, for start(). */
  stop(): Promise<void>;
  /** Stops the server (SIGKILL when it is still up after a fast shutdown) and removes the dir. */
  destroy(): Promise<void>;
}

export interface PostgresOptions {
  /** Keep fsync and full_page_writes on (benchmarks); by default they are off, as tests kill the process, not the OS. */
  durable?: boolean;
  /** max_connections (default 100). */
  maxConnections?: number;
  /** Extra postgres arguments after the defaults (a later one wins), e.g. `["-c", "log_statement=all"]`. */
  args?: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tail = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-20).join("\n") : "");

/** Running (not zombie) processes from /proc: pid → parent pid. */
function processes(): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z") found.set(Number(entry), Number(ppid));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  for (const bin of ["initdb", "postgres"]) {
    if (!existsSync(join(POSTGRES_BIN, bin))) {
      throw new Error(
        `${join(POSTGRES_BIN, bin)} not found: install PostgreSQL (apt-get install -y postgresql); PostgreSQL tests do not skip`,
      );
    }
  }
  // PostgreSQL will not run as root: as root, run it as `postgres`; as anyone else, as oneself.
  const asUser =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
          gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
        }
      : {};
  const dir = mkdtempSync(join(tmpdir(), "huddle-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "log");
  if (asUser.uid !== undefined) chownSync(dir, asUser.uid, asUser.gid!);
  try {
    execFileSync(
      join(POSTGRES_BIN, "initdb"),
      ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
      { ...asUser, cwd: dir, stdio: "pipe" },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: Buffer }).stderr ?? err}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const settings = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    max_connections: String(options.maxConnections ?? 100),
    ...(options.durable ? {} : { fsync: "off", synchronous_commit: "on", full_page_writes: "off" }),
  };
  const args = ["-D", data, "-p", String(port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
  let child: ChildProcess | undefined;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const query = async (sql: string, timeoutMs = 2000) => {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
    client.on("error", () => {});
    try {
      await client.connect();
      return await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  };

  const start = async () => {
    if (running()) throw new Error(`PostgreSQL on ${port} is already running`);
    const out = openSync(log, "a");
    child = spawn(join(POSTGRES_BIN, "postgres"), [...args, ...(options.args ?? [])], {
      ...asUser,
      cwd: dir,
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    const deadline = Date.now() + 15_000;
    let last: unknown;
    try {
      await waitForPort(port, 15_000, child);
      while (Date.now() < deadline) {
        if (!running()) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode})`);
        try {
          await query("SELECT 1");
          return;
        } catch (err) {
          last = err; // "the database system is starting up" while it recovers
        }
        await sleep(25);
      }
      throw new Error(`no answer to SELECT 1 within 15 s (last: ${last})`);
    } catch (err) {
      await kill();
      throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${(err as Error).message}\n${tail(log)}`);
    }
  };

  // Resolves once none of `pids` runs and the port is free.
  const waitGone = async (pids: number[], what: string) => {
    const deadline = Date.now() + 15_000;
    while (pids.some((pid) => processes().has(pid)) || !(await portFree(port))) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL on ${port} still ${what} after 15 s\n${tail(log)}`);
      await sleep(10);
    }
  };

  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c?.pid) return;
    // Backends lead process groups of their own (setsid), so no group kill reaches them. Stop the postmaster
    // (it forks no more), SIGKILL its children, then it: connections drop with no farewell message, as when
    // the machine's server dies (killed first, a postmaster lets idle backends say "unexpected postmaster exit").
    const signal = (pid: number, sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    };
    signal(c.pid, "SIGSTOP");
    const pids = [...[...processes()].filter(([, ppid]) => ppid === c.pid).map(([pid]) => pid), c.pid];
    for (const pid of pids) signal(pid, "SIGKILL");
    await waitGone(pids, "running after SIGKILL");
  };

  const stop = async () => {
    const c = child;
    if (!c?.pid || !running()) return kill();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      c.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill("SIGINT");
    });
    if (running()) return kill(); // still up after 10 s
    child = undefined;
    await waitGone([c.pid], "running after a fast shutdown"); // it exits after its backends
  };

  let databases = 0;
  const createDatabase = async (name = `huddle_test_${process.pid}_${++databases}`) => {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
      throw new Error(`createDatabase: ${name} is not a plain lower-case name`);
    await query(`CREATE DATABASE ${name}`);
    return `postgres://postgres@127.0.0.1:${port}/${name}`;
  };

  const destroy = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { port, host: "127.0.0.1", url, dir, createDatabase, kill, start, stop, destroy };
}
