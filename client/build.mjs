// Builds @huddle/client into client/dist/ (run by `npm run build` at the root, and by `npm pack` here):
//   index.mjs   ESM bundle of client/src and the parts of shared/ it uses (socket.io-client stays a dependency)
//   index.cjs   the same as CommonJS
//   index.d.ts  declarations (tsc, client/tsconfig.json), with the rest of them beside it: *.d.ts for client/src,
//               shared/*.d.ts for the protocol types; index.d.mts re-exports them for `import`
//
// In this repository the web UI and the tests import the package by its name too, but from its sources:
// "@huddle/client" resolves to client/src/index.ts through tsconfig.json "paths", jest.config.js
// moduleNameMapper and the esbuild alias in scripts/build.mjs (no node_modules link: nothing to install,
// and typecheck needs no build). tests/package/ installs what `npm pack` makes, as an app would.
//
// It builds into a private directory and renames it into place, so a build running alongside (another
// `npm run build`, a test's `npm pack`) never leaves a half-written or mixed dist/.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const started = Date.now();
const temporary = join(here, `.dist-${process.pid}-${randomBytes(4).toString("hex")}`);

try {
  mkdirSync(temporary);
  await bundles(temporary);
  declarations(temporary);
  install(temporary);
} finally {
  rmSync(temporary, { recursive: true, force: true });
}
process.stderr.write(`build: built client/dist (${pkg.name} ${pkg.version}) in ${Date.now() - started} ms\n`);

async function bundles(out) {
  const common = {
    entryPoints: [join(here, "src/index.ts")],
    // The same output from any working directory (its "// src/x.ts" comments are relative to it).
    absWorkingDir: here,
    bundle: true,
    // socket.io-client (the one dependency) is imported, never bundled.
    packages: "external",
    platform: "neutral",
    target: ["es2020"],
    banner: { js: `/* ${pkg.name} ${pkg.version} */` },
    // The repository's tsconfig maps @huddle/client to these very sources; this one has nothing to map.
    tsconfig: join(here, "tsconfig.json"),
    logLevel: "warning",
  };
  await Promise.all([
    build({ ...common, format: "esm", outfile: join(out, "index.mjs") }),
    build({ ...common, format: "cjs", outfile: join(out, "index.cjs") }),
  ]);
}

/** tsc's declarations, moved from <outDir>/client/src/ and <outDir>/shared/ to dist/ and dist/shared/. */
function declarations(out) {
  const configPath = join(here, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => fail([diagnostic]),
  });
  const emitted = join(out, ".types");
  const program = ts.createProgram({ rootNames: config.fileNames, options: { ...config.options, outDir: emitted } });
  const result = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0 || result.emitSkipped) fail(diagnostics);

  const move = (from, to, rewrite) => {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) {
      const text = readFileSync(join(from, name), "utf8");
      writeFileSync(join(to, name), rewrite(text));
    }
  };
  // client/src/x.d.ts imports "../../shared/y": beside it, that is "./shared/y".
  move(join(emitted, "client/src"), out, (text) => text.replace(/(["'])\.\.\/\.\.\/shared\//g, "$1./shared/"));
  move(join(emitted, "shared"), join(out, "shared"), (text) => text);
  rmSync(emitted, { recursive: true });
  for (const file of readdirSync(out, { recursive: true }).filter((name) => name.endsWith(".d.ts"))) {
    const outside = /(?:from\s*|import\()["']\.\.\//.exec(readFileSync(join(out, file), "utf8"));
    if (outside) throw new Error(`client/dist/${file} imports from outside dist: ${outside[0]}`);
  }
  // For `import`: an ES module's own entry (the declarations themselves are CommonJS, as the package is).
  writeFileSync(join(out, "index.d.mts"), 'export * from "./index.js";\n');
}

function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => here, getNewLine: () => "\n" };
  throw new Error(`client: tsc failed\n${ts.formatDiagnostics(diagnostics, host)}`);
}

/** Puts the new build at dist/ with renames only: dist/ is a whole build, the old or the new (or briefly none). */
function install(out) {
  const aside = join(here, `.dist-old-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    renameSync(dist, aside);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  try {
    renameSync(out, dist);
  } catch (error) {
    // Another build installed its dist/ in between: the same sources, so keep that one.
    if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
  }
  rmSync(aside, { recursive: true, force: true });
}
