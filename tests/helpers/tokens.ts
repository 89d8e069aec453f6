/** Tokens for tests, signed with the secret every test server is configured with. */
import jwt from "jsonwebtoken";

export const TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";

let counter = 0;
/** A unique user id per call, so tests never share users by accident. */
export const uniqueUserId = (prefix = "user") =>
  `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

/** Signs an HS256 token; `sub` defaults to a fresh user id, `exp` to none. */
export function signToken(claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}): string {
  return jwt.sign({ sub: uniqueUserId(), ...claims }, TEST_SECRET, { algorithm: "HS256", ...options });
}
