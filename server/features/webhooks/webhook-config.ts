/**
 * The webhook settings of the configuration (§7, §11): `WEBHOOK_URL` and
 * `WEBHOOK_SECRET` together, and the delivery timings. `loadConfig` calls
 * this; problems are collected, never thrown, and never quote the secret.
 */
import { Webhook } from "standardwebhooks";
import type { ConfigReader } from "../../auth/jwt-config";
import { hidePassword } from "../../logger";

export interface WebhookConfig {
  readonly url: string;
  /** `whsec_` and the base64 key. */
  readonly secret: string;
  readonly timeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryForMs: number;
}

export function readWebhookConfig(
  env: Pick<ConfigReader, "read" | "integer">,
  problems: string[],
  warnings: string[],
): WebhookConfig | undefined {
  const url = env.read("WEBHOOK_URL");
  const secret = env.read("WEBHOOK_SECRET");
  if (url !== undefined && !isHttpUrl(url)) {
    // Credentials in the URL are not echoed (the line lands in logs).
    const shown = hidePassword(url);
    problems.push(`WEBHOOK_URL must be an http:// or https:// URL (got ${JSON.stringify(shown)})`);
  }
  if (secret !== undefined) {
    // §11 asks for `whsec_` and base64 key bytes, no length: a short key works (signed and verified alike), and
    // earns a warning rather than a refusal.
    const key = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret)?.[1];
    if (key === undefined || !signerAccepts(secret)) {
      problems.push("WEBHOOK_SECRET must be whsec_ followed by a base64 key");
    } else if (Buffer.from(key, "base64").length < 12) {
      warnings.push("WEBHOOK_SECRET's key is shorter than 12 bytes: use a longer random key");
    }
  }
  if ((url === undefined) !== (secret === undefined)) {
    problems.push("WEBHOOK_URL and WEBHOOK_SECRET go together: set both, or neither");
  }
  if (url === undefined || secret === undefined) return undefined;
  return Object.freeze({
    url,
    secret,
    timeoutMs: env.integer("WEBHOOK_TIMEOUT_MS", 10_000, 100, 60_000),
    retryBaseMs: env.integer("WEBHOOK_RETRY_BASE_MS", 5000, 10, 10_000),
    retryForMs: env.integer("WEBHOOK_RETRY_FOR_MS", 86_400_000, 1000, 30 * 86_400_000),
  });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** What the signer accepts (it refuses, say, base64 with broken padding). */
function signerAccepts(secret: string): boolean {
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}
