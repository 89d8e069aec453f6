/**
 * The JSON frames of the plain WebSocket endpoint (§6): what a client frame
 * means, and the frames the server sends. Pure functions, no socket here.
 */
import type { RawData } from "ws";
import { codePointLength, ErrorCode, type ClientEventName } from "../../../shared";
import type { RoomEvent } from "../../core/bus";
import { isClientEventName } from "../commands";

/** A request id as the client chose it: a string of 1 to 64 characters, or an integer. */
export type RequestId = string | number;

export type ClientFrame =
  | { kind: "auth"; token: unknown; v: unknown }
  | { kind: "ping" }
  | { kind: "request"; type: ClientEventName; id: RequestId; data: unknown }
  | { kind: "invalid"; message: string };

export type ServerFrame =
  { type: string; data: unknown } | { type: "ack"; id: RequestId; data: unknown } | { type: "pong" };

const MAX_ID_LENGTH = 64;

function isRequestId(id: unknown): id is RequestId {
  if (typeof id === "number") return Number.isInteger(id);
  return typeof id === "string" && id.length > 0 && codePointLength(id) <= MAX_ID_LENGTH;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads one frame from the client. Never throws: anything unusable is `invalid`, with the reason. */
export function parseFrame(raw: RawData, isBinary: boolean): ClientFrame {
  if (isBinary) return { kind: "invalid", message: "binary frames are not supported: send JSON text frames" };
  let frame: unknown;
  try {
    frame = JSON.parse(Buffer.isBuffer(raw) ? raw.toString("utf8") : Buffer.concat(toBuffers(raw)).toString("utf8"));
  } catch {
    return { kind: "invalid", message: "frame is not valid JSON" };
  }
  if (!isRecord(frame)) return { kind: "invalid", message: "frame must be a JSON object" };
  const { type } = frame;
  if (typeof type !== "string") return { kind: "invalid", message: "frame needs a string type" };
  if (type === "ping") return { kind: "ping" };
  if (type === "auth") {
    const data = isRecord(frame.data) ? frame.data : {};
    return { kind: "auth", token: data.token, v: data.v };
  }
  if (!isClientEventName(type)) return { kind: "invalid", message: `unknown type ${type.slice(0, 64)}` };
  if (!isRequestId(frame.id)) {
    return { kind: "invalid", message: `${type} needs an id: a string of 1 to 64 characters or an integer` };
  }
  return { kind: "request", type, id: frame.id, data: frame.data };
}

function toBuffers(raw: RawData): Buffer[] {
  if (Array.isArray(raw)) return raw;
  return [Buffer.from(raw as ArrayBuffer)];
}

/** The `error` frame answering a frame that was not executed. */
export function errorFrame(message: string): ServerFrame {
  return { type: "error", data: { code: ErrorCode.BadRequest, message } };
}

/** The `read:updated` payload of a read event, as the delivery shaped it for its receiver. */
export function readUpdate(event: Extract<RoomEvent, { type: "read" }>) {
  return { roomId: event.roomId, user: event.user, readUpTo: event.readUpTo, readSeq: event.readSeq };
}

/** A room event as the §4 event a client receives; undefined for the events no client is sent (a ban lifted). */
export function eventFrame(event: RoomEvent): ServerFrame | undefined {
  switch (event.type) {
    case "message":
      return { type: "message:new", data: event.message };
    case "update":
      return { type: "message:updated", data: event.message };
    case "presence":
      return { type: `presence:${event.change}`, data: { roomId: event.roomId, user: event.user } };
    case "typing":
      return { type: "typing:update", data: { roomId: event.roomId, users: event.users } };
    case "read":
      return { type: "read:updated", data: readUpdate(event) };
    case "ban":
      return { type: "room:removed", data: { roomId: event.roomId, reason: "banned" } };
    case "unban":
      return undefined;
  }
}
