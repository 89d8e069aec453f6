/**
 * A real Huddle app on an ephemeral port, configured through the same
 * `loadConfig` the process uses. Call `close()` (or `stopAll()`) when done.
 */
import { createApp, type App, type AppDeps } from "../../server/app";
import { loadConfig, type Config } from "../../server/config";
import { createLogger } from "../../server/logger";
import { TEST_SECRET } from "./tokens";

export interface TestApp {
  app: App;
  config: Config;
  port: number;
  url: string;
  close(): Promise<void>;
}

const running = new Set<TestApp>();

export async function startApp(env: Record<string, string> = {}, deps: AppDeps = {}): Promise<TestApp> {
  const config = loadConfig({
    JWT_SECRET: TEST_SECRET,
    DEV_TOKENS: "1",
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    ...env,
  });
  const app = createApp(config, {
    logger: createLogger({ level: config.logLevel, nodeId: config.nodeId }),
    ...deps,
  });
  const port = await app.listen(0, "127.0.0.1");
  const testApp: TestApp = {
    app,
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      running.delete(testApp);
      await app.close();
    },
  };
  running.add(testApp);
  return testApp;
}

/** Closes every app a test file started; use in afterEach/afterAll. */
export async function stopAllApps(): Promise<void> {
  await Promise.all([...running].map((app) => app.close()));
}
