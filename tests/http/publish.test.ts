/** §5 `POST /api/rooms/:roomId/messages`: publishing over REST, idempotent by clientMsgId, broadcast to the room. */
import { closeAllClients, collect, connectClient, sleep, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { bearer, http, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp();
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

const post = (roomId: string, token: string, body: unknown) =>
  http(`${server.url}/api/rooms/${roomId}/messages`, { method: "POST", headers: bearer(token), body });

describe("POST /api/rooms/:roomId/messages", () => {
  test("stores the message and answers 201 {message}", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: "poster-1", name: "Poster" });
    const before = Date.now();
    const res = await post(roomId, token, { text: "  hello\r\nworld  " });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      message: {
        id: expect.any(String),
        roomId,
        user: { id: "poster-1", name: "Poster" },
        text: "hello\nworld",
        ts: expect.any(Number),
        seq: 1,
        rev: expect.any(String),
      },
    });
    expect(res.body.message.ts).toBeGreaterThanOrEqual(before - 1000);
    const page = await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(token) });
    expect(page.body.messages).toEqual([res.body.message]);
  });

  test("echoes the clientMsgId", async () => {
    const res = await post(uniqueRoom(), signToken(), { text: "hi", clientMsgId: "c-1" });
    expect(res.status).toBe(201);
    expect(res.body.message.clientMsgId).toBe("c-1");
  });

  test("a repeated clientMsgId answers 200 with the first message, stored and broadcast once", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const listener = await connectClient(server.url);
    await listener.emitWithAck("room:join", { roomId });
    const received = collect(listener, "message:new");
    const first = await post(roomId, token, { text: "first", clientMsgId: "same" });
    const again = await post(roomId, token, { text: "second text", clientMsgId: "same" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    await sleep(150);
    expect(received.items).toEqual([first.body.message]);
    const page = await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(token) });
    expect(page.body.messages).toHaveLength(1);
  });

  test("the same clientMsgId from another user is another message", async () => {
    const roomId = uniqueRoom();
    const a = await post(roomId, signToken(), { text: "a", clientMsgId: "shared" });
    const b = await post(roomId, signToken(), { text: "b", clientMsgId: "shared" });
    expect(b.status).toBe(201);
    expect(b.body.message.id).not.toBe(a.body.message.id);
  });

  test("the same clientMsgId in another room is another message", async () => {
    const token = signToken();
    await post(uniqueRoom(), token, { text: "a", clientMsgId: "per-room" });
    const b = await post(uniqueRoom(), token, { text: "b", clientMsgId: "per-room" });
    expect(b.status).toBe(201);
  });

  test("is broadcast as message:new to Socket.IO clients in the room, not to other rooms", async () => {
    const roomId = uniqueRoom();
    const inRoom = await connectClient(server.url);
    const elsewhere = await connectClient(server.url);
    await inRoom.emitWithAck("room:join", { roomId });
    await elsewhere.emitWithAck("room:join", { roomId: uniqueRoom() });
    const stray = collect(elsewhere, "message:new");
    const arrived = waitForEvent(inRoom, "message:new");
    const res = await post(roomId, signToken(), { text: "to the room" });
    expect(await arrived).toEqual(res.body.message);
    await sleep(100);
    expect(stray.items).toEqual([]);
  });

  test("a clientMsgId first sent over Socket.IO and then over REST answers 200 with the socket's message", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: `both-${Date.now()}` });
    const socket = await connectClient(server.url, { token });
    await socket.emitWithAck("room:join", { roomId });
    const received = collect(socket, "message:new");
    const ack = await socket.emitWithAck("message:send", { roomId, text: "from socket", clientMsgId: "retry-1" });
    expect(ack.ok).toBe(true);
    const res = await post(roomId, token, { text: "from rest", clientMsgId: "retry-1" });
    expect(res.status).toBe(200);
    expect(ack.ok && res.body.message).toEqual(ack.ok && ack.message);
    await sleep(150);
    expect(received.items).toHaveLength(1);
  });

  test("a clientMsgId first sent over REST and then over Socket.IO acks the REST message", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const res = await post(roomId, token, { text: "from rest", clientMsgId: "retry-2" });
    const socket = await connectClient(server.url, { token });
    await socket.emitWithAck("room:join", { roomId });
    const ack = await socket.emitWithAck("message:send", { roomId, text: "from socket", clientMsgId: "retry-2" });
    expect(ack).toEqual({ ok: true, message: res.body.message });
  });

  test("does not need the poster to have joined, and keeps the order of the room", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const ids: string[] = [];
    for (const text of ["one", "two", "three"]) ids.push((await post(roomId, token, { text })).body.message.id);
    const page = await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(token) });
    expect(page.body.messages.map((m: { id: string }) => m.id)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
  });

  test("ignores unknown body fields", async () => {
    const res = await post(uniqueRoom(), signToken(), { text: "hi", extra: { nested: true } });
    expect(res.status).toBe(201);
    expect(res.body.message).not.toHaveProperty("extra");
  });
});
