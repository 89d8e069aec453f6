/**
 * The Dockerfile, checked without a Docker engine: its instructions are parsed,
 * every path the build copies must exist and reach the build context through
 * .dockerignore, and its HEALTHCHECK command is run for real against a node.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { startApp, stopAllApps } from "../helpers/app";
import { freePort } from "../helpers/ports";
import { builtinModules } from "node:module";
import { REPO_ROOT } from "./nginx-harness";
import { currentBundle } from "../helpers/server-bundle";
import { ensureBuilt } from "./node-processes";

const execFileAsync = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === "FROM") {
      const [, from = "", name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);

/** The command a JSON-form (exec) instruction runs. */
const execForm = (args: string): string[] => JSON.parse(args.replace(/^(--\S+\s+)*CMD\s+/i, ""));

afterAll(() => stopAllApps());

describe("Dockerfile", () => {
  test("builds in one stage and runs from a second, slim Node 20 stage", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0]!;
    expect(build.name).toBeDefined();
    expect(all(build, "RUN").map((i) => i.args)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^npm ci\b/), expect.stringMatching(/^npm run build\b/)]),
    );
    expect(runtime.from).toMatch(/^node:20-(slim|alpine)/);
    expect(all(runtime, "COPY").map((i) => i.args)).toContainEqual(
      expect.stringMatching(new RegExp(`^--from=${build.name}\\s+/app/dist\\s+\\./dist$`)),
    );
  });

  test("installs only production dependencies in the runtime stage", () => {
    const installs = all(runtime, "RUN").filter((i) => /\bnpm (ci|install)\b/.test(i.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install.args).toMatch(/npm ci --omit=dev/);
  });

  test("runs as a non-root user in production mode", () => {
    const user = last(runtime, "USER")?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(
      all(runtime, "ENV")
        .map((i) => i.args)
        .join(" "),
    ).toMatch(/NODE_ENV=production/);
    // Nothing after USER switches back.
    const afterUser = runtime.instructions.slice(runtime.instructions.findIndex((i) => i.keyword === "USER"));
    expect(afterUser.filter((i) => i.keyword === "USER")).toHaveLength(1);
  });

  test("exposes 3000 and starts the bundled server with source maps", () => {
    expect(last(runtime, "EXPOSE")?.args).toBe("3000");
    expect(JSON.parse(last(runtime, "CMD")!.args)).toEqual(["node", "--enable-source-maps", "dist/server.js"]);
  });

  test("its HEALTHCHECK command passes against a running node and fails when nothing answers", async () => {
    const command = execForm(last(runtime, "HEALTHCHECK")!.args);
    expect(command.join(" ")).toContain("/healthz");
    const [bin, ...args] = command;
    expect(bin).toBe("node"); // the slim image has no curl
    const app = await startApp();
    const healthy = execFileAsync(process.execPath, args, { env: { PORT: String(app.port) }, timeout: 5000 });
    await expect(healthy).resolves.toBeDefined();
    const nothing = execFileAsync(process.execPath, args, { env: { PORT: String(await freePort()) }, timeout: 5000 });
    await expect(nothing).rejects.toMatchObject({ code: 1 });
  });

  test("every path the build copies exists and is not excluded by .dockerignore", () => {
    const ignored = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    const sources = stages
      .flatMap((stage) => all(stage, "COPY"))
      .filter((copy) => !copy.args.startsWith("--from="))
      .flatMap((copy) =>
        copy.args
          .split(/\s+/)
          .filter((word) => !word.startsWith("--"))
          .slice(0, -1),
      );
    expect(sources).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "server", "shared"]));
    for (const source of sources) {
      expect({ source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: ignored.includes(source) }).toEqual({ source, ignored: false });
    }
    // A host node_modules or dist must never reach the image.
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".git"]));
  });

  test("the runtime stage's production install provides every package the server bundle requires", () => {
    // The bundle keeps npm packages external; `npm ci --omit=dev` installs the lock file's non-dev entries.
    ensureBuilt();
    const bundle = readFileSync(currentBundle(), "utf8");
    const required = new Set(
      [...bundle.matchAll(/require\("([^"]+)"\)/g)]
        .map((m) => m[1]!)
        .filter((name) => !name.startsWith("node:") && !builtinModules.includes(name) && !name.startsWith("."))
        .map((name) => (name.startsWith("@") ? name.split("/").slice(0, 2).join("/") : name.split("/")[0]!)),
    );
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    expect(required.size).toBeGreaterThan(0);
    const missing = [...required].filter((name) => {
      const entry = lock.packages[`node_modules/${name}`];
      return entry === undefined || entry.dev === true;
    });
    expect(missing).toEqual([]);
  });
});
