/**
 * At most one `read:updated` a second for a user in a room (§9), carrying the
 * latest: the first read goes out at once, later ones within the window wait
 * for its end and go out as one. Per node: a user reading on two nodes at once
 * may be told twice a second, never with a stale marker last.
 */
import type { ReadPosition, RoomEvent } from "../../core/bus";

type ReadEvent = Extract<RoomEvent, { type: "read" }>;

export interface ReadCoalescer {
  push(event: ReadEvent): void;
  close(): void;
}

export function createReadCoalescer(publish: (event: ReadEvent) => void, windowMs = 1000): ReadCoalescer {
  const windows = new Map<string, { timer: NodeJS.Timeout; pending?: ReadEvent }>();

  const open = (key: string) => {
    const timer = setTimeout(() => {
      const window = windows.get(key);
      windows.delete(key);
      if (window?.pending) {
        publish(window.pending);
        open(key);
      }
    }, windowMs);
    timer.unref();
    windows.set(key, { timer });
  };

  return {
    push(event) {
      const key = `${event.roomId}\n${event.user.id}`;
      const window = windows.get(key);
      if (!window) {
        publish(event);
        return open(key);
      }
      // The latest marker; the latest public position, if any read of the window moved it.
      const publicPosition: ReadPosition | undefined = event.public ?? window.pending?.public;
      window.pending = { ...event, ...(publicPosition && { public: publicPosition }) };
    },
    close() {
      for (const window of windows.values()) clearTimeout(window.timer);
      windows.clear();
    },
  };
}
