/**
 * Moderation (§11) and limits (§13) end to end, in real headless Chromium
 * under a strict CSP, two browser contexts: Mona, signed in with a moderator
 * token, removes Bob for 10 minutes from the member list, from the keyboard;
 * Bob's room says he was removed and shows as such, his composer shuts, and
 * trying to rejoin says why not; Mona lifts the ban from the Bans dialog and
 * Bob rejoins. Then the dialog's Escape, and one room too many. Steps run in
 * order and share the pages.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { CHROMIUM_FLAGS, connected, createPages, keepScreenshot, sideBySide, WAIT } from "./pages";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { ROOT, startServerProcess, type ServerProcess } from "./server-process";

jest.setTimeout(30_000);

const ROOM = "support";

let server: ServerProcess;
let browser: Browser;
let mona: Page;
let bob: Page;
const { pageErrors, cspViolations, newContext, openPage } = createPages(
  () => browser,
  () => server.url,
);

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "web", "app.js")))
    throw new Error("dist/web/app.js is missing: run `npm run build`");
  // Three rooms a connection, to see the fourth refused without joining a hundred.
  server = await startServerProcess({ MAX_ROOMS_PER_CONNECTION: "3" });
  browser = await launchChromium(CHROMIUM_FLAGS);
  mona = await openPage(await newContext({ width: 980, height: 660 }));
  bob = await openPage(await newContext({ width: 780, height: 660 }));
});

afterAll(async () => {
  await browser?.close();
  await server?.kill();
});

const composer = (page: Page) => page.getByLabel("Message", { exact: true });
const row = (page: Page, text: string): Locator =>
  page.locator('#messages .msg[data-status="confirmed"]', { has: page.locator(".bubble", { hasText: text }) });
const members = (page: Page) => page.locator("#member-list .member-name").allTextContents();
const focused = (page: Page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
const removeBob = () => mona.getByRole("button", { name: "Remove Bob from the room" });
const banner = () => bob.locator("#removed-banner");

async function seeText(page: Page, selector: string, text: string) {
  await page.locator(selector, { hasText: text }).waitFor({ timeout: WAIT });
}

async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await row(page, text).waitFor({ timeout: WAIT });
}

async function membersAre(page: Page, expected: string[]) {
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify([...document.querySelectorAll("#member-list .member-name")].map((e) => e.textContent)) ===
        JSON.stringify(want),
      expected,
      { timeout: WAIT, polling: 50 },
    )
    .catch(async () => {
      throw new Error(`the members are ${JSON.stringify(await members(page))}, not ${JSON.stringify(expected)}`);
    });
}

test("a moderator signed in with a token gets Remove on every other member, and Bans; others get neither", async () => {
  const token = signToken({ sub: uniqueUserId("mona"), name: "Mona", role: "moderator" });
  await mona.goto(`${server.url}/#room=${ROOM}`);
  await mona.getByText("Sign in with a token instead").click();
  await mona.getByLabel("Token (JWT issued by your app)").fill(token);
  await mona.getByRole("button", { name: "Use this token" }).click();
  await connected(mona);

  await bob.goto(`${server.url}/#room=${ROOM}`);
  await bob.getByLabel("Your name").fill("Bob");
  await bob.getByRole("button", { name: "Join chat" }).click();
  await connected(bob);
  await send(bob, "FREE crypto for everyone 🚀 click my link!!!");
  await row(mona, "FREE crypto").waitFor({ timeout: WAIT });

  await membersAre(mona, ["Bob", "Mona"]);
  await removeBob().waitFor({ timeout: WAIT });
  expect(await mona.locator("#member-list .member-remove").count()).toBe(1);
  expect(await mona.getByRole("button", { name: "Bans" }).isVisible()).toBe(true);
  expect(await bob.locator("#member-list .member-remove").count()).toBe(0);
  expect(await bob.getByRole("button", { name: "Bans" }).isVisible()).toBe(false);
});

test("Mona removes Bob for 10 minutes with a reason, from the keyboard", async () => {
  await removeBob().focus();
  await mona.keyboard.press("Enter");
  const dialog = mona.getByRole("dialog", { name: `Remove Bob from #${ROOM}` });
  await dialog.waitFor({ timeout: WAIT });
  // The first choice is the shortest, and has the focus.
  const tenMinutes = dialog.getByRole("radio", { name: "10 minutes" });
  expect(await tenMinutes.isChecked()).toBe(true);
  expect(await tenMinutes.evaluate((e) => e === document.activeElement)).toBe(true);
  // Arrow keys move through the choices; back to the first, then Tab to the reason.
  await mona.keyboard.press("ArrowDown");
  expect(await dialog.getByRole("radio", { name: "1 hour" }).isChecked()).toBe(true);
  await mona.keyboard.press("ArrowUp");
  expect(await tenMinutes.isChecked()).toBe(true);
  await mona.keyboard.press("Tab");
  expect(await focused(mona)).toBe("remove-reason");
  await mona.keyboard.type("Spamming links");
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  await mona.screenshot({ path: join(ROOT, "test-artifacts", "moderation-remove.png") });
  await mona.keyboard.press("Enter");

  await dialog.waitFor({ state: "hidden", timeout: WAIT });
  await seeText(mona, "#notice", `Bob was removed from #${ROOM} for 10 minutes`);
  await membersAre(mona, ["Mona"]);
  // Bob's button went with him: the focus goes to the composer rather than nowhere.
  expect(await focused(mona)).toBe("message-input");
});

test("Bob reads in the room that a moderator removed him; the room shows as removed and he can't write", async () => {
  await banner().waitFor({ timeout: WAIT });
  expect(await banner().locator(".removed-title").textContent()).toBe(
    "You were removed from this room by a moderator.",
  );
  expect(await bob.locator(`#room-list button[data-room="${ROOM}"] .room-tag`).textContent()).toBe("removed");
  expect(await bob.locator("#room-members-summary").textContent()).toBe("You're not in this room");
  expect(await composer(bob).isDisabled()).toBe(true);
  expect(await members(bob)).toEqual([]);
  // What was said stays readable.
  expect(await row(bob, "FREE crypto").isVisible()).toBe(true);
  // Bob's focus was in the composer, now shut: it is on the way back in.
  expect(await focused(bob)).toBe("rejoin-room");
});

test("trying to rejoin, by the banner or by the join form, is refused and says why", async () => {
  await bob.getByRole("button", { name: "Try to rejoin" }).click();
  await seeText(bob, "#removed-refusal", "You can't rejoin yet: the ban is still on.");
  expect(await banner().isVisible()).toBe(true);
  expect(await focused(bob)).toBe("rejoin-room");

  await bob.locator("#removed-refusal").evaluate((e) => (e.textContent = ""));
  await bob.getByLabel("Room to join").fill(ROOM);
  await bob.getByLabel("Room to join").press("Enter");
  await seeText(bob, "#removed-refusal", "You can't rejoin yet: the ban is still on.");
  expect(await composer(bob).isDisabled()).toBe(true);
});

test("Mona sees the ban in the Bans dialog, Tab stays inside it, and she lifts it", async () => {
  await mona.getByRole("button", { name: "Bans" }).click();
  const dialog = mona.getByRole("dialog", { name: `Bans in #${ROOM}` });
  await dialog.waitFor({ timeout: WAIT });
  await seeText(mona, "#bans-status", `1 person is banned from #${ROOM}.`);
  const ban = dialog.locator(".ban");
  expect(await ban.locator(".ban-name").textContent()).toBe("Bob");
  expect(await ban.locator(".ban-until").textContent()).toMatch(/^until \d\d:\d\d$/);
  expect(await ban.locator(".ban-reason").textContent()).toBe("Spamming links");
  await saveScreenshot();

  // A modal dialog: the page behind is inert, Tab cycles through the dialog's own buttons.
  for (let i = 0; i < 4; i++) {
    await mona.keyboard.press("Tab");
    expect(await mona.evaluate(() => !!document.activeElement?.closest("#bans-dialog"))).toBe(true);
  }
  await dialog.getByRole("button", { name: "Lift the ban on Bob" }).click();
  await seeText(mona, "#bans-status", `The ban on Bob was lifted. No one is banned from #${ROOM}.`);
  expect(await ban.count()).toBe(0);
  expect(await focused(mona)).toBe("bans-close");
  await mona.keyboard.press("Enter");
  await dialog.waitFor({ state: "hidden", timeout: WAIT });
  expect(await focused(mona)).toBe("show-bans");
});

test("Bob rejoins and chats again; Mona sees him back", async () => {
  await bob.getByRole("button", { name: "Try to rejoin" }).click();
  await banner().waitFor({ state: "hidden", timeout: WAIT });
  expect(await composer(bob).isDisabled()).toBe(false);
  expect(await focused(bob)).toBe("message-input");
  expect(await bob.locator(`#room-list button[data-room="${ROOM}"] .room-tag`).count()).toBe(0);
  await membersAre(mona, ["Bob", "Mona"]);
  await send(bob, "Sorry, no more links.");
  await row(mona, "Sorry, no more links.").waitFor({ timeout: WAIT });
});

test("Escape closes the Remove dialog without removing anyone, and the focus goes back to Bob's button", async () => {
  await removeBob().click();
  const dialog = mona.getByRole("dialog", { name: `Remove Bob from #${ROOM}` });
  await dialog.waitFor({ timeout: WAIT });
  await mona.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden", timeout: WAIT });
  expect(await removeBob().evaluate((e) => e === document.activeElement)).toBe(true);
  // Bob starts typing: Mona's member list is drawn again (he is marked typing), and her focus stays on his button.
  await composer(bob).fill("one more thing");
  await mona
    .locator("#member-list .member.is-typing[data-user] .member-name", { hasText: "Bob" })
    .waitFor({ timeout: WAIT });
  expect(await removeBob().evaluate((e) => e === document.activeElement)).toBe(true);
  await composer(bob).fill("");
  await new Promise((resolve) => setTimeout(resolve, 300));
  await membersAre(mona, ["Bob", "Mona"]);
  expect(await banner().isVisible()).toBe(false);
});

test("one room more than a connection may hold is refused in words, and nothing is joined", async () => {
  for (const room of ["design", "random"]) {
    await bob.getByLabel("Room to join").fill(room);
    await bob.getByLabel("Room to join").press("Enter");
    await bob.locator("#room-title", { hasText: room }).waitFor({ timeout: WAIT });
  }
  await bob.getByLabel("Room to join").fill("one-too-many");
  await bob.getByLabel("Room to join").press("Enter");
  await seeText(
    bob,
    "#notice",
    "Couldn't join #one-too-many: You're in too many rooms at once — leave one to join another",
  );
  expect(await bob.locator('#room-list button[data-room="one-too-many"]').count()).toBe(0);
  expect(await bob.locator("#room-title").textContent()).not.toBe("one-too-many");
});

test("nothing broke the Content-Security-Policy or threw in any page", () => {
  expect(cspViolations).toEqual([]);
  expect(pageErrors).toEqual([]);
});

/**
 * Mona's page (the Bans dialog) beside Bob's (removed, refused): test-artifacts/moderation.png, and
 * docs/moderation.png when missing or with UPDATE_DOCS_SCREENSHOT=1.
 */
async function saveScreenshot() {
  const [left, right] = await Promise.all([mona.screenshot(), bob.screenshot()]);
  const composite = await sideBySide(browser, 1850, [
    [left, "Mona, a moderator — the room's bans"],
    [right, "Bob — removed from #support, his rejoin refused"],
  ]);
  keepScreenshot("moderation.png", composite);
}
