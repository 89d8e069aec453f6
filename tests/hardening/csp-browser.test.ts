/**
 * The web client under the server's own Content-Security-Policy, in real
 * headless Chromium: it loads, signs in, joins a room and sends a message
 * with no CSP violation reported, while an inline script injected into the
 * same page is blocked (so the policy is really enforced and the violation
 * listener really works). Needs the built web client (`npm run build`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";

jest.setTimeout(30_000);

const WEB_ROOT = join(__dirname, "..", "..", "dist", "web");
const WAIT = 8000;

let server: TestApp;
let browser: Browser;
let page: Page;
const consoleCsp: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(WEB_ROOT, "app.js"))) throw new Error(`${WEB_ROOT}/app.js is missing: run \`npm run build\``);
  server = await startApp({}, { webRoot: WEB_ROOT });
  browser = await launchChromium();
  const context = await browser.newContext();
  page = await context.newPage();
  // Every violation the page reports, whatever its source (added by the browser, not an inline script).
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) =>
      seen.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  page.on("console", (entry) => {
    if (/Content[ -]Security[ -]Policy/i.test(entry.text())) consoleCsp.push(entry.text());
  });
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await stopAllApps();
});

const violations = () => page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);

test("the web client signs in, joins a room and sends a message with no CSP violation", async () => {
  const response = await page.goto(`${server.url}/#room=csp-room`);
  expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");

  await page.getByLabel("Your name").fill("Cora");
  await page.getByRole("button", { name: "Join chat" }).click();
  await page.waitForFunction(() => document.getElementById("connection-text")?.textContent === "Connected", undefined, {
    timeout: WAIT,
  });
  await page.locator("#room-title", { hasText: "csp-room" }).waitFor({ timeout: WAIT });

  await page.getByLabel("Message", { exact: true }).fill("Hello under a strict CSP");
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await page
    .locator('#messages .msg[data-status="confirmed"]', { hasText: "Hello under a strict CSP" })
    .waitFor({ timeout: WAIT });

  expect(await violations()).toEqual([]);
  expect(consoleCsp).toEqual([]);
  expect(pageErrors).toEqual([]);
});

test("an inline script injected into the page is blocked and reported", async () => {
  await page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.__inlineRan = true";
    document.body.appendChild(script);
  });
  await page.waitForFunction(
    () => (window as unknown as { __cspViolations: string[] }).__cspViolations.length > 0,
    undefined,
    { timeout: WAIT },
  );
  expect(await page.evaluate(() => (window as unknown as { __inlineRan?: boolean }).__inlineRan)).toBeUndefined();
  expect((await violations())[0]).toMatch(/^script-src/);
});
