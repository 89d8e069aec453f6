/**
 * The process entry point: the only file that reads `process.env`, handles
 * signals and listens. Everything it needs it passes down.
 */
import { loadConfig, ConfigError } from "./config";
import { createApp } from "./app";
import { createLogger } from "./logger";
import { createStores } from "./store-factory";

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`huddle: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, nodeId: config.nodeId });
  for (const warning of config.warnings) logger.warn(warning);
  if (config.jwt.ephemeral) {
    logger.warn(
      "no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL: using a random secret for this process and enabling dev tokens (POST /api/token); set one for production",
    );
  }
  const stores = await createStores(config, logger);
  const app = createApp(config, { logger, stores });
  const port = await app.listen();
  logger.info(
    {
      port,
      host: config.host,
      redis: config.redisClusterNodes ? "cluster" : Boolean(config.redisUrl),
      postgres: Boolean(config.databaseUrl),
      internalPort: app.internalPort,
      devTokens: config.devTokens,
      tls: Boolean(config.tls),
    },
    `huddle listening on ${config.tls ? "https" : "http"}://localhost:${port}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "draining");
    // Exit within 10 s whatever happens.
    setTimeout(() => process.exit(1), 10_000).unref();
    app.close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error) => {
  process.stderr.write(`huddle: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
