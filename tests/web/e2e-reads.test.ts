/**
 * Read state end to end, in real headless Chromium under a strict CSP: Bob
 * has unread badges for the rooms Alice writes in while he looks elsewhere,
 * on both his tabs (two pages of one browser context: one localStorage, one
 * user); opening the room on one tab shows "New messages" above what he had
 * not read, marks it read as it is seen, and clears the badge on the other
 * tab; Alice sees "Seen by Bob" under her latest message, then "Seen by 3
 * people" with the names on hover and on keyboard focus. The room list is the
 * same after a reload and on a second device (another context with Bob's
 * token), and leaving a room takes it off his list there too. Steps run in
 * order and share the pages.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { CHROMIUM_FLAGS, connected, createPages, keepScreenshot, sideBySide, WAIT } from "./pages";
import { signToken } from "../helpers/tokens";
import { ROOT, startServerProcess, type ServerProcess } from "./server-process";

jest.setTimeout(30_000);

let server: ServerProcess;
let browser: Browser;
let alice: Page;
let bob: Page; // Bob's first tab
let bobTab2: Page; // Bob's second tab: same context, same localStorage, same user
let bobPhone: Page | undefined; // Bob's second device: another context, signed in with his token
const { pageErrors, cspViolations, newContext, openPage } = createPages(
  () => browser,
  () => server.url,
);

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "web", "app.js")))
    throw new Error("dist/web/app.js is missing: run `npm run build`");
  server = await startServerProcess();
  browser = await launchChromium(CHROMIUM_FLAGS);
  alice = await openPage(await newContext({ width: 900, height: 640 }));
  bob = await openPage(await newContext({ width: 780, height: 640 }));
});

afterAll(async () => {
  await browser?.close();
  await server?.kill();
});

async function signIn(page: Page, name: string, room: string) {
  await page.goto(`${server.url}/#room=${room}`);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join chat" }).click();
  await connected(page);
}

const composer = (page: Page) => page.getByLabel("Message", { exact: true });

async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await row(page, text).waitFor({ timeout: WAIT });
}

async function joinRoom(page: Page, room: string) {
  await page.getByLabel("Room to join").fill(room);
  await page.getByLabel("Room to join").press("Enter");
  await page.locator("#room-title", { hasText: room }).waitFor({ timeout: WAIT });
}

/** Opens a room of the sidebar by its button. */
async function openRoom(page: Page, room: string) {
  await roomButton(page, room).click();
  await page.locator("#room-title", { hasText: room }).waitFor({ timeout: WAIT });
}

const roomButton = (page: Page, room: string): Locator => page.locator(`#room-list button[data-room="${room}"]`);
const row = (page: Page, text: string): Locator =>
  page.locator('#messages .msg[data-status="confirmed"]', { has: page.locator(".bubble", { hasText: text }) });

/** The sidebar as "room:badge" ("room" without one), top to bottom. */
const sidebar = (page: Page) =>
  page.locator("#room-list button[data-room]").evaluateAll((buttons) =>
    buttons.map((b) => {
      const badge = b.querySelector(".badge")?.textContent;
      return badge ? `${(b as HTMLElement).dataset.room}:${badge}` : (b as HTMLElement).dataset.room!;
    }),
  );

async function sidebarIs(page: Page, expected: string[]) {
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify(
          [...document.querySelectorAll<HTMLElement>("#room-list button[data-room]")].map((b) => {
            const badge = b.querySelector(".badge")?.textContent;
            return badge ? `${b.dataset.room}:${badge}` : b.dataset.room;
          }),
        ) === JSON.stringify(want),
      expected,
      { timeout: WAIT, polling: 50 },
    )
    .catch(async () => {
      throw new Error(`the sidebar reads ${JSON.stringify(await sidebar(page))}, not ${JSON.stringify(expected)}`);
    });
}

/** Each message and line of the timeline, top to bottom: the text of a message, "—New messages—" for the line. */
const timeline = (page: Page) =>
  page
    .locator("#messages > li:not(.day)")
    .evaluateAll((rows) =>
      rows.map((r) =>
        r.classList.contains("new-divider") ? "—New messages—" : (r.querySelector(".bubble")?.textContent ?? ""),
      ),
    );

