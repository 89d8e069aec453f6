/**
 * The sign-in screen: a name (the server hands out a dev token) or a pasted
 * token, plus the room to go to. Resolves once it has a usable token.
 */
import { checkPastedToken, requestDevToken, SignInError, type StoredAuth } from "./auth";
import { byId } from "./dom";
import { isRoomId } from "./format";

export interface SignInResult {
  auth: StoredAuth;
  room?: string;
}

export function showSignIn(options: { baseUrl: string; message?: string; room?: string }): Promise<SignInResult> {
  const root = byId("signin");
  const nameForm = byId<HTMLFormElement>("name-form");
  const nameInput = byId<HTMLInputElement>("name-input");
  const roomInput = byId<HTMLInputElement>("signin-room-input");
  const tokenForm = byId<HTMLFormElement>("token-form");
  const tokenInput = byId<HTMLTextAreaElement>("token-input");
  const error = byId("signin-error");
  const abort = new AbortController();

  error.textContent = options.message ?? "";
  roomInput.value = options.room ?? roomInput.value;
  root.hidden = false;
  nameInput.focus();

  const readRoom = (): string | undefined | null => {
    const room = roomInput.value.trim().replace(/^#/, "");
    if (room === "") return undefined;
    if (!isRoomId(room)) {
      error.textContent = "Room names are 1–64 letters, digits, or _ - . :";
      roomInput.focus();
      return null;
    }
    return room;
  };

  return new Promise((resolve) => {
    const finish = (auth: StoredAuth, room: string | undefined) => {
      abort.abort();
      root.hidden = true;
      error.textContent = "";
      tokenInput.value = "";
      resolve({ auth, room });
    };
    const busy = (form: HTMLFormElement, on: boolean) => {
      for (const button of form.querySelectorAll("button")) button.disabled = on;
    };

    nameForm.addEventListener(
      "submit",
      async (event) => {
        event.preventDefault();
        const name = nameInput.value.trim();
        if (name === "") {
          error.textContent = "Please enter a name.";
          return nameInput.focus();
        }
        const room = readRoom();
        if (room === null) return;
        busy(nameForm, true);
        try {
          finish(await requestDevToken(options.baseUrl, name), room);
        } catch (e) {
          error.textContent = e instanceof SignInError ? e.message : "Sign-in failed.";
        } finally {
          busy(nameForm, false);
        }
      },
      { signal: abort.signal },
    );

    tokenForm.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        const room = readRoom();
        if (room === null) return;
        try {
          finish({ token: checkPastedToken(tokenInput.value), kind: "pasted" }, room);
        } catch (e) {
          error.textContent = e instanceof SignInError ? e.message : "That token can't be used.";
        }
      },
      { signal: abort.signal },
    );
  });
}
