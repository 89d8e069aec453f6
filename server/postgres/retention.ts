/**
 * `HISTORY_RETENTION_DAYS` (§10): messages older than the retention are
 * removed in small batches, so no transaction holds many rows or runs long,
 * by one node at a time (a try-lock: the others skip that pass). Each batch
 * raises the rooms' floors to the newest position it removed, so a client
 * resuming from before it is told the gap cannot be filled.
 */
import type { Database } from "./database";

export interface RetentionOptions {
  db: Database;
  days: number;
  now(): number;
  /** @default 60000 */
  everyMs?: number;
  /** Rows removed per transaction. @default 1000 */
  batch?: number;
  onError(error: unknown): void;
}

/** Any fixed 64-bit number: the advisory lock of a retention pass. */
const RETENTION_LOCK = 4_617_316_331_872_030_118n;

export interface Retention {
  /** Runs one pass now; resolves with the number of messages removed. */
  run(): Promise<number>;
  stop(): void;
}

export function startRetention(options: RetentionOptions): Retention {
  const batch = options.batch ?? 1000;
  const run = () =>
    options.db.withClient(async (query) => {
      const [{ locked } = { locked: false }] = await query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1) AS locked",
        [RETENTION_LOCK.toString()],
      );
      if (!locked) return 0;
      try {
        const before = options.now() - options.days * 86_400_000;
        let removed = 0;
        for (;;) {
          const rows = await query<{ count: string }>(
            `WITH doomed AS (
               SELECT room_id, pos FROM messages WHERE ts < $1 ORDER BY ts LIMIT $2 FOR UPDATE SKIP LOCKED),
             gone AS (
               DELETE FROM messages m USING doomed d WHERE m.room_id = d.room_id AND m.pos = d.pos
               RETURNING m.room_id, m.pos),
             floors AS (
               UPDATE rooms SET floor = greatest(rooms.floor, g.pos)
               FROM (SELECT room_id, max(pos) AS pos FROM gone GROUP BY room_id) g WHERE rooms.room_id = g.room_id)
             SELECT count(*) AS count FROM gone`,
            [before, batch],
          );
          const count = Number(rows[0]?.count ?? 0);
          removed += count;
          if (count < batch) return removed;
        }
      } finally {
        await query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK.toString()]).catch(() => {});
      }
    });

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    timer = setTimeout(() => {
      run()
        .catch(options.onError)
        .finally(() => !stopped && loop());
    }, options.everyMs ?? 60_000);
    timer.unref();
  };
  loop();
  return {
    run,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
