/**
 * The UI's state as a pure reducer over what the client reports. Nothing here
 * touches the DOM or the network; every change returns new objects for what
 * changed, so views can skip work by comparing references.
 */
import {
  mergeRead,
  NOTHING_READ,
  readAfterAnswer,
  readAfterMessage,
  readAfterUpdate,
  readFromJoin,
  readFromSummary,
  unreadCount,
  type ConnectionState,
  type JoinedEvent,
  type Message,
  type OutboxEntry,
  type ReadMarker,
  type ReadResult,
  type ReadState,
  type ReadUpdate,
  type RoomSummary,
  type User,
} from "@huddle/client";

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
  /** "removed": a moderator took me out (§11); the room stays in view, read-only, until I rejoin or leave it. */
  status: "joining" | "joined" | "removed";
  /** While removed: why the last try to rejoin was refused, in words. */
  refusal?: string;
  /** While removed: a try to rejoin is on its way (the room shows as removed until the server lets me in). */
  rejoining?: boolean;
  members: User[];
  typing: User[];
  /** Confirmed messages, in the server's order. */
  messages: Message[];
  /** My messages not confirmed yet, in the order I sent them; shown after `messages`. */
  outgoing: Outgoing[];
  hasMore: boolean;
  loadingOlder: boolean;
  /**
   * "New messages" goes above the first message after this seq: my marker when I opened the room, if anything
   * was unread then. It stays while I look at the room (reading does not move it) until I send (a message of
   * mine arrives) or look at another room.
   */
  divider?: number;
  /** The room was opened before its marker was known: the divider is decided when it is. */
  dividerPending: boolean;
  /** Other people's public read markers (`room:reads`, then their `read` events): "seen by". */
  markers: ReadMarker[];
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

/** A room of the sidebar: one of mine (`rooms:list`), or joined in this tab. */
export interface RoomEntry {
  id: string;
  /** My marker and the room's newest message as known here. */
  read: ReadState;
  /** A `rooms:list` answer or a join told the marker: until then there is nothing to count. */
  known: boolean;
  /** When the room's newest message known was sent: the sidebar's order. Undefined while none is known. */
  activity?: number;
}

export interface ChatState {
  me?: User;
  /** The token says `"role": "moderator"`: may delete any message. */
  moderator: boolean;
  connection: ConnectionState;
  /** Rooms joined in this tab, in the order they were joined. */
  rooms: RoomView[];
  /**
   * The sidebar: my rooms as the server lists them (the same on every device) and the rooms joined in this tab,
   * newest activity first. A new message moves its room up; rooms without messages keep the server's order.
   */
  list: RoomEntry[];
  active?: string;
}

export type Action =
  | { type: "session"; user: User; moderator?: boolean }
  | { type: "connection"; state: ConnectionState }
  | { type: "joining"; roomId: string }
  | { type: "joined"; event: JoinedEvent }
  | { type: "left"; roomId: string }
  /** A moderator took me out of the room, or refused me back in (`refusal`, in words). */
  | { type: "removed"; roomId: string; refusal?: string }
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
  | { type: "discard"; roomId: string; clientMsgId: string }
  /** A `rooms:list` answer: my rooms, newest activity first. */
  | { type: "roomList"; rooms: RoomSummary[] }
  /** A read marker moved: mine (any room of mine) or someone else's (a room joined here). */
  | { type: "read"; update: ReadUpdate }
  /** The answer of my `markRead`. */
  | { type: "marked"; roomId: string; answer: ReadResult }
  /** A `room:reads` answer: the room's public markers. */
  | { type: "markers"; roomId: string; markers: ReadMarker[] };

export const initialState: ChatState = {
  connection: { status: "connecting" },
  rooms: [],
  list: [],
  moderator: false,
};

const emptyRoom = (id: string): RoomView => ({
  id,
  status: "joining",
  members: [],
  typing: [],
  messages: [],
  outgoing: [],
  hasMore: false,
  loadingOlder: false,
  dividerPending: false,
  markers: [],
});

