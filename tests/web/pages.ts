/**
 * What the Chromium suites (e2e*.test.ts) share: contexts that serve the page
 * with the strictest Content-Security-Policy a deployment could set, pages
 * that record CSP violations and uncaught errors, the wait for "Connected",
 * and the screenshots kept in test-artifacts/ and docs/.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ROOT } from "./server-process";

/** As strict as a production deployment could make it: the page must work with no inline script or style. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const WAIT = 8000;

/**
 * The test serves the page through Playwright's interception (to add the CSP header); Chromium then no longer
 * knows the page came from 127.0.0.1 and its Local Network Access check would block the WebSocket to it.
 */
export const CHROMIUM_FLAGS = ["--disable-features=LocalNetworkAccessChecks"];

export interface Pages {
  /** A browser context (one user's storage) whose page is served with `CSP`. */
  newContext(viewport: { width: number; height: number }): Promise<BrowserContext>;
  /** A page in `context` whose CSP violations and uncaught errors are recorded. */
  openPage(context: BrowserContext): Promise<Page>;
  readonly pageErrors: string[];
  readonly cspViolations: string[];
}

export function createPages(browser: () => Browser, serverUrl: () => string): Pages {
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  return {
    pageErrors,
    cspViolations,
    async newContext(viewport) {
      const context = await browser().newContext({
        viewport,
        deviceScaleFactor: 1,
        locale: "en-GB",
        timezoneId: "UTC",
      });
      await context.route(`${serverUrl()}/`, async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": CSP } });
      });
      return context;
    },
    async openPage(context) {
      const page = await context.newPage();
      page.on("console", (entry) => {
        if (/Content Security Policy/i.test(entry.text())) cspViolations.push(entry.text());
      });
      page.on("pageerror", (error) => pageErrors.push(error.message));
      return page;
    },
  };
}

/** Waits until the page's connection bar says "Connected". */
export async function connected(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById("connection-text")?.textContent === "Connected", null, {
    timeout: WAIT,
    polling: 50,
  });
}

/**
 * Writes `png` to test-artifacts/`name`, and to docs/`name` when that is missing or with
 * UPDATE_DOCS_SCREENSHOT=1: the committed copy changes only when asked, so a test run leaves the tree clean.
 */
export function keepScreenshot(name: string, png: Buffer): void {
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  writeFileSync(join(ROOT, "test-artifacts", name), png);
  const docs = join(ROOT, "docs", name);
  if (!existsSync(docs) || process.env.UPDATE_DOCS_SCREENSHOT === "1") {
    mkdirSync(join(ROOT, "docs"), { recursive: true });
    writeFileSync(docs, png);
  }
}

/** Screenshots side by side, each with its caption, on the docs' grey: one PNG. */
export async function sideBySide(browser: Browser, width: number, shots: [png: Buffer, caption: string][]) {
  const page = await browser.newPage({ viewport: { width, height: 720 } });
  const figure = ([png, caption]: [Buffer, string]) =>
    `<figure><img src="data:image/png;base64,${png.toString("base64")}"><figcaption>${caption}</figcaption></figure>`;
  await page.setContent(
    `<style>body{margin:0;background:#dfe2ec;display:flex;gap:28px;padding:24px 30px;font:600 14px system-ui;color:#3a3d4d}
     figure{margin:0}img{display:block;border-radius:10px;box-shadow:0 6px 24px rgb(0 0 0/18%)}
     figcaption{margin-top:10px;text-align:center}</style>` + shots.map(figure).join(""),
  );
  const composite = await page.screenshot({ fullPage: true });
  await page.close();
  return composite;
}
