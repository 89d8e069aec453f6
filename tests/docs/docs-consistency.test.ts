/**
 * Keeps docs/ honest against the code. Everything checked here is derived
 * from the sources, never listed by hand, so a new event, error code, route,
 * setting or metric fails this suite until the page that owns it says so:
 *
 * - docs/protocol.md names every client and server event (shared/), every
 *   error code and connect code (shared/protocol.ts) and every route the
 *   server registers (server/transport/http/*.ts, and /ws, /socket.io/ in
 *   server/transport/entry.ts);
 * - docs/operations.md names every environment variable `loadConfig` reads
 *   (server/config.ts and the files it imports) and every metric registered
 *   under server/;
 * - every page exists, and every relative link of README.md and docs/*.md
 *   resolves (files, and headings of docs pages);
 * - every `npm …` command quoted in README.md and docs/*.md exists;
 * - README.md links every page (expected to fail until the README rewrite).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CLIENT_EVENT_NAMES, ConnectErrorCode, ErrorCode } from "../../shared";

const ROOT = resolve(__dirname, "..", "..");
const DOCS_DIR = join(ROOT, "docs");
const PAGES = ["protocol.md", "embedding.md", "operations.md", "performance.md", "architecture.md"] as const;

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const doc = (page: (typeof PAGES)[number]) => read(`docs/${page}`);
const unique = <T>(items: T[]) => [...new Set(items)];
const allMatches = (text: string, pattern: RegExp) => [...text.matchAll(pattern)];

/** The entries of `items` that `text` does not contain as `` `item` ``. */
function missingInBackticks(text: string, items: readonly string[]): string[] {
  return items.filter((item) => !text.includes(`\`${item}\``));
}

// ---------------------------------------------------------------- derived from the code

/** The keys of `export interface <name> { … }` in shared/events.ts, one per line (`"room:join": (…) => void;`). */
function interfaceKeys(name: string): string[] {
  const source = read("shared/events.ts");
  const start = source.indexOf(`export interface ${name} {`);
  if (start < 0) throw new Error(`shared/events.ts has no interface ${name}`);
  const body = source.slice(start, source.indexOf("\n}", start));
  return allMatches(body, /^\s*"?([\w:]+)"?\s*:/gm).map((m) => m[1]!);
}

