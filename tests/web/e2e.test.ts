/**
 * The web client end to end, in real headless Chromium: two people in two
 * browser contexts (one desktop, one phone-sized) chat in one room, see each
 * other join, type and leave, survive a server restart, and never see text
 * turn into HTML. The built server runs as a child process so it can be
 * killed and started again on the same port. Steps run in order and share
 * the two pages.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { CHROMIUM_FLAGS, createPages, keepScreenshot, sideBySide, WAIT } from "./pages";
import { signToken } from "../helpers/tokens";
import { postMessage } from "./client-helpers";
import { ROOT, startServerProcess, type ServerProcess } from "./server-process";

jest.setTimeout(30_000);

// Each run has its own fresh server, so a fixed name is safe (and reads well in the screenshot).
const ROOM = "launch";

let server: ServerProcess;
let browser: Browser;
let alice: Page;
let bob: Page;
const dialogs: string[] = [];
const pages = createPages(
  () => browser,
  () => server.url,
);
const { pageErrors, cspViolations } = pages;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "web", "app.js")))
    throw new Error("dist/web/app.js is missing: run `npm run build`");
  server = await startServerProcess();
  browser = await launchChromium(CHROMIUM_FLAGS);
  alice = await openPage({ width: 1000, height: 640 });
  bob = await openPage({ width: 360, height: 640 });
});

afterAll(async () => {
  await browser?.close();
  await server?.kill();
});

async function openPage(viewport: { width: number; height: number }): Promise<Page> {
  const page = await pages.openPage(await pages.newContext(viewport));
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return page;
}

/** Waits until an element matching `selector` containing `text` is visible. */
const seeText = (page: Page, selector: string, text: string | RegExp, timeout = WAIT) =>
  page.locator(selector, { hasText: text }).first().waitFor({ state: "visible", timeout });

const connectionText = (page: Page) => page.locator("#connection-text").textContent();

async function waitForConnection(page: Page, pattern: RegExp, timeout = WAIT) {
  await page
    .waitForFunction(
      (source) => new RegExp(source).test(document.getElementById("connection-text")?.textContent ?? ""),
      pattern.source,
      {
        timeout,
        polling: 50,
      },
    )
    .catch(async () => {
      throw new Error(
        `timed out waiting for the connection to read ${pattern}; it reads "${await connectionText(page)}"`,
      );
    });
}

async function signIn(page: Page, name: string) {
  await page.goto(`${server.url}/#room=${ROOM}`);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join chat" }).click();
  await waitForConnection(page, /^Connected$/);
  await seeText(page, "#room-title", ROOM);
}

async function send(page: Page, text: string) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
}

const members = (page: Page) => page.locator("#member-list .member-name").allTextContents();

test("a #room= link invites: each signs in with a name and sees the other join the member list", async () => {
  await signIn(alice, "Alice");
  expect(await members(alice)).toEqual(["Alice"]);
  await signIn(bob, "Bob");
  await seeText(alice, "#member-list .member-name", "Bob");
  expect(await members(alice)).toEqual(["Alice", "Bob"]);
  expect(await members(bob)).toEqual(["Alice", "Bob"]);
});

test("a message typed by one appears for the other, and as the sender's own for the sender", async () => {
  await send(alice, "Hi Bob! Did the new build go out?");
  await seeText(bob, "#messages .msg", "Did the new build go out?");
  const onBob = bob.locator("#messages .msg", { hasText: "Did the new build go out?" });
  expect(await onBob.getAttribute("data-own")).toBe("false");
  expect(await onBob.locator(".author").textContent()).toBe("Alice");
  const onAlice = alice.locator("#messages .msg", { hasText: "Did the new build go out?" });
  await alice.locator('#messages .msg[data-status="confirmed"]', { hasText: "new build" }).waitFor({ timeout: WAIT });
  expect(await onAlice.getAttribute("data-own")).toBe("true");
  expect(await alice.getByLabel("Message", { exact: true }).inputValue()).toBe("");

  await send(bob, "Yes, it's on staging since ten minutes.\nRelease notes are in the wiki.");
  await seeText(alice, "#messages .bubble", "Release notes are in the wiki.");
  await send(alice, "Great, I'll run the smoke tests now.");
  await seeText(bob, "#messages .bubble", "smoke tests");
});

