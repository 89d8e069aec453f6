/**
 * §7 / docs/operations.md: "A bad value stops start-up with one line naming
 * it". Values that only fail when the node listens (a `HOST` that does not
 * resolve, a `PORT` or `INTERNAL_PORT` already taken) name the variables too:
 * main.ts prints the error's message as its one stderr line.
 */
import { createServer, type Server } from "node:net";
import { createApp } from "../../server/app";
import { loadConfig } from "../../server/config";
import { createLogger } from "../../server/logger";
import { TEST_SECRET } from "../helpers/tokens";

const taken: Server[] = [];
afterAll(() => taken.forEach((server) => server.close()));

/** A port something else listens on. */
async function busyPort(): Promise<number> {
  const server = createServer();
  taken.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

async function listenError(env: Record<string, string>): Promise<string> {
  const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", HOST: "127.0.0.1", ...env });
  const app = createApp(config, { logger: createLogger({ level: "silent", nodeId: "t" }) });
  try {
    await app.listen();
    throw new Error("listened");
  } catch (error) {
    return (error as Error).message;
  } finally {
    await app.close();
  }
}

test("a PORT already in use names PORT", async () => {
  const port = await busyPort();
  const message = await listenError({ PORT: String(port) });
  expect(message).toContain("PORT");
  expect(message).toContain(String(port));
  expect(message).not.toMatch(/[\r\n]/);
});

test("a HOST that does not resolve names HOST", async () => {
  expect(await listenError({ PORT: "0", HOST: "no-such-host.invalid" })).toMatch(
    /HOST.*no-such-host\.invalid|no-such-host\.invalid.*HOST/,
  );
});

test("an INTERNAL_PORT already in use names INTERNAL_PORT", async () => {
  const port = await busyPort();
  const message = await listenError({ PORT: "0", INTERNAL_PORT: String(port) });
  expect(message).toContain("INTERNAL_PORT");
  expect(message).toContain(String(port));
});

// §7: "`CONNECT_RATE_PER_IP`, `CONNECT_BURST_PER_IP` … `0` turns it off": said of both variables.
test.each(["CONNECT_RATE_PER_IP", "CONNECT_BURST_PER_IP"])("%s=0 turns the per-address limit off", (name) => {
  expect(loadConfig({ [name]: "0" }).connectRate).toBeUndefined();
});

// §11: "keyed with `WEBHOOK_SECRET` (`whsec_` followed by base64 key bytes)": no length is asked for.
describe("WEBHOOK_SECRET", () => {
  const url = "https://hooks.example/in";
  test("a short base64 key starts, with a warning", () => {
    const config = loadConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: "whsec_dGVzdA==" });
    expect(config.webhook?.secret).toBe("whsec_dGVzdA==");
    expect(config.warnings.join("\n")).toMatch(/WEBHOOK_SECRET/);
  });
  test("a usual 24-byte key starts without a warning", () => {
    const config = loadConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
    expect(config.warnings.join("\n")).not.toMatch(/WEBHOOK_SECRET/);
  });
  test.each(["secret", "whsec_", "whsec_abc", "whsec_not base64!"])("%j stops start-up naming it", (secret) => {
    expect(() => loadConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_SECRET/);
  });
});

// §7 "`REDIS_CLUSTER_NODES` … `host:port,host:port…`": a port is 1 to 65535.
test.each(["redis-1:99999", "redis-1:0", "redis-1:7000,redis-2:70000"])(
  "REDIS_CLUSTER_NODES=%s stops start-up naming it",
  (nodes) => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: nodes })).toThrow(/REDIS_CLUSTER_NODES/);
  },
);

test.each(["redis://cache:99999", "redis://"])("REDIS_URL=%s stops start-up naming it", (url) => {
  expect(() => loadConfig({ REDIS_URL: url })).toThrow(/REDIS_URL/);
});

test("a bad REDIS_URL is named without its password", () => {
  expect(() => loadConfig({ REDIS_URL: "redis://user:hunter2@cache:99999" })).toThrow(
    expect.objectContaining({ message: expect.not.stringContaining("hunter2") }),
  );
});

test("a bad WEBHOOK_URL is named without its password", () => {
  const env = { WEBHOOK_URL: "ftp://hook:hunter2@hooks.example/in", WEBHOOK_SECRET: "whsec_dGVzdA==" };
  expect(() => loadConfig(env)).toThrow(/WEBHOOK_URL/);
  expect(() => loadConfig(env)).toThrow(expect.objectContaining({ message: expect.not.stringContaining("hunter2") }));
});

test("a bad JWT_JWKS_URL is named without its password", () => {
  const env = { JWT_JWKS_URL: "ftp://keys:hunter2@idp.example/jwks.json" };
  expect(() => loadConfig(env)).toThrow(/JWT_JWKS_URL/);
  expect(() => loadConfig(env)).toThrow(expect.objectContaining({ message: expect.not.stringContaining("hunter2") }));
});