/** Every route the HTTP layer registers, as "METHOD /path" (plus "/socket.io/", which takes any method). */
function serverRoutes(): string[] {
  const dir = join(ROOT, "server/transport/http");
  const sources = readdirSync(dir)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => readFileSync(join(dir, file), "utf8"));
  // Routers mounted under a prefix: `app.use("/api", api)` puts everything registered on `api` under /api.
  const prefixes = new Map<string, string>();
  for (const source of sources) {
    for (const m of allMatches(source, /\b\w+\.use\(\s*"(\/[^"]*)"\s*,\s*(\w+)\s*\)/g)) prefixes.set(m[2]!, m[1]!);
  }
  const routes: string[] = [];
  const add = (router: string, method: string, path: string) =>
    routes.push(`${method.toUpperCase()} ${(prefixes.get(router) ?? "") + path}`);
  for (const source of sources) {
    // router.get("/path", …)
    for (const m of allMatches(source, /\b(\w+)\.(get|post|put|patch|delete)\(\s*"(\/[^"]*)"/g)) {
      add(m[1]!, m[2]!, m[3]!);
    }
    // for (const [method, …] of [["put", …], ["delete", …]]) router[method]("/path", …)
    for (const m of allMatches(source, /\b(\w+)\[method\]\(\s*"(\/[^"]*)"/g)) {
      const loop = source.slice(source.lastIndexOf("for (", m.index), m.index);
      const methods = allMatches(loop, /\[\s*"(get|post|put|patch|delete)"\s*,/g).map((v) => v[1]!);
      if (methods.length === 0) throw new Error(`cannot tell the methods of ${m[1]}[method]("${m[2]}")`);
      for (const method of methods) add(m[1]!, method, m[2]!);
    }
  }
  // server/transport/entry.ts routes two paths itself, by regex: /^\/ws(\?|$)/ and /^\/socket\.io\/?(\?|$)/.
  for (const m of allMatches(read("server/transport/entry.ts"), /\/\^\\\/([\w\\.]+?)(\\\/\?)?\(\\\?\|\$\)\//g)) {
    const path = `/${m[1]!.replace(/\\\./g, ".")}`;
    routes.push(m[2] ? `${path}/` : `GET ${path}`);
  }
  return unique(routes);
}

/** Every environment variable `loadConfig` reads: server/config.ts and the local files it imports, scanned. */
function configVariables(): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  const scan = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    const calls = /\b(?:read|integer|number|flag|readSecret|readPem)\(\s*(?:\w+\s*,\s*)?"([A-Z][A-Z0-9_]*)"/g;
    for (const m of allMatches(source, calls)) names.push(m[1]!);
    // `readSecret(env, "JWT_SECRET", …)` also reads `${name}_FILE`.
    if (source.includes("${name}_FILE")) {
      for (const m of allMatches(source, /\breadSecret\(\s*\w+\s*,\s*"([A-Z][A-Z0-9_]*)"/g)) names.push(`${m[1]}_FILE`);
    }
    for (const m of allMatches(source, /\bfrom\s+"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!) + ".ts";
      if (existsSync(target) && target.startsWith(join(ROOT, "server"))) scan(target);
    }
  };
  scan(join(ROOT, "server/config.ts"));
  return unique(names);
}

/** Every Prometheus metric registered under server/: the `"huddle_…"` strings of the files that use prom-client. */
function metricNames(): string[] {
  const names: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const source = readFileSync(path, "utf8");
        if (!source.includes('from "prom-client"')) continue;
        for (const m of allMatches(source, /"(huddle_[a-z0-9_]+)"/g)) names.push(m[1]!);
      }
    }
  };
  walk(join(ROOT, "server"));
  return unique(names);
}

// ---------------------------------------------------------------- markdown

/** The text outside fenced code blocks. */
const withoutFences = (markdown: string) => markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");

