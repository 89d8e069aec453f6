/**
 * `GET /api/rooms/:roomId/events` (§5): Server-Sent Events, live from the
 * moment of connecting. `Last-Event-ID` (or `?lastEventId=`) first replays
 * the messages after that id; live events that arrive during the replay are
 * held back and deduplicated, so nothing is missed or sent twice.
 */
import type { Request, Response } from "express";
import { Limits } from "../../../shared";
import type { RoomEvent } from "../../core/bus";
import { compareIds, parseMessageId } from "../../core/message-id";
import type { Identity } from "../../auth/tokens";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import { shouldDropTyping, type WatchedConnection } from "../slow-consumers";
import { scheduleExpiry } from "../socket/expiry";
import { queryString } from "./http-errors";

export interface SseOptions {
  services: Services;
  delivery: LocalDelivery;
  historyMax: number;
  /** @default 15000 */
  heartbeatMs?: number;
  onOpen?: (delta: number) => void;
  /** Typing events are skipped while more than half of this is unsent. */
  maxBufferedBytes?: number;
  /** Registers the stream with the slow-consumer sweep; returns the function that unregisters it. */
  watch?: (connection: WatchedConnection) => () => void;
}

export function formatSseEvent(event: RoomEvent): string {
  switch (event.type) {
    case "message":
      return `id: ${event.message.id}\nevent: message\ndata: ${JSON.stringify(event.message)}\n\n`;
    case "presence":
      return `event: presence\ndata: ${JSON.stringify({ type: event.change, roomId: event.roomId, user: event.user })}\n\n`;
    case "typing":
      return `event: typing\ndata: ${JSON.stringify({ roomId: event.roomId, users: event.users })}\n\n`;
  }
}

export async function streamRoomEvents(
  req: Request,
  res: Response,
  identity: Identity,
  roomId: string,
  options: SseOptions,
): Promise<void> {
  const lastEventId = req.get("last-event-id") ?? queryString(req, "lastEventId");
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    // nginx: do not buffer this response.
    "X-Accel-Buffering": "no",
  });
  res.write(": connected\n\n");
  options.onOpen?.(1);

  let held: RoomEvent[] | undefined = [];
  let lastSent = undefined as ReturnType<typeof parseMessageId>;
  const maxBuffered = options.maxBufferedBytes;
  const write = (event: RoomEvent) => {
    const behind = maxBuffered !== undefined && shouldDropTyping(res.writableLength, maxBuffered);
    if (event.type === "typing" && behind) return;
    if (event.type === "message") {
      const id = parseMessageId(event.message.id);
      // Skip what the replay already sent.
      if (id && lastSent && compareIds(id, lastSent) <= 0) return;
      if (id) lastSent = id;
    }
    res.write(formatSseEvent(event));
  };
  const stopListening = options.delivery.listen(roomId, {
    userId: identity.user.id,
    onEvent: (event) => (held ? held.push(event) : write(event)),
  });
  const heartbeat = setInterval(() => res.write(": ping\n\n"), options.heartbeatMs ?? Limits.sseHeartbeatMs);
  const cancelExpiry = scheduleExpiry(identity, options.services.clock, () => res.end());
  const unwatch = options.watch?.({
    transport: "sse",
    userId: identity.user.id,
    bufferedBytes: () => res.writableLength,
    drop: () => res.destroy(),
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    cancelExpiry();
    unwatch?.();
    stopListening();
    options.onOpen?.(-1);
  };
  res.on("close", close);

  try {
    if (lastEventId !== undefined && lastEventId !== "") {
      // An unknown or no longer retained id means "from now on".
      const missed = await options.services.stores.history.since(roomId, lastEventId, options.historyMax);
      for (const message of missed ?? []) write({ type: "message", roomId, message });
    }
  } finally {
    const pending = held;
    held = undefined;
    for (const event of pending ?? []) write(event);
  }
}