const newEntry = (id: string): RoomEntry => ({ id, read: NOTHING_READ, known: false });

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case "session":
      return { ...state, me: action.user, moderator: action.moderator ?? state.moderator };
    case "connection":
      return { ...state, connection: action.state };
    case "joining": {
      // Trying a room I was removed from again: it stays as it is (its banner keeps the focus) until the answer.
      const removed = state.rooms.find((r) => r.id === action.roomId && r.status === "removed");
      if (removed) return updateRoom(state, action.roomId, (r) => ({ ...r, rejoining: true, refusal: undefined }));
      if (state.rooms.some((r) => r.id === action.roomId)) return state;
      const list = state.list.some((e) => e.id === action.roomId)
        ? state.list
        : sortByActivity([newEntry(action.roomId), ...state.list]);
      const next = { ...state, rooms: [...state.rooms, emptyRoom(action.roomId)], list };
      return state.active === undefined ? open(next, action.roomId) : next;
    }
    case "joined": {
      const roomId = action.event.roomId;
      const next = updateRoom(state, roomId, (room) => applyJoined(room, action.event, state.me?.id));
      const room = next.rooms.find((r) => r.id === roomId);
      if (!room) return next;
      const activity = room.messages.at(-1)?.ts;
      // The join is the server's word on the marker (a reset room starts afresh); my messages it brings read the
      // room up to them, and a resumed join never moves back what this tab already knew.
      const meId = state.me?.id;
      const joinedRead = action.event.messages.reduce(
        (read, m) => readAfterMessage(read, m, meId),
        readFromJoin(action.event, room.messages),
      );
      return decidePendingDivider(
        updateEntry(next, roomId, (entry) => ({
          ...entry,
          read: entry.known && !action.event.reset ? mergeRead(entry.read, joinedRead) : joinedRead,
          known: true,
          activity: later(entry.activity, activity),
        })),
      );
    }
    case "left": {
      const rooms = state.rooms.filter((r) => r.id !== action.roomId);
      const list = state.list.filter((e) => e.id !== action.roomId);
      const next = { ...state, rooms, list };
      if (state.active !== action.roomId) return next;
      const fallback = rooms[0]?.id;
      return fallback === undefined ? { ...next, active: undefined } : open({ ...next, active: undefined }, fallback);
    }
    case "removed":
      // What I read stays; who is here, who types, and anything I was doing to a message go with the room.
      return updateRoom(state, action.roomId, (room) => ({
        ...room,
        status: "removed",
        refusal: action.refusal,
        rejoining: undefined,
        members: [],
        typing: [],
        markers: [],
        editing: undefined,
        replyTo: undefined,
        menu: undefined,
      }));
    case "select":
      if (state.active === action.roomId || !state.rooms.some((r) => r.id === action.roomId)) return state;
      return open(state, action.roomId);
    case "message": {
      const { message } = action;
      const next = updateRoom(state, message.roomId, (room) => addMessage(room, message, state));
      const list = state.list.map((entry) => {
        if (entry.id !== message.roomId) return entry;
        const read = readAfterMessage(entry.read, message, state.me?.id);
        const activity = later(entry.activity, message.ts);
        return read === entry.read && activity === entry.activity ? entry : { ...entry, read, activity };
      });
      return list.every((e, i) => e === state.list[i]) ? next : { ...next, list: sortByActivity(list) };
    }
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
    case "roomList":
      return decidePendingDivider({ ...state, list: mergeRoomList(state, action.rooms) });
    case "read": {
      const { update } = action;
      if (update.user.id === state.me?.id) {
        return updateEntry(state, update.roomId, (entry) => {
          const read = readAfterUpdate(entry.read, update);
          return read === entry.read ? entry : { ...entry, read };
        });
      }
      return updateRoom(state, update.roomId, (room) => withMarkers(room, [update]));
    }
    case "marked": {
      const messages = state.rooms.find((r) => r.id === action.roomId)?.messages ?? [];
      return updateEntry(state, action.roomId, (entry) => {
        const read = readAfterAnswer(entry.read, action.answer, messages);
        return read === entry.read ? entry : { ...entry, read };
      });
    }
    case "markers":
      return updateRoom(state, action.roomId, (room) => withMarkers(room, action.markers));
  }
}

/** Unread messages of a room of the sidebar: nothing until its marker is known. */
export const unreadOf = (entry: RoomEntry): number => (entry.known ? unreadCount(entry.read) : 0);

/** Unread messages in all my rooms: the tab's title. */
export const totalUnread = (state: ChatState): number => state.list.reduce((sum, e) => sum + unreadOf(e), 0);

export const activeRoom = (state: ChatState): RoomView | undefined => state.rooms.find((r) => r.id === state.active);

