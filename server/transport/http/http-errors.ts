/** The HTTP face of errors (§5): `{ error: { code, message } }` with the status of the code. */
import type { NextFunction, Request, Response } from "express";
import { ErrorCode, HTTP_STATUS_OF } from "../../../shared";
import { AuthError, type Identity, type TokenVerifier } from "../../auth/tokens";
import { HuddleError, toWireError } from "../../errors";

export function sendError(res: Response, thrown: unknown): void {
  const error = toWireError(thrown);
  if (error.retryAfterMs !== undefined) res.setHeader("Retry-After", String(Math.ceil(error.retryAfterMs / 1000)));
  res.status(HTTP_STATUS_OF[error.code]).json({ error });
}

/** Express's last middleware: body-parser failures and anything thrown by a route. */
export function createErrorHandler(onError: (code: ErrorCode, thrown: unknown) => void) {
  return (thrown: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const type = (thrown as { type?: string } | null)?.type;
    if (type === "entity.too.large") {
      thrown = new HuddleError(ErrorCode.TooLarge, "request body is too large");
    } else if (type !== undefined && (thrown as { status?: number }).status === 400) {
      thrown = new HuddleError(ErrorCode.BadRequest, "request body is not valid JSON");
    }
    onError(toWireError(thrown).code, thrown);
    if (res.headersSent) return void res.end();
    sendError(res, thrown);
  };
}

/**
 * The identity of an HTTP request: `Authorization: Bearer`, or `?token=` where
 * the route allows it (SSE and long polling, for clients that cannot set headers).
 * @throws HuddleError unauthorized, with the §1 text of why.
 */
export function authenticate(req: Request, verifier: TokenVerifier, allowQueryToken: boolean): Identity {
  const header = req.headers.authorization;
  let token: unknown;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    token = match ? match[1] : "\u0000invalid";
  } else if (allowQueryToken) {
    token = typeof req.query.token === "string" ? req.query.token : undefined;
  }
  try {
    return verifier.verify(token);
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
