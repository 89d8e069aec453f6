/**
 * Refusals answered below Express (the Socket.IO engine, upgrades, and streams while draining), each with the §5
 * error body `{ "error": { code, message } }` that every other HTTP error carries.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

const REASONS: Readonly<Record<number, string>> = {
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  503: "Service Unavailable",
};

/**
 * Refuses an upgrade with a plain HTTP answer whose body is the §5 error, `{ "error": { code, message } }`, as
 * every other HTTP error is: a client that reads the refused handshake sees why.
 */
export function endUpgrade(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ error: { code, message } });
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}`,
    "Content-Type: application/json; charset=utf-8",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    "Connection: close",
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

export function refuseRequest(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ error: { code: status === 403 ? "forbidden" : "unavailable", message } }));
}

/**
 * A stream or poll that reaches a draining node. A poll is answered 503 and polls again elsewhere. An SSE request
 * is not: `EventSource` gives up for good on any answer but a 200 event stream, so it gets an empty stream that
 * ends at once, asking for a reconnection after a second, which the balancer sends to another node.
 */
export function refuseStream(req: IncomingMessage, res: ServerResponse) {
  if (!/\/events\/?(\?|$)/i.test(req.url ?? "")) return refuseRequest(res, 503, "server is shutting down");
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    Connection: "close",
  });
  res.end("retry: 1000\n: server is shutting down\n\n");
}
