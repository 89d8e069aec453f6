// Builds the server and the web client with esbuild, safely when any number of
// `npm start`s from one checkout run it at once (issue 18).
//
// Layout (every path under dist/):
//   builds/<hash>/        one build: server.js (+ map), web/ (app.js + map, web/public), build-hash;
//                         <hash> is the sha256 of every input (INPUTS below), never modification times
//   current -> builds/<hash>   the build to start, switched by renaming a new link over it
//   server.js             a launcher, the same for every build: runs the real path of current/server.js
//   web -> current/web    the built web client, for whoever reads dist/web directly
//
// - Unchanged inputs: nothing is written (the check is one read of current/build-hash).
// - A build is written to a private builds/.tmp-<pid>-<random>/ (same depth, so source map paths
//   hold) and renamed into place; dist/current is then switched with one rename. Nobody ever sees
//   half a build, and a running node keeps the build it loaded (its web/ and source maps), whatever
//   dist/current links to later.
// - One start builds while the others wait on .build.lock (up to 2 minutes; the lock of a dead
//   process is broken). The lock only saves duplicate work: two builds at once are still correct.
// - Old builds are removed, but never the current one, the last one current before it, one used
//   in the last 10 minutes, or one a live process was started from (builds/<hash>/.in-use/<pid>,
//   written by the launcher).
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const builds = join(dist, "builds");
const current = join(dist, "current");
const launcher = join(dist, "server.js");
const webLink = join(dist, "web");
const lockFile = join(dist, ".build.lock");

/** What the output depends on: every file under the directories, and the files (a missing one counts too). */
const INPUTS = {
  dirs: ["server", "shared", "client/src", "web/src", "web/public"],
  files: [
    "scripts/build.mjs",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    // esbuild reads it for the client's sources the web UI bundles.
    "client/tsconfig.json",
    "node_modules/.package-lock.json",
  ],
};
const LOCK_WAIT_MS = 120_000;
/** How long a build is kept after it was last current or last started. */
const KEEP_MS = 10 * 60_000;

const LAUNCHER = `// Written by scripts/build.mjs, the same for every build. Runs the build dist/current links to,
// from its real path, so this process keeps that build (its web/ and source maps) whatever
// dist/current is switched to later; its pid under .in-use/ keeps the build from being removed.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
let build;
try {
  build = fs.realpathSync(path.join(__dirname, "current"));
} catch {
  process.stderr.write("huddle: " + path.join(__dirname, "current") + " is missing: run \`npm run build\`\\n");
  process.exit(1);
}
const marker = path.join(build, ".in-use", String(process.pid));
try {
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, "");
  process.on("exit", () => {
    try {
      fs.rmSync(marker, { force: true });
    } catch {}
  });
} catch {
  // A read-only dist/ (the Docker image): nothing builds or prunes there.
}
require(path.join(build, "server.js"));
`;

const hash = inputsHash();
const name = hash.slice(0, 16);

if (!installed()) {
  mkdirSync(builds, { recursive: true });
  const lock = await lockOrWait();
  try {
    // Re-checked under the lock: the start we waited for may have built the same inputs.
    if (lock && !installed()) {
      if (readText(join(builds, name, "build-hash")) !== hash) await buildInto(join(builds, name));
      install();
      prune();
    }
  } finally {
    lock?.release();
  }
}

