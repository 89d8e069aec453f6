// Builds the server (dist/server.js) and the web client (dist/web/) with esbuild.
// Bundling the server makes start-up one file and no TypeScript at run time.
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

await build({
  entryPoints: [join(root, "server/main.ts")],
  outfile: join(dist, "server.js"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});

const webEntry = join(root, "web/src/main.ts");
if (existsSync(webEntry)) {
  mkdirSync(join(dist, "web"), { recursive: true });
  await build({
    entryPoints: [webEntry],
    outfile: join(dist, "web/app.js"),
    bundle: true,
    platform: "browser",
    target: ["es2020"],
    format: "esm",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
  cpSync(join(root, "web/public"), join(dist, "web"), { recursive: true });
}
