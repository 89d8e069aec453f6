/**
 * One HTTP(S) request for the tests: node:http rather than fetch, so a test
 * can set any header (Origin, Host, Last-Event-ID), send from a chosen
 * loopback address (nginx hashes it), trust a test CA, and read the status of
 * anything the server answers, refused upgrades included.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: any;
  /** The body parsed as JSON; throws when it is not. */
  json(): any;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
  /** For https:// URLs: the CA to trust. */
  ca?: string;
  /** The local address to send from (any 127.x.y.z works on Linux loopback). */
  localAddress?: string;
  timeoutMs?: number;
}

/** One request to `url` (absolute), resolving with the whole answer. */
export function request(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const { method = "GET", headers = {}, body, ca, localAddress, timeoutMs = 5000 } = options;
  let payload: Buffer | undefined;
  const sendHeaders: Record<string, string> = { ...headers };
  if (typeof body === "string" || Buffer.isBuffer(body)) payload = Buffer.from(body);
  else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    sendHeaders["content-type"] ??= "application/json";
  }
  if (payload) sendHeaders["content-length"] = String(payload.length);
  const send = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers: sendHeaders, ca, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          body: parsed,
          json: () => JSON.parse(text),
        });
      });
      res.on("error", reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${method} ${url}`));
    }, timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}
