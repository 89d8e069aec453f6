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
  /** The message it answers. */
  replyTo?: string;
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
  /** The id of my message being edited in place. */
  editing?: string;
  /** The id of the message the composer answers (the reply banner). */
  replyTo?: string;
  /** A message's open reaction picker, or its delete confirmation. */
  menu?: MessageMenu;
}

export interface MessageMenu {
  id: string;
  kind: "react" | "delete";
}

export interface ChatState {
  me?: User;
  /** The token says `"role": "moderator"`: may delete any message. */
  moderator: boolean;
  connection: ConnectionState;
  /** Rooms in the order they were joined. */
  rooms: RoomView[];
  active?: string;
}

export type Action =
  | { type: "session"; user: User; moderator?: boolean }
  | { type: "connection"; state: ConnectionState }
  | { type: "joining"; roomId: string }
  | { type: "joined"; event: JoinedEvent }
  | { type: "left"; roomId: string }
  | { type: "select"; roomId: string }
  | { type: "message"; message: Message }
  /** A message changed (edited, deleted, reacted to): its new state replaces it. */
  | { type: "updated"; message: Message }
  | { type: "edit"; roomId: string; id: string | undefined }
  | { type: "reply"; roomId: string; id: string | undefined }
  | { type: "menu"; roomId: string; menu: MessageMenu | undefined }
  | { type: "older"; roomId: string; messages: Message[]; more: boolean }
  | { type: "loadingOlder"; roomId: string; loading: boolean }
  | { type: "presence"; roomId: string; kind: "join" | "leave"; user: User }
  | { type: "typing"; roomId: string; users: User[] }
  | { type: "outbox"; entry: OutboxEntry }
  | { type: "discard"; roomId: string; clientMsgId: string };

export const initialState: ChatState = { connection: { status: "connecting" }, rooms: [], moderator: false };

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
      return { ...state, me: action.user, moderator: action.moderator ?? state.moderator };
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
    case "updated":
      return updateRoom(state, action.message.roomId, (room) => replaceMessage(room, action.message));
    case "edit":
      return updateRoom(state, action.roomId, (room) =>
        room.editing === action.id ? room : { ...room, editing: action.id, menu: undefined },
      );
    case "reply":
      return updateRoom(state, action.roomId, (room) =>
        room.replyTo === action.id ? room : { ...room, replyTo: action.id },
      );
    case "menu":
      return updateRoom(state, action.roomId, (room) => ({ ...room, menu: action.menu }));
    case "older":
      return updateRoom(state, action.roomId, (room) => {
        const known = new Set(room.messages.map((m) => m.id));
        const older = action.messages.filter((m) => !known.has(m.id));
        const messages = [...older, ...room.messages].sort(bySeq);
        return { ...room, messages, hasMore: action.more, loadingOlder: false };
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

/** A join's messages (appended, or replacing the list on `reset`), then its updates by id, as the client says. */
function applyJoined(room: RoomView, event: JoinedEvent, meId: string | undefined): RoomView {
  const base = { ...room, status: "joined" as const, members: sortMembers(event.members), typing: event.typing };
  let next: RoomView;
  if (!event.reset) {
    next = event.messages.reduce<RoomView>((r, m) => appendConfirmed(r, m, meId), base);
  } else {
    // A fresh list from the server: drop my sent messages it already contains.
    const ids = new Set(event.messages.map((m) => m.id));
    const outgoing = room.outgoing.filter((o) => !(o.message && ids.has(o.message.id)));
    next = { ...base, messages: event.messages, outgoing, hasMore: event.more, loadingOlder: false };
    const shown = (id: string | undefined) => id !== undefined && ids.has(id);
    if (!shown(next.editing)) next.editing = undefined;
    if (!shown(next.menu?.id)) next.menu = undefined;
    if (!shown(next.replyTo)) next.replyTo = undefined;
  }
  return event.updates.reduce(replaceMessage, next);
}

const bySeq = (a: Message, b: Message) => a.seq - b.seq;

/** A message's new state in its place; a deleted one can no longer be edited or have a menu open. */
function replaceMessage(room: RoomView, message: Message): RoomView {
  const index = room.messages.findIndex((m) => m.id === message.id);
  if (index < 0) return room;
  const messages = room.messages.slice();
  messages[index] = message;
  if (!message.deleted) return { ...room, messages };
  return {
    ...room,
    messages,
    editing: room.editing === message.id ? undefined : room.editing,
    menu: room.menu?.id === message.id ? undefined : room.menu,
  };
}

function addMessage(room: RoomView, message: Message, state: ChatState): RoomView {
  const next = appendConfirmed(room, message, state.me?.id);
  if (next === room) return room;
  const mine = message.user.id === state.me?.id;
  const unseen = state.active !== room.id && !mine;
  return unseen ? { ...next, unread: next.unread + 1 } : next;
}

/** Adds a confirmed message once, in `seq` order; my own replaces its outgoing row. */
function appendConfirmed(room: RoomView, message: Message, meId: string | undefined): RoomView {
  if (room.messages.some((m) => m.id === message.id)) return room;
  const mine = message.user.id === meId && message.clientMsgId !== undefined;
  const outgoing = room.outgoing.filter(
    (o) => o.message?.id !== message.id && !(mine && o.clientMsgId === message.clientMsgId),
  );
  // Messages come in order: appending is the rule, the sort only guards a page that overlapped.
  const last = room.messages.at(-1);
  const messages = [...room.messages, message];
  return { ...room, messages: last && last.seq > message.seq ? messages.sort(bySeq) : messages, outgoing };
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
    replyTo: entry.replyTo,
    status: entry.status,
    error: entry.error,
    createdAt: entry.createdAt,
    message: entry.message,
  };
  const outgoing = existing ? room.outgoing.map((o) => (o === existing ? row : o)) : [...room.outgoing, row];
  return { ...room, outgoing };
}