test("Bob has unread badges for the rooms Alice writes in while he looks at another, and the title adds them up", async () => {
  await signIn(alice, "Alice", "design");
  await signIn(bob, "Bob", "design");
  await send(alice, "Morning! The onboarding mockups are up.");
  // Bob sees it (his page is visible and focused, the message in view): he has read it.
  await row(alice, "onboarding mockups").locator(".seen-by", { hasText: "Seen by Bob" }).waitFor({ timeout: WAIT });
  await joinRoom(bob, "ops");
  await joinRoom(bob, "random");

  await send(alice, "Could you review the sign-up screen?");
  await send(alice, "The copy on step 2 is still a draft.");
  await send(alice, "Comments welcome by Friday 🙏");
  await joinRoom(alice, "ops");
  await send(alice, "Deploy window moved to 16:00.");
  await send(alice, "Staging is frozen until then.");
  await openRoom(alice, "design");

  // Newest activity first; the room Bob looks at shows no badge.
  await sidebarIs(bob, ["ops:2", "design:3", "random"]);
  expect(await bob.title()).toBe("(5) #random — Huddle");
  expect(await roomButton(bob, "design").locator(".badge").getAttribute("aria-label")).toBe("3 unread");
});

test("a second tab of Bob's shows the same badges from the server's list", async () => {
  bobTab2 = await openPage(bob.context());
  await bobTab2.goto(server.url);
  await connected(bobTab2);
  await expect(bobTab2.locator("#room-title").textContent()).resolves.toBe("random");
  await sidebarIs(bobTab2, ["ops:2", "design:3", "random"]);
});

test('opening the room on one tab shows "New messages" above what was unread, and clears the badge on the other', async () => {
  await openRoom(bob, "design");
  await bob.locator("#messages .new-divider").waitFor({ timeout: WAIT });
  expect(await timeline(bob)).toEqual([
    "Morning! The onboarding mockups are up.",
    "—New messages—",
    "Could you review the sign-up screen?",
    "The copy on step 2 is still a draft.",
    "Comments welcome by Friday 🙏",
  ]);
  // Seen, so marked read: the other tab's badge goes (its read:updated), and this tab's title counts ops only.
  await sidebarIs(bobTab2, ["ops:2", "design", "random"]);
  await bob.waitForFunction(() => document.title === "(2) #design — Huddle", null, { timeout: WAIT });
  await sidebarIs(bob, ["ops:2", "design", "random"]);
  // The line stays while Bob reads on, even as the marker moves past it.
  await send(alice, "Oh, and the icons are placeholders.");
  await row(bob, "placeholders").waitFor({ timeout: WAIT });
  expect((await timeline(bob)).indexOf("—New messages—")).toBe(1);
});

test('Alice sees "Seen by Bob" under her latest message; past two people, a count with the names on hover and focus', async () => {
  const latest = row(alice, "placeholders");
  await latest.locator(".seen-by", { hasText: "Seen by Bob" }).waitFor({ timeout: WAIT });
  // Only under her latest message.
  expect(await alice.locator("#messages .seen-by").count()).toBe(1);
  expect(await row(alice, "Comments welcome").locator(".delivery").count()).toBe(0);

  // Carol and Dan read the room over REST (public markers): Alice's line counts them.
  const id = (await latest.getAttribute("data-id"))!;
  for (const name of ["Carol", "Dan"]) await markReadOverRest("design", id, signToken({ name }));
  const seen = latest.locator(".seen-by");
  await seen.filter({ hasText: "Seen by 3 people" }).waitFor({ timeout: WAIT });
  expect(await seen.getAttribute("aria-label")).toBe("Seen by Bob, Carol and Dan");
  const names = seen.locator(".seen-names");
  expect(await names.isVisible()).toBe(false);
  await seen.hover();
  expect(await names.isVisible()).toBe(true);
  await alice.mouse.move(0, 0);
  expect(await names.isVisible()).toBe(false);
  // From the composer, Shift+Tab reaches the line (the message's actions come after it).
  await composer(alice).focus();
  for (let i = 0; i < 6 && !(await seen.evaluate((e) => e === document.activeElement)); i++) {
    await alice.keyboard.press("Shift+Tab");
  }
  expect(await seen.evaluate((e) => e === document.activeElement)).toBe(true);
  expect(await names.isVisible()).toBe(true);
  expect(await names.textContent()).toBe("Seen by Bob, Carol and Dan");
  await saveScreenshot();
});

