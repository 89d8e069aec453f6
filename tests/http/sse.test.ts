/** §5 `GET /api/rooms/:roomId/events`: Server-Sent Events of a room, live and resumed with Last-Event-ID. */
import { closeAllClients, connectClient, eventually, sleep } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { createMemoryStores } from "../../server/stores";
import type { Message } from "../../shared";
import { bearer, expectError, http, publish, publishMany, uniqueRoom } from "./support";

let server: TestApp;
const streams: SseStream[] = [];
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "1000000" }, { sseHeartbeatMs: 100 });
});
afterEach(() => {
  closeAllClients();
  streams.splice(0).forEach((s) => s.close());
});
afterAll(() => stopAllApps());

async function follow(roomId: string, headers: Record<string, string> = {}, query = "", base = server.url) {
  const stream = await openSse(`${base}/api/rooms/${roomId}/events${query}`, headers);
  streams.push(stream);
  return stream;
}
/** Waits until the stream's `: connected` comment shows the server registered it. */
const opened = (stream: SseStream) => eventually(() => stream.comments.length > 0, "the SSE stream to open");

/** The next `count` message events, as Messages, checking each event id is its message id. */
async function nextMessages(stream: SseStream, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let i = 0; i < count; i++) {
    const event = await stream.next("message");
    const message = JSON.parse(event.data) as Message;
    expect(event.id).toBe(message.id);
    messages.push(message);
  }
  return messages;
}

describe("SSE: opening a stream", () => {
  test("answers 200 text/event-stream, not cached, with Authorization: Bearer", async () => {
    const stream = await follow(uniqueRoom(), bearer(signToken()));
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(stream.headers.get("cache-control")).toMatch(/no-cache/);
  });

  test("accepts the token as ?token=", async () => {
    const stream = await follow(uniqueRoom(), {}, `?token=${signToken()}`);
    expect(stream.status).toBe(200);
  });

  test("refuses no token with 401 JSON before streaming", async () => {
    const res = await http(`${server.url}/api/rooms/${uniqueRoom()}/events`);
    expectError(res, 401, "unauthorized");
  });

  test("refuses a room outside the rooms claim with 403 JSON before streaming", async () => {
    const res = await http(`${server.url}/api/rooms/secret/events`, {
      headers: bearer(signToken({ rooms: ["public-*"] })),
    });
    expectError(res, 403, "forbidden");
  });

  test("sends a `:` comment line at the heartbeat interval", async () => {
    const stream = await follow(uniqueRoom(), bearer(signToken()));
    await eventually(() => stream.comments.length >= 3, "three SSE comment lines");
    expect(stream.events).toEqual([]);
  });

  test("counts as an open sse connection in /metrics while it is open", async () => {
    const own = await startApp();
    const gauge = async () =>
      /huddle_connections\{[^}]*transport="sse"[^}]*\} (\d+)/.exec((await http(`${own.url}/metrics`)).text)?.[1];
    const stream = await follow(uniqueRoom(), bearer(signToken()), "", own.url);
    await opened(stream);
    expect(await gauge()).toBe("1");
    stream.close();
    await eventually(async () => (await gauge()) === "0", "the sse gauge to fall back to 0");
  });
});

describe("SSE: live events", () => {
  test("message events carry the Message as data and its id as the event id", async () => {
    const roomId = uniqueRoom();
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    const sent = await publish(server.url, signToken(), roomId, "live one");
    const [received] = await nextMessages(stream, 1);
    expect(received).toEqual(sent);
  });

  test("is live from the moment of connecting: no history is sent without Last-Event-ID", async () => {
    const roomId = uniqueRoom();
    await publishMany(server.url, signToken(), roomId, 3);
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    const sent = await publish(server.url, signToken(), roomId, "after connecting");
    expect((await nextMessages(stream, 1))[0]!.id).toBe(sent.id);
  });

  test("messages sent over Socket.IO arrive in order", async () => {
    const roomId = uniqueRoom();
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    const socket = await connectClient(server.url);
    await socket.emitWithAck("room:join", { roomId });
    const acks = [];
    for (const text of ["a", "b", "c"]) acks.push(await socket.emitWithAck("message:send", { roomId, text }));
    const received = await nextMessages(stream, 3);
    expect(received.map((m) => m.text)).toEqual(["a", "b", "c"]);
  });

  test("presence events say who joined and left", async () => {
    const roomId = uniqueRoom();
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    const socket = await connectClient(server.url, { token: signToken({ sub: "pres-1", name: "Pat" }) });
    await socket.emitWithAck("room:join", { roomId });
    const join = await stream.next("presence");
    expect(JSON.parse(join.data)).toEqual({ type: "join", roomId, user: { id: "pres-1", name: "Pat" } });
    await socket.emitWithAck("room:leave", { roomId });
    const leave = await stream.next("presence");
    expect(JSON.parse(leave.data)).toEqual({ type: "leave", roomId, user: { id: "pres-1", name: "Pat" } });
  });

  test("typing events carry the room's whole typing set", async () => {
    const roomId = uniqueRoom();
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    const socket = await connectClient(server.url, { token: signToken({ sub: "typist-1", name: "Tay" }) });
    await socket.emitWithAck("room:join", { roomId });
    await socket.emitWithAck("typing:start", { roomId });
    expect(JSON.parse((await stream.next("typing")).data)).toEqual({
      roomId,
      users: [{ id: "typist-1", name: "Tay" }],
    });
    await socket.emitWithAck("typing:stop", { roomId });
    expect(JSON.parse((await stream.next("typing")).data)).toEqual({ roomId, users: [] });
  });

  test("events of other rooms are not sent", async () => {
    const roomId = uniqueRoom();
    const stream = await follow(roomId, bearer(signToken()));
    await opened(stream);
    await publish(server.url, signToken(), uniqueRoom(), "elsewhere");
    const mine = await publish(server.url, signToken(), roomId, "here");
    expect((await nextMessages(stream, 1))[0]!.id).toBe(mine.id);
  });

  test("the stream ends when its token expires", async () => {
    // Expired 29 s ago: still inside the 30 s leeway, so it is accepted and ends about a second later.
    const token = signToken({ exp: Math.floor(Date.now() / 1000) - 29 });
    const response = await fetch(`${server.url}/api/rooms/${uniqueRoom()}/events`, { headers: bearer(token) });
    expect(response.status).toBe(200);
    let timer: NodeJS.Timeout | undefined;
    const stillOpen = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still open"), 4000)));
    const outcome = await Promise.race([response.text().then(() => "ended"), stillOpen]);
    clearTimeout(timer);
    expect(outcome).toBe("ended");
  });
});

