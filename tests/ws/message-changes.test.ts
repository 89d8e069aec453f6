/**
 * §8 over the plain WebSocket endpoint (§6): changes are requests like any
 * other, acked with the message, and every member (Socket.IO or /ws) gets
 * `message:updated`; a /ws client resumes with the changes it missed.
 */
import { closeAllClients, connectClient, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllPlain, connectPlain } from "./ws-client";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "1000", RATE_PER_SEC: "1000" });
});
afterEach(() => {
  closeAllPlain();
  closeAllClients();
});
afterAll(() => stopAllApps());

let rooms = 0;
const freshRoom = () => `ws-changes-${++rooms}`;

test("edit, react and delete over /ws reach a Socket.IO member and the /ws client itself as message:updated", async () => {
  const roomId = freshRoom();
  const { client: plain } = await connectPlain(server.url, { claims: { sub: "ws-editor", name: "Editor" } });
  const sio = await connectClient(server.url, { claims: { sub: "sio-watcher" } });
  await plain.request("room:join", { roomId });
  await sio.emitWithAck("room:join", { roomId });
  const { message } = await plain.request("message:send", { roomId, text: "frist" });
  for (const [type, data] of [
    ["message:edit", { roomId, id: message.id, text: "first" }],
    ["reaction:add", { roomId, id: message.id, emoji: "👍" }],
    ["reaction:remove", { roomId, id: message.id, emoji: "👍" }],
    ["message:delete", { roomId, id: message.id }],
  ] as const) {
    const atSio = waitForEvent(sio, "message:updated");
    const ack = await plain.request(type, data);
    expect(ack).toMatchObject({ ok: true, message: { id: message.id, seq: 1 } });
    await expect(atSio).resolves.toEqual(ack.message);
    await expect(plain.event("message:updated", (m) => m.rev === ack.message.rev)).resolves.toEqual(ack.message);
  }
  expect(await plain.request("message:edit", { roomId, id: message.id, text: "again" })).toEqual({
    ok: false,
    error: { code: "not_found", message: expect.any(String) },
  });
});

test("a /ws client that rejoins with since gets the messages it missed and the updates, in change order", async () => {
  const roomId = freshRoom();
  const { client: plain } = await connectPlain(server.url, { claims: { sub: "ws-returner" } });
  const sio = await connectClient(server.url, { claims: { sub: "sio-writer" } });
  await sio.emitWithAck("room:join", { roomId });
  const first = await sio.emitWithAck("message:send", { roomId, text: "one" });
  const second = await sio.emitWithAck("message:send", { roomId, text: "two" });
  if (!first.ok || !second.ok) throw new Error("send failed");
  await sio.emitWithAck("message:edit", { roomId, id: first.message.id, text: "one, edited" });
  const third = await sio.emitWithAck("message:send", { roomId, text: "three" });
  if (!third.ok) throw new Error("send failed");
  await sio.emitWithAck("reaction:add", { roomId, id: second.message.id, emoji: "🎉" });
  const ack = await plain.request("room:join", { roomId, since: second.message.id });
  const page = await sio.emitWithAck("room:history", { roomId });
  if (!page.ok) throw new Error("history failed");
  const [one, two, three] = page.messages;
  expect(ack).toMatchObject({ ok: true, resumed: true, history: [three], updates: [one, two] });
});
