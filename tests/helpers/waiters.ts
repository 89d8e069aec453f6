/**
 * Waiting for something that arrives over time (a frame, an SSE event): the
 * receiving side calls `wake()` after each arrival, and `until` resolves with
 * the first thing `find` finds, trying now and after every wake-up, or fails
 * after `timeoutMs` naming what it waited for.
 */
export interface Waiters {
  wake(): void;
  until<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T>;
}

export function createWaiters(): Waiters {
  const waiting = new Set<() => void>();
  return {
    wake() {
      for (const check of [...waiting]) check();
    },
    until(find, what, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiting.delete(check);
        };
        waiting.add(check);
        check();
      });
    },
  };
}
