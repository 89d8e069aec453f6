/**
 * Message changes end to end, in real headless Chromium under a strict CSP:
 * Alice (desktop) and Bob (a 390 px phone) react, edit, reply and delete,
 * each seeing the other's changes live; a moderator deletes Bob's message;
 * a reload shows the same state. The keyboard does what the UI promises
 * (Tab into a message's actions, Up-arrow to edit, Escape to cancel). Steps
 * run in order and share the pages.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { CHROMIUM_FLAGS, connected, createPages, keepScreenshot, WAIT } from "./pages";
import { signToken } from "../helpers/tokens";
import { ROOT, startServerProcess, type ServerProcess } from "./server-process";

jest.setTimeout(30_000);

const ROOM = "release";

let server: ServerProcess;
let browser: Browser;
let alice: Page;
let bob: Page;
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
  // Tall enough for the whole conversation in docs/changes.png.
  alice = await openPage({ width: 1000, height: 880 });
  bob = await openPage({ width: 390, height: 720 });
});

const openPage = async (viewport: { width: number; height: number }) =>
  pages.openPage(await pages.newContext(viewport));

afterAll(async () => {
  await browser?.close();
  await server?.kill();
});

async function signIn(page: Page, name: string, room = ROOM) {
  await page.goto(`${server.url}/#room=${room}`);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join chat" }).click();
  await connected(page);
}

const composer = (page: Page) => page.getByLabel("Message", { exact: true });

async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** The row of the confirmed message whose text contains `text`. */
const row = (page: Page, text: string | RegExp): Locator =>
  page.locator('#messages .msg[data-status="confirmed"]', { has: page.locator(".bubble", { hasText: text }) });
const rowById = (page: Page, id: string): Locator => page.locator(`#messages .msg[data-id="${id}"]`);

/** A message's row with its actions shown, as the pointer on it shows them. */
async function actionsOf(page: Page, target: Locator): Promise<Locator> {
  await target.hover();
  return target.locator(".msg-actions");
}

/** Everything the timeline shows of message changes, to compare two pages or a page before and after a reload. */
const timelineSummary = (page: Page) =>
  page.locator("#messages .msg").evaluateAll((rows) =>
    rows.map((row) => ({
      text: row.querySelector(".bubble")?.childNodes[0]?.textContent ?? "",
      edited: row.querySelector(".edited") !== null,
      deleted: row.classList.contains("is-deleted"),
      quote: row.querySelector(".quote")?.textContent ?? null,
      chips: [...row.querySelectorAll(".chip")].map((c) => c.textContent),
    })),
  );

let announcementId = "";

test("Bob reacts with the keyboard; Alice sees the chip and the count live, with who reacted", async () => {
  await signIn(alice, "Alice");
  await signIn(bob, "Bob");
  await send(alice, "The 2.4 release build is on staging.");
  await send(alice, "Can someone check the login page?");
  await row(bob, "login page").waitFor({ timeout: WAIT });
  announcementId = (await row(alice, "release build").getAttribute("data-id"))!;

  // From the composer, Shift+Tab goes back into the last message's actions: Reply, then Add reaction.
  await composer(bob).focus();
  await bob.keyboard.press("Shift+Tab");
  const last = row(bob, "login page");
  await expect(focusedLabel(bob)).resolves.toBe("Reply");
  expect(await last.locator(".msg-actions").evaluate((e) => getComputedStyle(e).opacity)).toBe("1");
  await bob.keyboard.press("Shift+Tab");
  await expect(focusedLabel(bob)).resolves.toBe("Add reaction");
  await bob.keyboard.press("Enter");
  await expect(focusedLabel(bob)).resolves.toBe("React with 👍");
  await bob.keyboard.press("Escape");
  await expect(focusedLabel(bob)).resolves.toBe("Add reaction");
  expect(await last.locator(".picker").count()).toBe(0);

  const announcement = rowById(bob, announcementId);
  await (await actionsOf(bob, announcement)).getByRole("button", { name: "Add reaction" }).click();
  await announcement.getByRole("button", { name: "React with 🎉" }).click();
  const aliceChip = rowById(alice, announcementId).locator(".chip");
  await aliceChip.waitFor({ timeout: WAIT });
  expect(await aliceChip.textContent()).toBe("🎉1");
  expect(await aliceChip.getAttribute("aria-pressed")).toBe("false");
  expect(await aliceChip.getAttribute("title")).toBe("Bob");

  // Alice adds hers by clicking the chip: both see 2, and each sees their own highlighted.
  await aliceChip.click();
  await rowById(bob, announcementId).locator(".chip", { hasText: "2" }).waitFor({ timeout: WAIT });
  expect(await aliceChip.getAttribute("aria-label")).toBe("🎉 2 reactions, by You and Bob");
  expect(await aliceChip.getAttribute("aria-pressed")).toBe("true");
  expect(await rowById(bob, announcementId).locator(".chip").getAttribute("title")).toBe("You and Alice");
});

