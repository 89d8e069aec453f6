/**
 * The private PostgreSQL harness (tests/helpers/postgres-server.ts) against the
 * real server: it answers through pg's Pool, kill() is a SIGKILL that drops
 * connections mid-query and loses nothing committed, stop()/start() keep the
 * data, createDatabase() gives separate databases, and destroy() leaves no
 * process, port or directory behind. SHOW_FIGURES=1 prints the timings.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Pool } from "pg";
import { sleep } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";

let pg: TestPostgres;
const pools: Pool[] = [];
function pool(url: string): Pool {
  const p = new Pool({ connectionString: url, connectionTimeoutMillis: 2000 });
  p.on("error", () => {}); // an idle client's connection dropping by kill() is expected here
  pools.push(p);
  return p;
}
const figure = (text: string) => process.env.SHOW_FIGURES && console.log(text);

/** Running processes of this server: the postmaster and every backend work in <dir>/data (a zombie has no cwd). */
function processesIn(dir: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)
          ? [`${pid}: ${readFileSync(`/proc/${pid}/cmdline`)}`]
          : [];
      } catch {
        return [];
      }
    });
}

beforeAll(async () => {
  const began = Date.now();
  pg = await startPostgres();
  figure(`PostgreSQL: initdb + start + SELECT 1 in ${Date.now() - began} ms`);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => {})));
  await pg?.destroy();
});

test("a private server of its own answers through pg's Pool", async () => {
  expect(pg.host).toBe("127.0.0.1");
  expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
  expect(pg.port).not.toBe(5432);
  const db = pool(pg.url);
  expect((await db.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  expect((await db.query("SHOW data_directory")).rows[0].data_directory).toBe(join(pg.dir, "data"));
  expect((await db.query("SHOW fsync")).rows[0].fsync).toBe("off");
});

test("kill() drops connections mid-query; start() brings back all that was committed, and only that", async () => {
  const db = pool(pg.url);
  await db.query("CREATE TABLE notes (id int PRIMARY KEY, body text)");
  await db.query("INSERT INTO notes VALUES (1, 'committed before the kill')");
  const open = await db.connect();
  open.on("error", () => {});
  await open.query("BEGIN");
  await open.query("INSERT INTO notes VALUES (2, 'never committed')");
  const inFlight = open.query("SELECT pg_sleep(10)");
  await sleep(100);
  expect(processesIn(pg.dir).length).toBeGreaterThan(2); // the postmaster, its helpers, the backends

  const began = Date.now();
  await pg.kill();
  figure(`PostgreSQL: kill() in ${Date.now() - began} ms`);
  await expect(inFlight).rejects.toThrow(/Connection terminated/);
  open.release(true);
  await expect(db.query("SELECT 1")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  expect(processesIn(pg.dir)).toEqual([]);

  const restarted = Date.now();
  await pg.start(); // crash recovery replays the WAL
  figure(`PostgreSQL: start() after SIGKILL in ${Date.now() - restarted} ms`);
  expect((await db.query("SELECT id, body FROM notes ORDER BY id")).rows).toEqual([
    { id: 1, body: "committed before the kill" },
  ]);
});

test("createDatabase() gives separate databases, a unique name unless one is given", async () => {
  const [first, second] = [await pg.createDatabase(), await pg.createDatabase()];
  const named = await pg.createDatabase("huddle_named");
  expect(named).toBe(`postgres://postgres@127.0.0.1:${pg.port}/huddle_named`);
  expect(new Set([first, second, named]).size).toBe(3);
  const [a, b] = [pool(first), pool(second)];
  await a.query("CREATE TABLE only_here (x int)");
  expect((await a.query("SELECT current_database() AS name")).rows[0].name).toBe(first.split("/").pop());
  await expect(b.query("SELECT * FROM only_here")).rejects.toMatchObject({ code: "42P01" }); // undefined_table
  await expect(pg.createDatabase("no; DROP")).rejects.toThrow(/not a plain lower-case name/);
});

test("stop() is a clean shutdown that keeps the data; destroy() leaves no process, port or directory", async () => {
  const db = pool(pg.url);
  await pg.stop();
  await expect(db.query("SELECT 1")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  await pg.start();
  expect((await db.query("SELECT count(*)::int AS n FROM notes")).rows).toEqual([{ n: 1 }]);
  expect(readFileSync(join(pg.dir, "log"), "utf8")).toMatch(/database system is ready to accept connections/);

  await Promise.all(pools.splice(0).map((p) => p.end()));
  await pg.destroy();
  expect(existsSync(pg.dir)).toBe(false);
  expect(processesIn(pg.dir)).toEqual([]);
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer().once("error", () => resolve(false));
    server.listen(pg.port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
  expect(free).toBe(true);
});
