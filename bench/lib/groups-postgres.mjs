/**
 * Bench groups for PostgreSQL (issue 13) and webhooks (issue 14): merged into sessions.mjs (SESSIONS, GROUPS)
 * and report.mjs (SHOWN, TARGETS).
 *
 * - pg-rooms, redis-pg-rooms: the chat rooms on one node + PostgreSQL, and on two nodes + Redis + PostgreSQL.
 *   Bare Socket.IO stores nothing, so it runs without a database (with its Redis adapter on two nodes): the
 *   ratio is the whole price of durability. PostgreSQL's CPU per message is reported beside the node's.
 * - pg-durable: Huddle only, a closed loop (each sender keeps k sends in flight) at a few k: the most acked
 *   messages/s one node commits into PostgreSQL; "pg-durable" shows the best k of the round, and each k's rate
 *   and ack latency as rows of its own (not "-at-" scenarios, which would inherit the ≥ 3,000/s target).
 * - pg-webhooks: Huddle only, the chat rooms on two nodes of one PostgreSQL server, each with its own database,
 *   one with webhooks to a receiver in the bench process and one without, run one after the other in the same
 *   round: the on/off ratios and the delivery lag.
 */
import { readFileSync } from "node:fs";
import { startRedis } from "./processes.mjs";
import { startPostgres } from "./postgres.mjs";
import { roomsScenario } from "./scenarios.mjs";
import { DURABLE_IN_FLIGHT, durableScenario, webhooksScenario } from "./scenarios-postgres.mjs";
import { startWebhookReceiver } from "./webhook-receiver.mjs";
import { CHAT_ROOMS_CORE } from "./metric-lists.mjs";

/**
 * Nanoseconds the processes have waited on a run queue for a CPU so far (/proc/<pid>/schedstat, second field):
 * on a shared machine, the share of the window a node was runnable but not running explains latencies that
 * its own CPU time does not.
 */
function runQueueWaitMs(pids) {
  let ns = 0;
  for (const pid of pids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]);
    } catch {
      // gone, or no schedstat here
    }
  }
  return ns / 1e6;
}

