/**
 * What the r2 audit suites share: one real app per store the contract must hold on (memory, Redis,
 * PostgreSQL), people with sockets, and REST calls. An in-process test app uses memory stores unless it is given
 * others, so the Redis and PostgreSQL stores are built here as the process builds them
 * (server/store-factory.ts).
 */
import { loadConfig } from "../../server/config";
import { createLogger } from "../../server/logger";
import { createStores } from "../../server/store-factory";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { request as http } from "../helpers/http";
import { startPostgres, type TestPostgres } from "../helpers/postgres-server";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, TEST_SECRET, uniqueUserId } from "../helpers/tokens";
import { connectSession } from "./support";

/** Every store the contract holds on: memory (one node), Redis, and PostgreSQL (§10). */
export const BACKENDS = ["memory", "redis", "postgres"] as const;
export type Backend = (typeof BACKENDS)[number];

/** Budgets out of the way: the suites check the rules, not the limits (unless a test sets its own). */
export const GENEROUS = {
  RATE_BURST: "100000",
  RATE_PER_SEC: "100000",
  JOIN_RATE_BURST: "100000",
  JOIN_RATE_PER_SEC: "100000",
};

export interface AuditBackends {
  /** The shared app of each backend, started in `beforeAll`. */
  app(backend: Backend): TestApp;
  /** Another app on `backend` with its own settings (stopped with the others). */
  startOn(backend: Backend, env?: Record<string, string>): Promise<TestApp>;
  /** The environment that points a node at `backend` (for spawned nodes). */
  env(backend: Backend): Record<string, string>;
}

/** Registers beforeAll/afterAll that start Redis, PostgreSQL and one app per backend. */
export function useAuditBackends(): AuditBackends {
  let redis: TestRedis | undefined;
  let postgres: TestPostgres | undefined;
  let databaseUrl = "";
  let nodes = 0;
  const apps = new Map<Backend, TestApp>();

  const env = (backend: Backend): Record<string, string> =>
    backend === "redis" ? { REDIS_URL: redis!.url } : backend === "postgres" ? { DATABASE_URL: databaseUrl } : {};

  const startOn = async (backend: Backend, extra: Record<string, string> = {}) => {
    const full = { NODE_ID: `audit-${process.pid}-${++nodes}`, ...extra, ...env(backend) };
    if (backend === "memory") return startApp(full);
    const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: "silent", HOST: "127.0.0.1", ...full });
    const stores = await createStores(config, createLogger({ level: "silent", nodeId: config.nodeId }));
    return startApp(full, { stores });
  };

  beforeAll(async () => {
    redis = await startRedis();
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase();
    for (const backend of BACKENDS) apps.set(backend, await startOn(backend, GENEROUS));
  }, 60_000);
  afterAll(async () => {
    await stopAllApps();
    await redis?.stop();
    await postgres?.destroy();
  });

  return { app: (backend) => apps.get(backend)!, startOn, env };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A user with a Socket.IO connection to `app`. */
export async function person(app: TestApp, name = "P", claims: Record<string, unknown> = {}) {
  const token = signToken({ sub: uniqueUserId(name), name, ...claims });
  const { socket, session } = await connectSession(app.url, { token });
  return { socket, user: session.user as { id: string; name: string }, token };
}

/** A REST call to `app`'s /api with `token`. */
export function rest(app: TestApp, token: string, path: string, method = "GET", body?: unknown) {
  return http(`${app.url}/api${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });
}
