/**
 * §6 frames: `{type, id, data}` requests and their acks, ping/pong, and the
 * frames that are answered with an `error` frame, not executed, while the
 * connection stays open; frames over MAX_PAYLOAD_BYTES close with 1009.
 */
import { closeAllClients, connectClient, sleep } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllPlain, connectPlain, type PlainClient } from "./ws-client";

const MAX_PAYLOAD_BYTES = 2048;
let server: TestApp;
beforeAll(async () => {
  server = await startApp({ MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) });
});
afterEach(() => {
  closeAllPlain();
  closeAllClients();
});
afterAll(() => stopAllApps());

/** Proves the connection is still open and served. */
async function expectStillServed(client: PlainClient) {
  client.send({ type: "ping" });
  await client.next((f) => f.type === "pong", "pong after the bad frame");
  await expect(client.request("room:leave", { roomId: "nowhere" })).resolves.toEqual({ ok: true });
}

test("answers ping with pong", async () => {
  const { client } = await connectPlain(server.url);
  client.send({ type: "ping" });
  await client.event("pong");
  expect(client.frames.at(-1)).toEqual({ type: "pong" });
});

describe("frames answered with a bad_request error frame, the connection staying open", () => {
  test.each([
    ["not JSON", "{oops"],
    ["a JSON array", "[1, 2]"],
    ["JSON null", "null"],
    ["a JSON number", "42"],
    ["a JSON string", '"room:join"'],
    ["an object without type", { id: 1, data: {} }],
    ["an object whose type is not a string", { type: 5, id: 1, data: {} }],
    ["an unknown type", { type: "room:destroy", id: 1, data: { roomId: "a" } }],
    ["the type of a server event", { type: "message:new", id: 1, data: {} }],
    ["an ack", { type: "ack", id: 1, data: { ok: true } }],
    ["a binary frame", Buffer.from('{"type":"ping"}')],
  ])("%s", async (_what, frame) => {
    const { client } = await connectPlain(server.url);
    client.send(frame);
    const error = await client.next((f) => f.type === "error", "the error frame");
    expect(error).toEqual({ type: "error", data: { code: "bad_request", message: expect.any(String) } });
    await expectStillServed(client);
  });

  test.each([
    ["no id", {}],
    ["an empty string id", { id: "" }],
    ["a 65-character id", { id: "x".repeat(65) }],
    ["a fractional id", { id: 1.5 }],
    ["an object id", { id: { n: 1 } }],
    ["an array id", { id: [1] }],
    ["a null id", { id: null }],
    ["a boolean id", { id: true }],
  ])("a request with %s, which is not executed", async (_what, idPart) => {
    const { client, session } = await connectPlain(server.url);
    await client.request("room:join", { roomId: "bad-ids" });
    client.send({ type: "message:send", ...idPart, data: { roomId: "bad-ids", text: "must not be stored" } });
    const error = await client.next((f) => f.type === "error", "the error frame");
    expect(error.data.code).toBe("bad_request");
    expect(error).not.toHaveProperty("id");
    await expectStillServed(client);
    const { messages } = await client.request("room:history", { roomId: "bad-ids" });
    expect(messages.filter((m: any) => m.user.id === session.user.id)).toEqual([]);
    expect(client.frames.filter((f) => f.type === "message:new")).toEqual([]);
  });
});

describe("requests and acks", () => {
  test.each([
    ["a one-character string", "a"],
    ["a 64-character string", "y".repeat(64)],
    ["zero", 0],
    ["a negative integer", -7],
    ["a large integer", 9007199254740991],
  ])("echoes %s as the id of the ack", async (_what, id) => {
    const { client } = await connectPlain(server.url);
    client.send({ type: "room:join", id, data: { roomId: "ids" } });
    const ack = await client.next((f) => f.type === "ack", "the ack");
    expect(ack.id).toStrictEqual(id);
    expect(ack.data).toMatchObject({ ok: true, roomId: "ids" });
  });

  test("keeps the string id 7 and the integer id 7 apart", async () => {
    const { client } = await connectPlain(server.url);
    client.send({ type: "room:leave", id: "7", data: { roomId: "a" } });
    client.send({ type: "room:history", id: 7, data: { roomId: "a" } });
    const string = await client.next((f) => f.type === "ack" && f.id === "7", 'the ack of id "7"');
    const number = await client.next((f) => f.type === "ack" && f.id === 7, "the ack of id 7");
    expect(string.data).toEqual({ ok: true });
    expect(number.data).toMatchObject({ ok: false, error: { code: "not_joined" } });
  });

  test("answers a payload that does not match its schema with a bad_request ack", async () => {
    const { client } = await connectPlain(server.url);
    await expect(client.request("room:join", { roomId: "no spaces allowed" })).resolves.toEqual({
      ok: false,
      error: { code: "bad_request", message: expect.any(String) },
    });
    await expect(client.request("room:join", undefined)).resolves.toMatchObject({
      ok: false,
      error: { code: "bad_request" },
    });
    await expect(client.request("room:history", { roomId: "r", limit: 101 })).resolves.toMatchObject({
      ok: false,
      error: { code: "bad_request" },
    });
  });

  test("answers every request by its id when several are in flight", async () => {
    const { client } = await connectPlain(server.url);
    const acks = await Promise.all([
      client.request("room:join", { roomId: "flight" }, "a"),
      client.request("message:send", { roomId: "flight", text: "one" }, "b"),
      client.request("message:send", { roomId: "flight", text: "two" }, "c"),
      client.request("room:history", { roomId: "flight" }, "d"),
    ]);
    expect(acks.map((ack) => ack.ok)).toEqual([true, true, true, true]);
    expect(acks[3].messages.map((m: any) => m.text)).toEqual(["one", "two"]);
  });
});

describe("frames over MAX_PAYLOAD_BYTES", () => {
  test("accepts a frame under the limit", async () => {
    const { client } = await connectPlain(server.url);
    await client.request("room:join", { roomId: "big" });
    const ack = await client.request("message:send", { roomId: "big", text: "x".repeat(MAX_PAYLOAD_BYTES - 200) });
    expect(ack.ok).toBe(true);
  });

  test("closes the connection with 1009 and stores and broadcasts nothing of it", async () => {
    const watcher = await connectClient(server.url);
    await watcher.emitWithAck("room:join", { roomId: "huge" });
    const seen: string[] = [];
    watcher.on("message:new", (message) => seen.push(message.text));

    const { client } = await connectPlain(server.url);
    await client.request("room:join", { roomId: "huge" });
    client.send({ type: "message:send", id: 1, data: { roomId: "huge", text: "z".repeat(MAX_PAYLOAD_BYTES) } });
    await expect(client.closed).resolves.toMatchObject({ code: 1009 });

    await sleep(50);
    const page = await watcher.emitWithAck("room:history", { roomId: "huge" });
    expect(page.ok && page.messages).toEqual([]);
    expect(seen).toEqual([]);
  });
});
