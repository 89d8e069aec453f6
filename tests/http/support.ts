/**
 * Helpers of the §5 tests: plain HTTP (../helpers/http.ts), bearer headers,
 * and publishing over REST.
 */
import type { Message } from "../../shared";

import { request as http, type HttpAnswer as HttpResponse, type HttpOptions as RequestOptions } from "../helpers/http";

export { http, type HttpResponse, type RequestOptions };

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
