/** §5 `POST /api/token`: dev tokens, usable everywhere, and only where enabled. */
import { closeAllClients, createClient, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { bearer, expectError, http, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp();
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

const issue = (body: unknown, headers: Record<string, string> = {}) =>
  http(`${server.url}/api/token`, { method: "POST", body, headers });

describe("POST /api/token with dev tokens enabled", () => {
  test("answers {token, user} for a name, the user named as asked", async () => {
    const res = await issue({ name: "Alice" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(typeof res.body.token).toBe("string");
    expect(res.body.user).toEqual({ id: expect.any(String), name: "Alice" });
  });

  test("gives each sign-in its own user, even under the same name", async () => {
    const first = await issue({ name: "Bob" });
    const second = await issue({ name: "Bob" });
    expect(first.body.user.id).not.toBe(second.body.user.id);
  });

  test("trims the name", async () => {
    const res = await issue({ name: "  Carol  " });
    expect(res.body.user.name).toBe("Carol");
  });

  test("issues a token that connects a Socket.IO client as that user", async () => {
    const { token, user } = (await issue({ name: "Dana" })).body;
    const socket = createClient(server.url, { token });
    expect((await waitForEvent(socket, "session")).user).toEqual(user);
  });

  test("issues a token the REST routes accept", async () => {
    const { token, user } = (await issue({ name: "Erin" })).body;
    const roomId = uniqueRoom();
    const sent = await http(`${server.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: bearer(token),
      body: { text: "hi" },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.message.user).toEqual(user);
    const page = await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: bearer(token) });
    expect(page.status).toBe(200);
    expect(page.body.messages.map((m: { text: string }) => m.text)).toEqual(["hi"]);
  });

  test.each([
    ["no name", {}],
    ["an empty name", { name: "" }],
    ["a blank name", { name: "   " }],
    ["a name that is not a string", { name: 42 }],
    ["a name of 65 characters", { name: "x".repeat(65) }],
    ["an array", [{ name: "Alice" }]],
    ["null", null],
  ])("refuses %s with 400 bad_request", async (_what, body) => {
    expectError(await issue(JSON.stringify(body), { "content-type": "application/json" }), 400, "bad_request");
  });

  test("accepts a name of exactly 64 characters", async () => {
    const res = await issue({ name: "x".repeat(64) });
    expect(res.status).toBe(200);
  });

  test("refuses a body that is not JSON with 400 bad_request", async () => {
    expectError(await issue("{name: Alice", { "content-type": "application/json" }), 400, "bad_request");
  });

  test("refuses a form-encoded body (bodies are JSON) with 400 bad_request", async () => {
    expectError(await issue("name=Alice", { "content-type": "application/x-www-form-urlencoded" }), 400, "bad_request");
  });

  test("reads a JSON body whatever its Content-Type says, as `curl -d` sends it", async () => {
    const form = await issue('{"name":"Curly"}', { "content-type": "application/x-www-form-urlencoded" });
    expect(form.status).toBe(200);
    expect(form.body.user.name).toBe("Curly");
    const untyped = await issue('{"name":"Plain"}');
    expect(untyped.body.user?.name).toBe("Plain");
  });
});

describe("POST /api/token with dev tokens disabled", () => {
  test("answers 404 not_found when JWT_SECRET is set and DEV_TOKENS is unset", async () => {
    const other = await startApp({ DEV_TOKENS: "" });
    expect(other.config.devTokens).toBe(false);
    expectError(await http(`${other.url}/api/token`, { method: "POST", body: { name: "Alice" } }), 404, "not_found");
  });

  test("answers 404 not_found when DEV_TOKENS=0", async () => {
    const other = await startApp({ DEV_TOKENS: "0" });
    expectError(await http(`${other.url}/api/token`, { method: "POST", body: { name: "Alice" } }), 404, "not_found");
  });
});
