/**
 * Type tests, checked by `tsc` (npm test), never run: the typed client and a
 * plain socket.io-client socket with the shared maps refuse wrong calls.
 */
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../shared/events";
import {
  createHuddleClient,
  firstUnread,
  mergeRead,
  PROTOCOL_REVISION,
  NOTHING_READ,
  readAfterAnswer,
  readAfterMessage,
  readAfterUpdate,
  readFromJoin,
  readFromSummary,
  seenBy,
  unreadCount,
  type HuddleClientError,
  type JoinedEvent,
  type Message,
  type Reaction,
  type ReadMarker,
  type ReadResult,
  type ReadState,
  type ReadUpdate,
  type RoomSummary,
  type User,
} from "@huddle/client";

export function typedClientExamples() {
  const client = createHuddleClient({ url: "http://localhost:3000", getToken: () => "jwt", autoConnect: false });
  client.on("message", (m: Message) => m.text.toUpperCase());
  client.on("state", ({ newState }) => newState.status === "reconnecting" && newState.nextAttemptAt.toFixed());
  client.on("outbox", (entry) => entry.status satisfies "pending" | "sent" | "failed");
  const joined: Promise<{ members: { name: string }[]; resumed: boolean }> = client.join("lobby");
  const sent: Promise<Message> = client.send("lobby", "hi");
  client.history("lobby", { before: "1-0", limit: 20 }).then((page) => page.more satisfies boolean);
  (null as unknown as HuddleClientError).code satisfies string;
  // The server's revision is a number (an older or newer server than PROTOCOL_REVISION), always set.
  client.on("session", (session) => session.revision satisfies number);
  const behind: boolean = (client.session?.revision ?? PROTOCOL_REVISION) < PROTOCOL_REVISION;
  // @ts-expect-error: not an event of the client
  client.on("message:new", () => {});
  // @ts-expect-error: send needs the text
  void client.send("lobby");
  // @ts-expect-error: a message event carries a Message, not a string
  client.on("message", (m: string) => m);
  return { joined, sent, behind };
}

export function messageChangeExamples() {
  const client = createHuddleClient({ url: "http://localhost:3000", getToken: () => "jwt", autoConnect: false });
  client.on("updated", (m: Message) => (m.deleted ? "" : m.text) + (m.editedAt ?? 0).toFixed());
  client.on("updated", (m) => m.reactions?.map((r: Reaction) => `${r.emoji} ${r.count} ${r.userIds.join()}`));
  client.on("joined", (j: JoinedEvent) => j.updates.map((m) => m.rev satisfies string));
  const reply: Promise<Message> = client.send("lobby", "me too", { replyTo: "1-1", clientMsgId: "cm-1" });
  const edited: Promise<Message> = client.edit("lobby", "1-1", "fixed typo");
  const deleted: Promise<Message> = client.delete("lobby", "1-1");
  const reacted: Promise<Message> = client.react("lobby", "1-1", "👍");
  const unreacted: Promise<Message> = client.unreact("lobby", "1-1", "👍");
  client.pending().map((entry) => entry.replyTo satisfies string | undefined);
  // @ts-expect-error: react needs the emoji
  void client.react("lobby", "1-1");
  // @ts-expect-error: unreact needs the emoji
  void client.unreact("lobby", "1-1");
  // @ts-expect-error: edit needs the new text
  void client.edit("lobby", "1-1");
  // @ts-expect-error: delete needs the message id
  void client.delete("lobby");
  // @ts-expect-error: replyTo is a message id (a string)
  void client.send("lobby", "hi", { replyTo: 42 });
  // @ts-expect-error: an updated event carries a Message, not a string
  client.on("updated", (m: string) => m);
  // @ts-expect-error: not an event of the client (the socket's name is message:updated)
  client.on("message:updated", () => {});
  return { reply, edited, deleted, reacted, unreacted };
}

export function plainSocketExamples() {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000", {
    auth: { token: "jwt", v: 1 },
    autoConnect: false,
  });
  socket.on("message:new", (m) => m.user.name.toUpperCase());
  socket.emit("room:join", { roomId: "lobby" }, (ack) => (ack.ok ? ack.members.length : ack.error.code));
  void socket
    .timeout(5000)
    .emitWithAck("message:send", { roomId: "lobby", text: "hi" })
    .then((ack) => (ack.ok ? ack.message.id : ack.error.retryAfterMs));
  // @ts-expect-error: message:send takes an acknowledgement callback
  socket.emit("message:send", { roomId: "lobby", text: "hi" });
  // @ts-expect-error: room:join needs a roomId
  socket.emit("room:join", {}, () => {});
  // @ts-expect-error: not a server event
  socket.on("message", () => {});
}

