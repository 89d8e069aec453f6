/**
 * PostgreSQL as the store of record (§10): messages and read state, over one
 * pool, with the schema migrated at start-up and retention running when
 * `HISTORY_RETENTION_DAYS` is set. The rest (bus, presence, typing, limits)
 * stays where it was: memory on one node, Redis across nodes.
 */
import type { Config } from "../config";
import type { Logger } from "../logger";
import type { RecordStores } from "../stores";
import { createDatabase, type Database } from "./database";
import { createPostgresMessageStore, type PostgresMessageStore } from "./messages.pg";
import { migrate } from "./migrations";
import { createPostgresReadStore } from "./reads.pg";
import { createPostgresOutbox } from "./outbox.pg";
import { createPostgresBanStore } from "./bans.pg";
import { startRetention, type Retention } from "./retention";

export interface PostgresRecords {
  readonly db: Database;
  /** The factory the store bundles take (`records`). */
  readonly records: RecordStores;
  /** Migrated and reachable. */
  isReady(): boolean;
  /** Lets the sends in flight commit. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresRecordOptions {
  /** How long start-up waits for the database before going on, not ready, migrating once it comes. @default 10000 */
  connectWaitMs?: number;
  /** Connections in the pool. @default 10 */
  maxConnections?: number;
  /** @default 60000 */
  retentionEveryMs?: number;
  now?: () => number;
}

/** Connects, migrates (retrying in the background while the database is away) and returns the record stores. */
export async function createPostgresRecords(
  config: Pick<Config, "databaseUrl" | "historyRetentionDays" | "nodeId" | "webhook">,
  logger: Logger,
  options: PostgresRecordOptions = {},
): Promise<PostgresRecords> {
  if (!config.databaseUrl) throw new Error("createPostgresRecords needs config.databaseUrl (DATABASE_URL)");
  const now = options.now ?? Date.now;
  const db = createDatabase(
    { url: config.databaseUrl, maxConnections: options.maxConnections, applicationName: `huddle-${config.nodeId}` },
    logger,
  );
  // Webhook dispatch (claims, settles, the failed list) on a small pool of its own: a backlog of events, or a
  // receiver that hangs, must not take the connections sends commit on.
  const dispatchDb =
    config.webhook === undefined
      ? undefined
      : createDatabase(
          { url: config.databaseUrl, maxConnections: 3, applicationName: `huddle-${config.nodeId}-webhooks` },
          logger,
        );
  let migrated = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const migrating = (async function attempt(): Promise<void> {
    try {
      const applied = await migrate(db);
      if (applied.length > 0) logger.info({ versions: applied }, "database schema migrated");
      migrated = true;
    } catch (error) {
      if (closed) return;
      logger.warn({ err: error }, "database schema not migrated yet; retrying");
      await new Promise((resolve) => (retry = setTimeout(resolve, 1000)));
      if (!closed) return attempt();
    }
  })();
  await Promise.race([
    migrating,
    new Promise((resolve) => setTimeout(resolve, options.connectWaitMs ?? 10_000).unref()),
  ]);
  if (!migrated) logger.warn("postgresql is not reachable yet: not ready until it is");

  let messages: PostgresMessageStore | undefined;
  const retention: Retention | undefined =
    config.historyRetentionDays === undefined
      ? undefined
      : startRetention({
          db,
          days: config.historyRetentionDays,
          now,
          everyMs: options.retentionEveryMs,
          onError: (error) => logger.warn({ err: error }, "retention pass failed"),
        });

  return {
    db,
    records({ bus, presence }) {
      const webhooks = config.webhook !== undefined;
      messages = createPostgresMessageStore({ db, bus, webhooks });
      const reads = createPostgresReadStore({ db, members: (roomId) => presence.count(roomId) });
      return {
        messages,
        reads,
        outbox: dispatchDb ? createPostgresOutbox(dispatchDb) : undefined,
        bans: createPostgresBanStore(db),
      };
    },
    isReady: () => migrated && db.isReady(),
    drain: async () => messages?.drain(),
    async close() {
      closed = true;
      clearTimeout(retry);
      retention?.stop();
      await Promise.all([db.close(), dispatchDb?.close()]);
    },
  };
}
