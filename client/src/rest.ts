/**
 * One call to the REST API (§5) with the client's bearer token, and every
 * outcome turned into the answer's JSON body or a HuddleClientError: the REST
 * twin of `request.ts`, so an app switches on the same `code` whether a call
 * went over the socket or over HTTP. Used for what the socket does not carry
 * (moderation, §11).
 */
import { ErrorCode, type ErrorCode as WireCode } from "../../shared/protocol";
import { HuddleClientError } from "./errors";
import { describeError } from "./request";

export type RestMethod = "GET" | "POST" | "DELETE";

export type RestRequest = <T>(method: RestMethod, path: string, body?: unknown) => Promise<T>;

export interface RestOptions {
  /** The server's origin (with any path prefix it is served under). */
  url: string;
  /** The token to send: the one the socket uses. */
  token(): Promise<string>;
  timeoutMs: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The code of an HTTP status, for an answer without the protocol's error body (a proxy's 502 page, say). */
function codeOfStatus(status: number): WireCode {
  if (status === 400) return "bad_request";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 413) return "too_large";
  if (status === 429) return "rate_limited";
  if (status === 502 || status === 503 || status === 504) return "unavailable";
  return "internal";
}

/** The protocol's `{ error: { code, message, retryAfterMs? } }` body, else what the status says. */
export function errorFromResponse(status: number, body: unknown, retryAfterHeader: string | null): HuddleClientError {
  const wire = (body as { error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown } } | null)?.error;
  const code = typeof wire?.code === "string" && CODES.has(wire.code) ? (wire.code as WireCode) : codeOfStatus(status);
  const message = typeof wire?.message === "string" ? wire.message : `HTTP ${status}`;
  // The body's milliseconds are exact; `Retry-After` (whole seconds) is what a proxy in between may leave.
  const seconds = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : undefined;
  const retryAfterMs =
    typeof wire?.retryAfterMs === "number" ? wire.retryAfterMs : seconds !== undefined ? seconds * 1000 : undefined;
  return new HuddleClientError(code, message, code === "rate_limited" ? { retryAfterMs } : {});
}

export function createRest(options: RestOptions): RestRequest {
  const base = options.url.replace(/\/+$/, "");
  return async function rest<T>(method: RestMethod, path: string, body?: unknown): Promise<T> {
    const token = await options.token();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
        throw new HuddleClientError("timeout", `no answer to ${method} ${path} within ${options.timeoutMs} ms`);
      }
      // Like a dropped socket: the same call may work once the network is back.
      throw new HuddleClientError("disconnected", `could not reach the server: ${describeError(error)}`);
    }
    const text = await response.text().catch(() => "");
    let parsed: unknown = undefined;
    try {
      parsed = text === "" ? {} : JSON.parse(text);
    } catch {
      // Not JSON (an HTML error page from a proxy): the status decides below.
    }
    if (!response.ok) throw errorFromResponse(response.status, parsed, response.headers.get("retry-after"));
    if (parsed === undefined) throw new HuddleClientError("internal", `${method} ${path} answered something not JSON`);
    return parsed as T;
  };
}
