/**
 * Turns a stream of keystrokes into few typing events: `start` at most once
 * per `startIntervalMs` while the user keeps typing (often enough to outlive
 * the server's typing TTL), and `stop` once they have been idle for `idleMs`
 * or when they send. Pure timing logic: the emits and the clock are injected.
 */
export interface TypingThrottleOptions {
  /** Least time between two `typing:start` of one room. @default 2000 */
  startIntervalMs?: number;
  /** Idle time after the last keystroke before `typing:stop`. @default 3000 */
  idleMs?: number;
  now?: () => number;
  emitStart(roomId: string): void;
  emitStop(roomId: string): void;
}

export interface TypingThrottle {
  /** Call on every keystroke in `roomId`'s composer. */
  input(roomId: string): void;
  /** The user sent or cleared the text: emit `stop` now if a `start` is outstanding. */
  stop(roomId: string): void;
  /** Forget a room (or all) without emitting: the server already ended typing (left, disconnected). */
  reset(roomId?: string): void;
}

export function createTypingThrottle(options: TypingThrottleOptions): TypingThrottle {
  const startIntervalMs = options.startIntervalMs ?? 2000;
  const idleMs = options.idleMs ?? 3000;
  const now = options.now ?? Date.now;
  const active = new Map<string, { lastStartAt: number; idleTimer: ReturnType<typeof setTimeout> }>();

  const stop = (roomId: string) => {
    const entry = active.get(roomId);
    if (!entry) return;
    clearTimeout(entry.idleTimer);
    active.delete(roomId);
    options.emitStop(roomId);
  };

  return {
    input(roomId) {
      const entry = active.get(roomId);
      const at = now();
      if (entry) clearTimeout(entry.idleTimer);
      let lastStartAt = entry?.lastStartAt ?? -Infinity;
      if (at - lastStartAt >= startIntervalMs) {
        lastStartAt = at;
        options.emitStart(roomId);
      }
      active.set(roomId, { lastStartAt, idleTimer: setTimeout(() => stop(roomId), idleMs) });
    },
    stop,
    reset(roomId) {
      for (const [id, entry] of active) {
        if (roomId !== undefined && id !== roomId) continue;
        clearTimeout(entry.idleTimer);
        active.delete(id);
      }
    },
  };
}
