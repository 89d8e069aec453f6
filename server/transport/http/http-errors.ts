/** The HTTP face of errors (§5): `{ error: { code, message } }` with the status of the code. */
import type { NextFunction, Request, Response } from "express";
import { ErrorCode, HTTP_STATUS_OF } from "../../../shared";
import { AuthError, type Identity, type TokenVerifier } from "../../auth/tokens";
import { HuddleError, toWireError } from "../../errors";

export function sendError(res: Response, thrown: unknown): void {
  const error = toWireError(thrown);
  if (error.retryAfterMs !== undefined) res.setHeader("Retry-After", String(Math.ceil(error.retryAfterMs / 1000)));
  // RFC 6750: a 401 names the scheme it wants.
  if (error.code === ErrorCode.Unauthorized) res.setHeader("WWW-Authenticate", 'Bearer realm="huddle"');
  res.status(HTTP_STATUS_OF[error.code]).json({ error });
}

/** Express's last middleware: body-parser failures and anything thrown by a route. */
export function createErrorHandler(onError: (code: ErrorCode, thrown: unknown) => void) {
  return (thrown: unknown, _req: Request, res: Response, _next: NextFunction) => {
    thrown = fromHttpLayer(thrown);
    onError(toWireError(thrown).code, thrown);
    if (res.headersSent) return void res.end();
    sendError(res, thrown);
  };
}

/**
 * Errors raised below the routes (body-parser, a path that cannot be decoded)
 * carry a 4xx `status`: they are the client's mistake, not `internal`.
 */
function fromHttpLayer(thrown: unknown): unknown {
  if (thrown instanceof HuddleError || typeof thrown !== "object" || thrown === null) return thrown;
  const { type, status, statusCode } = thrown as { type?: unknown; status?: unknown; statusCode?: unknown };
  const httpStatus = typeof status === "number" ? status : typeof statusCode === "number" ? statusCode : undefined;
  if (type === "entity.too.large" || httpStatus === 413) {
    return new HuddleError(ErrorCode.TooLarge, "request body is too large");
  }
  if (type === "entity.parse.failed") return new HuddleError(ErrorCode.BadRequest, "request body is not valid JSON");
  if (httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500) {
    // body-parser's and the router's own messages describe the request, never the server.
    const message = thrown instanceof Error && thrown.message ? thrown.message : "bad request";
    return new HuddleError(ErrorCode.BadRequest, message.slice(0, 200));
  }
  return thrown;
}

/**
 * The identity of an HTTP request: `Authorization: Bearer`, or `?token=` where
 * the route allows it (SSE and long polling, for clients that cannot set headers).
 * @throws HuddleError unauthorized, with the §1 text of why; unavailable when the identity provider's keys
 * cannot be fetched.
 */
export async function authenticate(req: Request, verifier: TokenVerifier, allowQueryToken: boolean): Promise<Identity> {
  const header = req.headers.authorization;
  let token: unknown;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    token = match ? match[1] : "\u0000invalid";
  } else if (allowQueryToken) {
    token = typeof req.query.token === "string" ? req.query.token : undefined;
  }
  try {
    return await verifier.verify(token);
  } catch (error) {
    if (error instanceof AuthError) throw new HuddleError(ErrorCode.Unauthorized, error.message);
    throw error;
  }
}

/** One string query parameter; a repeated one is refused rather than guessed at. */
export function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new HuddleError(ErrorCode.BadRequest, `${name} must be given once`);
  return value;
}
