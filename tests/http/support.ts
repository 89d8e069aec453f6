/**
 * Plain HTTP for the §5 tests: node:http rather than fetch, so a test can set
 * any header (Origin, Host, Last-Event-ID) and read the status of anything the
 * server answers, the refused upgrades included.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { Message } from "../../shared";

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
  timeoutMs?: number;
}

/** One request to `url` (absolute), resolving with the whole answer. */
export function http(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const { method = "GET", headers = {}, body, timeoutMs = 5000 } = options;
  let payload: Buffer | undefined;
  const sendHeaders: Record<string, string> = { ...headers };
  if (typeof body === "string" || Buffer.isBuffer(body)) payload = Buffer.from(body);
  else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    sendHeaders["content-type"] ??= "application/json";
  }
  if (payload) sendHeaders["content-length"] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: sendHeaders, agent: false }, (res) => {
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
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
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

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Publishes over REST and returns the stored message (fails the test on anything but 201/200). */
export async function publish(
  base: string,
  token: string,
  roomId: string,
  text: string,
  clientMsgId?: string,
): Promise<Message> {
  const res = await http(`${base}/api/rooms/${roomId}/messages`, {
    method: "POST",
    headers: bearer(token),
    body: clientMsgId === undefined ? { text } : { text, clientMsgId },
  });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`publishing to ${roomId} answered ${res.status} ${res.text}`);
  }
  return res.body.message as Message;
}

/** Publishes `count` messages "m1".."m<count>" in order. */
export async function publishMany(base: string, token: string, roomId: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let i = 1; i <= count; i++) messages.push(await publish(base, token, roomId, `m${i}`));
  return messages;
}

let rooms = 0;
/** A room id no other test uses. */
export const uniqueRoom = (prefix = "room") => `${prefix}-${process.pid}-${++rooms}`;

/** Expects an error answer of §5: the status of the code and `{ error: { code, message } }`. */
export function expectError(res: HttpResponse, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
}