test("Alice edits her last message with Up-arrow: Escape cancels, Enter saves; Bob sees the text and 'edited'", async () => {
  await composer(alice).click();
  await composer(alice).press("ArrowUp");
  const editor = alice.getByRole("textbox", { name: "Edit message" });
  await expect(editor.inputValue()).resolves.toBe("Can someone check the login page?");
  expect(await editor.evaluate((e) => e === document.activeElement)).toBe(true);
  await editor.press("Escape");
  expect(await editor.count()).toBe(0);
  expect(await composer(alice).evaluate((e) => e === document.activeElement)).toBe(true);

  await composer(alice).press("ArrowUp");
  await editor.press("End");
  await editor.pressSequentially(" (Safari too)", { delay: 5 });
  await editor.press("Shift+Enter");
  await editor.pressSequentially("Thanks!", { delay: 5 });
  await editor.press("Enter");
  const onBob = row(bob, "Safari too");
  await onBob.waitFor({ timeout: WAIT });
  expect(await onBob.locator(".bubble").textContent()).toBe(
    "Can someone check the login page? (Safari too)\nThanks! (edited)",
  );
  expect(await onBob.locator(".edited").getAttribute("title")).toMatch(/^Edited \w+day/);
  await row(alice, "Safari too").locator(".edited").waitFor({ timeout: WAIT });
  expect(await alice.getByRole("textbox", { name: "Edit message" }).count()).toBe(0);
});

test("Bob replies to Alice's message: both see the quote, and clicking it highlights the original", async () => {
  const original = row(bob, "Safari too");
  const banner = bob.locator("#reply-banner");
  // Escape in the composer drops the reply; so does the banner's cancel button.
  await (await actionsOf(bob, original)).getByRole("button", { name: "Reply" }).click();
  await composer(bob).press("Escape");
  expect(await banner.isHidden()).toBe(true);
  await (await actionsOf(bob, original)).getByRole("button", { name: "Reply" }).click();
  await bob.getByRole("button", { name: "Cancel reply" }).click();
  expect(await banner.isHidden()).toBe(true);

  await (await actionsOf(bob, original)).getByRole("button", { name: "Reply" }).click();
  await expect(banner.textContent()).resolves.toMatch(/Replying to Alice\s*Can someone check/);
  expect(await composer(bob).evaluate((e) => e === document.activeElement)).toBe(true);
  await send(bob, "Checked on Safari 17: login works.");
  expect(await bob.locator("#reply-banner").isHidden()).toBe(true);

  for (const page of [alice, bob]) {
    const reply = row(page, "login works");
    await reply.waitFor({ timeout: WAIT });
    expect(await reply.locator(".quote .quote-author").textContent()).toBe(page === alice ? "You" : "Alice");
    expect(await reply.locator(".quote .quote-text").textContent()).toBe(
      "Can someone check the login page? (Safari too)",
    );
  }
  const reply = row(alice, "login works");
  await (await actionsOf(alice, reply)).getByRole("button", { name: "Add reaction" }).click();
  await reply.getByRole("button", { name: "React with ❤️" }).click();
  await row(bob, "login works").locator(".chip", { hasText: "❤️1" }).waitFor({ timeout: WAIT });
  expect(await reply.locator(".picker").count()).toBe(0);

  await reply.getByRole("button", { name: /^Reply to You: .* Show the original$/ }).click();
  const highlighted = alice.locator("#messages .msg.is-highlighted");
  await highlighted.waitFor({ timeout: WAIT });
  expect(await highlighted.locator(".bubble").textContent()).toMatch(/^Can someone check the login page\?/);
  expect(await highlighted.evaluate((e) => e === document.activeElement)).toBe(true);
});

test("Alice deletes a message after confirming; Bob sees 'Message deleted', in the message and in his quote", async () => {
  await send(alice, "Oops, wrong room");
  await row(bob, "wrong room").waitFor({ timeout: WAIT });
  const target = row(alice, "wrong room");
  const id = (await target.getAttribute("data-id"))!;
  await (await actionsOf(alice, target)).getByRole("button", { name: "Delete message" }).click();
  // The confirmation takes the focus on Cancel; Escape closes it without deleting.
  await expect(focusedLabel(alice)).resolves.toBe("Cancel");
  await alice.keyboard.press("Escape");
  expect(await rowById(alice, id).locator(".confirm").count()).toBe(0);
  await (await actionsOf(alice, rowById(alice, id))).getByRole("button", { name: "Delete message" }).click();
  await rowById(alice, id).getByRole("button", { name: "Delete", exact: true }).click();
  for (const page of [alice, bob]) {
    await rowById(page, id).locator(".bubble.is-deleted").waitFor({ timeout: WAIT });
    expect(await rowById(page, id).locator(".bubble").textContent()).toBe("Message deleted");
    expect(await rowById(page, id).locator(".msg-actions").count()).toBe(0);
  }

  // Bob's reply to a message Alice then deletes quotes the tombstone.
  const question = row(alice, "Anyone for lunch");
  await send(alice, "Anyone for lunch at 12?");
  await (
    await actionsOf(bob, await waitFor(row(bob, "Anyone for lunch")))
  )
    .getByRole("button", { name: "Reply" })
    .click();
  await send(bob, "Me! 🍜");
  await row(alice, "Me!").waitFor({ timeout: WAIT });
  await (await actionsOf(alice, question)).getByRole("button", { name: "Delete message" }).click();
  await question.getByRole("button", { name: "Delete", exact: true }).click();
  await row(bob, "Me!").locator(".quote.is-deleted").waitFor({ timeout: WAIT });
  expect(await row(bob, "Me!").locator(".quote-text").textContent()).toBe("Message deleted");
});

