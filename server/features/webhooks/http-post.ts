/**
 * POSTs of webhook events to one receiver over kept-alive connections
 * (`node:http`/`node:https` with an Agent). The built-in `fetch` cost about as
 * much node CPU per event as the message itself (its streams, and an abort
 * signal per request); here a request is a socket write and a timer.
 * Redirects are not followed (a 3xx is a failed attempt, §11). A request on a
 * reused connection that the receiver had just closed (ECONNRESET before any
 * answer) is sent once more at once, as Node's documentation advises.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** An attempt's outcome: the status (0 when there was no answer) and why, when there was none. */
export interface PostOutcome {
  status: number;
  error?: string;
}

export interface Poster {
  post(headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostOutcome>;
  /** Gives up the requests in flight (they answer "given up") and closes the kept connections. */
  close(): void;
}

const GIVEN_UP = "given up: this node is stopping";

export function createPoster(url: string): Poster {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = secure ? httpsRequest : httpRequest;
  const inFlight = new Set<ClientRequest>();
  let closed = false;

  const once = (headers: Record<string, string>, body: string, timeoutMs: number, retried: boolean) =>
    new Promise<PostOutcome>((resolve) => {
      if (closed) return resolve({ status: 0, error: GIVEN_UP });
      let settled = false;
      const finish = (outcome: PostOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        inFlight.delete(req);
        resolve(outcome);
      };
      const req = send(
        target,
        { method: "POST", agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } },
        (res) => {
          res.on("error", (error) => finish({ status: 0, error: error.message }));
          res.on("end", () => finish({ status: res.statusCode ?? 0 }));
          res.resume();
        },
      );
      const timer = setTimeout(() => {
        finish({ status: 0, error: `no answer within ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      req.on("error", (error: NodeJS.ErrnoException) => {
        if (settled) return;
        if (!retried && !closed && req.reusedSocket && error.code === "ECONNRESET") {
          settled = true;
          clearTimeout(timer);
          inFlight.delete(req);
          return void once(headers, body, timeoutMs, true).then(resolve);
        }
        finish({ status: 0, error: closed ? GIVEN_UP : error.message });
      });
      inFlight.add(req);
      req.end(body);
    });

  return {
    post: (headers, body, timeoutMs) => once(headers, body, timeoutMs, false),
    close() {
      closed = true;
      for (const req of inFlight) req.destroy(new Error(GIVEN_UP));
      agent.destroy();
    },
  };
}
