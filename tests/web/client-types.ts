/**
 * Type tests, checked by `tsc` (npm test), never run: the typed client and a
 * plain socket.io-client socket with the shared maps refuse wrong calls.
 */
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../shared/events";
import { createHuddleClient, type HuddleClientError, type Message } from "../../web/src/client";

export function typedClientExamples() {
  const client = createHuddleClient({ url: "http://localhost:3000", getToken: () => "jwt", autoConnect: false });
  client.on("message", (m: Message) => m.text.toUpperCase());
  client.on("state", ({ newState }) => newState.status === "reconnecting" && newState.nextAttemptAt.toFixed());
  client.on("outbox", (entry) => entry.status satisfies "pending" | "sent" | "failed");
  const joined: Promise<{ members: { name: string }[]; resumed: boolean }> = client.join("lobby");
  const sent: Promise<Message> = client.send("lobby", "hi");
  client.history("lobby", { before: "1-0", limit: 20 }).then((page) => page.more satisfies boolean);
  (null as unknown as HuddleClientError).code satisfies string;
  // @ts-expect-error: not an event of the client
  client.on("message:new", () => {});
  // @ts-expect-error: send needs the text
  void client.send("lobby");
  // @ts-expect-error: a message event carries a Message, not a string
  client.on("message", (m: string) => m);
  return { joined, sent };
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
