/**
 * A webhook receiver for the bench (issue 14): an HTTP server in the bench
 * process that answers every POST with 204 at once (a fast receiver, so the
 * figures are Huddle's, not the receiver's) and records, per phase, when each
 * `message.created` event arrived. The phase is the first field of the
 * message text the load generators send (`phase|loader|seq|sendTime`), and
 * the lag is the arrival time minus the message's `ts` (the server's clock,
 * the same machine's). Signatures are checked on a sample: enough to show the
 * secret is the one the server signs with, without making the receiver slow.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Histogram } from "./stats.mjs";

// standardwebhooks is one of the server's packages: resolved from the repository's node_modules.
const require = createRequire(fileURLToPath(new URL("../../package.json", import.meta.url)));
const { Webhook } = require("standardwebhooks");

/** One signature in this many is verified. */
const VERIFY_EVERY = 50;

/** Starts the receiver on 127.0.0.1; resolves to { url, secret, phase(id), close() }. */
export async function startWebhookReceiver() {
  // whsec_ and the base64 of 32 random bytes, as an operator would generate it.
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const verifier = new Webhook(secret);
  /** Phase id → { ids: Set, lag: Histogram, duplicates, lastArrival }. */
  const phases = new Map();
  const totals = { requests: 0, badSignatures: 0, verified: 0, other: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const arrived = Date.now();
      res.writeHead(204).end();
      totals.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      if (totals.requests % VERIFY_EVERY === 1) {
        try {
          verifier.verify(body, req.headers);
          totals.verified++;
        } catch {
          totals.badSignatures++;
        }
      }
      let event;
      try {
        event = JSON.parse(body);
      } catch {
        totals.other++;
        return;
      }
      const phaseId = Number(String(event?.data?.text ?? "").split("|")[0]);
      if (event?.type !== "message.created" || !Number.isFinite(phaseId)) {
        totals.other++;
        return;
      }
      let phase = phases.get(phaseId);
      if (!phase) phases.set(phaseId, (phase = { ids: new Set(), lag: new Histogram(), duplicates: 0 }));
      // At least once: a retry repeats the webhook-id; count it once.
      const id = req.headers["webhook-id"];
      if (phase.ids.has(id)) {
        phase.duplicates++;
        return;
      }
      phase.ids.add(id);
      phase.lag.record(Math.max(0, arrived - Number(event.data.ts)) * 1000);
      phase.lastArrival = arrived;
    });
  });
  // Keep-alive connections from the dispatcher's fetch: do not time them out between bursts.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/hooks/huddle`,
    secret,
    totals,
    /** What arrived for phase `id` so far. */
    phase: (id) => phases.get(id) ?? { ids: new Set(), lag: new Histogram(), duplicates: 0 },
    /**
     * Waits until `expected` events of phase `id` arrived, or none arrived for `quietMs`; returns the count.
     */
    async until(id, expected, quietMs) {
      let last = -1;
      let since = Date.now();
      for (;;) {
        const count = phases.get(id)?.ids.size ?? 0;
        if (count >= expected) return count;
        if (count !== last) [last, since] = [count, Date.now()];
        if (Date.now() - since > quietMs) return count;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
