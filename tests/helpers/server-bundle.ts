/**
 * dist/server.js as the tests run it, brought up to date by scripts/build.mjs
 * itself (what `npm run build` and `npm start` run), so node processes always
 * run the code under test and a test never writes dist/ any other way. The
 * build does nothing when its inputs are unchanged (`npm test` builds first,
 * so in CI this only checks) and is safe against other builds running at once.
 */
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
/** The launcher every deployment runs: it runs the build dist/current links to. */
export const SERVER_BUNDLE = join(ROOT, "dist", "server.js");

/** Runs scripts/build.mjs (a no-op when nothing changed); returns dist/server.js. */
export function ensureServerBuilt(): string {
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  return SERVER_BUNDLE;
}

/** The bundle itself (dist/builds/<hash>/server.js) that dist/server.js runs now, for reading its code. */
export function currentBundle(): string {
  return realpathSync(join(ROOT, "dist", "current", "server.js"));
}
