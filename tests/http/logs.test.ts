/** Tokens never appear in logs, even at debug level, whichever way they were sent. */
import { closeAllClients, connectClient, connectError } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { openSse } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { createLogger, redactUrl } from "../../server/logger";
import { bearer, http, uniqueRoom } from "./support";

afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

/** A debug logger whose lines a test can read. */
function captureLogs() {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", nodeId: "log-node" }, { write: (line: string) => lines.push(line) });
  return { logger, text: () => lines.join(""), lines };
}

describe("the logger", () => {
  test("redacts tokens in logged objects, authorization headers and ?token= in urls", () => {
    const { logger, text } = captureLogs();
    const secret = signToken();
    logger.info(
      {
        token: secret,
        auth: { token: secret },
        handshake: { auth: { token: secret }, query: { token: secret } },
        req: { headers: { authorization: `Bearer ${secret}` } },
        headers: { authorization: `Bearer ${secret}` },
        url: `/api/rooms/r/events?lastEventId=1-0&token=${secret}&x=1`,
      },
      "something happened",
    );
    expect(text()).toContain("something happened");
    expect(text()).not.toContain(secret);
    expect(text()).toContain("lastEventId=1-0&token=[redacted]&x=1");
  });

  test("redactUrl replaces token and access_token values only", () => {
    expect(redactUrl("/ws?v=1&token=abc.def.ghi")).toBe("/ws?v=1&token=[redacted]");
    expect(redactUrl("/x?access_token=abc#frag")).toBe("/x?access_token=[redacted]#frag");
    expect(redactUrl("/x?notatoken=abc")).toBe("/x?notatoken=abc");
  });
});

describe("an app logging at debug level", () => {
  let server: TestApp;
  let logs: ReturnType<typeof captureLogs>;
  beforeAll(async () => {
    logs = captureLogs();
    server = await startApp({ LOG_LEVEL: "debug" }, { logger: logs.logger });
  });

  test("logs HTTP requests with failed and successful auth, never their tokens", async () => {
    const good = signToken();
    const bad = `${signToken().slice(0, -3)}xyz`;
    const expired = signToken({ exp: Math.floor(Date.now() / 1000) - 3600 });
    const roomId = uniqueRoom();
    expect((await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(good) })).status).toBe(200);
    expect((await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(bad) })).status).toBe(401);
    expect((await http(`${server.url}/api/rooms/${roomId}/poll?timeout=0&token=${expired}`)).status).toBe(401);
    expect((await http(`${server.url}/api/rooms/${roomId}/poll?timeout=0&token=${good}`)).status).toBe(200);
    const stream = await openSse(`${server.url}/api/rooms/${roomId}/events?token=${good}`);
    stream.close();
    const issued = await http(`${server.url}/api/token`, { method: "POST", body: { name: "Logged" } });
    expect(issued.status).toBe(200);

    // The requests were logged (so the check below is not vacuous), with the query token redacted.
    expect(logs.text()).toMatch(/"status":401/);
    expect(logs.text()).toContain("poll?timeout=0&token=[redacted]");
    for (const token of [good, bad, expired, issued.body.token]) expect(logs.text()).not.toContain(token);
  });

  test("Socket.IO connections refused and accepted, by auth and by ?token=, leave no token in the logs", async () => {
    const good = signToken();
    const inQuery = signToken();
    const bad = `${signToken().slice(0, -3)}xyz`;
    await connectClient(server.url, { token: good });
    await connectClient(server.url, { auth: {}, query: { token: inQuery } });
    await connectClient(server.url, { token: good, transport: "polling" });
    expect((await connectError(server.url, { token: bad })).data.code).toBe(4002);
    expect((await connectError(server.url, { auth: {}, query: { token: bad }, transport: "polling" })).data.code).toBe(
      4002,
    );
    for (const token of [good, inQuery, bad]) expect(logs.text()).not.toContain(token);
  });
});
