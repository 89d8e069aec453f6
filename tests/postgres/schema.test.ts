/**
 * §10's schema and retention against a private PostgreSQL: migrations run
 * twice and from several nodes at once; `HISTORY_RETENTION_DAYS` removes old
 * messages in batches and raises the room's floor, so a resume from before
 * them is told the gap cannot be filled; the database away makes the stores
 * answer `unavailable` at once and not ready, and back, ready again.
 */
import { createLogger } from "../../server/logger";
import { createDatabase, type Database } from "../../server/postgres/database";
import { migrate, MIGRATIONS } from "../../server/postgres/migrations";
import { createPostgresRecords } from "../../server/postgres/pg-stores";
import { createMemoryBus } from "../../server/core/bus";
import { createMemoryPresenceStore } from "../../server/features/rooms/presence.store";
import { StoreUnavailableError } from "../../server/errors";
import { eventually } from "../helpers/clients";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";

const logger = createLogger({ level: "silent", nodeId: "schema-test" });
let postgres: TestPostgres;
const open: { close(): Promise<void> }[] = [];
beforeAll(async () => {
  postgres = await startPostgres();
}, 30_000);
afterAll(async () => {
  await Promise.all(open.map((o) => o.close()));
  await postgres?.destroy();
});

const database = async (url?: string): Promise<Database> => {
  const db = createDatabase({ url: url ?? (await postgres.createDatabase()) }, logger);
  open.push(db);
  return db;
};

test("migrations apply once: a second run applies nothing, and five nodes at once apply each version exactly once", async () => {
  const url = await postgres.createDatabase();
  const dbs = await Promise.all([1, 2, 3, 4, 5].map(() => database(url)));
  const applied = await Promise.all(dbs.map((db) => migrate(db)));
  expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
  expect(await migrate(dbs[0]!)).toEqual([]);
  const versions = await dbs[1]!.query<{ version: number }>("SELECT version FROM huddle_migrations ORDER BY version");
  expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
  const tables = await dbs[2]!.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  expect(tables.map((t) => t.tablename)).toEqual(["bans", "huddle_migrations", "messages", "outbox", "reads", "rooms"]);
});

test("retention removes messages older than the retention in batches, and a resume from before them cannot be filled", async () => {
  const url = await postgres.createDatabase();
  const day = 86_400_000;
  let now = Date.now();
  const records = await createPostgresRecords(
    { databaseUrl: url, historyRetentionDays: 2, nodeId: "retention" },
    logger,
    { now: () => now, retentionEveryMs: 3_600_000 },
  );
  open.push(records);
  const { messages } = records.records({ bus: createMemoryBus(), presence: createMemoryPresenceStore() });
  const user = { id: "u", name: "U" };
  const old = [];
  for (let i = 0; i < 5; i++)
    old.push((await messages.append({ roomId: "r", user, text: `old ${i}`, ts: now - 3 * day })).message);
  const recent = (await messages.append({ roomId: "r", user, text: "recent", ts: now - day })).message;
  const db = await database(url);
  await migrate(db);
  const retention = (await import("../../server/postgres/retention")).startRetention({
    db,
    days: 2,
    now: () => now,
    batch: 2,
    everyMs: 3_600_000,
    onError: (error) => {
      throw error;
    },
  });
  try {
    expect(await retention.run()).toBe(5);
  } finally {
    retention.stop();
  }
  expect((await messages.latest("r", 10)).messages).toEqual([recent]);
  expect(await messages.since("r", old[1]!.id, 100)).toBeNull();
  expect(await messages.since("r", old[4]!.id, 100)).toBeNull();
  now += 10 * day;
  expect(await messages.get("r", recent.id)).toEqual(recent);
});

test("the database away: calls fail at once as unavailable and the records are not ready; back: ready, no restart", async () => {
  const url = await postgres.createDatabase();
  const records = await createPostgresRecords({ databaseUrl: url, nodeId: "away" }, logger);
  open.push(records);
  const { messages } = records.records({ bus: createMemoryBus(), presence: createMemoryPresenceStore() });
  await messages.append({ roomId: "r", user: { id: "u", name: "U" }, text: "before", ts: Date.now() });
  expect(records.isReady()).toBe(true);
  await postgres.kill();
  try {
    const startedAt = Date.now();
    await expect(messages.latest("r", 10)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(
      messages.append({ roomId: "r", user: { id: "u", name: "U" }, text: "lost", ts: Date.now() }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(records.isReady()).toBe(false);
  } finally {
    await postgres.start();
  }
  await eventually(() => records.isReady(), "ready again", 10_000);
  expect((await messages.latest("r", 10)).messages.map((m) => m.text)).toEqual(["before"]);
});

test("the server killed during a transaction: the transaction fails as unavailable and the process goes on", async () => {
  const db = await database();
  // The connection is checked out of the pool (no pool listener) and busy when the server dies.
  const inFlight = db.transaction((query) => query("SELECT pg_sleep(30)"));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await postgres.kill();
  try {
    await expect(inFlight).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(db.isReady()).toBe(false);
  } finally {
    await postgres.start();
  }
  await eventually(() => db.isReady(), "ready again", 10_000);
  expect(await db.transaction((query) => query<{ one: number }>("SELECT 1 AS one"))).toEqual([{ one: 1 }]);
});
