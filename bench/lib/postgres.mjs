/**
 * A private PostgreSQL 15 cluster for the bench: initdb into a temporary
 * directory, then a postmaster on a free port that the bench owns and kills
 * however it ends (finished, failed, Ctrl-C). fsync stays on: an ack means
 * committed, and the durable figures must pay for the WAL flush they promise.
 *
 * As root, initdb and postgres run as the `postgres` user through spawn's
 * uid/gid rather than runuser, so the child is the postmaster itself: its pid
 * is what /proc is read for (PostgreSQL CPU) and what is killed.
 */
import { execFileSync, spawn } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clkTck } from "./procfs.mjs";
import { freePort, StartError } from "./processes.mjs";

// The server's PostgreSQL driver, from the repository's node_modules.
const require = createRequire(fileURLToPath(new URL("../../package.json", import.meta.url)));
const BIN = process.env.POSTGRES_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tail = (file) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "");

/** Every live process: pid → { ppid, fields after the command name } from /proc/<pid>/stat. */
function processTable() {
  const table = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: fields are counted after its last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), { ppid: Number(fields[1]), fields });
    } catch {
      // ended while we looked
    }
  }
  return table;
}

/** The postmaster's children (backends, WAL writer, checkpointer…): they are not in its process group. */
const childrenOf = (pid, table = processTable()) => [...table].filter(([, p]) => p.ppid === pid).map(([c]) => c);

/**
 * CPU milliseconds of a postmaster and all its children so far: utime + stime of each live one, plus the
 * postmaster's cutime + cstime, which holds the CPU of children that already exited (a backend whose
 * connection closed mid-window still counts).
 */
export function postgresCpuMs(postmasterPid) {
  const table = processTable();
  let ticks = 0;
  for (const [pid, { ppid, fields }] of table) {
    if (pid !== postmasterPid && ppid !== postmasterPid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
    if (pid === postmasterPid) ticks += Number(fields[13]) + Number(fields[14]);
  }
  return (ticks * 1000) / clkTck();
}

/** SIGKILL, ignoring a process that is gone. */
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Stops the postmaster from forking, then SIGKILLs its children and it (synchronous: usable in an exit handler). */
function killTree(pid) {
  signal(pid, "SIGSTOP");
  for (const child of childrenOf(pid)) signal(child, "SIGKILL");
  signal(pid, "SIGKILL");
}

/**
 * Starts PostgreSQL; resolves to { url, port, pid, dir, createDatabase(name), cpuMs(), stop() }.
 * `settings` are extra `-c` settings (e.g. { shared_buffers: "256MB" }).
 */
export async function startPostgres({ settings = {} } = {}) {
  for (const bin of ["initdb", "postgres", "psql"]) {
    if (!existsSync(join(BIN, bin))) throw new StartError("postgres", `${join(BIN, bin)} not found`);
  }
  // PostgreSQL refuses to run as root.
  const asUser =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
          gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
        }
      : {};
  const dir = mkdtempSync(join(tmpdir(), "huddle-bench-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "log");
  let pid;
  // However the bench ends (process.exit from the signal handlers of processes.mjs included), nothing is left.
  const cleanup = () => {
    if (pid) killTree(pid);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", cleanup);
  try {
    if (asUser.uid !== undefined) chownSync(dir, asUser.uid, asUser.gid);
    // --no-sync: initdb's own flush only; the running server keeps fsync on.
    const initArgs = ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"];
    execFileSync(join(BIN, "initdb"), initArgs, { ...asUser, cwd: dir, stdio: "pipe" });
    const port = await freePort();
    const all = { listen_addresses: "127.0.0.1", unix_socket_directories: dir, fsync: "on", ...settings };
    const args = ["-D", data, "-p", String(port), ...Object.entries(all).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
    const out = openSync(log, "a");
    const child = spawn(join(BIN, "postgres"), args, { ...asUser, cwd: dir, stdio: ["ignore", out, out] });
    closeSync(out);
    pid = child.pid;
    const psql = (sql) =>
      execFileSync(join(BIN, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-Atc", sql], {
        encoding: "utf8",
        stdio: "pipe",
      });
    // Ready once it answers a query (not merely listening: it may still be starting up).
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new StartError("postgres", `exited (${child.exitCode}): ${tail(log)}`);
      try {
        psql("SELECT 1");
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new StartError("postgres", `no answer within 20 s: ${tail(log)}`);
      }
      await sleep(50);
    }
    const base = `postgresql://postgres@127.0.0.1:${port}`;
    // One connection kept open for counters: a psql per reading would fork a backend each time (its CPU counted).
    let counters;
    const counterClient = () => {
      counters ??= (async () => {
        const { Client } = require("pg");
        const client = new Client({ connectionString: `${base}/postgres` });
        client.on("error", () => {});
        await client.connect();
        return client;
      })();
      return counters;
    };
    return {
      port,
      pid,
      dir,
      url: `${base}/postgres`,
      /** A fresh database, so that nodes that must not share data (webhooks on and off) do not. */
      createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}`);
        psql(`CREATE DATABASE ${name}`);
        return `${base}/${name}`;
      },
      cpuMs: () => postgresCpuMs(pid),
      /**
       * The next transaction id (xmax of a snapshot: reading it assigns none, so the difference of two readings is
       * the write transactions in between, whatever database) and the WAL position in bytes; read at once, unlike
       * the cumulative statistics views, which backends flush up to a second late.
       */
      async counters() {
        const client = await counterClient();
        const { rows } = await client.query(
          "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid, (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS wal",
        );
        return { xid: Number(rows[0].xid), walBytes: Number(rows[0].wal) };
      },
      /** Fast shutdown, SIGKILL if still up after 5 s; removes the directory. */
      async stop() {
        if (counters) await (await counters.catch(() => null))?.end().catch(() => {});
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGINT");
          const timer = setTimeout(() => killTree(pid), 5000);
          await gone;
          clearTimeout(timer);
        }
        pid = undefined;
        cleanup();
        process.off("exit", cleanup);
      },
    };
  } catch (error) {
    cleanup();
    process.off("exit", cleanup);
    throw error;
  }
}
