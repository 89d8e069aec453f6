/**
 * @huddle/client as a user gets it: `npm pack` in client/ (which builds it first, as a publish would), the
 * tarball installed with npm into a scratch project outside the repository, and there used from CommonJS,
 * from ESM, from TypeScript (tsc --strict), in a browser bundle (esbuild), and from a Node script that chats
 * on a live Huddle server.
 *
 * No registry: socket.io-client and its dependencies (the versions this repository tests with) are copied
 * into the scratch project's node_modules first, so `npm install <tarball> --offline` finds the package's
 * one dependency satisfied and installs the tarball alone, with a private npm cache.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { PROTOCOL_REVISION, PROTOCOL_VERSION } from "../../shared/protocol";
import { startApp, stopAllApps } from "../helpers/app";
import { signToken } from "../helpers/tokens";

const execFileAsync = promisify(execFile);

const ROOT = join(__dirname, "..", "..");
const CLIENT = join(ROOT, "client");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
/** The outer `npm test`'s settings (npm_config_*, npm_lifecycle_*) stay out of the npm and node run here. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));

interface PackedFile {
  path: string;
  size: number;
}
interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

let scratch: string;
/** The consumer project: the tarball installed in its node_modules. */
let app: string;
let packed: Packed;
let tarball: string;