test("Shift+Enter makes a new line; the typing line appears while one types and goes when they send", async () => {
  const input = bob.getByLabel("Message", { exact: true });
  await input.click();
  await input.pressSequentially("Thanks!", { delay: 15 });
  await input.press("Shift+Enter");
  await input.pressSequentially("Ping me when", { delay: 15 });
  expect(await input.inputValue()).toBe("Thanks!\nPing me when");
  await seeText(alice, "#typing", "Bob is typing…");
  expect(await bob.locator("#typing").textContent()).toBe("");

  await saveScreenshots();

  await input.pressSequentially(" they pass.", { delay: 5 });
  await input.press("Enter");
  await seeText(alice, "#messages .bubble", "Ping me when they pass.");
  await alice.waitForFunction(() => document.getElementById("typing")?.textContent === "", undefined, {
    timeout: WAIT,
  });
});

test("text that looks like HTML is shown as text and runs nothing", async () => {
  const script = "<script>alert(1)</script>";
  const image = `<img src=x onerror="alert(2);window.__pwned=1">`;
  await send(bob, script);
  await send(bob, image);
  await seeText(alice, "#messages .bubble", "onerror");
  const bubbles = await alice.locator("#messages .bubble").allTextContents();
  expect(bubbles).toContain(script);
  expect(bubbles).toContain(image);
  expect(await alice.locator("#messages img, #messages script").count()).toBe(0);
  expect(await alice.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
});

test("on a 360 px phone nothing scrolls sideways and the rooms panel opens from the menu button", async () => {
  const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const menu = bob.getByRole("button", { name: "Rooms and people" });
  expect(await menu.isVisible()).toBe(true);
  await menu.click();
  expect(await menu.getAttribute("aria-expanded")).toBe("true");
  await seeText(bob, "#member-list .member-name", "Alice");
  await bob.keyboard.press("Escape");
  expect(await menu.getAttribute("aria-expanded")).toBe("false");
});

test("after a server restart both pages reconnect, deliver what was queued and show what was sent meanwhile", async () => {
  await server.kill();
  await waitForConnection(alice, /^(Reconnecting|Connecting)/);
  await waitForConnection(bob, /^(Reconnecting|Connecting)/);

  await send(alice, "Sent while the server was down");
  await alice.locator('#messages .msg[data-status="pending"]', { hasText: "while the server was down" }).waitFor({
    timeout: WAIT,
  });

  await server.start();
  await postMessage(server.url, ROOM, "Carol here, posted while you were away", signToken({ name: "Carol" }));

  for (const page of [alice, bob]) {
    await waitForConnection(page, /^Connected$/, 15_000);
    await seeText(page, "#messages .bubble", "posted while you were away");
    await seeText(page, "#messages .bubble", "Sent while the server was down");
  }
  await alice
    .locator('#messages .msg[data-status="confirmed"]', { hasText: "while the server was down" })
    .waitFor({ timeout: WAIT });
  // Once each: no duplicate from the re-send or the reload.
  for (const page of [alice, bob]) {
    const texts = await page.locator("#messages .bubble").allTextContents();
    expect(texts.filter((t) => t === "Sent while the server was down")).toHaveLength(1);
    expect(texts.filter((t) => t === "Carol here, posted while you were away")).toHaveLength(1);
  }
  await seeText(alice, "#member-list .member-name", "Bob");
  expect(await members(alice)).toEqual(["Alice", "Bob"]);
});

test("the member list drops someone who leaves the room", async () => {
  await bob.getByRole("button", { name: "Leave" }).click();
  await alice.waitForFunction(
    () => ![...document.querySelectorAll("#member-list .member-name")].some((e) => e.textContent === "Bob"),
    undefined,
    { timeout: WAIT },
  );
  expect(await members(alice)).toEqual(["Alice"]);
});

test("scrolling to the top loads earlier messages until the beginning of the room", async () => {
  const room = `${ROOM}-history`;
  // 60 messages from different people (each has their own rate budget); joining shows the latest 50.
  for (let i = 1; i <= 60; i++) await postMessage(server.url, room, `history ${i}`, signToken({ name: `P${i}` }));
  await alice.getByLabel("Room to join").fill(room);
  await alice.getByLabel("Room to join").press("Enter");
  await seeText(alice, "#messages .bubble", /^history 60$/);
  expect(await alice.locator("#messages .bubble").count()).toBe(50);
  expect(await alice.locator("#history-start").isVisible()).toBe(false);

  await alice.locator("#scroller").evaluate((element) => (element.scrollTop = 0));
  await seeText(alice, "#messages .bubble", /^history 1$/);
  expect(await alice.locator("#messages .bubble").count()).toBe(60);
  await seeText(alice, "#history-start", `This is the beginning of #${room}.`);
  expect(await alice.evaluate(() => location.hash)).toBe(`#room=${room}`);
});

test("a message refused for sending too fast says so in words, and Retry sends it", async () => {
  // 30 sends in one go through the composer's Enter handler: past the burst of 20, some are refused.
  await alice.getByLabel("Message", { exact: true }).evaluate((input: HTMLTextAreaElement) => {
    for (let i = 1; i <= 30; i++) {
      input.value = `burst ${i}`;
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    }
  });
  const failed = alice.locator('#messages .msg[data-status="failed"]');
  await failed.first().waitFor({ timeout: WAIT });
  expect(await failed.first().locator(".delivery span").textContent()).toMatch(
    /^Not sent: You're sending too fast — try again in \d+ s$/,
  );
  await seeText(alice, "#notice", "You're sending too fast");

  const text = (await failed.first().locator(".bubble").textContent())!;
  await alice.waitForTimeout(1000); // what the message asks the user to wait
  await failed.first().getByRole("button", { name: "Retry sending this message" }).click();
  const row = alice.locator("#messages .msg", { has: alice.locator(".bubble", { hasText: new RegExp(`^${text}$`) }) });
  await alice.waitForFunction(
    (t) =>
      [...document.querySelectorAll('#messages .msg[data-status="confirmed"] .bubble')].some(
        (b) => b.textContent === t,
      ),
    text,
    { timeout: WAIT },
  );
  expect(await row.count()).toBe(1);

  const before = await failed.count();
  if (before > 0) {
    await failed.first().getByRole("button", { name: "Discard this message" }).click();
    await alice.waitForFunction(
      (n) => document.querySelectorAll('#messages .msg[data-status="failed"]').length === n,
      before - 1,
      { timeout: WAIT },
    );
  }
});

test("signing in with a pasted token uses that identity", async () => {
  await bob.getByRole("button", { name: "Sign out" }).click();
  await bob.getByText("Sign in with a token instead").click();
  await bob.getByLabel("Token (JWT issued by your app)").fill(signToken({ sub: "erin-1", name: "Erin" }));
  await bob.getByRole("button", { name: "Use this token" }).click();
  await waitForConnection(bob, /^Connected$/);
  await seeText(bob, "#me-name", "Erin");
});

test("a stored dev token that has expired is swapped for a new one on load, under the same name", async () => {
  const expired = signToken({ name: "Dave", exp: Math.floor(Date.now() / 1000) - 3600 });
  await bob.evaluate(
    (token) => localStorage.setItem("huddle.auth", JSON.stringify({ token, kind: "dev", name: "Dave" })),
    expired,
  );
  await bob.reload();
  await waitForConnection(bob, /^Connected$/);
  await seeText(bob, "#me-name", "Dave");
  const stored = await bob.evaluate(() => JSON.parse(localStorage.getItem("huddle.auth") ?? "{}").token);
  expect(stored).not.toBe(expired);
});

test("nothing broke the Content-Security-Policy or threw in either page", () => {
  expect(cspViolations).toEqual([]);
  expect(pageErrors).toEqual([]);
});

/** Alice on a desktop and Bob on a 360 px phone, side by side, as test-artifacts/two-users.png (and docs/). */
async function saveScreenshots() {
  const [desktop, phone] = await Promise.all([alice.screenshot(), bob.screenshot()]);
  const composite = await sideBySide(browser, 1448, [
    [desktop, "Alice — desktop"],
    [phone, "Bob — phone, 360 px"],
  ]);
  keepScreenshot("two-users.png", composite);
}
