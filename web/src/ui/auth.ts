/**
 * Who the user is: a token kept in localStorage so a reload keeps the
 * identity, obtained either from the server's dev-token route with a name or
 * pasted by the user. A dev token that expires is replaced by a new one for
 * the same name; a pasted one cannot be, so the user is asked again.
 */

export interface StoredAuth {
  token: string;
  /** "dev": from POST /api/token with `name`; "pasted": given by the user. */
  kind: "dev" | "pasted";
  name?: string;
}

export interface AuthStore {
  load(): StoredAuth | undefined;
  save(auth: StoredAuth): void;
  clear(): void;
}

const KEY = "huddle.auth";

export function createAuthStore(storage: Storage): AuthStore {
  return {
    load() {
      try {
        const value = JSON.parse(storage.getItem(KEY) ?? "null") as Partial<StoredAuth> | null;
        if (!value || typeof value.token !== "string" || (value.kind !== "dev" && value.kind !== "pasted")) return;
        return { token: value.token, kind: value.kind, name: typeof value.name === "string" ? value.name : undefined };
      } catch {
        return undefined;
      }
    },
    save: (auth) => storage.setItem(KEY, JSON.stringify(auth)),
    clear: () => storage.removeItem(KEY),
  };
}

/** A sign-in problem worth showing as is. */
export class SignInError extends Error {
  override readonly name = "SignInError";
}

/** Asks the server for a dev token for `name`. */
export async function requestDevToken(baseUrl: string, name: string): Promise<StoredAuth> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
  } catch {
    throw new SignInError("Can't reach the server. Check your connection and try again.");
  }
  if (response.status === 404) {
    throw new SignInError("This server doesn't hand out tokens by name. Sign in with a token instead.");
  }
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
  if (!response.ok || typeof body.token !== "string") {
    throw new SignInError(body.error?.message ? `Sign-in refused: ${body.error.message}` : "Sign-in failed.");
  }
  return { token: body.token, kind: "dev", name };
}

/** The claims the UI reads from a token. */
export type Claims = { sub?: string; name?: string; exp?: number; role?: unknown };

/** The claims of a JWT, read without verifying (only the server can); undefined when it is not a JWT. */
export function readClaims(token: string): Claims | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(base64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    const claims = JSON.parse(json) as unknown;
    return claims && typeof claims === "object" ? (claims as Claims) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks a pasted token looks like a JWT before trying it. */
export function checkPastedToken(raw: string): string {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  if (token.split(".").length !== 3 || readClaims(token) === undefined) {
    throw new SignInError("That doesn't look like a token (a JWT has three parts separated by dots).");
  }
  return token;
}
