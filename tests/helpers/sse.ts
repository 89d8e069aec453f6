/**
 * A real Server-Sent Events reader over fetch: parses the stream as a browser
 * EventSource would (events, ids, comments) and lets a test await events.
 */
import { createWaiters } from "./waiters";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves once the stream is over: ended by the server, broken, or closed by `close()`. */
  readonly ended: Promise<void>;
  /** Waits for the next event (of `type`, if given) not yet taken by a previous `next`. */
  next(type?: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let taken = 0;
  const waiters = createWaiters();
  const notify = () => waiters.wake();

  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    let current: Partial<SseEvent> & { data?: string } = {};
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
          if (line === "") {
            if (current.data !== undefined) {
              events.push({ event: current.event ?? "message", data: current.data, id: current.id });
              notify();
            }
            current = {};
          } else if (line.startsWith(":")) {
            comments.push(line.slice(1).trim());
            notify();
          } else {
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") current.data = current.data === undefined ? value : `${current.data}\n${value}`;
            else if (field === "event") current.event = value;
            else if (field === "id") current.id = value;
          }
        }
      }
    } catch {
      // aborted
    }
  })();

  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    ended,
    next(type, timeoutMs = 3000) {
      const find = () => {
        while (taken < events.length) {
          const event = events[taken++]!;
          if (type === undefined || event.event === type) return event;
        }
        return undefined;
      };
      return waiters.until(find, `SSE event ${type ?? "(any)"}`, timeoutMs);
    },
    close: () => controller.abort(),
  };
}
