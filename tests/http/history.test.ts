/** §5 `GET /api/rooms/:roomId/messages?before=&after=&limit=`, with the paging rules of §3. */
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import type { Message } from "../../shared";
import { bearer, expectError, http, publishMany, uniqueRoom } from "./support";

let server: TestApp;
let roomId: string;
let sent: Message[];
const token = signToken();

beforeAll(async () => {
  server = await startApp({ RATE_BURST: "1000000" });
  roomId = uniqueRoom();
  sent = await publishMany(server.url, token, roomId, 120);
});
afterAll(() => stopAllApps());

async function page(query: string, room = roomId) {
  const res = await http(`${server.url}/api/rooms/${room}/messages${query}`, { headers: bearer(token) });
  return res;
}
const texts = (messages: Message[]) => messages.map((m) => m.text);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

describe("GET /api/rooms/:roomId/messages", () => {
  test("without parameters gives the newest 50, oldest first, and more: true", async () => {
    const res = await page("");
    expect(res.status).toBe(200);
    expect(texts(res.body.messages)).toEqual(range(71, 120));
    expect(res.body.more).toBe(true);
  });

  test("gives messages in the Message shape", async () => {
    const res = await page("?limit=1");
    expect(res.body.messages[0]).toEqual({
      id: sent[119]!.id,
      roomId,
      user: sent[119]!.user,
      text: "m120",
      ts: expect.any(Number),
      seq: 120,
      rev: sent[119]!.id,
    });
  });

  test("an empty room answers no messages and more: false", async () => {
    const res = await page("", uniqueRoom());
    expect(res.body).toEqual({ messages: [], more: false });
  });

  test("before gives the newest `limit` older than it, and more says older ones exist", async () => {
    const res = await page(`?before=${sent[60]!.id}&limit=10`);
    expect(texts(res.body.messages)).toEqual(range(51, 60));
    expect(res.body.more).toBe(true);
  });

  test("before near the start says more: false", async () => {
    const res = await page(`?before=${sent[10]!.id}&limit=10`);
    expect(texts(res.body.messages)).toEqual(range(1, 10));
    expect(res.body.more).toBe(false);
  });

  test("before the first message gives nothing", async () => {
    const res = await page(`?before=${sent[0]!.id}`);
    expect(res.body).toEqual({ messages: [], more: false });
  });

  test("after gives the oldest `limit` newer than it, and more says newer ones exist", async () => {
    const res = await page(`?after=${sent[9]!.id}&limit=10`);
    expect(texts(res.body.messages)).toEqual(range(11, 20));
    expect(res.body.more).toBe(true);
  });

  test("after near the end says more: false", async () => {
    const res = await page(`?after=${sent[109]!.id}&limit=10`);
    expect(texts(res.body.messages)).toEqual(range(111, 120));
    expect(res.body.more).toBe(false);
  });

  test("after the newest message gives nothing", async () => {
    const res = await page(`?after=${sent[119]!.id}`);
    expect(res.body).toEqual({ messages: [], more: false });
  });

  test("after without limit gives 50", async () => {
    const res = await page(`?after=${sent[0]!.id}`);
    expect(texts(res.body.messages)).toEqual(range(2, 51));
    expect(res.body.more).toBe(true);
  });

  test("walking back with before visits every message once", async () => {
    const seen: string[] = [];
    let query = "?limit=33";
    for (let i = 0; i < 10; i++) {
      const res = await page(query);
      seen.unshift(...texts(res.body.messages));
      if (!res.body.more) break;
      query = `?limit=33&before=${res.body.messages[0].id}`;
    }
    expect(seen).toEqual(range(1, 120));
  });

  test("limit 1 and limit 100 are accepted", async () => {
    expect((await page("?limit=1")).body.messages).toHaveLength(1);
    expect((await page("?limit=100")).body.messages).toHaveLength(100);
  });

  test.each(["0", "101", "abc", "-1", "1.5", "1e1", "%205"])("limit=%s is a bad request", async (limit) => {
    expectError(await page(`?limit=${limit}`), 400, "bad_request");
  });

  test("empty parameters count as not given (the route's `?before=&after=&limit=` form)", async () => {
    const res = await page("?before=&after=&limit=");
    expect(texts(res.body.messages)).toEqual(range(71, 120));
  });

  test("before and after together are a bad request", async () => {
    expectError(await page(`?before=${sent[50]!.id}&after=${sent[10]!.id}`), 400, "bad_request");
  });

  test("a repeated parameter is a bad request", async () => {
    expectError(await page("?limit=5&limit=6"), 400, "bad_request");
  });

  test.each(["has space", "x".repeat(65), "sl%2Fash", "émoji"])("room id %j is a bad request", async (bad) => {
    expectError(await page("", encodeURIComponent(bad)), 400, "bad_request");
  });

  test("room ids may use every allowed character", async () => {
    const res = await page("", "A-z_0.9:x");
    expect(res.status).toBe(200);
  });
});
