/**
 * The UI's state as a pure reducer over what the client reports. Nothing here
 * touches the DOM or the network; every change returns new objects for what
 * changed, so views can skip work by comparing references.
 */
import type { ConnectionState, JoinedEvent, Message, OutboxEntry, User } from "../client";

/** One of my messages the server has not confirmed with `message:new` yet. */
export interface Outgoing {
  clientMsgId: string;
  text: string;
  status: OutboxEntry["status"];
  error?: OutboxEntry["error"];
  createdAt: number;
  /** Set once acknowledged: the stored message (until it shows up in the room's list). */
  message?: Message;
}

export interface RoomView {
  id: string;
  status: "joining" | "joined";
  members: User[];
  typing: User[];
  /** Confirmed messages, in the server's order. */
  messages: Message[];
  /** My messages not confirmed yet, in the order I sent them; shown after `messages`. */
  outgoing: Outgoing[];
  hasMore: boolean;
  loadingOlder: boolean;
  unread: number;
}

export interface ChatState {
  me?: User;
  connection: ConnectionState;
  /** Rooms in the order they were joined. */
  rooms: RoomView[];
  active?: string;
}

export type Action =
  | { type: "session"; user: User }
  | { type: "connection"; state: ConnectionState }
  | { type: "joining"; roomId: string }
  | { type: "joined"; event: JoinedEvent }
  | { type: "left"; roomId: string }
  | { type: "select"; roomId: string }
  | { type: "message"; message: Message }
  | { type: "older"; roomId: string; messages: Message[]; more: boolean }
  | { type: "loadingOlder"; roomId: string; loading: boolean }
  | { type: "presence"; roomId: string; kind: "join" | "leave"; user: User }
  | { type: "typing"; roomId: string; users: User[] }
  | { type: "outbox"; entry: OutboxEntry }
  | { type: "discard"; roomId: string; clientMsgId: string };

export const initialState: ChatState = { connection: { status: "connecting" }, rooms: [] };

const emptyRoom = (id: string): RoomView => ({
  id,
  status: "joining",
  members: [],
  typing: [],
  messages: [],
  outgoing: [],
  hasMore: false,
  loadingOlder: false,
  unread: 0,
});

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case "session":
      return { ...state, me: action.user };
    case "connection":
      return { ...state, connection: action.state };
    case "joining":
      if (state.rooms.some((r) => r.id === action.roomId)) return state;
      return { ...state, rooms: [...state.rooms, emptyRoom(action.roomId)], active: state.active ?? action.roomId };
    case "joined":
      return updateRoom(state, action.event.roomId, (room) => applyJoined(room, action.event, state.me?.id));
    case "left": {
      const rooms = state.rooms.filter((r) => r.id !== action.roomId);
      const active = state.active === action.roomId ? rooms[0]?.id : state.active;
      return { ...state, rooms, active };
    }
    case "select":
      if (!state.rooms.some((r) => r.id === action.roomId)) return state;
      return updateRoom({ ...state, active: action.roomId }, action.roomId, (room) =>
        room.unread === 0 ? room : { ...room, unread: 0 },
      );
    case "message":
      return updateRoom(state, action.message.roomId, (room) => addMessage(room, action.message, state));
    case "older":
      return updateRoom(state, action.roomId, (room) => {
        const known = new Set(room.messages.map((m) => m.id));
        const older = action.messages.filter((m) => !known.has(m.id));
        return { ...room, messages: [...older, ...room.messages], hasMore: action.more, loadingOlder: false };
      });
    case "loadingOlder":
      return updateRoom(state, action.roomId, (room) => ({ ...room, loadingOlder: action.loading }));
    case "presence":
      return updateRoom(state, action.roomId, (room) => {
        const others = room.members.filter((m) => m.id !== action.user.id);
        if (action.kind === "join") return { ...room, members: sortMembers([...others, action.user]) };
        const typing = room.typing.filter((u) => u.id !== action.user.id);
        return { ...room, members: others, typing };
      });
    case "typing":
      return updateRoom(state, action.roomId, (room) => ({ ...room, typing: action.users }));
    case "outbox":
      return updateRoom(state, action.entry.roomId, (room) => applyOutbox(room, action.entry));
    case "discard":
      return updateRoom(state, action.roomId, (room) => ({
        ...room,
        outgoing: room.outgoing.filter((o) => o.clientMsgId !== action.clientMsgId),
      }));
  }
}

export const activeRoom = (state: ChatState): RoomView | undefined => state.rooms.find((r) => r.id === state.active);

function updateRoom(state: ChatState, roomId: string, change: (room: RoomView) => RoomView): ChatState {
  const index = state.rooms.findIndex((r) => r.id === roomId);
  if (index < 0) return state;
  const before = state.rooms[index]!;
  const after = change(before);
  if (after === before) return state;
  const rooms = state.rooms.slice();
  rooms[index] = after;
  return { ...state, rooms };
}

const sortMembers = (members: User[]): User[] =>
  [...members].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));

function applyJoined(room: RoomView, event: JoinedEvent, meId: string | undefined): RoomView {
  const base = { ...room, status: "joined" as const, members: sortMembers(event.members), typing: event.typing };
  if (!event.reset) {
    return event.messages.reduce<RoomView>((r, m) => appendConfirmed(r, m, meId), base);
  }
  // A fresh list from the server: drop my sent messages it already contains.
  const ids = new Set(event.messages.map((m) => m.id));
  const outgoing = room.outgoing.filter((o) => !(o.message && ids.has(o.message.id)));
  return { ...base, messages: event.messages, outgoing, hasMore: event.more, loadingOlder: false };
}

function addMessage(room: RoomView, message: Message, state: ChatState): RoomView {
  const next = appendConfirmed(room, message, state.me?.id);
  if (next === room) return room;
  const mine = message.user.id === state.me?.id;
  const unseen = state.active !== room.id && !mine;
  return unseen ? { ...next, unread: next.unread + 1 } : next;
}

/** Adds a confirmed message once; my own replaces its outgoing row. */
function appendConfirmed(room: RoomView, message: Message, meId: string | undefined): RoomView {
  if (room.messages.some((m) => m.id === message.id)) return room;
  const mine = message.user.id === meId && message.clientMsgId !== undefined;
  const outgoing = room.outgoing.filter(
    (o) => o.message?.id !== message.id && !(mine && o.clientMsgId === message.clientMsgId),
  );
  return { ...room, messages: [...room.messages, message], outgoing };
}

function applyOutbox(room: RoomView, entry: OutboxEntry): RoomView {
  const confirmed = entry.message && room.messages.some((m) => m.id === entry.message!.id);
  const existing = room.outgoing.find((o) => o.clientMsgId === entry.clientMsgId);
  if (confirmed) {
    return existing ? { ...room, outgoing: room.outgoing.filter((o) => o !== existing) } : room;
  }
  const row: Outgoing = {
    clientMsgId: entry.clientMsgId,
    text: entry.text,
    status: entry.status,
    error: entry.error,
    createdAt: entry.createdAt,
    message: entry.message,
  };
  const outgoing = existing ? room.outgoing.map((o) => (o === existing ? row : o)) : [...room.outgoing, row];
  return { ...room, outgoing };
}
