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
  {
    version: 3,
    name: "append a batch of sends in one round trip",
    // The group commit's work (../postgres/append-batch.ts) in the database, so a batch is one statement, not
    // eight round trips. VOLATILE: each statement below sees what committed before it began, so the lookups run
    // after the rooms' locks are held see another node's batch that held them first.
    sql: `
      CREATE FUNCTION huddle_append(
        p_room text[], p_user text[], p_name text[], p_text text[], p_ts bigint[], p_cmid text[],
        p_reply text[], p_reply_epoch bigint[], p_reply_pos bigint[])
      RETURNS TABLE (idx integer, duplicate boolean, room_id text, pos bigint, seq bigint, rev bigint,
                     user_id text, user_name text, text text, ts bigint, client_msg_id text, reply_to text,
                     edited_at bigint, deleted boolean, reactions jsonb, epoch bigint)
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        INSERT INTO rooms (room_id, epoch)
          SELECT id, nextval('room_epochs') FROM (SELECT DISTINCT unnest(p_room) AS id ORDER BY 1) AS new_rooms
          ON CONFLICT DO NOTHING;
        -- In room order, so two nodes' batches cannot deadlock.
        PERFORM 1 FROM rooms WHERE rooms.room_id = ANY(p_room) ORDER BY rooms.room_id FOR UPDATE;
        RETURN QUERY
        WITH d AS (
          SELECT t.ord::integer AS idx, t.room_id, t.user_id, t.user_name, t.text, t.ts, t.cmid, t.reply,
                 t.reply_epoch, t.reply_pos
          FROM unnest(p_room, p_user, p_name, p_text, p_ts, p_cmid, p_reply, p_reply_epoch, p_reply_pos)
               WITH ORDINALITY AS t(room_id, user_id, user_name, text, ts, cmid, reply, reply_epoch, reply_pos, ord)
        ),
        -- A clientMsgId stored before (by an earlier batch or another node): its first message, as it is now.
        dup AS (
          SELECT d.idx, m.* FROM d
          JOIN messages m ON m.room_id = d.room_id AND m.user_id = d.user_id AND m.client_msg_id = d.cmid
        ),
        -- The rest take the room's next positions, in batch order; a replyTo must be a message of the room.
        fresh AS (
          SELECT d.*, r.epoch,
                 r.pos + row_number() OVER (PARTITION BY d.room_id ORDER BY d.idx) AS new_pos,
                 r.seq + row_number() OVER (PARTITION BY d.room_id ORDER BY d.idx) AS new_seq
          FROM d JOIN rooms r ON r.room_id = d.room_id
          WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.idx = d.idx)
            AND (d.reply IS NULL OR (d.reply_epoch = r.epoch AND EXISTS (
                   SELECT 1 FROM messages m WHERE m.room_id = d.room_id AND m.pos = d.reply_pos)))
        ),
        stored AS (
          INSERT INTO messages (room_id, pos, seq, rev, user_id, user_name, text, ts, client_msg_id, reply_to)
          SELECT room_id, new_pos, new_seq, new_pos, user_id, user_name, text, ts, cmid, reply FROM fresh
        ),
        counters AS (
          UPDATE rooms SET pos = rooms.pos + c.n, seq = rooms.seq + c.n
          FROM (SELECT room_id, count(*) AS n FROM fresh GROUP BY room_id) AS c WHERE rooms.room_id = c.room_id
        ),
        -- An author's own message moves their read marker (and public position) to it: the last of theirs wins.
        marks AS (
          UPDATE reads SET read_seq = f.new_seq, read_pos = f.new_pos, public_seq = f.new_seq, public_pos = f.new_pos
          FROM (SELECT DISTINCT ON (room_id, user_id) room_id, user_id, new_seq, new_pos FROM fresh
                ORDER BY room_id, user_id, idx DESC) AS f
          WHERE reads.room_id = f.room_id AND reads.user_id = f.user_id
        )
        SELECT f.idx, false, f.room_id, f.new_pos, f.new_seq, f.new_pos, f.user_id, f.user_name, f.text, f.ts,
               f.cmid, f.reply, NULL::bigint, false, NULL::jsonb, f.epoch
        FROM fresh f
        UNION ALL
        SELECT dup.idx, true, dup.room_id, dup.pos, dup.seq, dup.rev, dup.user_id, dup.user_name, dup.text, dup.ts,
               dup.client_msg_id, dup.reply_to, dup.edited_at, dup.deleted, dup.reactions, r.epoch
        FROM dup JOIN rooms r ON r.room_id = dup.room_id;
      END
      $$;
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
