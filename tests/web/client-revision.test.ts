/**
 * Protocol revisions: the client reports the revision the server serves (`session.revision`), and against a
 * revision-1 server (played here by a small Socket.IO server that knows only revision 1's events) basic chat
 * works while the calls revision 2 added reject at once with `unsupported`.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { HuddleClientError, PROTOCOL_REVISION, PROTOCOL_VERSION, type HuddleSession } from "@huddle/client";
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllTestClients, nextEvent, startClient } from "./client-helpers";

afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

test("the package speaks protocol 1 at the revision shared/protocol.ts names", async () => {
  const protocol = await import("../../shared/protocol");
  expect(PROTOCOL_VERSION).toBe(1);
  expect(PROTOCOL_REVISION).toBe(protocol.PROTOCOL_REVISION);
});

test("against this server: session.revision is the client's own revision", async () => {
  const app = await startApp();
  const { client } = startClient(app.url);
  const session = await nextEvent(client, "session");
  expect(session.revision).toBe(PROTOCOL_REVISION);
  expect(client.session?.revision).toBe(PROTOCOL_REVISION);
});

describe("against a revision-1 server", () => {
  let http: HttpServer;
  let io: Server;
  let url: string;
  /** Events the old server received that it does not know (it never answers them). */
  const unknown: string[] = [];

  beforeAll(async () => {
    http = createServer();
    io = new Server(http);
    let seq = 0;
    io.on("connection", (socket) => {
      const user = { id: `u${socket.id}`, name: "Old" };
      // Revision 1's session: no `revision`.
      socket.emit("session", {
        user,
        nodeId: "old",
        protocol: 1,
        limits: { maxMessageLength: 4000, typingTtlMs: 5000 },
      });
      socket.on("room:join", ({ roomId }: { roomId: string }, ack: (answer: object) => void) => {
        void socket.join(roomId);
        ack({ ok: true, roomId, members: [user], typing: [], history: [], resumed: false });
      });
      socket.on("message:send", (payload: { roomId: string; text: string; clientMsgId?: string }, ack) => {
        const message = { id: `${++seq}-0`, roomId: payload.roomId, user, text: payload.text, ts: Date.now() };
        const stored = payload.clientMsgId ? { ...message, clientMsgId: payload.clientMsgId } : message;
        io.to(payload.roomId).emit("message:new", stored);
        ack({ ok: true, message: stored });
      });
      socket.on("room:leave", ({ roomId }: { roomId: string }, ack: (answer: object) => void) => {
        void socket.leave(roomId);
        ack({ ok: true });
      });
      socket.onAny((event: string) => {
        if (!["room:join", "message:send", "room:leave", "typing:start", "typing:stop"].includes(event)) {
          unknown.push(event);
        }
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    io.close();
    await new Promise((resolve) => http.close(resolve));
  });

  test("joins, sends and receives; session.revision is 1", async () => {
    const { client } = startClient(url, { ackTimeoutMs: 5000 });
    const session: HuddleSession = await nextEvent(client, "session");
    expect(session).toMatchObject({ protocol: 1, revision: 1, user: { name: "Old" } });
    const joined = await client.join("lobby");
    expect(joined.members.map((m) => m.name)).toEqual(["Old"]);
    const heard = nextEvent(client, "message");
    const sent = await client.send("lobby", "hello old server");
    expect(sent.text).toBe("hello old server");
    expect((await heard).id).toBe(sent.id);
    await client.leave("lobby");
    expect(client.rooms).toEqual([]);
  });

  test("what revision 2 added rejects at once with unsupported, naming the revision, and is never sent", async () => {
    const { client, outgoing } = startClient(url, { ackTimeoutMs: 5000 });
    await client.join("lobby");
    const sent = await client.send("lobby", "change me");
    const started = Date.now();
    const calls: [string, Promise<unknown>][] = [
      ["edit", client.edit("lobby", sent.id, "changed")],
      ["delete", client.delete("lobby", sent.id)],
      ["react", client.react("lobby", sent.id, "👍")],
      ["unreact", client.unreact("lobby", sent.id, "👍")],
      ["markRead", client.markRead("lobby", sent.id)],
      ["reads", client.reads("lobby")],
      ["listRooms", client.listRooms()],
      ["reply", client.send("lobby", "an answer", { replyTo: sent.id })],
      ["ban", client.ban("lobby", "someone")],
      ["bans", client.bans("lobby")],
      ["leave forget", client.leave("lobby", { forget: true })],
    ];
    for (const [name, call] of calls) {
      const error = await call.then(
        () => new Error(`${name} resolved`),
        (e: unknown) => e,
      );
      expect({ name, error }).toEqual({ name, error: expect.any(HuddleClientError) });
      expect({ name, code: (error as HuddleClientError).code }).toEqual({ name, code: "unsupported" });
      expect((error as Error).message).toMatch(/needs protocol revision 2; the server serves revision 1$/);
    }
    expect(Date.now() - started).toBeLessThan(1000);
    // Refused before anything changed: still in the room, and the old server heard none of it.
    expect(client.rooms).toEqual(["lobby"]);
    expect(client.pending()).toEqual([]);
    expect(outgoing.map((o) => o.event).filter((event) => event !== "room:join" && event !== "message:send")).toEqual(
      [],
    );
    expect(unknown).toEqual([]);
  });
});
