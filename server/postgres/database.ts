/**
 * PostgreSQL as the stores use it (§10): one `pg` pool, parameterised SQL
 * only, transactions on one checked-out client released in `finally`, and one
 * mapping of failures: a database that cannot be reached, a connection that
 * drops, or an answer slower than the query timeout become
 * `StoreUnavailableError` at once (callers answer `unavailable`), anything
 * else is a bug and passes through (`internal`). Readiness follows the last
 * outcome and a light probe, so `/readyz` turns 503 while the database is away
 * and back to 200 without a restart.
 */
import pg from "pg";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";

export type Row = Record<string, unknown>;

export interface DatabaseOptions {
  url: string;
  /** Connections in the pool. @default 10 */
  maxConnections?: number;
  /** How long to wait for a connection (from the pool or a new one). @default 2000 */
  connectTimeoutMs?: number;
  /** A query not answered within this is abandoned as `unavailable`. @default 5000 */
  queryTimeoutMs?: number;
  /** How often readiness is probed while the database is away (and once a while when it is up). @default 1000 */
  probeMs?: number;
  /** Shown by `pg_stat_activity`. */
  applicationName?: string;
}

export interface Database {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (query: Database["query"]) => Promise<T>): Promise<T>;
  /** A dedicated connection for work that holds session state (an advisory lock): released when `work` ends. */
  withClient<T>(work: (query: Database["query"]) => Promise<T>): Promise<T>;
  isReady(): boolean;
  close(): Promise<void>;
}

/** SQLSTATE classes and codes that mean "not now" rather than "wrong request". */
const TRANSIENT_STATE = /^(08|53|57P0|57014|40001|40P01|55P03|58)/;
const TRANSIENT_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"]);

/** True when `error` says the database is unreachable or busy, not that the request was wrong. */
export function isUnavailable(error: unknown): boolean {
  // Duck-typed: errors from Node's own sockets may come from another realm (a test runner's), failing instanceof.
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (TRANSIENT_STATE.test(code) || TRANSIENT_ERRNO.has(code))) return true;
  return (
    typeof message === "string" &&
    /Connection terminated|timeout exceeded|Client has encountered a connection error|not queryable|Connection ended/i.test(
      message,
    )
  );
}

/** The SQLSTATE of a unique violation, for callers that turn it into "already there". */
export const UNIQUE_VIOLATION = "23505";

export function createDatabase(options: DatabaseOptions, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    query_timeout: options.queryTimeoutMs ?? 5000,
    keepAlive: true,
    application_name: options.applicationName ?? "huddle",
  });
  let ready = false;
  let closed = false;
  let down = false;
  let probing = false;
  let probeTimer: NodeJS.Timeout | undefined;
  const outage = (error: unknown) => {
    ready = false;
    if (down) return;
    down = true;
    logger.warn({ err: error }, "postgresql unreachable; retrying");
    // The next probe may be a healthy-time one, seconds away: probe at the outage pace from now on, so `/readyz`
    // turns 200 again within about a second of the database's return (§10).
    if (!probing && !closed) {
      clearTimeout(probeTimer);
      loop();
    }
  };
  const back = () => {
    ready = true;
    if (!down) return;
    down = false;
    logger.info("postgresql back");
  };
  // An idle connection that dies (the server restarted) is reported here; without a listener it would throw.
  pool.on("error", (error) => outage(error));

  const mapped = (error: unknown): never => {
    if (error instanceof StoreUnavailableError) throw error;
    if (isUnavailable(error)) {
      outage(error);
      throw new StoreUnavailableError("storage is unavailable, try again", { cause: error });
    }
    throw error;
  };

  const query: Database["query"] = async <R extends Row>(sql: string, params: readonly unknown[] = []) => {
    try {
      const result = await pool.query<R>(sql, params as unknown[]);
      back();
      return result.rows;
    } catch (error) {
      return mapped(error);
    }
  };

  const onClient = async <T>(work: (run: Database["query"]) => Promise<T>, transactional: boolean): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      return mapped(error);
    }
    let broken: unknown;
    // The pool stops listening for a connection's errors while it is checked out, and a connection that drops
    // (the server killed) emits one even with a query running: unheard, it would end the process.
    const onError = (error: unknown) => {
      broken = error;
      outage(error);
    };
    client.on("error", onError);
    const run: Database["query"] = async <R extends Row>(sql: string, params: readonly unknown[] = []) => {
      try {
        return (await client.query<R>(sql, params as unknown[])).rows;
      } catch (error) {
        if (isUnavailable(error)) broken = error;
        throw error;
      }
    };
    try {
      if (transactional) await run("BEGIN");
      const value = await work(run);
      if (transactional) await run("COMMIT");
      back();
      return value;
    } catch (error) {
      if (transactional && !broken) await client.query("ROLLBACK").catch((e: unknown) => (broken = e));
      return mapped(error);
    } finally {
      // A connection that failed is destroyed rather than handed to the next caller.
      client.off("error", onError);
      client.release(broken === undefined ? undefined : true);
    }
  };

  const probe = async () => {
    try {
      await pool.query("SELECT 1");
      back();
    } catch (error) {
      outage(error);
    }
  };
  const runProbe = () => {
    probing = true;
    void probe().finally(() => {
      probing = false;
      if (!closed) loop();
    });
  };
  function loop() {
    probeTimer = setTimeout(runProbe, ready ? Math.max(options.probeMs ?? 1000, 5000) : (options.probeMs ?? 1000));
    probeTimer.unref();
  }
  runProbe();

  return {
    query,
    transaction: (work) => onClient(work, true),
    withClient: (work) => onClient(work, false),
    isReady: () => ready && !closed,
    async close() {
      closed = true;
      clearTimeout(probeTimer);
      await pool.end().catch(() => {});
    },
  };
}
