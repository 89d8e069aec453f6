/**
 * The typed client across failures: a network drop (the engine connection
 * closed under it), a lost acknowledgement, and a server killed and started
 * again on the same port. What a user would notice: no message missing, none
 * twice, and the connection state saying what is going on.
 */
import type { ConnectionState, HuddleClient, Message } from "@huddle/client";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { eventually } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { closeAllTestClients, nextEvent, postMessage, reachState, startClient, storedMessages } from "./client-helpers";
import { startServerProcess, type ServerProcess } from "./server-process";

let server: TestApp;
let room = 0;
const newRoom = () => `reconnect-${process.pid}-${++room}`;
// random() = 1 takes the whole backoff window: retries after exactly 300, 600, 1000, 1000… ms.
const fixedBackoff = { backoff: { baseMs: 300, maxMs: 1000 }, random: () => 1 };

beforeAll(async () => {
  server = await startApp();
});
afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

/** What a UI would show for `roomId`: `joined` resets or appends, `message` appends. */
function viewOf(client: HuddleClient, roomId: string): { messages: Message[] } {
  const view = { messages: [] as Message[] };
  client.on("joined", (j) => {
    if (j.roomId !== roomId) return;
    view.messages = j.reset ? [...j.messages] : [...view.messages, ...j.messages];
  });
  client.on("message", (m) => m.roomId === roomId && view.messages.push(m));
  return view;
}

const texts = (messages: { text: string }[]) => messages.map((m) => m.text);

test("after a network drop the client re-joins with since and shows each missed message exactly once", async () => {
  const roomId = newRoom();
  const { client, outgoing } = startClient(server.url, fixedBackoff);
  const view = viewOf(client, roomId);
  const states: ConnectionState[] = [];
  client.on("state", ({ newState }) => states.push(newState));
  await client.join(roomId);
  const first = await postMessage(server.url, roomId, "m1");
  await eventually(() => view.messages.length === 1, "m1 to arrive live");

  client.socket.io.engine.close();
  const droppedAt = Date.now();
  await postMessage(server.url, roomId, "m2");
  await postMessage(server.url, roomId, "m3");
  const rejoin = await nextEvent(client, "joined", (j) => j.roomId === roomId);
  expect(rejoin).toMatchObject({ resumed: true, reset: false });
  expect(texts(rejoin.messages)).toEqual(["m2", "m3"]);
  const joins = outgoing.filter((o) => o.event === "room:join").map((o) => o.payload);
  expect(joins).toEqual([{ roomId }, { roomId, since: first.id }]);

  await reachState(client, "connected");
  await postMessage(server.url, roomId, "m4");
  await eventually(() => view.messages.length >= 4, "m4 to arrive live");
  expect(texts(view.messages)).toEqual(["m1", "m2", "m3", "m4"]);
  expect(new Set(view.messages.map((m) => m.id)).size).toBe(4);

  expect(states.map((s) => s.status)).toEqual(["connected", "reconnecting", "connecting", "connected"]);
  const waiting = states[1] as Extract<ConnectionState, { status: "reconnecting" }>;
  expect(waiting).toMatchObject({ attempt: 1, delayMs: 300, error: { code: "disconnected" } });
  expect(waiting.nextAttemptAt).toBeGreaterThanOrEqual(droppedAt + 290);
  expect(waiting.nextAttemptAt).toBeLessThanOrEqual(Date.now());
});

test("a send whose acknowledgement was lost in a drop is re-sent with the same clientMsgId and stored once", async () => {
  const roomId = newRoom();
  const { client, outgoing } = startClient(server.url, fixedBackoff);
  const view = viewOf(client, roomId);
  await client.join(roomId);
  const sent = client.send(roomId, "exactly once", { clientMsgId: "cm-drop" });
  // The emit is already written; closing now loses the answer, not the message.
  client.socket.io.engine.close();
  const message = await sent;
  expect(message).toMatchObject({ text: "exactly once", clientMsgId: "cm-drop" });

  const emits = outgoing.filter((o) => o.event === "message:send");
  expect(emits.map((o) => o.payload.clientMsgId)).toEqual(["cm-drop", "cm-drop"]);
  const stored = await storedMessages(server.url, roomId);
  expect(stored.map((m) => m.id)).toEqual([message.id]);
  await eventually(() => view.messages.length > 0, "the message in the client's view");
  expect(view.messages.map((m) => m.id)).toEqual([message.id]);
});

test("close() goes offline and fails the sends still pending", async () => {
  const roomId = newRoom();
  const { client } = startClient(server.url, fixedBackoff);
  await client.join(roomId);
  client.socket.io.engine.close();
  await reachState(client, "reconnecting");
  const pending = client.send(roomId, "never mind");
  client.close();
  await expect(pending).rejects.toMatchObject({ code: "closed" });
  expect(client.state).toEqual({ status: "offline", reason: "closed" });
});

describe("across a server restart on the same port", () => {
  let proc: ServerProcess;
  beforeAll(async () => {
    proc = await startServerProcess();
  });
  afterAll(() => proc.kill());

  test("a message sent while the server is down is delivered once, and messages sent meanwhile are shown", async () => {
    const roomId = newRoom();
    const alice = startClient(proc.url, { ...fixedBackoff, claims: { name: "Alice" } }).client;
    const bob = startClient(proc.url, { ...fixedBackoff, claims: { name: "Bob" } }).client;
    const aliceView = viewOf(alice, roomId);
    const bobView = viewOf(bob, roomId);
    await alice.join(roomId);
    await bob.join(roomId);
    await alice.send(roomId, "before the restart");
    await eventually(() => bobView.messages.length === 1, "Bob to get the first message");

    await proc.kill();
    await reachState(alice, "reconnecting");
    await reachState(bob, "reconnecting");
    const whileDown = alice.send(roomId, "sent while down", { clientMsgId: "cm-down" });
    expect(alice.pending().map((e) => e.status)).toEqual(["pending"]);

    await proc.start();
    await postMessage(proc.url, roomId, "from Carol meanwhile", signToken({ name: "Carol" }));
    const stored = await whileDown;
    await reachState(alice, "connected", 5000);
    await reachState(bob, "connected", 5000);

    // The restarted server kept nothing from before: what it holds now is what both must show, once each.
    const onServer = await storedMessages(proc.url, roomId);
    expect(onServer.filter((m) => m.clientMsgId === "cm-down").map((m) => m.id)).toEqual([stored.id]);
    const expected = texts(onServer);
    expect(expected.sort()).toEqual(["from Carol meanwhile", "sent while down"]);
    await eventually(() => aliceView.messages.length === 2 && bobView.messages.length === 2, "both views to fill");
    expect(texts(aliceView.messages).sort()).toEqual(expected);
    expect(texts(bobView.messages).sort()).toEqual(expected);
    expect(aliceView.messages.map((m) => m.id)).toEqual(onServer.map((m) => m.id));
    expect(bobView.messages.map((m) => m.id)).toEqual(onServer.map((m) => m.id));
  });
});
