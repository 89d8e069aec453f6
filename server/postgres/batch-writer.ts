/**
 * Group commit: writes that arrive while a batch is being committed wait and
 * go together in the next one, so under load many messages share one
 * transaction (one WAL flush, a handful of round trips) instead of one each,
 * and an idle writer adds no delay at all. Each item gets its own outcome; a
 * batch that fails as a whole fails each of its items with that error.
 */

export interface BatchWriter<T, R> {
  /** Queues `item`; resolves with its result once its batch is committed. */
  submit(item: T): Promise<R>;
  /** Resolves once every item submitted so far has its outcome. */
  drain(): Promise<void>;
}

/** One item's outcome, as the batch's `run` reports it. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface BatchWriterOptions<T, R> {
  /** Writes the items, in order, as one unit; answers one outcome per item, in the same order. */
  run(items: T[]): Promise<Outcome<R>[]>;
  /** The most items in one batch. @default 500 */
  maxBatch?: number;
}

export function createBatchWriter<T, R>(options: BatchWriterOptions<T, R>): BatchWriter<T, R> {
  const maxBatch = options.maxBatch ?? 500;
  let queue: { item: T; resolve(value: R): void; reject(error: unknown): void }[] = [];
  let running: Promise<void> | undefined;

  const runNext = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      let outcomes: Outcome<R>[];
      try {
        outcomes = await options.run(batch.map((entry) => entry.item));
      } catch (error) {
        outcomes = batch.map(() => ({ ok: false, error }));
      }
      batch.forEach((entry, i) => {
        const outcome = outcomes[i] ?? { ok: false, error: new Error("no outcome for a batch item") };
        if (outcome.ok) entry.resolve(outcome.value);
        else entry.reject(outcome.error);
      });
    }
  };

  const kick = () => {
    if (running) return;
    running = runNext().finally(() => {
      running = undefined;
      // Submitted after the loop saw an empty queue but before this ran: start again.
      if (queue.length > 0) kick();
    });
  };

  return {
    submit(item) {
      const result = new Promise<R>((resolve, reject) => queue.push({ item, resolve, reject }));
      kick();
      return result;
    },
    async drain() {
      while (running) await running;
    },
  };
}
