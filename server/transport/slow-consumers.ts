/**
 * Slow consumers: a client that stops reading (a paused tab, a dead mobile
 * link, a hostile client) must not make the server hold an ever-growing
 * queue of unsent output. Every connection (Socket.IO, `/ws`, SSE) is
 * registered here with a way to measure its unsent bytes; a periodic sweep
 * (cheap: one number per connection) compares them with `MAX_BUFFERED_BYTES`:
 *
 * - past half of it the connection is *lagging*: typing updates (ephemeral,
 *   and corrected by the next one) are no longer sent to it, so what it does
 *   receive is what matters. Socket.IO sockets join the `lagging` room, which
 *   the delivery excludes from typing broadcasts; `/ws` and SSE make the same
 *   check on their send path, where it is O(1).
 * - past the cap, and not draining since the previous sweep, it is
 *   disconnected: the transport is closed, so a well-behaved client
 *   reconnects and resumes with `since` / `Last-Event-ID`. "Not draining"
 *   spares a client that is reading a single large answer (a resumed join
 *   can exceed the cap on its own) while still bounding memory: the queue
 *   can only grow past the cap for one sweep interval.
 */
import type { Socket as EngineSocket } from "engine.io";
import type { Server, Socket } from "socket.io";
import type { WebSocket } from "ws";

/** The Socket.IO room of sockets that are behind; typing broadcasts skip it. */
export const LAGGING_ROOM = "lagging";

export type ConsumerTransport = "socket.io" | "ws" | "sse";

export interface WatchedConnection {
  readonly transport: ConsumerTransport;
  /** Who, for the log line. */
  readonly userId?: string;
  /** Bytes queued for this client and not yet handed to the kernel. */
  bufferedBytes(): number;
  /** Called when the connection starts or stops lagging. */
  setLagging?(lagging: boolean): void;
  /** Closes the transport at once (its queue is dropped). */
  drop(): void;
}

export interface SlowConsumerOptions {
  /** `MAX_BUFFERED_BYTES`. @default 1048576 */
  maxBufferedBytes: number;
  /** How often queues are measured. @default 250 */
  sweepMs?: number;
  /** A connection was disconnected with `bytes` unsent. */
  onDropped(connection: WatchedConnection, bytes: number): void;
  /** After each sweep: how many connections of each transport are lagging. */
  onSweep?(lagging: Readonly<Record<ConsumerTransport, number>>): void;
}

export interface SlowConsumerGuard {
  /** Starts watching `connection`; returns the function that stops it (call it when the connection closes). */
  watch(connection: WatchedConnection): () => void;
  /** Stops watching `connection` (the same as calling what `watch` returned). */
  unwatch(connection: WatchedConnection): void;
  close(): void;
}

export function createSlowConsumerGuard(options: SlowConsumerOptions): SlowConsumerGuard {
  const max = options.maxBufferedBytes;
  const watched = new Map<WatchedConnection, { last: number; lagging: boolean }>();

  const sweep = () => {
    const lagging: Record<ConsumerTransport, number> = { "socket.io": 0, ws: 0, sse: 0 };
    for (const [connection, state] of watched) {
      const bytes = connection.bufferedBytes();
      if (bytes > max && bytes >= state.last) {
        watched.delete(connection);
        connection.drop();
        options.onDropped(connection, bytes);
        continue;
      }
      state.last = bytes;
      // Hysteresis: in past half the cap, out below a quarter, so a queue hovering at the mark does not flap.
      const nowLagging = state.lagging ? bytes > max / 4 : bytes > max / 2;
      if (nowLagging !== state.lagging) {
        state.lagging = nowLagging;
        connection.setLagging?.(nowLagging);
      }
      if (nowLagging) lagging[connection.transport]++;
    }
    options.onSweep?.(lagging);
  };
  const timer = setInterval(sweep, options.sweepMs ?? 250);
  timer.unref();

  return {
    watch(connection) {
      // No previous measure yet: the first sweep only records one, so a queue is never judged on a single look.
      watched.set(connection, { last: Infinity, lagging: false });
      return () => void watched.delete(connection);
    },
    unwatch(connection) {
      watched.delete(connection);
    },
    close() {
      clearInterval(timer);
      watched.clear();
    },
  };
}

/** True when a typing update should be skipped on a connection with `bufferedBytes` queued. O(1). */
export function shouldDropTyping(bufferedBytes: number, maxBufferedBytes: number): boolean {
  return bufferedBytes > maxBufferedBytes / 2;
}

// Socket.IO's server generics do not matter here.
type LooseServer = Server<any, any, any, any>;

/** Watches every Socket.IO socket of `io` while it is connected. */
export function watchSocketIo(io: LooseServer, guard: SlowConsumerGuard): void {
  const watchedSockets = new WeakMap<object, WatchedSocket>();
  // Shared listener (`this` is the socket): no closures per socket, which matters for memory per idle connection.
  function unwatch(this: object) {
    const watched = watchedSockets.get(this);
    if (watched) guard.unwatch(watched);
  }
  io.on("connection", (socket) => {
    const watched = new WatchedSocket(socket);
    watchedSockets.set(socket, watched);
    guard.watch(watched);
    socket.once("disconnect", unwatch);
  });
}

type LooseSocket = Socket<any, any, any, any>;

/** A Socket.IO socket as the guard sees it; methods on the prototype. */
class WatchedSocket implements WatchedConnection {
  readonly transport = "socket.io" as const;
  constructor(private readonly socket: LooseSocket) {}
  get userId(): string | undefined {
    return (this.socket.data as { user?: { id?: string } } | undefined)?.user?.id;
  }
  bufferedBytes(): number {
    return engineBufferedBytes(this.socket.conn);
  }
  setLagging(lagging: boolean): void {
    void (lagging ? this.socket.join(LAGGING_ROOM) : this.socket.leave(LAGGING_ROOM));
  }
  drop(): void {
    dropEngineConnection(this.socket.conn);
  }
}

interface QueuedPacket {
  data?: unknown;
}

/**
 * An Engine.IO connection's unsent bytes: packets waiting in its write buffer (all of them while a polling
 * client is not polling, or while the WebSocket's previous write has not completed), plus, over WebSocket,
 * what `ws` has queued on the TCP socket.
 */
export function engineBufferedBytes(conn: EngineSocket): number {
  let bytes = 0;
  const queue = (conn as unknown as { writeBuffer?: QueuedPacket[] }).writeBuffer ?? [];
  for (const packet of queue) bytes += packetBytes(packet.data);
  const transport = conn.transport as unknown as { name: string; socket?: WebSocket };
  if (transport.name === "websocket" && transport.socket) bytes += transport.socket.bufferedAmount;
  return bytes;
}

function packetBytes(data: unknown): number {
  // A string's length is its size in memory to within a factor of two, and reading it is O(1).
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 16;
}

/**
 * Closes an Engine.IO connection at once. Over WebSocket the socket is terminated (a close handshake could never
 * get past the queue). Over polling the connection is discarded with its queue: the next poll gets "session ID
 * unknown" and the client reconnects.
 */
export function dropEngineConnection(conn: EngineSocket): void {
  const transport = conn.transport as unknown as { name: string; socket?: WebSocket };
  if (transport.name === "websocket" && transport.socket) transport.socket.terminate();
  else conn.close(true);
}
