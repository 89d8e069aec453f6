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
 *   can only grow past the cap for a sweep interval or two.
 *
 * Socket.IO sockets are not registered: the guard reads the namespace's
 * sockets at each sweep and keeps a figure only for those with unsent bytes,
 * so an idle socket costs it no memory.
 */
import type { Socket as EngineSocket } from "engine.io";
import type { Server } from "socket.io";
import type { WebSocket } from "ws";

/** The Socket.IO room of sockets that are behind; typing broadcasts skip it. */
export const LAGGING_ROOM = "lagging";

export type ConsumerTransport = "socket.io" | "ws" | "sse";

/** Who was dropped, for the metric and the log line. */
export interface ConsumerInfo {
  readonly transport: ConsumerTransport;
  readonly userId?: string;
}

export interface WatchedConnection extends ConsumerInfo {
  /** Bytes queued for this client and not yet handed to the kernel. */
  bufferedBytes(): number;
  /** Called when the connection starts or stops lagging. */
  setLagging?(lagging: boolean): void;
  /** Closes the transport at once (its queue is dropped). */
  drop(): void;
}

/** What the guard decides about one connection at a sweep. */
export type Verdict = "drop" | "lagging" | "fine";

/**
 * Connections the guard reads at each sweep instead of having them registered one by one: Socket.IO's
 * sockets, so that an idle socket costs the guard no memory. `sweep` measures each connection, asks `judge`
 * and acts on the verdict (reporting drops with `dropped`); it returns how many are lagging.
 */
export interface ConsumerSource {
  sweep(
    judge: (key: object, bytes: number, lagging: boolean) => Verdict,
    dropped: (who: ConsumerInfo, bytes: number) => void,
  ): number;
  readonly transport: ConsumerTransport;
}

export interface SlowConsumerOptions {
  /** `MAX_BUFFERED_BYTES`. @default 1048576 */
  maxBufferedBytes: number;
  /** How often queues are measured. @default 250 */
  sweepMs?: number;
  /** A connection was disconnected with `bytes` unsent. */
  onDropped(who: ConsumerInfo, bytes: number): void;
  /** After each sweep: how many connections of each transport are lagging. */
  onSweep?(lagging: Readonly<Record<ConsumerTransport, number>>): void;
}

export interface SlowConsumerGuard {
  /** Starts watching `connection`; returns the function that stops it (call it when the connection closes). */
  watch(connection: WatchedConnection): () => void;
  /** Stops watching `connection` (the same as calling what `watch` returned). */
  unwatch(connection: WatchedConnection): void;
  /** Reads `source`'s connections at every sweep from now on. */
  addSource(source: ConsumerSource): void;
  close(): void;
}

export function createSlowConsumerGuard(options: SlowConsumerOptions): SlowConsumerGuard {
  const max = options.maxBufferedBytes;
  const watched = new Map<WatchedConnection, { lagging: boolean }>();
  const sources: ConsumerSource[] = [];
  // Unsent bytes at the previous sweep, kept only for connections that had some: an idle one costs nothing.
  let previous = new Map<object, number>();
  let current = new Map<object, number>();

  /**
   * A connection is dropped when it is over the cap at two sweeps in a row and not draining between them (so
   * never on a single look, and a client reading one large answer, which can pass the cap on its own, is
   * spared): its queue can only grow past the cap for a sweep interval or two. Lagging has hysteresis: in
   * past half the cap, out below a quarter, so a queue hovering at the mark does not flap.
   */
  const judge = (key: object, bytes: number, lagging: boolean): Verdict => {
    if (bytes === 0) return "fine";
    const last = previous.get(key);
    current.set(key, bytes);
    if (bytes > max && last !== undefined && bytes >= last) return "drop";
    return (lagging ? bytes > max / 4 : bytes > max / 2) ? "lagging" : "fine";
  };

  const sweep = () => {
    const lagging: Record<ConsumerTransport, number> = { "socket.io": 0, ws: 0, sse: 0 };
    for (const [connection, state] of watched) {
      const bytes = connection.bufferedBytes();
      const verdict = judge(connection, bytes, state.lagging);
      if (verdict === "drop") {
        watched.delete(connection);
        connection.drop();
        options.onDropped(connection, bytes);
        continue;
      }
      const nowLagging = verdict === "lagging";
      if (nowLagging !== state.lagging) {
        state.lagging = nowLagging;
        connection.setLagging?.(nowLagging);
      }
      if (nowLagging) lagging[connection.transport]++;
    }
    for (const source of sources) lagging[source.transport] += source.sweep(judge, options.onDropped);
    previous = current;
    current = new Map();
    options.onSweep?.(lagging);
  };
  const timer = setInterval(sweep, options.sweepMs ?? 250);
  timer.unref();

  return {
    watch(connection) {
      watched.set(connection, { lagging: false });
      return () => void watched.delete(connection);
    },
    unwatch(connection) {
      watched.delete(connection);
    },
    addSource(source) {
      sources.push(source);
    },
    close() {
      clearInterval(timer);
      watched.clear();
      sources.length = 0;
    },
  };
}

/** True when a typing update should be skipped on a connection with `bufferedBytes` queued. O(1). */
export function shouldDropTyping(bufferedBytes: number, maxBufferedBytes: number): boolean {
  return bufferedBytes > maxBufferedBytes / 2;
}

// Socket.IO's server generics do not matter here.
type LooseServer = Server<any, any, any, any>;

/** Watches every Socket.IO socket of `io`: the guard reads the namespace's sockets at each sweep. */
export function watchSocketIo(io: LooseServer, guard: SlowConsumerGuard): void {
  const sockets = io.of("/").sockets;
  // A dropped socket stays in the namespace until its transport reports the close: not judged (or counted) twice.
  const dropped = new WeakSet<object>();
  guard.addSource({
    transport: "socket.io",
    sweep(judge, report) {
      let lagging = 0;
      for (const socket of sockets.values()) {
        if (dropped.has(socket)) continue;
        const bytes = engineBufferedBytes(socket.conn);
        const wasLagging = socket.rooms.has(LAGGING_ROOM);
        const verdict = judge(socket, bytes, wasLagging);
        if (verdict === "drop") {
          dropped.add(socket);
          dropEngineConnection(socket.conn);
          report({ transport: "socket.io", userId: (socket.data as { user?: { id?: string } }).user?.id }, bytes);
          continue;
        }
        const nowLagging = verdict === "lagging";
        if (nowLagging !== wasLagging) void (nowLagging ? socket.join(LAGGING_ROOM) : socket.leave(LAGGING_ROOM));
        if (nowLagging) lagging++;
      }
      return lagging;
    },
  });
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
