/**
 * dist/server.js as the tests run it: rebuilt (as `npm run build` does) when it
 * is missing or older than the sources, so node processes always run the code
 * under test. `npm test` builds first, so in CI this only checks.
 */
import { buildSync } from "esbuild";
import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
export const SERVER_BUNDLE = join(ROOT, "dist", "server.js");
const BUNDLE = SERVER_BUNDLE;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/server.js (as `npm run build` does) when it is missing or older than the sources. */
export function ensureServerBuilt(): string {
  const sources = Math.max(newestSource(join(ROOT, "server")), newestSource(join(ROOT, "shared")));
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= sources) return BUNDLE;
  // Written aside and renamed, so a node starting meanwhile never reads half a file.
  const temporary = join(ROOT, "dist", `.server-${process.pid}.js`);
  buildSync({
    entryPoints: [join(ROOT, "server", "main.ts")],
    outfile: temporary,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    packages: "external",
    logLevel: "error",
  });
  renameSync(temporary, BUNDLE);
  return BUNDLE;
}
