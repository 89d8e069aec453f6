/**
 * Web security headers (helmet): a strict Content-Security-Policy (no inline
 * script or style, no framing), nosniff, no referrer and frame denial on the
 * web client, the API and error answers alike.
 */
import type { IncomingHttpHeaders } from "node:http";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { request } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp();
});
afterAll(() => stopAllApps());

/** The CSP as a map of directive → sources. */
function policy(headers: IncomingHttpHeaders): Map<string, string[]> {
  const header = headers["content-security-policy"];
  if (typeof header !== "string") throw new Error("no Content-Security-Policy header");
  return new Map(
    header
      .split(";")
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

function expectSecurityHeaders(headers: IncomingHttpHeaders) {
  const csp = policy(headers);
  expect(csp.get("default-src")).toEqual(["'self'"]);
  expect(csp.get("script-src")).toEqual(["'self'"]);
  expect(csp.get("style-src")).toEqual(["'self'"]);
  expect(csp.get("object-src")).toEqual(["'none'"]);
  expect(csp.get("base-uri")).toEqual(["'none'"]);
  expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
  expect(headers["content-security-policy"]).not.toMatch(/unsafe-inline|unsafe-eval/);
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-powered-by"]).toBeUndefined();
}

describe("security headers", () => {
  test("on the web client's page and its script", async () => {
    const page = await request(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expectSecurityHeaders(page.headers);
    const script = await request(`${server.url}/app.js`);
    expect(script.status).toBe(200);
    expectSecurityHeaders(script.headers);
  });

  test("the page itself has no inline script for the policy to block", async () => {
    const page = await request(`${server.url}/`);
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc=/);
      expect(body!.trim()).toBe("");
    }
    expect(page.text).not.toMatch(/\son[a-z]+\s*=/i);
    expect(page.text).not.toMatch(/<style\b/i);
  });

  test("on API answers", async () => {
    const res = await request(`${server.url}/api/rooms/headers/messages`, {
      headers: { authorization: `Bearer ${signToken()}` },
    });
    expect(res.status).toBe(200);
    expectSecurityHeaders(res.headers);
  });

  test.each([
    ["401, no token", "/api/rooms/headers/messages", {}, 401],
    ["404, unknown API route", "/api/nope", {}, 404],
    ["404, unknown page", "/nope.html", {}, 404],
    ["400, bad query", "/api/rooms/headers/messages?limit=0", { authorization: `Bearer ${signToken()}` }, 400],
  ])("on errors (%s)", async (_what, path, headers: Record<string, string>, status) => {
    const res = await request(`${server.url}${path}`, { headers });
    expect(res.status).toBe(status);
    expectSecurityHeaders(res.headers);
  });

  test("on health, readiness and metrics", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"])
      expectSecurityHeaders((await request(`${server.url}${path}`)).headers);
  });

  test("no Strict-Transport-Security on plain HTTP (it is for the TLS terminator to send)", async () => {
    expect((await request(`${server.url}/`)).headers["strict-transport-security"]).toBeUndefined();
  });
});