/** sha256 over the relative path and content of every input file, in a fixed order. */
function inputsHash() {
  const sha = createHash("sha256");
  const add = (relative) => {
    let content;
    try {
      content = readFileSync(join(root, relative));
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
    sha.update(`${relative}\0${content ? content.length : "missing"}\0`);
    if (content) sha.update(content);
  };
  const walk = (relative) => {
    const dir = join(root, relative);
    if (!existsSync(dir)) return void sha.update(`${relative}/\0missing\0`);
    for (const entry of readdirSync(dir).sort()) {
      const path = `${relative}/${entry}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else add(path);
    }
  };
  for (const dir of INPUTS.dirs) walk(dir);
  for (const file of INPUTS.files) add(file);
  return sha.digest("hex");
}

/** dist/ runs a build of these very inputs through the launcher, with dist/web beside it. */
function installed() {
  return (
    readText(join(current, "build-hash")) === hash &&
    readText(launcher) === LAUNCHER &&
    readLink(webLink) === "current/web"
  );
}

async function buildInto(target) {
  const { build } = await import("esbuild");
  const started = Date.now();
  const temporary = join(builds, privateName("tmp"));
  mkdirSync(temporary);
  try {
    await build({
      entryPoints: [join(root, "server/main.ts")],
      outfile: join(temporary, "server.js"),
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
      await build({
        entryPoints: [webEntry],
        outfile: join(temporary, "web/app.js"),
        bundle: true,
        platform: "browser",
        target: ["es2020"],
        format: "esm",
        minify: true,
        sourcemap: true,
        // The UI imports the client as an app does; here it is bundled from its sources.
        alias: { "@huddle/client": join(root, "client/src/index.ts") },
        logLevel: "warning",
      });
      cpSync(join(root, "web/public"), join(temporary, "web"), { recursive: true });
    }
    // The hash taken before building: a source edited meanwhile makes the next start build again.
    writeFileSync(join(temporary, "build-hash"), hash);
    try {
      renameSync(temporary, target);
    } catch (error) {
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
      // Built meanwhile by a start that gave up waiting for the lock: the same inputs, so the same build.
      // Anything else there (a build damaged by hand) is replaced.
      if (readText(join(target, "build-hash")) !== hash) {
        const trash = join(builds, privateName("trash"));
        renameSync(target, trash);
        renameSync(temporary, target);
        rmSync(trash, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
  process.stderr.write(`build: built dist/builds/${name} in ${Date.now() - started} ms\n`);
}

/** Points dist/current at the build, and makes dist/server.js and dist/web the launcher and its link. */
function install() {
  const previous = readLink(current);
  if (previous !== `builds/${name}`) {
    replaceWithLink(current, `builds/${name}`);
    // Switched away from now: kept for KEEP_MS from here, so a launcher that just resolved it has time to say so.
    if (previous) touch(join(dist, previous));
  }
  if (readText(launcher) !== LAUNCHER) {
    const temporary = join(dist, privateName("launcher"));
    writeFileSync(temporary, LAUNCHER);
    renameSync(temporary, launcher);
  }
  if (readLink(webLink) !== "current/web") {
    // The in-place build of old left a directory here, which a link cannot be renamed over: move it aside first.
    if (lstatSync(webLink, { throwIfNoEntry: false })?.isDirectory()) {
      const aside = join(dist, privateName("old-web"));
      renameSync(webLink, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    replaceWithLink(webLink, "current/web");
  }
  // Also left by the in-place build; the launcher has no source map (each build has its own).
  rmSync(join(dist, "server.js.map"), { force: true });
}

function replaceWithLink(path, target) {
  const temporary = join(dist, privateName("link"));
  symlinkSync(target, temporary);
  renameSync(temporary, path);
}

/**
 * Takes dist/.build.lock, or waits until the holder has installed these inputs (then returns
 * undefined). After LOCK_WAIT_MS it goes ahead without the lock, which costs a duplicate build at worst.
 */
async function lockOrWait() {
  const token = `${process.pid} ${randomBytes(6).toString("hex")}`;
  const mine = join(dist, privateName("lock"));
  // Written first and linked into place, so the lock file is never seen empty or half written.
  writeFileSync(mine, token);
  const release = () => {
    if (readText(lockFile) === token) rmSync(lockFile, { force: true });
  };
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  try {
    for (;;) {
      try {
        linkSync(mine, lockFile);
        return { release };
      } catch (error) {
        if (error.code !== "EEXIST") throw error;
      }
      const holder = readText(lockFile);
      if (holder === undefined) continue; // released just now
      const pid = Number(holder.split(" ")[0]);
      if (!alive(pid)) {
        breakLock(holder);
        continue;
      }
      if (installed()) return undefined;
      if (Date.now() > deadline) {
        process.stderr.write(`build: pid ${pid} has held ${lockFile} for ${LOCK_WAIT_MS / 1000} s; building anyway\n`);
        return { release: () => {} };
      }
      if (!told) process.stderr.write(`build: waiting for the build of pid ${pid}\n`);
      told = true;
      await sleep(100);
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Removes the lock of a dead process; if another start replaced it meanwhile, puts that one back. */
function breakLock(stale) {
  const aside = join(dist, privateName("stale-lock"));
  try {
    renameSync(lockFile, aside);
  } catch (error) {
    if (error.code === "ENOENT") return;
    throw error;
  }
  if (readText(aside) !== stale) {
    try {
      linkSync(aside, lockFile);
    } catch {
      // A newer lock is in place already.
    }
  }
  rmSync(aside, { force: true });
}

/** Under the lock: removes old builds and what builds that died left behind. */
function prune() {
  const now = Date.now();
  const others = [];
  for (const entry of readdirSync(builds)) {
    const path = join(builds, entry);
    if (entry === name) continue;
    if (entry.startsWith(".")) {
      if (ownerOf(entry) && !alive(ownerOf(entry))) rmSync(path, { recursive: true, force: true });
      continue;
    }
    const inUse = readdirSafe(join(path, ".in-use")).some((pid) => alive(Number(pid)));
    others.push({ path, inUse, lastUsed: lastUsed(path) });
  }
  others.sort((a, b) => b.lastUsed - a.lastUsed);
  // others[0] was current before this build (or the latest started): switching back costs no build.
  for (const { path, inUse, lastUsed } of others.slice(1)) {
    if (inUse || now - lastUsed < KEEP_MS) continue;
    // Renamed away first, so nothing can find it half deleted.
    const trash = join(builds, privateName("trash"));
    renameSync(path, trash);
    rmSync(trash, { recursive: true, force: true });
  }
  for (const entry of readdirSync(dist)) {
    if (ownerOf(entry) && !alive(ownerOf(entry))) rmSync(join(dist, entry), { recursive: true, force: true });
  }
}

/** When the build was last current or last had a node started from it. */
function lastUsed(path) {
  const times = [path, join(path, ".in-use")].map((p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  return Math.max(...times);
}

/** `.<kind>-<pid>-<random>`: a private name in dist/ or dist/builds/, owned by this process. */
function privateName(kind) {
  return `.${kind}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** The pid in a private name, or 0 for any other name. */
function ownerOf(entry) {
  return Number(/^\.[a-z-]+-(\d+)-[0-9a-f]{8}$/.exec(entry)?.[1] ?? 0);
}

function alive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

function touch(path) {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // removed meanwhile
  }
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function readLink(path) {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function readdirSafe(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