function updateEntry(state: ChatState, roomId: string, change: (entry: RoomEntry) => RoomEntry): ChatState {
  const index = state.list.findIndex((e) => e.id === roomId);
  if (index < 0) return state;
  const before = state.list[index]!;
  const after = change(before);
  if (after === before) return state;
  const list = state.list.slice();
  list[index] = after;
  return { ...state, list };
}

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
  const base = {
    ...room,
    status: "joined" as const,
    refusal: undefined,
    rejoining: undefined,
    members: sortMembers(event.members),
    typing: event.typing,
  };
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
  // My own message in the room: the "New messages" line has done its job (sent from here or elsewhere).
  const mine = next !== room && message.user.id === state.me?.id;
  return mine && (next.divider !== undefined || next.dividerPending)
    ? { ...next, divider: undefined, dividerPending: false }
    : next;
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

/** Makes `roomId` the room I look at: the one I looked at forgets its divider, this one gets its own. */
function open(state: ChatState, roomId: string): ChatState {
  const previous = state.active;
  let next: ChatState = { ...state, active: roomId };
  if (previous !== undefined) {
    next = updateRoom(next, previous, (room) =>
      room.divider === undefined && !room.dividerPending
        ? room
        : { ...room, divider: undefined, dividerPending: false },
    );
  }
  const entry = next.list.find((e) => e.id === roomId);
  return updateRoom(next, roomId, (room) => ({
    ...room,
    divider: entry?.known ? dividerAt(entry.read) : undefined,
    dividerPending: !entry?.known,
  }));
}

/** The room I look at was opened before its marker was known: now that it is, decide its divider. */
function decidePendingDivider(state: ChatState): ChatState {
  const roomId = state.active;
  const room = state.rooms.find((r) => r.id === roomId);
  const entry = state.list.find((e) => e.id === roomId);
  if (!room?.dividerPending || !entry?.known) return state;
  return updateRoom(state, room.id, (r) => ({ ...r, divider: dividerAt(entry.read), dividerPending: false }));
}

const dividerAt = (read: ReadState): number | undefined => (unreadCount(read) > 0 ? read.readSeq : undefined);

const later = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

/**
 * Newest activity first; rooms without a known message after them, in the order they are in (the server's:
 * latest joined first). Stable, so a room only moves when its activity does.
 */
function sortByActivity(list: RoomEntry[]): RoomEntry[] {
  const active = list.filter((e) => e.activity !== undefined);
  const quiet = list.filter((e) => e.activity === undefined);
  return [...active.sort((a, b) => b.activity! - a.activity!), ...quiet];
}

/**
 * The server's list replaces the sidebar, except for rooms joined in this tab: they stay (the server may not
 * list them yet, or any more), and what this tab learnt of them live is merged in, never moved back.
 */
function mergeRoomList(state: ChatState, summaries: readonly RoomSummary[]): RoomEntry[] {
  const joinedHere = new Set(state.rooms.map((r) => r.id));
  const old = new Map(state.list.map((e) => [e.id, e]));
  const listed = new Set(summaries.map((s) => s.roomId));
  const fresh = summaries.map((summary): RoomEntry => {
    const read = readFromSummary(summary);
    const activity = summary.lastMessage?.ts;
    const before = old.get(summary.roomId);
    if (!before || !joinedHere.has(summary.roomId)) return { id: summary.roomId, read, known: true, activity };
    const merged = before.known ? mergeRead(before.read, read) : read;
    return { id: summary.roomId, read: merged, known: true, activity: later(before.activity, activity) };
  });
  const hereOnly = state.list.filter((e) => joinedHere.has(e.id) && !listed.has(e.id));
  return sortByActivity([...hereOnly, ...fresh]);
}

/** Other people's markers, each user once at the furthest position known. */
function withMarkers(room: RoomView, markers: readonly ReadMarker[]): RoomView {
  let changed = false;
  const byUser = new Map(room.markers.map((m) => [m.user.id, m]));
  for (const marker of markers) {
    const known = byUser.get(marker.user.id);
    if (known && known.readSeq >= marker.readSeq) continue;
    byUser.set(marker.user.id, { user: marker.user, readUpTo: marker.readUpTo, readSeq: marker.readSeq });
    changed = true;
  }
  return changed ? { ...room, markers: [...byUser.values()].sort((a, b) => b.readSeq - a.readSeq) } : room;
}