const round = (x, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

/**
 * The hooks runPhase calls around its window (see scenarios.mjs): PostgreSQL's CPU over it, per message sent;
 * with a receiver and `expectWebhooks`, it first waits for every acked message's event, so that the node's and
 * PostgreSQL's CPU include the webhook work that follows the deliveries.
 */
function phaseHooks(pg, receiver) {
  return {
    /** Set by the webhooks scenario on env.backing (the object these are spread into, hence `this`). */
    expectWebhooks: false,
    phaseStart: async ({ phaseId, nodes }) => {
      const pids = nodes.map((n) => n.pid);
      const counters0 = await pg.counters();
      return { phaseId, pids, counters0, wait0: runQueueWaitMs(pids), pg0: pg.cpuMs(), t0: Date.now() };
    },
    async phaseEnd({ phaseId, pids, counters0, wait0, pg0, t0 }, { sent, acked, opts }) {
      let webhooks = {};
      if (receiver && this.expectWebhooks) {
        const received = await receiver.until(phaseId, acked, opts.quietMs);
        const phase = receiver.phase(phaseId);
        webhooks = {
          webhookEvents: received,
          webhookMissing: acked - received,
          webhookDuplicates: phase.duplicates,
          webhookLagP50Ms: round(phase.lag.quantileMs(0.5)),
          webhookLagP99Ms: round(phase.lag.quantileMs(0.99)),
          webhookBadSignatures: receiver.totals.badSignatures,
        };
      }
      const pgMs = pg.cpuMs() - pg0;
      const waitMs = runQueueWaitMs(pids) - wait0;
      const counters = await pg.counters();
      const xacts = counters.xid - counters0.xid;
      return {
        ...webhooks,
        // Write transactions: one per group commit, plus the webhook outbox's claims and deletes.
        pgXactsPerMessage: sent ? round(xacts / sent, 3) : null,
        messagesPerXact: xacts ? round(acked / xacts, 1) : null,
        pgWalBytesPerMessage: sent ? round((counters.walBytes - counters0.walBytes) / sent, 0) : null,
        pgCpuUsPerMessage: sent ? round((pgMs * 1000) / sent, 1) : null,
        pgCpuCores: round(pgMs / (Date.now() - t0)),
        // Per node: the share of the window each node spent runnable but waiting for a CPU.
        nodeRunQueueWait: round(waitMs / pids.length / (Date.now() - t0), 3),
      };
    },
  };
}

export const SESSIONS = {
  postgres: {
    nodes: 1,
    async backing(target) {
      // Bare Socket.IO does not store: no database for it.
      if (target === "bare") return { nodeOptions: {}, stop: async () => {} };
      const pg = await startPostgres();
      return {
        postgres: pg,
        nodeOptions: { env: () => ({ DATABASE_URL: pg.url }) },
        ...phaseHooks(pg),
        stop: () => pg.stop(),
      };
    },
  },
  "redis-postgres": {
    nodes: 2,
    async backing(target) {
      const redis = await startRedis();
      if (target === "bare") return { redis, nodeOptions: { redisUrl: redis.url }, stop: () => redis.stop() };
      const pg = await startPostgres().catch(async (error) => {
        await redis.stop();
        throw error;
      });
      return {
        redis,
        postgres: pg,
        nodeOptions: { redisUrl: redis.url, env: () => ({ DATABASE_URL: pg.url }) },
        ...phaseHooks(pg),
        stop: async () => {
          await pg.stop();
          await redis.stop();
        },
      };
    },
  },
  "postgres-webhooks": {
    // Node 0: webhooks off; node 1: on. Separate databases: the off node's messages must not reach the outbox.
    nodes: 2,
    async backing() {
      const pg = await startPostgres();
      let receiver;
      let off;
      let on;
      try {
        receiver = await startWebhookReceiver();
        off = pg.createDatabase("hooks_off");
        on = pg.createDatabase("hooks_on");
      } catch (error) {
        await receiver?.close();
        await pg.stop();
        throw error;
      }
      const webhookEnv = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: receiver.secret };
      return {
        postgres: pg,
        receiver,
        nodeOptions: { env: (i) => (i === 0 ? { DATABASE_URL: off } : { DATABASE_URL: on, ...webhookEnv }) },
        ...phaseHooks(pg, receiver),
        stop: async () => {
          await receiver.close();
          await pg.stop();
        },
      };
    },
  },
};

export const GROUPS = {
  "pg-rooms": { session: "postgres", scenarios: ["pg-rooms"], run: (ctx, env) => roomsScenario(ctx, env, "pg-") },
  "pg-durable": {
    session: "postgres",
    scenarios: ["pg-durable"],
    targets: ["huddle"],
    run: (ctx, env) => durableScenario(ctx, env),
  },
  "redis-pg-rooms": {
    session: "redis-postgres",
    scenarios: ["redis-pg-rooms"],
    run: (ctx, env) => roomsScenario(ctx, env, "redis-pg-"),
  },
  "pg-webhooks": {
    session: "postgres-webhooks",
    scenarios: ["pg-webhooks"],
    targets: ["huddle"],
    run: (ctx, env) => webhooksScenario(ctx, env),
  },
};

const ROOMS_SHOWN = [
  ...CHAT_ROOMS_CORE,
  ["redisCpuUsPerDelivery", "redis-server CPU per delivery (µs)"],
  ["pgCpuUsPerMessage", "PostgreSQL CPU per message (µs)", "huddle"],
  ["pgCpuCores", "PostgreSQL CPU (cores)", "huddle"],
  ["pgXactsPerMessage", "PostgreSQL write transactions per message", "huddle"],
  ["pgWalBytesPerMessage", "WAL bytes per message", "huddle"],
  ["nodeRunQueueWait", "node time waiting for a CPU (share of the window)", "huddle"],
];

