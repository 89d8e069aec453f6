import { ConfigError, loadConfig, type Env } from "../../server/config";

/** The ConfigError `env` causes; fails when the configuration is accepted. */
export function refusal(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}
