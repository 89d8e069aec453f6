/**
 * A real webhook receiver for the tests (§11): an HTTP server on a free port
 * that verifies every request's Standard Webhooks signature with the
 * `standardwebhooks` package, records what arrived (in order, with the
 * attempt's headers), and can be told how to answer: 2xx, an error status, a
 * redirect, nothing at all (hang), or be closed for a while. Each request's
 * path is kept, so nodes given different WEBHOOK_URLs (`?node=a`) can be told
 * apart, and answers can be made slow.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";
import type { Message } from "../../shared";

export const WEBHOOK_SECRET = `whsec_${Buffer.from("huddle-test-webhook-key-0123456789").toString("base64")}`;

export interface Delivery {
  id: string;
  timestamp: string;
  type: "message.created" | "message.updated";
  /** The body's timestamp (the change's time, ISO 8601). */
  at: string;
  data: Message;
  /** When the request arrived. */
  receivedAt: number;
  /** The answer it got. */
  status: number | "hang";
  /** Requests of this webhook id in flight when it arrived, itself included (2: two nodes at once). */
  concurrent: number;
  /** The request's path and query (`/hooks?node=a`): which WEBHOOK_URL it was sent to. */
  path: string;
}

export type Answer = number | "hang";

export interface Receiver {
  readonly url: string;
  /** Every verified request, in arrival order (retries included). */
  readonly requests: Delivery[];
  /** Requests whose signature did not verify (should stay empty). */
  readonly forged: string[];
  /** How to answer the next requests: a status (200 by default), or "hang" (never answer). */
  answer(how: Answer | ((delivery: Delivery) => Answer)): void;
  /** How long each answer (not a hang) takes, in ms (5 by default). */
  delay(ms: number): void;
  /** The requests answered 2xx, by webhook id, first of each. */
  delivered(): Delivery[];
  /** Most requests of one webhook id in flight at the same time (2 would mean two nodes at once). */
  maxConcurrent(): number;
  /** Stops listening (connections refused) until `reopen()`; a no-op when closed already. */
  close(): Promise<void>;
  /** Listens again on the same port; a no-op when open. */
  reopen(): Promise<void>;
  stop(): Promise<void>;
}

export async function startReceiver(secret = WEBHOOK_SECRET): Promise<Receiver> {
  const verifier = new Webhook(secret);
  const requests: Delivery[] = [];
  const forged: string[] = [];
  let how: Answer | ((delivery: Delivery) => Answer) = 200;
  let delayMs = 5;
  const inFlight = new Map<string, number>();
  let maxConcurrent = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = {
        "webhook-id": String(req.headers["webhook-id"]),
        "webhook-timestamp": String(req.headers["webhook-timestamp"]),
        "webhook-signature": String(req.headers["webhook-signature"]),
      };
      let payload: { type: Delivery["type"]; timestamp: string; data: Message };
      try {
        payload = verifier.verify(body, headers) as typeof payload;
      } catch {
        forged.push(body);
        res.writeHead(400).end();
        return;
      }
      const delivery: Delivery = {
        id: headers["webhook-id"],
        timestamp: headers["webhook-timestamp"],
        type: payload.type,
        at: payload.timestamp,
        data: payload.data,
        receivedAt: Date.now(),
        status: 200,
        concurrent: 1,
        path: req.url ?? "",
      };
      const answer = typeof how === "function" ? how(delivery) : how;
      delivery.status = answer;
      requests.push(delivery);
      const concurrent = (inFlight.get(delivery.id) ?? 0) + 1;
      inFlight.set(delivery.id, concurrent);
      delivery.concurrent = concurrent;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      const done = () => inFlight.set(delivery.id, (inFlight.get(delivery.id) ?? 1) - 1);
      if (answer === "hang") {
        hanging.add(res);
        res.on("close", () => {
          hanging.delete(res);
          done();
        });
        return;
      }
      // Slow enough that two nodes delivering the same event at once would overlap here.
      setTimeout(() => {
        done();
        if (answer >= 300 && answer < 400) res.writeHead(answer, { location: "http://127.0.0.1:1/elsewhere" }).end();
        else res.writeHead(answer).end();
      }, delayMs);
    });
  };

  let server: Server;
  let port = 0;
  let listening = false;
  // Both are no-ops when already done: a test's cleanup may reopen a receiver that is open.
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (listening) return resolve();
      listening = true;
      server = createServer(handle);
      server.once("error", reject);
      server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      for (const res of hanging) res.destroy();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}/hooks`;
    },
    requests,
    forged,
    answer(next) {
      how = next;
    },
    delay(ms) {
      delayMs = ms;
    },
    delivered() {
      const seen = new Set<string>();
      return requests.filter(
        (r) => typeof r.status === "number" && r.status >= 200 && r.status < 300 && !seen.has(r.id) && seen.add(r.id),
      );
    },
    maxConcurrent: () => maxConcurrent,
    close: shut,
    reopen: listen,
    stop: shut,
  };
}