async function run(command: string, args: string[], cwd: string, timeout = 60_000) {
  try {
    return await execFileAsync(command, args, { cwd, env: ENV, timeout, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(" ")} failed in ${cwd}: ${String(error)}\n${stdout ?? ""}\n${stderr ?? ""}`,
    );
  }
}

/** Runs a script in the consumer project with node; returns its stdout parsed as JSON. */
async function node(file: string, source: string, args: string[] = []): Promise<any> {
  writeFileSync(join(app, file), source);
  const { stdout } = await run(process.execPath, [file, ...args], app, 40_000);
  return JSON.parse(stdout);
}

/**
 * Directories under the repository's node_modules that `name` needs at run time (itself, then its
 * dependencies, as Node resolves them from where each one sits), outermost only: a nested
 * node_modules comes along with the package that holds it.
 */
function runtimeClosure(name: string): string[] {
  const modules = realpathSync(join(ROOT, "node_modules"));
  const found = new Set<string>();
  const visit = (dir: string) => {
    if (found.has(dir)) return;
    found.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: object };
    for (const dependency of Object.keys(pkg.dependencies ?? {})) visit(resolvePackage(dir, dependency));
  };
  /** Node's lookup: `<dir>/node_modules/<name>`, for `from` and each directory above it, up to the repository. */
  const resolvePackage = (from: string, dependency: string): string => {
    for (let dir = from; ; dir = dirname(dir)) {
      if (basename(dir) !== "node_modules") {
        try {
          return dirname(realpathSync(join(dir, "node_modules", dependency, "package.json")));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        }
      }
      if (dir === dirname(modules) || dir === dirname(dir))
        throw new Error(`${dependency}, a dependency of ${from}, is not installed`);
    }
  };
  visit(realpathSync(join(modules, name)));
  return [...found]
    .map((dir) => relative(modules, dir))
    .filter((path) => !path.split(sep).includes("node_modules"))
    .sort();
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "huddle-client-package-"));
  const packDir = join(scratch, "pack");
  mkdirSync(packDir);
  // npm pack runs the package's prepack: a fresh build of client/dist.
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", packDir], CLIENT, 120_000);
  packed = (JSON.parse(stdout.slice(stdout.indexOf("["))) as Packed[])[0]!;
  tarball = join(packDir, packed.filename);

  app = join(scratch, "app");
  mkdirSync(join(app, "node_modules"), { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", version: "0.0.0", private: true }));
  for (const dir of runtimeClosure("socket.io-client")) {
    cpSync(join(ROOT, "node_modules", dir), join(app, "node_modules", dir), { recursive: true });
  }
  const npmInstall = ["install", tarball, "--offline", "--no-audit", "--no-fund", "--ignore-scripts"];
  await run("npm", [...npmInstall, "--cache", join(scratch, "npm-cache")], app);
}, 180_000);

afterAll(async () => {
  await stopAllApps();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the tarball", () => {
  test("is small and holds the built package only: no sources, tests, server or web UI", () => {
    const paths = packed.files.map((file) => file.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining([
        "README.md",
        "package.json",
        "dist/index.mjs",
        "dist/index.cjs",
        "dist/index.d.ts",
        "dist/index.d.mts",
        "dist/shared/events.d.ts",
      ]),
    );
    expect(
      paths.filter((path) => !/^(package\.json|README\.md|dist\/[\w/-]+\.(mjs|cjs|d\.ts|d\.mts))$/.test(path)),
    ).toEqual([]);
    expect(paths.filter((path) => /(^|\/)(src|server|web|ui|tests?)\/|schemas|\.map$/.test(path))).toEqual([]);
    // 38 KB packed, 137 KB unpacked when this was written.
    expect(packed.size).toBeLessThan(64 * 1024);
    expect(packed.unpackedSize).toBeLessThan(256 * 1024);
  });

  test("bundles only the client's sources and the protocol constants, and imports only socket.io-client", () => {
    const esm = readFileSync(join(app, "node_modules/@huddle/client/dist/index.mjs"), "utf8");
    const cjs = readFileSync(join(app, "node_modules/@huddle/client/dist/index.cjs"), "utf8");
    for (const bundle of [esm, cjs]) {
      // esbuild marks where each bundled module starts with its path.
      const modules = [...new Set([...bundle.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]!))];
      expect(modules.filter((path) => !/^(src\/[\w-]+|\.\.\/shared\/(protocol|text))\.ts$/.test(path))).toEqual([]);
      expect(modules).toContain("src/huddle-client.ts");
    }
    expect(new Set([...esm.matchAll(/\bfrom\s*"([^"]+)"|\bimport\(\s*"([^"]+)"/g)].map((m) => m[1] ?? m[2]))).toEqual(
      new Set(["socket.io-client"]),
    );
    expect(new Set([...cjs.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))).toEqual(
      new Set(["socket.io-client"]),
    );
  });

  test("its package.json: socket.io-client its one dependency, the version 1.<revision>.<patch>", () => {
    const pkg = JSON.parse(readFileSync(join(app, "node_modules/@huddle/client/package.json"), "utf8"));
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.name).toBe("@huddle/client");
    // The range the repository itself tests with.
    expect(pkg.dependencies).toEqual({ "socket.io-client": root.devDependencies["socket.io-client"] });
    expect(pkg.peerDependencies).toBeUndefined();
    expect(pkg.version).toMatch(new RegExp(`^${PROTOCOL_VERSION}\\.${PROTOCOL_REVISION}\\.\\d+$`));
  });
});

describe("installed in an app", () => {
  test("require() from CommonJS gets the CommonJS build", async () => {
    const result = await node(
      "check.cjs",
      `const huddle = require("@huddle/client");
const client = huddle.createHuddleClient({ url: "http://127.0.0.1:9", getToken: () => "jwt", autoConnect: false });
console.log(JSON.stringify({
  file: require.resolve("@huddle/client"),
  exports: Object.keys(huddle).sort(),
  revision: huddle.PROTOCOL_REVISION,
  error: new huddle.HuddleClientError("timeout", "x") instanceof Error,
  state: client.state.status,
}));
client.close();
`,
    );
    expect(result.file).toMatch(/node_modules\/@huddle\/client\/dist\/index\.cjs$/);
    expect(result.exports).toEqual(
      expect.arrayContaining(["createHuddleClient", "HuddleClientError", "PROTOCOL_REVISION", "PROTOCOL_VERSION"]),
    );
    expect(result).toMatchObject({ revision: PROTOCOL_REVISION, error: true, state: "connecting" });
  }, 60_000);

  test("import from an ES module gets the ESM build", async () => {
    const result = await node(
      "check.mjs",
      `import { createHuddleClient, HuddleClientError, PROTOCOL_REVISION, PROTOCOL_VERSION } from "@huddle/client";
const client = createHuddleClient({ url: "http://127.0.0.1:9", getToken: () => "jwt", autoConnect: false });
console.log(JSON.stringify({
  file: import.meta.resolve("@huddle/client"),
  version: PROTOCOL_VERSION,
  revision: PROTOCOL_REVISION,
  error: new HuddleClientError("closed", "x").code,
  state: client.state.status,
}));
client.close();
`,
    );
    expect(result.file).toMatch(/node_modules\/@huddle\/client\/dist\/index\.mjs$/);
    expect(result).toEqual(expect.objectContaining({ version: 1, revision: PROTOCOL_REVISION, error: "closed" }));
  }, 60_000);

  test("tsc --strict type-checks TypeScript consumers: ESM and CommonJS (nodenext), and a bundler's", async () => {
    const consumer = (from: string) => `import {
  createHuddleClient,
  HuddleClientError,
  PROTOCOL_REVISION,
  type ClientToServerEvents,
  type HuddleSession,
  type JoinedEvent,
  type Message,
  type ReadResult,
} from "@huddle/client";
const client = createHuddleClient({ url: "http://localhost:3000", getToken: async () => "jwt", autoConnect: false });
client.on("message", (m: Message) => m.text.toUpperCase() + m.user.name);
client.on("joined", (j: JoinedEvent) => j.messages.map((m) => m.seq));
client.on("session", (s: HuddleSession) => s.revision < PROTOCOL_REVISION);
export const sent: Promise<Message> = client.send("lobby", "hi", { replyTo: "1-0" });
export const read: Promise<ReadResult> = client.markRead("lobby", "1-0", { private: true });
export const refused = (e: unknown) => e instanceof HuddleClientError && e.code === "unsupported";
export type Join = Parameters<ClientToServerEvents["room:join"]>[0];
export const from = ${JSON.stringify(from)};
// Wrong calls are errors (the types are not any):
// @ts-expect-error: send needs the text
void client.send("lobby");
// @ts-expect-error: not an event of the client
client.on("message:new", () => {});
// @ts-expect-error: a message's text is a string
client.on("message", (m) => m.text.toFixed());
`;
    writeFileSync(join(app, "consumer.mts"), consumer("esm"));
    writeFileSync(join(app, "consumer.cts"), consumer("cjs"));
    writeFileSync(join(app, "consumer-bundled.ts"), consumer("bundler"));
    // No @types/node and no skipLibCheck: the package's declarations (and socket.io-client's) must stand on their
    // own. TypeScript's own lib files are not checked again: that is most of the time, and none of ours.
    const options = {
      strict: true,
      target: "es2022",
      lib: ["es2022", "dom"],
      types: [],
      noEmit: true,
      skipDefaultLibCheck: true,
    };
    const configs = {
      "tsconfig.node.json": {
        module: "nodenext",
        moduleResolution: "nodenext",
        files: ["consumer.mts", "consumer.cts"],
      },
      "tsconfig.bundler.json": { module: "esnext", moduleResolution: "bundler", files: ["consumer-bundled.ts"] },
    };
    await Promise.all(
      Object.entries(configs).map(([name, { files, ...compiler }]) => {
        writeFileSync(join(app, name), JSON.stringify({ compilerOptions: { ...options, ...compiler }, files }));
        return run(process.execPath, [TSC, "-p", name, "--strict"], app, 100_000);
      }),
    );
  }, 120_000);

  test("esbuild bundles it for the browser: the ESM build and socket.io-client's browser build", async () => {
    writeFileSync(
      join(app, "browser.js"),
      `import { createHuddleClient } from "@huddle/client";
const client = createHuddleClient({ url: location.origin, getToken: () => localStorage.getItem("jwt") ?? "" });
client.on("message", (m) => document.body.append(m.text));
`,
    );
    const result = await build({
      absWorkingDir: app,
      entryPoints: ["browser.js"],
      bundle: true,
      platform: "browser",
      format: "esm",
      minify: true,
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("node_modules/@huddle/client/dist/index.mjs");
    // Node's WebSocket and XMLHttpRequest shims stay out: the browser has its own.
    expect(inputs.filter((input) => /node_modules\/(ws|xmlhttprequest-ssl)\//.test(input))).toEqual([]);
    expect(result.outputFiles[0]!.contents.length).toBeLessThan(80 * 1024);
  }, 60_000);

  test("a Node script joins, sends, edits, reacts and reads on a live server", async () => {
    const server = await startApp();
    const roomId = `package-${process.pid}`;
    const result = await node(
      "chat.mjs",
      `import { createHuddleClient, PROTOCOL_REVISION } from "@huddle/client";

const [url, aliceToken, bobToken, roomId] = process.argv.slice(2);
setTimeout(() => {
  console.error("chat.mjs: still running after 30 s");
  process.exit(2);
}, 30_000).unref();
const open = (token) => createHuddleClient({ url, getToken: () => token });
const next = (client, event, wanted = () => true) =>
  new Promise((resolve) => {
    const off = client.on(event, (payload) => wanted(payload) && (off(), resolve(payload)));
  });

const alice = open(aliceToken);
const bob = open(bobToken);
const session = await next(alice, "session");
await alice.join(roomId);
await bob.join(roomId);
const heard = next(bob, "message");
const sent = await alice.send(roomId, "hello from the package");
const bobHeard = await heard;
const editSeen = next(bob, "updated", (m) => m.id === sent.id && m.editedAt !== undefined);
const edited = await alice.edit(roomId, sent.id, "hello, edited");
const bobSawEdit = await editSeen;
const reacted = await bob.react(roomId, sent.id, "👍");
const read = await bob.markRead(roomId, sent.id);
const seen = await alice.reads(roomId);
const rooms = await bob.listRooms();
console.log(JSON.stringify({
  revision: session.revision,
  speaks: PROTOCOL_REVISION,
  user: session.user.name,
  sent: { id: sent.id, text: sent.text },
  heard: { id: bobHeard.id, text: bobHeard.text },
  edited: { text: edited.text, seenByBob: bobSawEdit.text },
  reactions: reacted.reactions,
  read,
  readers: seen.map((marker) => marker.user.name),
  rooms: rooms.map((room) => ({ roomId: room.roomId, unread: room.unread, last: room.lastMessage?.text })),
}));
alice.close();
bob.close();
`,
      [server.url, signToken({ name: "Alice" }), signToken({ sub: "bob-package", name: "Bob" }), roomId],
    );
    expect(result).toEqual({
      revision: PROTOCOL_REVISION,
      speaks: PROTOCOL_REVISION,
      user: "Alice",
      sent: { id: expect.any(String), text: "hello from the package" },
      heard: { id: result.sent.id, text: "hello from the package" },
      edited: { text: "hello, edited", seenByBob: "hello, edited" },
      reactions: [{ emoji: "👍", count: 1, userIds: ["bob-package"] }],
      read: { readUpTo: result.sent.id, unread: 0 },
      readers: expect.arrayContaining(["Bob"]),
      rooms: [{ roomId, unread: 0, last: "hello, edited" }],
    });
  }, 60_000);
});