export const SHOWN = {
  "pg-rooms": ROOMS_SHOWN,
  "pg-durable": [
    ["inFlight", "sends in flight (all senders)"],
    ["ackedPerSec", "acked messages/s"],
    ["ackP50Ms", "ack p50 (ms)"],
    ["ackP99Ms", "ack p99 (ms)"],
    ["sendErrors", "send errors", "zero"],
    ["lost", "deliveries lost", "zero"],
    ["cpuUsPerMessage", "node CPU per message (µs)"],
    ["serverCpuCores", "node CPU (cores)"],
    ["pgCpuUsPerMessage", "PostgreSQL CPU per message (µs)"],
    ["pgCpuCores", "PostgreSQL CPU (cores)"],
    ["messagesPerXact", "messages per write transaction (group commit)"],
    ["pgWalBytesPerMessage", "WAL bytes per message"],
    ["loaderCpuCores", "load generators' CPU (cores)"],
    ["nodeRunQueueWait", "node time waiting for a CPU (share of the window)"],
    ...DURABLE_IN_FLIGHT.flatMap((k) => [
      [`ackedPerSecK${k}`, `acked messages/s, ${k} in flight per sender`],
      [`ackP50MsK${k}`, `ack p50, ${k} in flight per sender (ms)`],
      [`ackP99MsK${k}`, `ack p99, ${k} in flight per sender (ms)`],
    ]),
  ],
  "pg-webhooks": [
    ["messagesSent", "messages sent"],
    ["webhookEvents", "webhook events received"],
    ["webhookMissing", "events missing (acked, not received)", "zero"],
    ["webhookDuplicates", "events received twice", "zero"],
    ["webhookBadSignatures", "bad signatures (1 in 50 checked)", "zero"],
    ["lost", "deliveries lost", "zero"],
    ["sendErrors", "send errors", "zero"],
    ["webhookLagP50Ms", "delivery lag p50, receipt − ts (ms)"],
    ["webhookLagP99Ms", "delivery lag p99, receipt − ts (ms)"],
    ["offAckP50Ms", "ack p50, webhooks off (ms)"],
    ["ackP50Ms", "ack p50, webhooks on (ms)"],
    ["ackP50Ratio", "ack p50 on/off"],
    ["offAckP99Ms", "ack p99, webhooks off (ms)"],
    ["ackP99Ms", "ack p99, webhooks on (ms)"],
    ["ackP99Ratio", "ack p99 on/off"],
    ["offCpuUsPerDelivery", "node CPU per delivery, webhooks off (µs)"],
    ["cpuUsPerDelivery", "node CPU per delivery, webhooks on (µs)"],
    ["cpuPerDeliveryRatio", "node CPU per delivery on/off"],
    ["offPgCpuUsPerMessage", "PostgreSQL CPU per message, webhooks off (µs)"],
    ["pgCpuUsPerMessage", "PostgreSQL CPU per message, webhooks on (µs)"],
    ["offPgXactsPerMessage", "PostgreSQL write transactions per message, webhooks off"],
    ["pgXactsPerMessage", "PostgreSQL write transactions per message, webhooks on"],
    ["offPgWalBytesPerMessage", "WAL bytes per message, webhooks off"],
    ["pgWalBytesPerMessage", "WAL bytes per message, webhooks on"],
  ],
};

// Issue 13's chat-rooms targets, for one node and for two.
const ROOMS_TARGETS = {
  cpuUsPerDelivery: { text: "≤ 1.3×", check: (h, b) => h <= b * 1.3 },
  ackP50Ms: { text: "≤ 3 ms", absolute: true, check: (h) => h <= 3 },
  ackP99Ms: { text: "≤ 25 ms", absolute: true, check: (h) => h <= 25 },
};
const WITHIN_10 = { text: "≤ 1.10", absolute: true, check: (h) => h <= 1.1 };

export const TARGETS = {
  "pg-rooms": ROOMS_TARGETS,
  "redis-pg-rooms": ROOMS_TARGETS,
  "pg-durable": { ackedPerSec: { text: "≥ 3,000/s", absolute: true, check: (h) => h >= 3000 } },
  "pg-webhooks": { ackP50Ratio: WITHIN_10, ackP99Ratio: WITHIN_10, cpuPerDeliveryRatio: WITHIN_10 },
};