/** The code of a page: fenced blocks and inline code spans. */
function codeOf(markdown: string): string[] {
  const fenced = allMatches(markdown, /^(```|~~~)[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm).map((m) => m[2]!);
  const inline = allMatches(withoutFences(markdown), /`([^`\n]+)`/g).map((m) => m[1]!);
  return [...fenced, ...inline];
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a page's headings, duplicates numbered as GitHub does. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const m of allMatches(withoutFences(markdown), /^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!);
    const count = counts.get(base) ?? 0;
    counts.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The relative link targets of a page (images included), outside code. */
function relativeLinks(markdown: string): string[] {
  return allMatches(withoutFences(markdown).replace(/`[^`\n]*`/g, ""), /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

const MARKDOWN_FILES = ["README.md", ...PAGES.map((page) => `docs/${page}`)];

// ---------------------------------------------------------------- the checks

describe("docs/ against the code", () => {
  test("the derivations find what they should (a broken regex must not pass everything)", () => {
    expect(interfaceKeys("ClientToServerEvents").sort()).toEqual([...CLIENT_EVENT_NAMES].sort());
    expect(interfaceKeys("ServerToClientEvents")).toEqual(expect.arrayContaining(["session", "message:new"]));
    expect(serverRoutes()).toEqual(
      expect.arrayContaining(["GET /healthz", "POST /api/token", "GET /api/rooms/:roomId/events", "GET /ws"]),
    );
    expect(serverRoutes()).toContain("PUT /api/rooms/:roomId/messages/:id/reactions/:emoji");
    expect(configVariables()).toEqual(expect.arrayContaining(["PORT", "JWT_SECRET_FILE", "TLS_KEY_FILE"]));
    expect(configVariables().length).toBeGreaterThan(40);
    expect(metricNames()).toEqual(expect.arrayContaining(["huddle_connections", "huddle_webhooks_queued"]));
  });

  test("every docs page exists", () => {
    expect(PAGES.filter((page) => !existsSync(join(DOCS_DIR, page)))).toEqual([]);
  });

  test("protocol.md names every client → server event", () => {
    expect(missingInBackticks(doc("protocol.md"), CLIENT_EVENT_NAMES)).toEqual([]);
  });

  test("protocol.md names every server → client event", () => {
    expect(missingInBackticks(doc("protocol.md"), interfaceKeys("ServerToClientEvents"))).toEqual([]);
  });

  test("protocol.md names every error code and connect error code", () => {
    const text = doc("protocol.md");
    expect(missingInBackticks(text, Object.values(ErrorCode))).toEqual([]);
    expect(missingInBackticks(text, Object.values(ConnectErrorCode).map(String))).toEqual([]);
  });

  test("protocol.md names every HTTP route the server registers", () => {
    const text = doc("protocol.md");
    // `GET /api/rooms/:roomId/poll` or `GET /api/rooms/:roomId/poll?after=&timeout=`
    const named = (route: string) => text.includes(`\`${route}\``) || text.includes(`\`${route}?`);
    expect(serverRoutes().filter((route) => !named(route))).toEqual([]);
  });

  test("operations.md names every environment variable loadConfig reads", () => {
    expect(missingInBackticks(doc("operations.md"), configVariables())).toEqual([]);
  });

  test("operations.md names every metric the server registers", () => {
    expect(missingInBackticks(doc("operations.md"), metricNames())).toEqual([]);
  });

  test("every relative link of README.md and docs/*.md resolves, headings of docs pages included", () => {
    const broken: string[] = [];
    for (const file of MARKDOWN_FILES) {
      const source = join(ROOT, file);
      if (!existsSync(source)) continue;
      for (const link of relativeLinks(readFileSync(source, "utf8"))) {
        const [path = "", anchor] = link.split("#");
        const target = path === "" ? source : resolve(dirname(source), decodeURIComponent(path));
        if (!existsSync(target)) {
          broken.push(`${file}: ${link} (no such file)`);
          continue;
        }
        // Headings are checked in the docs pages only: README.md is the front door and links as it likes.
        const isDocsPage = dirname(target) === DOCS_DIR && target.endsWith(".md");
        if (
          anchor !== undefined &&
          anchor !== "" &&
          isDocsPage &&
          !anchorsOf(readFileSync(target, "utf8")).has(anchor)
        ) {
          broken.push(`${file}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  test("every npm command quoted in README.md and docs/*.md exists", () => {
    const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);
    // npm's own commands that docs may quote; anything else must be a script of package.json.
    const builtins = ["ci", "install", "i", "audit", "pack", "exec", "ls", "outdated", "update", "view", "help"];
    const shorthands = ["test", "start", "stop", "restart"];
    const wrong: string[] = [];
    for (const file of MARKDOWN_FILES) {
      if (!existsSync(join(ROOT, file))) continue;
      for (const code of codeOf(read(file))) {
        for (const m of allMatches(code, /\bnpm\s+(?:(?:run|run-script)\s+([\w:.-]+)|([a-z][\w-]*))/g)) {
          // A script name may hold ":" (format:check), but not end with one ("npm run bench: …" in prose).
          const [command, script, verb] = [m[0], m[1]?.replace(/[:.]+$/, ""), m[2]];
          const ok =
            script !== undefined
              ? scripts.includes(script)
              : shorthands.includes(verb!)
                ? scripts.includes(verb!)
                : builtins.includes(verb!);
          if (!ok) wrong.push(`${file}: ${command}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  test("README.md links every docs page (fails until the README is rewritten as the front door, issue 16)", () => {
    const linked = new Set(
      relativeLinks(read("README.md")).map((link) => resolve(ROOT, decodeURIComponent(link.split("#")[0]!))),
    );
    const missing = PAGES.filter((page) => !linked.has(join(DOCS_DIR, page)));
    if (missing.length > 0) {
      throw new Error(
        `README.md does not link ${missing.map((page) => `docs/${page}`).join(", ")}: the README rewrite must link every docs page`,
      );
    }
  });
});
