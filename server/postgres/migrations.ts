/**
 * The schema (§10), created and migrated at start-up. Migrations run one at a
 * time under a session advisory lock, so any number of nodes can start at
 * once: the first applies what is missing, the others wait and then find
 * nothing left to do. Each migration is applied in its own transaction and
 * recorded in `huddle_migrations`; a migration, once released, never changes
 * (add a new one).
 *
 * Positions (../core/position.ts) are stored as numbers: a message's id is
 * `<rooms.epoch>-<messages.pos>`, its rev `<epoch>-<rev>`. `rooms.floor` is the
 * highest position retention removed (a `since` at or below it is unknown).
 */
import type { Database } from "./database";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "rooms, messages, read markers, bans",
    sql: `
      -- Epochs are unique per room: a sequence started at the time of the first migration, in microseconds.
      CREATE SEQUENCE room_epochs;
      SELECT setval('room_epochs', (extract(epoch from clock_timestamp()) * 1000000)::bigint);

      CREATE TABLE rooms (
        room_id text PRIMARY KEY,
        epoch bigint NOT NULL,
        pos bigint NOT NULL DEFAULT 0,
        seq bigint NOT NULL DEFAULT 0,
        floor bigint NOT NULL DEFAULT 0
      );

      CREATE TABLE messages (
        room_id text NOT NULL,
        pos bigint NOT NULL,
        seq bigint NOT NULL,
        rev bigint NOT NULL,
        user_id text NOT NULL,
        user_name text NOT NULL,
        text text NOT NULL,
        ts bigint NOT NULL,
        client_msg_id text,
        reply_to text,
        edited_at bigint,
        deleted boolean NOT NULL DEFAULT false,
        -- Every reacting user, per emoji, in order of first use: [{emoji, userIds}].
        reactions jsonb,
        PRIMARY KEY (room_id, pos)
      );
      -- A repeated clientMsgId is recognised for as long as its message is kept.
      CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, user_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
      CREATE INDEX messages_rev ON messages (room_id, rev);
      CREATE INDEX messages_ts ON messages (ts);

      CREATE TABLE reads (
        room_id text NOT NULL,
        user_id text NOT NULL,
        user_name text NOT NULL,
        read_seq bigint NOT NULL DEFAULT 0,
        read_pos bigint,
        public_seq bigint NOT NULL DEFAULT 0,
        public_pos bigint,
        -- When the room became one of the user's rooms (ms).
        joined_at bigint NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE INDEX reads_user ON reads (user_id);
      CREATE INDEX reads_public ON reads (room_id, public_seq DESC) WHERE public_pos IS NOT NULL;

      CREATE TABLE bans (
        room_id text NOT NULL,
        user_id text NOT NULL,
        until bigint,
        reason text,
        created_at bigint NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
    `,
  },
  {
    version: 2,
    name: "webhook outbox",
    sql: `
      -- Webhook events (§11), written in the same transaction as their change. Delivered ones are deleted;
      -- those that exhausted their retries stay, state 'failed'.
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        webhook_id text NOT NULL,
        room_id text NOT NULL,
        type text NOT NULL,
        at bigint NOT NULL,
        message jsonb NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        first_attempt_at bigint,
        next_at bigint NOT NULL DEFAULT 0,
        locked_until bigint,
        locked_by text,
        last_status integer,
        last_error text,
        failed_at bigint
      );
      -- The head of each room: the oldest pending event.
      CREATE INDEX outbox_pending ON outbox (room_id, id) WHERE state = 'pending';
      CREATE INDEX outbox_failed ON outbox (failed_at DESC) WHERE state = 'failed';
    `,
  },
];

/** Any fixed 64-bit number: the advisory lock every node takes to migrate. */
const MIGRATION_LOCK = 4_617_316_331_872_030_117n;

/** Applies the migrations not applied yet; safe to run from several nodes at once. Returns the versions applied. */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return db.withClient(async (query) => {
    await query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
    try {
      await query(
        `CREATE TABLE IF NOT EXISTS huddle_migrations (
           version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await query<{ version: number }>("SELECT version FROM huddle_migrations")).map((r) => r.version),
      );
      const applied: number[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        await query("BEGIN");
        try {
          await query(migration.sql);
          await query("INSERT INTO huddle_migrations (version, name) VALUES ($1, $2)", [
            migration.version,
            migration.name,
          ]);
          await query("COMMIT");
        } catch (error) {
          await query("ROLLBACK").catch(() => {});
          throw error;
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]).catch(() => {});
    }
  });
}
