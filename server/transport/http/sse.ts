/**
 * `GET /api/rooms/:roomId/events` (§5): Server-Sent Events, live from the
 * moment of connecting. `Last-Event-ID` (or `?lastEventId=`) first replays
 * the changes after that position, in change order (§8); live events that
 * arrive during the replay are held back and deduplicated by position, so
 * nothing is missed or sent twice.
 */
import type { Request, Response } from "express";
import { Limits } from "../../../shared";
import type { RoomEvent } from "../../core/bus";
import { comparePositions, type Position } from "../../core/position";
import type { Identity } from "../../auth/tokens";
import { eventPosition, missedAsEvents } from "../../features/chat/missed";
import type { Services } from "../../services";
import type { LocalDelivery } from "../delivery";
import { shouldDropTyping, type WatchedConnection } from "../slow-consumers";
import { scheduleExpiry } from "../socket/expiry";
import { queryString } from "./http-errors";

export interface SseOptions {
  services: Services;
  delivery: LocalDelivery;
  /** The most changes a replay sends; a longer gap is treated as "from now on". */
  historyMax: number;
  /** @default 15000 */
  heartbeatMs?: number;
  onOpen?: (delta: number) => void;
  /** Typing events are skipped while more than half of this is unsent. */
  maxBufferedBytes?: number;
  /** Registers the stream with the slow-consumer sweep; returns the function that unregisters it. */
  watch?: (connection: WatchedConnection) => () => void;
  /** Takes one of the user's connection slots for the stream (§13); resolves with its release. */
  holdSlot?: (userId: string) => Promise<() => Promise<void>>;
}

/** The SSE text of a room event; "" for the events SSE does not carry (read markers). */
export function formatSseEvent(event: RoomEvent): string {
  switch (event.type) {
    case "message":
      return `id: ${event.message.id}\nevent: message\ndata: ${JSON.stringify(event.message)}\n\n`;
    case "update":
      return `id: ${event.message.rev}\nevent: update\ndata: ${JSON.stringify(event.message)}\n\n`;
    case "presence":
      return `event: presence\ndata: ${JSON.stringify({ type: event.change, roomId: event.roomId, user: event.user })}\n\n`;
    case "typing":
      return `event: typing\ndata: ${JSON.stringify({ roomId: event.roomId, users: event.users })}\n\n`;
    case "read":
    case "ban":
    case "unban":
      return "";
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
  // Before anything is held open: past the user's cap this is a 429 limit_exceeded (§13).
  const releaseSlot = (await options.holdSlot?.(identity.user.id)) ?? (async () => {});
  if (res.destroyed) return void releaseSlot();
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
  let lastSent: Position | undefined;
  const maxBuffered = options.maxBufferedBytes;
  const write = (event: RoomEvent) => {
    const behind = maxBuffered !== undefined && shouldDropTyping(res.writableLength, maxBuffered);
    if ((event.type === "typing" && behind) || event.type === "read" || event.type === "unban") return;
    // This stream's user was banned from the room (§11): the stream ends; a new one is refused.
    if (event.type === "ban") return void res.end();
    const position = eventPosition(event);
    if (position) {
      // Skip what the replay already sent.
      if (lastSent && comparePositions(position, lastSent) <= 0) return;
      lastSent = position;
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
    void releaseSlot();
    options.onOpen?.(-1);
  };
  res.on("close", close);

  try {
    await options.delivery.ready(roomId);
    if (lastEventId !== undefined && lastEventId !== "") {
      // An unknown or no longer covered position means "from now on".
      const missed = await options.services.stores.messages.since(roomId, lastEventId, options.historyMax);
      if (missed) for (const event of missedAsEvents(roomId, missed)) write(event);
    }
  } finally {
    const pending = held;
    held = undefined;
    for (const event of pending ?? []) write(event);
  }
}
