/**
 * §12 "On SIGTERM a node stops taking connections (`/readyz` 503) … closes its
 * connections so that their clients reconnect to another node". SSE streams
 * and long polls are connections too (§13 counts them): from the moment the
 * node drains, a new one is not held open on a node about to exit: a poll is
 * refused 503 `unavailable` (the client polls again, through the balancer);
 * an SSE request gets an event stream that ends at once with `retry:`, since
 * `EventSource` reconnects after a stream ends but gives up for good on a 503.
 */
import { startApp, stopAllApps } from "../helpers/app";
import { request as http } from "../helpers/http";
import { signToken } from "../helpers/tokens";

afterAll(() => stopAllApps());

test("a draining node ends new SSE streams at once and answers new polls 503 unavailable, like /readyz", async () => {
  const server = await startApp();
  const token = signToken();
  const closing = server.app.close();
  const [ready, sse, poll] = await Promise.all([
    http(`${server.url}/readyz`),
    http(`${server.url}/api/rooms/drain/events?token=${token}`, { timeoutMs: 2000 }),
    http(`${server.url}/api/rooms/drain/poll?timeout=5&token=${token}`, { timeoutMs: 2000 }),
  ]);
  await closing;
  expect(ready.status).toBe(503);
  expect([sse.status, sse.headers["content-type"]]).toEqual([200, expect.stringMatching(/^text\/event-stream/)]);
  expect(sse.text).toMatch(/^retry: \d+$/m);
  expect([poll.status, poll.body?.error?.code]).toEqual([503, "unavailable"]);
});