export function plainSocketChangeExamples() {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000", {
    auth: { token: "jwt", v: 1 },
    autoConnect: false,
  });
  socket.on("message:updated", (m) => (m.deleted ? m.seq : m.rev.length));
  socket.emit("message:edit", { roomId: "lobby", id: "1-1", text: "fixed" }, (ack) => ack.ok && ack.message.editedAt);
  socket.emit("reaction:add", { roomId: "lobby", id: "1-1", emoji: "🎉" }, (ack) => ack.ok && ack.message.reactions);
  socket.emit("room:join", { roomId: "lobby", since: "1-1" }, (ack) => ack.ok && ack.updates.length);
  // @ts-expect-error: reaction:add needs the emoji
  socket.emit("reaction:add", { roomId: "lobby", id: "1-1" }, () => {});
  // @ts-expect-error: message:delete takes an acknowledgement callback
  socket.emit("message:delete", { roomId: "lobby", id: "1-1" });
}

export function readStateExamples() {
  const client = createHuddleClient({ url: "http://localhost:3000", getToken: () => "jwt", autoConnect: false });
  client.on("read", (u: ReadUpdate) => `${u.roomId} ${u.user.name} ${u.readUpTo} ${u.readSeq.toFixed()}`);
  client.on("joined", (j) => (j.readUpTo ?? "nothing read") + j.unread.toFixed());
  const marked: Promise<{ readUpTo: string; unread: number }> = client.markRead("lobby", "1-1");
  const privately: Promise<ReadResult> = client.markRead("lobby", "1-1", { private: true });
  const markers: Promise<ReadMarker[]> = client.reads("lobby");
  const rooms: Promise<RoomSummary[]> = client.listRooms();
  void rooms.then((list) => list.map((r) => `${r.roomId} ${r.unread} ${r.readUpTo ?? ""} ${r.lastMessage?.seq ?? 0}`));
  const forgotten: Promise<void> = client.leave("lobby", { forget: true });
  const left: Promise<void> = client.leave("lobby");

  let state: ReadState = NOTHING_READ;
  client.on("joined", (j) => (state = readFromJoin(j, j.messages)));
  client.on("message", (m) => (state = readAfterMessage(state, m, client.user?.id)));
  client.on("read", (u) => u.user.id === client.user?.id && (state = readAfterUpdate(state, u)));
  void rooms.then((list) => list[0] && (state = mergeRead(state, readFromSummary(list[0]))));
  void marked.then((answer) => (state = readAfterAnswer(state, answer, [])));
  const count: number = unreadCount(state);
  const first: Message | undefined = firstUnread(state, []);
  const seen: User[] = seenBy(null as unknown as Message, [], [], "me");

  // @ts-expect-error: markRead needs the message to read up to
  void client.markRead("lobby");
  // @ts-expect-error: upTo is a message id (a string)
  void client.markRead("lobby", 12);
  // @ts-expect-error: the option is `private`, a boolean
  void client.markRead("lobby", "1-1", { private: "yes" });
  // @ts-expect-error: reads needs the room
  void client.reads();
  // @ts-expect-error: listRooms takes nothing
  void client.listRooms("lobby");
  // @ts-expect-error: forget is a boolean
  void client.leave("lobby", { forget: 1 });
  // @ts-expect-error: a read event carries a ReadUpdate, not a Message
  client.on("read", (m: Message) => m.text);
  // @ts-expect-error: not an event of the client (the socket's name is read:updated)
  client.on("read:updated", () => {});
  // @ts-expect-error: a ReadState's marker seq is a number
  state = { readUpTo: null, readSeq: "0", lastSeq: 0 };
  return { marked, privately, markers, forgotten, left, count, first, seen };
}

export function plainSocketReadExamples() {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000", {
    auth: { token: "jwt", v: 1 },
    autoConnect: false,
  });
  socket.on("read:updated", (u) => u.readSeq.toFixed() + u.user.id);
  socket.emit("room:read", { roomId: "lobby", upTo: "1-1", private: true }, (ack) => ack.ok && ack.unread);
  socket.emit("room:reads", { roomId: "lobby" }, (ack) => ack.ok && ack.reads.map((r) => r.readSeq));
  socket.emit("rooms:list", {}, (ack) => ack.ok && ack.rooms.map((r) => r.lastMessage?.text));
  socket.emit("room:leave", { roomId: "lobby", forget: true }, (ack) => ack.ok);
  socket.emit("room:join", { roomId: "lobby" }, (ack) => ack.ok && (ack.readUpTo ?? "") + ack.unread);
  // @ts-expect-error: room:read needs upTo
  socket.emit("room:read", { roomId: "lobby" }, () => {});
  // @ts-expect-error: room:reads takes an acknowledgement callback
  socket.emit("room:reads", { roomId: "lobby" });
}
