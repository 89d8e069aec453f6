/**
 * The browser entry point: decides between the sign-in screen and the chat,
 * and hands the chat a token source that renews an expired dev token.
 */
import type { TokenReason } from "@huddle/client";
import { createAuthStore, readClaims, requestDevToken, type StoredAuth } from "./ui/auth";
import { startChat, type ChatController } from "./ui/chat-controller";
import { roomFromHash } from "./ui/format";
import { createRoomPrefs } from "./ui/prefs";
import { showSignIn } from "./ui/signin-view";

const baseUrl = location.origin;
const authStore = createAuthStore(localStorage);
const prefs = createRoomPrefs(localStorage);
let chat: ChatController | undefined;

/** The token for the client: the stored one, or for a dev sign-in a new one when it has expired. */
async function getToken({ reason }: { reason: TokenReason }): Promise<string> {
  const auth = authStore.load();
  if (!auth) throw new Error("signed out");
  const expired = (readClaims(auth.token)?.exp ?? Infinity) * 1000 <= Date.now();
  if (reason === "initial" && !expired) return auth.token;
  if (auth.kind === "dev" && auth.name) {
    const fresh = await requestDevToken(baseUrl, auth.name);
    authStore.save(fresh);
    return fresh.token;
  }
  if (reason === "initial") return auth.token;
  throw new Error("the token is no longer accepted");
}

function enterChat(auth: StoredAuth, room: string | undefined) {
  authStore.save(auth);
  chat = startChat({
    baseUrl,
    getToken,
    prefs,
    initialRoom: room ?? roomFromHash(location.hash),
    moderator: readClaims(auth.token)?.role === "moderator",
    onSignOut: () => leaveChat(),
    onAuthLost: (message) => leaveChat(message),
  });
}

function leaveChat(message?: string) {
  chat?.dispose();
  chat = undefined;
  authStore.clear();
  if (!message) prefs.clear();
  void askSignIn(message);
}

async function askSignIn(message?: string) {
  const { auth, room } = await showSignIn({ baseUrl, message, room: roomFromHash(location.hash) });
  enterChat(auth, room);
}

const stored = authStore.load();
if (stored) enterChat(stored, undefined);
else void askSignIn();
