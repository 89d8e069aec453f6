/**
 * nginx/default.conf.template and its TLS variant as files: what envsubst
 * does to them, what `nginx -t` says, and that the TLS variant really serves
 * Huddle over TLS.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllClients, createClient, waitForEvent } from "../helpers/clients";
import { freePort } from "../helpers/ports";
import {
  checkNginxConfig,
  REPO_ROOT,
  renderTemplate,
  startNginx,
  TEMPLATE_PATH,
  TEMPLATE_VARIABLES,
  upstreamLines,
  type TestNginx,
} from "./nginx-harness";

const TLS_TEMPLATE_PATH = join(REPO_ROOT, "nginx", "tls.conf.template.example");
const ENVSUBST = "/usr/bin/envsubst";
const template = readFileSync(TEMPLATE_PATH, "utf8");
const tlsTemplate = readFileSync(TLS_TEMPLATE_PATH, "utf8");
const execFileAsync = promisify(execFile);

const uncommented = (text: string) =>
  text
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join("\n");

/** The text between the `# >>> shared` and `# <<< shared` markers. */
const sharedRegions = (text: string) =>
  [...text.matchAll(/# >>> shared[^\n]*\n([\s\S]*?)\n[ \t]*# <<< shared\n/g)].map((m) => m[1]);

/** The directives of the `location` block whose header matches `header`. */
function locationBlock(text: string, header: RegExp): string {
  const config = uncommented(text);
  const start = config.search(header);
  if (start < 0) throw new Error(`no location matching ${header}`);
  return config.slice(start, config.indexOf("}", start));
}
const seconds = (block: string, directive: string) => {
  const match = new RegExp(`${directive}\\s+(\\d+)(s|m)?;`).exec(block);
  if (!match) throw new Error(`${directive} missing in: ${block}`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
};

afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

describe.each([
  ["default.conf.template", template],
  ["tls.conf.template.example", tlsTemplate],
])("%s placeholders", (_name, text) => {
  test("has exactly the two placeholders HUDDLE_UPSTREAMS and NGINX_PORT", () => {
    const braced = new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]));
    expect([...braced].sort()).toEqual([...TEMPLATE_VARIABLES].sort());
    // `${` appears nowhere else (envsubst would take it for a variable).
    expect(text.split("${").length - 1).toBe(2);
  });

  test("uses only lower-case nginx variables, which no envsubst environment defines", () => {
    const bare = [...text.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    expect(bare.filter((name) => name !== name.toLowerCase())).toEqual([]);
  });
});

describe("rendering", () => {
  const variables = { HUDDLE_UPSTREAMS: upstreamLines(["127.0.0.1:4001", "127.0.0.1:4002"]), NGINX_PORT: "8080" };

  (existsSync(ENVSUBST) ? test : test.skip)(
    "renders with GNU envsubst, restricted like the nginx image, to what the tests run",
    async () => {
      // The image runs `envsubst "${A} ${B} ..."` over the names of its environment that match
      // NGINX_ENVSUBST_FILTER: compose.yaml's filter, its nginx environment and the image's own variables.
      const compose = parse(readFileSync(join(REPO_ROOT, "compose.yaml"), "utf8"), { merge: true });
      const nginxEnv = compose.services.nginx.environment as Record<string, string>;
      const filter = new RegExp(nginxEnv.NGINX_ENVSUBST_FILTER!.replace(/\$\$/g, "$"));
      const env = { PATH: "/usr/bin:/bin", HOME: "/root", NGINX_VERSION: "1.27.5", PKG_RELEASE: "1", ...variables };
      const names = Object.keys({ ...nginxEnv, ...env }).filter((name) => filter.test(name));
      const child = execFileAsync(ENVSUBST, [names.map((name) => `\${${name}}`).join(" ")], { env });
      child.child.stdin!.end(template);
      const { stdout } = await child;
      expect(stdout).toBe(renderTemplate(template, variables));
      expect(uncommented(stdout)).not.toMatch(/^\s*hash\s/m);
      expect(stdout).toContain("    server 127.0.0.1:4001;\n    server 127.0.0.1:4002;");
      expect(stdout).toContain("listen 8080;");
    },
  );

  test("nginx -t accepts the rendered template", async () => {
    await expect(checkNginxConfig(variables)).resolves.toMatch(/syntax is ok[\s\S]*test is successful/);
  });
});

describe("choices the running tests cannot wait for", () => {
  test("keeps idle sockets, SSE streams and long polls open longer than the app's heartbeats", () => {
    // Socket.IO: pingInterval 25 s + pingTimeout 20 s; long poll up to 30 s; SSE comment every 15 s; /ws ping 25 s.
    for (const header of [
      /location \/socket\.io\/ \{/,
      /location = \/ws \{/,
      /location ~ \^\/api\/rooms\/.*\(events\|poll\)/,
    ]) {
      const block = locationBlock(template, header);
      expect({ header: String(header), read: seconds(block, "proxy_read_timeout") > 45 }).toEqual({
        header: String(header),
        read: true,
      });
      expect(seconds(block, "proxy_send_timeout")).toBeGreaterThan(45);
      expect(block).toMatch(/proxy_buffering off;/);
    }
  });

  test("balances plain round-robin: no sticky sessions (the nodes forward polling requests to their session)", () => {
    const upstream = locationBlock(template, /upstream huddle_nodes \{/);
    expect(upstream).not.toMatch(/^\s*(hash|ip_hash|sticky|least_conn|random)\b/m);
    expect(upstream).toContain("${HUDDLE_UPSTREAMS");
  });
});

describe("TLS variant", () => {
  let nginx: TestNginx;
  let tlsPort: number;
  const tlsAgent = new HttpsAgent({ rejectUnauthorized: false });

  beforeAll(async () => {
    const app = await startApp();
    tlsPort = await freePort();
    const fixtures = join(__dirname, "fixtures");
    nginx = await startNginx([`127.0.0.1:${app.port}`], {
      templatePath: TLS_TEMPLATE_PATH,
      // A self-signed test certificate, and a free loopback port instead of 443.
      transform: (rendered) =>
        rendered
          .replace("listen 443 ssl;", `listen 127.0.0.1:${tlsPort} ssl;`)
          .replace("/etc/nginx/certs/fullchain.pem", join(fixtures, "test-tls.crt"))
          .replace("/etc/nginx/certs/privkey.pem", join(fixtures, "test-tls.key")),
    });
  });
  afterAll(() => nginx?.stop());

  test("proxies exactly like the plain template (the shared parts are identical)", () => {
    expect(sharedRegions(template)).toHaveLength(2);
    expect(sharedRegions(tlsTemplate)).toEqual(sharedRegions(template));
  });

  test("redirects plain HTTP to https", async () => {
    const response = await new Promise<{ status?: number; location?: string }>((resolve, reject) => {
      const req = httpRequest(`${nginx.url}/some/page?x=1`, { headers: { host: "chat.example.com" } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, location: res.headers.location });
      });
      req.on("error", reject);
      req.end();
    });
    expect(response).toEqual({ status: 301, location: "https://chat.example.com/some/page?x=1" });
  });

  test("serves a same-origin Socket.IO client over wss (Origin https://host:port matches the forwarded Host)", async () => {
    const origin = `https://127.0.0.1:${tlsPort}`;
    const socket = createClient(origin, {
      transport: "websocket",
      agent: tlsAgent as unknown as string,
      extraHeaders: { origin },
    });
    await expect(waitForEvent(socket, "session", { timeoutMs: 5000 })).resolves.toMatchObject({ protocol: 1 });
  });
});
