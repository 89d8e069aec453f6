/**
 * A real nginx (the Debian package's /usr/sbin/nginx) running the repo's
 * `nginx/default.conf.template`, rendered the way the official nginx image
 * renders it, inside a minimal main configuration in a private temp dir.
 * Fails loudly when nginx is missing: these tests never skip silently.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "../helpers/ports";

export const REPO_ROOT = join(__dirname, "..", "..");
export const TEMPLATE_PATH = join(REPO_ROOT, "nginx", "default.conf.template");
export const NGINX_BIN = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

/** The only two names the template may contain as placeholders. */
export const TEMPLATE_VARIABLES = ["HUDDLE_UPSTREAMS", "NGINX_PORT"] as const;
export type TemplateVariables = Record<(typeof TEMPLATE_VARIABLES)[number], string>;

/**
 * What the image's `envsubst "${HUDDLE_UPSTREAMS} ${NGINX_PORT}"` does: replaces
 * `${NAME}` and `$NAME` for those two names only and leaves every other
 * dollar sign alone.
 */
export function renderTemplate(template: string, variables: TemplateVariables): string {
  return template.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced, bare) => {
    const name = (braced ?? bare) as string;
    return Object.hasOwn(variables, name) ? variables[name as keyof TemplateVariables] : match;
  });
}

/** `server 127.0.0.1:4001;` lines, indented like the template's upstream block. */
export const upstreamLines = (addresses: readonly string[]) =>
  addresses.map((address) => `    server ${address};`).join("\n");

/** A minimal main nginx.conf around the rendered snippet, with every path inside `dir`. */
export function mainConfig(dir: string, include: string, workerConnections = 512): string {
  return [
    "daemon off;",
    "master_process on;",
    "worker_processes 1;",
    // As root, workers would otherwise run as nobody and could not use the private temp dirs.
    ...(process.getuid?.() === 0 ? ["user root;"] : []),
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")} warn;`,
    `events { worker_connections ${workerConnections}; }`,
    "http {",
    "    access_log off;",
    `    client_body_temp_path ${join(dir, "client_body")};`,
    `    proxy_temp_path ${join(dir, "proxy")};`,
    `    fastcgi_temp_path ${join(dir, "fastcgi")};`,
    `    uwsgi_temp_path ${join(dir, "uwsgi")};`,
    `    scgi_temp_path ${join(dir, "scgi")};`,
    `    include ${include};`,
    "}",
    "",
  ].join("\n");
}

export interface TestNginx {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The rendered conf.d snippet nginx runs. */
  readonly rendered: string;
  /** nginx's error log so far (for failure messages). */
  errorLog(): string;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

function requireNginx(): void {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(`${NGINX_BIN} not found: install nginx (apt-get install -y nginx); nginx tests do not skip`);
  }
}

export interface NginxOptions {
  /** @default nginx/default.conf.template */
  templatePath?: string;
  /** Edits the rendered text before nginx sees it (e.g. a test port instead of 443). */
  transform?: (rendered: string) => string;
  /**
   * nginx's worker_connections (each proxied connection takes two: the client's and the upstream's).
   * @default 512
   */
  workerConnections?: number;
}

/** Writes the rendered template and a main config into a fresh temp dir. */
export function prepareNginx(
  variables: TemplateVariables,
  options: NginxOptions = {},
): { dir: string; conf: string; rendered: string } {
  const dir = mkdtempSync(join(tmpdir(), "huddle-nginx-"));
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi", "conf.d"]) mkdirSync(join(dir, sub));
  const template = readFileSync(options.templatePath ?? TEMPLATE_PATH, "utf8");
  const rendered = (options.transform ?? ((text) => text))(renderTemplate(template, variables));
  const snippet = join(dir, "conf.d", "default.conf");
  writeFileSync(snippet, rendered);
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, mainConfig(dir, snippet, options.workerConnections));
  return { dir, conf, rendered };
}

/** `nginx -t` on the rendered template; resolves with nginx's output, rejects with it. */
export async function checkNginxConfig(variables: TemplateVariables, options: NginxOptions = {}): Promise<string> {
  requireNginx();
  const { dir, conf } = prepareNginx(variables, options);
  try {
    const { stdout, stderr } = await execFileAsync(NGINX_BIN, [
      "-t",
      "-p",
      dir,
      "-c",
      conf,
      "-e",
      join(dir, "error.log"),
    ]);
    return stdout + stderr;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`nginx -t failed: ${e.stderr ?? e.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts nginx in front of `upstreams` ("127.0.0.1:4001", …) on a free loopback port. */
export async function startNginx(upstreams: readonly string[], options: NginxOptions = {}): Promise<TestNginx> {
  requireNginx();
  const port = await freePort();
  const { dir, conf, rendered } = prepareNginx(
    { HUDDLE_UPSTREAMS: upstreamLines(upstreams), NGINX_PORT: `127.0.0.1:${port}` },
    options,
  );
  const errorLogPath = join(dir, "error.log");
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, "utf8") : "");
  const args = ["-p", dir, "-c", conf, "-e", errorLogPath];
  try {
    await execFileAsync(NGINX_BIN, ["-t", ...args]);
  } catch (error) {
    throw new Error(`nginx -t failed on the rendered template: ${(error as { stderr?: string }).stderr ?? error}`);
  }
  const child: ChildProcess = spawn(NGINX_BIN, args, { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPort(port, 5000, child);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${errorLog()}`);
  }
  let stopped = false;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    rendered,
    errorLog,
    async stop() {
      if (stopped) return;
      stopped = true;
      // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for open WebSockets.
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