test("while Alice edits that message, a new reader rebuilds its row: her editor keeps the focus, caret and keys", async () => {
  const id = (await row(alice, "placeholders").getAttribute("data-id"))!;
  const latest = alice.locator(`#messages .msg[data-id="${id}"]`);
  await composer(alice).focus();
  await composer(alice).press("ArrowUp");
  const editor = alice.getByRole("textbox", { name: "Edit message" });
  expect(await editor.evaluate((e) => e === document.activeElement)).toBe(true);
  await alice.keyboard.type(" Final ones", { delay: 5 });
  // Typed by the page's keyboard, not into the element: a key after the rebuild goes wherever the focus is.
  await markReadOverRest("design", id, signToken({ name: "Eve" }));
  await latest.locator(".seen-by", { hasText: "Seen by 4 people" }).waitFor({ timeout: WAIT });
  await alice.keyboard.type(" on Monday.", { delay: 5 });
  await alice.keyboard.press("Enter");
  await row(bob, "Final ones on Monday.").locator(".edited").waitFor({ timeout: WAIT });
  expect(await row(bob, "Final ones").locator(".bubble").textContent()).toBe(
    "Oh, and the icons are placeholders. Final ones on Monday. (edited)",
  );
});

test('the "New messages" line goes once Bob writes', async () => {
  await send(bob, "Looks great — I'll leave comments in the doc.");
  expect(await timeline(bob)).not.toContain("—New messages—");
});

test("the room list survives a reload and is the same on a second device", async () => {
  const before = await sidebar(bob);
  expect(before).toEqual(["design", "ops:2", "random"]);
  await bob.reload();
  await connected(bob);
  await sidebarIs(bob, before);

  // Bob's phone: another browser, signed in with his token.
  const token = await bob.evaluate(() => JSON.parse(localStorage.getItem("huddle.auth") ?? "{}").token as string);
  bobPhone = await openPage(await newContext({ width: 390, height: 700 }));
  await bobPhone.goto(server.url);
  await bobPhone.getByText("Sign in with a token instead").click();
  await bobPhone.getByLabel("Token (JWT issued by your app)").fill(token);
  await bobPhone.getByRole("button", { name: "Use this token" }).click();
  await connected(bobPhone);
  // Nothing to go back to on this device: it opens Bob's most active room.
  await bobPhone.locator("#room-title", { hasText: "design" }).waitFor({ timeout: WAIT });
  await sidebarIs(bobPhone, before);
});

test("leaving a room forgets it: gone on this tab at once, and from the other device's list when it next looks", async () => {
  await openRoom(bob, "random");
  await bob.getByRole("button", { name: "Leave" }).click();
  await sidebarIs(bob, ["design", "ops:2"]);
  // The phone drops it when its window gets the focus back (or within 30 s). Bob's other tab, where the room is
  // still open (joined), keeps it until that tab leaves it too.
  await bobPhone!.evaluate(() => window.dispatchEvent(new Event("focus")));
  await sidebarIs(bobPhone!, ["design", "ops:2"]);
});

test("nothing broke the Content-Security-Policy or threw in any page", () => {
  expect(cspViolations).toEqual([]);
  expect(pageErrors).toEqual([]);
});

async function markReadOverRest(room: string, upTo: string, token: string) {
  const response = await fetch(`${server.url}/api/rooms/${room}/read`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ upTo }),
  });
  if (!response.ok) throw new Error(`POST read: HTTP ${response.status} ${await response.text()}`);
}

/**
 * Alice's page ("Seen by", its names open) beside Bob's (unread badge, "New messages"): test-artifacts/reads.png,
 * and docs/reads.png when missing or with UPDATE_DOCS_SCREENSHOT=1.
 */
async function saveScreenshot() {
  await bob.mouse.move(0, 0);
  const [left, right] = await Promise.all([alice.screenshot(), bob.screenshot()]);
  const composite = await sideBySide(browser, 1800, [
    [left, "Alice — her latest message, seen by three"],
    [right, "Bob — unread in #ops, new messages in #design"],
  ]);
  keepScreenshot("reads.png", composite);
}