describe("SSE: Last-Event-ID", () => {
  test("the Last-Event-ID header first replays the messages after that id, then goes live", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const sent = await publishMany(server.url, token, roomId, 5);
    const stream = await follow(roomId, { ...bearer(token), "last-event-id": sent[1]!.id });
    const replayed = await nextMessages(stream, 3);
    expect(replayed).toEqual(sent.slice(2));
    const live = await publish(server.url, token, roomId, "live");
    expect(await nextMessages(stream, 1)).toEqual([live]);
  });

  test("?lastEventId= replays like the header", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const sent = await publishMany(server.url, token, roomId, 4);
    const stream = await follow(roomId, {}, `?token=${token}&lastEventId=${sent[0]!.id}`);
    expect(await nextMessages(stream, 3)).toEqual(sent.slice(1));
  });

  test("the newest id as Last-Event-ID replays nothing", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const sent = await publishMany(server.url, token, roomId, 3);
    const stream = await follow(roomId, { ...bearer(token), "last-event-id": sent[2]!.id });
    await opened(stream);
    const live = await publish(server.url, token, roomId, "next");
    expect(await nextMessages(stream, 1)).toEqual([live]);
  });

  test.each(["999999-0", "0-0", "not-an-id"])("an unknown Last-Event-ID (%s) means from now on", async (unknown) => {
    const roomId = uniqueRoom();
    const token = signToken();
    await publishMany(server.url, token, roomId, 3);
    const stream = await follow(roomId, { ...bearer(token), "last-event-id": unknown });
    await opened(stream);
    const live = await publish(server.url, token, roomId, "from now on");
    expect(await nextMessages(stream, 1)).toEqual([live]);
  });

  test("messages sent while the replay is read arrive once each, in order, with no gap", async () => {
    // The history read is held open while messages are published, so they reach the stream both live
    // (held back during the replay) and through the replay itself.
    const stores = createMemoryStores({
      historyMax: 1000,
      messageLimit: { burst: 1_000_000, perSecond: 1000 },
      typingLimit: { burst: 20, perSecond: 5 },
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const readStarted = new Promise<void>((resolve) => (reading = resolve));
    const since = stores.messages.since.bind(stores.messages);
    const slow = await startApp(
      {},
      {
        stores: {
          ...stores,
          messages: {
            ...stores.messages,
            since: async (...args: Parameters<typeof since>) => {
              reading();
              await gate;
              return since(...args);
            },
          },
        },
      },
    );
    const roomId = uniqueRoom();
    const token = signToken();
    const before = await publishMany(slow.url, token, roomId, 3);
    const stream = await follow(roomId, { ...bearer(token), "last-event-id": before[0]!.id }, "", slow.url);
    await readStarted;
    const during = await publishMany(slow.url, token, roomId, 5);
    release();
    const after = await publishMany(slow.url, token, roomId, 2);
    const expected = [...before.slice(1), ...during, ...after];
    expect(await nextMessages(stream, expected.length)).toEqual(expected);
    await sleep(100);
    expect(stream.events.filter((e) => e.event === "message")).toHaveLength(expected.length);
  });

  test("messages published concurrently with a resuming stream are neither lost nor doubled", async () => {
    const roomId = uniqueRoom();
    const token = signToken();
    const sent = await publishMany(server.url, token, roomId, 20);
    const publishing = publishMany(server.url, token, roomId, 30);
    const stream = await follow(roomId, { ...bearer(token), "last-event-id": sent[9]!.id });
    const more = await publishing;
    const expected = [...sent.slice(10), ...more];
    // The stream may have connected after some of `more` went out: it must then have them from the replay.
    const received = await nextMessages(stream, expected.length);
    expect(received.map((m) => m.id)).toEqual(expected.map((m) => m.id));
  });
});