test("only a moderator sees Delete on someone else's message, and deletes it for everyone", async () => {
  await send(bob, "Here is the staging password: hunter2");
  const leak = row(alice, "hunter2");
  await leak.waitFor({ timeout: WAIT });
  expect(await (await actionsOf(alice, leak)).getByRole("button", { name: "Delete message" }).count()).toBe(0);

  const mod = await openPage({ width: 1000, height: 720 });
  await mod.goto(`${server.url}/#room=${ROOM}`);
  await mod.getByText("Sign in with a token instead").click();
  await mod
    .getByLabel("Token (JWT issued by your app)")
    .fill(signToken({ sub: "mia-mod", name: "Mia", role: "moderator" }));
  await mod.getByRole("button", { name: "Use this token" }).click();
  await connected(mod);
  const onMod = row(mod, "hunter2");
  await (await actionsOf(mod, await waitFor(onMod))).getByRole("button", { name: "Delete message" }).click();
  await expect(onMod.locator(".confirm-text").textContent()).resolves.toBe("Delete Bob's message for everyone?");
  await onMod.getByRole("button", { name: "Delete", exact: true }).click();
  for (const page of [alice, bob]) {
    await page.waitForFunction(
      () => ![...document.querySelectorAll("#messages .bubble")].some((b) => b.textContent?.includes("hunter2")),
      null,
      { timeout: WAIT },
    );
  }
  await mod.context().close();
  await send(alice, "Thanks Mia 🙏");
  await row(bob, "Thanks Mia").waitFor({ timeout: WAIT });
  await saveScreenshot();
});

test("a reload shows the same state: history is the messages as they are now", async () => {
  const before = await timelineSummary(bob);
  expect(before.filter((m) => m.deleted)).toHaveLength(3);
  expect(before.filter((m) => m.edited)).toHaveLength(1);
  await bob.reload();
  await connected(bob);
  await row(bob, "Thanks Mia").waitFor({ timeout: WAIT });
  expect(await timelineSummary(bob)).toEqual(before);
  // On the phone nothing scrolls sideways, actions and chips included.
  await row(bob, "release build").hover();
  const sideways = await bob.evaluate(() => {
    const scroller = document.getElementById("scroller")!;
    return Math.max(scroller.scrollWidth - scroller.clientWidth, document.documentElement.scrollWidth - innerWidth);
  });
  expect(sideways).toBeLessThanOrEqual(0);
});

test("a quote whose original is not loaded loads older pages until it finds it", async () => {
  const room = `${ROOM}-long`;
  const first = await post(room, "The very first message", signToken({ name: "Zoe" }));
  for (let i = 1; i <= 60; i++) await post(room, `filler ${i}`, signToken({ name: `P${i}` }));
  await post(room, "Replying to the very first one", signToken({ name: "Yann" }), first.id);
  await alice.getByLabel("Room to join").fill(room);
  await alice.getByLabel("Room to join").press("Enter");
  const reply = row(alice, "Replying to the very first one");
  await reply.waitFor({ timeout: WAIT });
  expect(await reply.locator(".quote-text").textContent()).toBe("Original message not loaded");
  await reply.locator(".quote").click();
  const highlighted = alice.locator("#messages .msg.is-highlighted");
  await highlighted.waitFor({ timeout: WAIT });
  expect(await highlighted.getAttribute("data-id")).toBe(first.id);
  expect(await reply.locator(".quote-text").textContent()).toBe("The very first message");
});

test("nothing broke the Content-Security-Policy or threw in any page", () => {
  expect(cspViolations).toEqual([]);
  expect(pageErrors).toEqual([]);
});

/** The accessible name of the focused element (its aria-label, else its text). */
const focusedLabel = (page: Page) =>
  page.evaluate(() => {
    const active = document.activeElement;
    return active?.getAttribute("aria-label") ?? active?.textContent ?? "";
  });

async function waitFor(locator: Locator): Promise<Locator> {
  await locator.waitFor({ timeout: WAIT });
  return locator;
}

/** Posts over REST as `token`'s user, optionally as a reply. */
async function post(room: string, text: string, token: string, replyTo?: string): Promise<{ id: string }> {
  const response = await fetch(`${server.url}/api/rooms/${room}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(replyTo === undefined ? { text } : { text, replyTo }),
  });
  if (response.status !== 201) throw new Error(`POST message: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { message: { id: string } }).message;
}

/** Alice's page with an edited message, tombstones, reactions and replies: test-artifacts/ and docs/changes.png. */
async function saveScreenshot() {
  await composer(alice).focus();
  await alice.mouse.move(0, 0);
  keepScreenshot("changes.png", await alice.screenshot());
}
