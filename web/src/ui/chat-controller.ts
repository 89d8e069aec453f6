/**
 * The signed-in chat: one typed client, one store, one view. Client events
 * become store actions; user intents (send, join, leave, scroll up, retry)
 * become client calls. Everything it listens to is removed by `dispose()`,
 * so signing out and in again starts clean.
 */
import { checkMessageText } from "../../../shared/text";
import { createHuddleClient, isTransient, type HuddleClient, type HuddleClientError } from "../client";
import { createChatView } from "./chat-view";
import { errorText, hashForRoom, isRoomId, roomFromHash } from "./format";
import { createMessageActions } from "./message-actions";
import type { RoomPrefs } from "./prefs";
import { activeRoom, initialState, reduce, type Action, type ChatState } from "./store";

export interface ChatControllerOptions {
  baseUrl: string;
  getToken: Parameters<typeof createHuddleClient>[0]["getToken"];
  prefs: RoomPrefs;
  /** Rooms to be in at start, besides the remembered ones. */
  initialRoom?: string;
  /** The token says `"role": "moderator"`: offer Delete on every message (the server decides). @default false */
  moderator?: boolean;
  onSignOut(): void;
  /** The server refused the identity for good. */
  onAuthLost(message: string): void;
}

export interface ChatController {
  readonly client: HuddleClient;
  dispose(): void;
}

export function startChat(options: ChatControllerOptions): ChatController {
  const abort = new AbortController();
  const on = <E extends Event>(target: EventTarget, type: string, listener: (event: E) => void) =>
    target.addEventListener(type, listener as EventListener, { signal: abort.signal });
  let state: ChatState = initialState;
  let renderQueued = false;
  let stickToBottom = false;
  /** Work that needs the DOM of the render in progress (moving the focus to a control it creates). */
  const afterRenderTasks: (() => void)[] = [];
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  const drafts = new Map<string, string>();

  const client = createHuddleClient({ url: options.baseUrl, getToken: options.getToken });
  const messageActions = createMessageActions({
    client,
    getState: () => state,
    dispatch,
    afterRender: (task) => (renderQueued ? afterRenderTasks.push(task) : queueMicrotask(task)),
    view: () => view,
    notice: (text, kind) => notice(text, kind),
    loadOlder: () => loadOlder(),
    focusComposer: () => dom.input.focus(),
  });
  const view = createChatView(
    {
      retry: (id) => void client.retry(id).catch(() => {}),
      discard: (id) => {
        const entry = client.pending().find((e) => e.clientMsgId === id);
        if (client.discard(id) && entry) dispatch({ type: "discard", roomId: entry.roomId, clientMsgId: id });
      },
      ...messageActions,
    },
    abort.signal,
  );
  const { dom } = view;

  function dispatch(action: Action) {
    if (abort.signal.aborted) return;
    const previousActive = state.active;
    state = reduce(state, action);
    if (state.active !== previousActive) onActiveChanged(previousActive);
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      renderQueued = false;
      if (abort.signal.aborted) return;
      view.render(state, { stickToBottom });
      stickToBottom = false;
      for (const task of afterRenderTasks.splice(0)) task();
    });
  }

  function onActiveChanged(previous: string | undefined) {
    if (previous !== undefined) drafts.set(previous, dom.input.value);
    dom.input.value = (state.active && drafts.get(state.active)) || "";
    options.prefs.save(
      state.rooms.map((r) => r.id),
      state.active,
    );
    const hash = state.active ? hashForRoom(state.active) : "";
    if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname);
  }

  function notice(text: string, kind: "error" | "info" = "error", ms = 6000) {
    clearTimeout(noticeTimer);
    dom.notice.textContent = text;
    dom.notice.className = kind === "info" ? "notice is-info" : "notice";
    dom.notice.hidden = false;
    noticeTimer = setTimeout(() => (dom.notice.hidden = true), ms);
  }

  // ── client → store ─────────────────────────────────────────────────────────
  client.on("state", ({ newState }) => {
    dispatch({ type: "connection", state: newState });
    if (newState.status === "offline" && newState.reason === "auth") {
      const message = newState.error ? errorText(newState.error) : "Please sign in again.";
      // Not from inside the client's own event: the handler disposes this client.
      setTimeout(() => options.onAuthLost(message), 0);
    }
  });
  client.on("session", (info) => dispatch({ type: "session", user: info.user, moderator: options.moderator }));
  client.on("joined", (event) => dispatch({ type: "joined", event }));
  client.on("message", (message) => dispatch({ type: "message", message }));
  client.on("updated", (message) => dispatch({ type: "updated", message }));
  client.on("presence", (event) =>
    dispatch({ type: "presence", roomId: event.roomId, kind: event.type, user: event.user }),
  );
  client.on("typing", (update) => dispatch({ type: "typing", roomId: update.roomId, users: update.users }));
  client.on("outbox", (entry) => dispatch({ type: "outbox", entry }));
  client.on("left", ({ roomId, error }) => {
    dispatch({ type: "left", roomId });
    notice(`You left #${roomId}: ${errorText(error)}`);
  });

  // ── intents ────────────────────────────────────────────────────────────────
  function joinRoom(raw: string): boolean {
    const roomId = raw.trim().replace(/^#/, "");
    if (!isRoomId(roomId)) {
      dom.joinError.textContent = "Room names are 1–64 letters, digits, or _ - . :";
      return false;
    }
    dom.joinError.textContent = "";
    dispatch({ type: "joining", roomId });
    dispatch({ type: "select", roomId });
    client.join(roomId).catch((error: HuddleClientError) => {
      // Offline: the room stays wanted and is joined on reconnect. Refused: it goes.
      if (isTransient(error)) return;
      dispatch({ type: "left", roomId });
      notice(`Couldn't join #${roomId}: ${errorText(error)}`);
    });
    return true;
  }

  function leaveRoom(roomId: string) {
    dispatch({ type: "left", roomId });
    drafts.delete(roomId);
    client.leave(roomId).catch((error: HuddleClientError) => notice(errorText(error)));
  }

  function send() {
    const room = activeRoom(state);
    if (!room) return;
    const checked = checkMessageText(dom.input.value);
    if (!checked.ok) {
      if (checked.code === "too_large") notice(errorText({ code: "too_large", message: checked.message }));
      return;
    }
    dom.input.value = "";
    drafts.delete(room.id);
    stickToBottom = true;
    const replyTo = room.replyTo;
    if (replyTo !== undefined) dispatch({ type: "reply", roomId: room.id, id: undefined });
    client.send(room.id, checked.text, { replyTo }).catch((error: HuddleClientError) => {
      if (error.code === "rate_limited" || error.code === "unavailable") notice(errorText(error));
    });
    view.renderComposer(state);
  }

  /** Loads the page before the oldest message shown; resolves true once it is in the store. */
  async function loadOlder(): Promise<boolean> {
    const room = activeRoom(state);
    const oldest = room?.messages[0];
    if (!room || !oldest || !room.hasMore || room.loadingOlder) return false;
    dispatch({ type: "loadingOlder", roomId: room.id, loading: true });
    return client.history(room.id, { before: oldest.id, limit: 50 }).then(
      (page) => {
        dispatch({ type: "older", roomId: room.id, messages: page.messages, more: page.more });
        return true;
      },
      (error: HuddleClientError) => {
        dispatch({ type: "loadingOlder", roomId: room.id, loading: false });
        notice(`Couldn't load earlier messages: ${errorText(error)}`);
        return false;
      },
    );
  }

  const setSidebar = (open: boolean) => {
    document.body.classList.toggle("sidebar-open", open);
    dom.sidebarToggle.setAttribute("aria-expanded", String(open));
    dom.sidebarBackdrop.hidden = !open;
  };

  on<SubmitEvent>(dom.composer, "submit", (event) => {
    event.preventDefault();
    send();
  });
  on<KeyboardEvent>(dom.input, "keydown", (event) => {
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey;
    // Up in an empty composer edits my last message, as in most chat apps; Escape drops a reply.
    if (event.key === "ArrowUp" && plain && dom.input.value === "" && messageActions.editLast()) {
      return event.preventDefault();
    }
    if (event.key === "Escape" && activeRoom(state)?.replyTo !== undefined) {
      event.stopPropagation();
      return messageActions.cancelReply();
    }
    if (event.key !== "Enter" || !plain) return;
    if (event.isComposing) return; // an IME is composing a character, not submitting
    event.preventDefault();
    send();
  });
  on(dom.input, "input", () => {
    const room = state.active;
    if (room) {
      if (dom.input.value.trim() === "") client.stopTyping(room);
      else client.typing(room);
    }
    view.renderComposer(state);
  });
  on<SubmitEvent>(dom.joinForm, "submit", (event) => {
    event.preventDefault();
    if (joinRoom(dom.joinInput.value)) {
      dom.joinInput.value = "";
      setSidebar(false);
    }
  });
  on<MouseEvent>(dom.roomList, "click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-room]");
    if (!button?.dataset.room) return;
    dispatch({ type: "select", roomId: button.dataset.room });
    setSidebar(false);
    dom.input.focus();
  });
  on(dom.leaveRoom, "click", () => state.active && leaveRoom(state.active));
  on(dom.copyInvite, "click", () => {
    if (!state.active) return;
    const link = `${location.origin}${location.pathname}${hashForRoom(state.active)}`;
    const copied = navigator.clipboard?.writeText(link);
    if (!copied) return notice(`Invite link: ${link}`, "info", 15000);
    copied.then(
      () => notice("Invite link copied", "info", 2500),
      () => notice(`Invite link: ${link}`, "info", 15000),
    );
  });
  on(dom.loadOlder, "click", () => void loadOlder());
  on(dom.replyCancel, "click", () => messageActions.cancelReply());
  // A click anywhere else closes an open reaction picker or delete confirmation.
  on<MouseEvent>(document, "click", (event) => {
    const room = activeRoom(state);
    const inside = (event.target as Element).closest?.(".picker, .confirm, .msg-actions");
    if (room?.menu && !inside) dispatch({ type: "menu", roomId: room.id, menu: undefined });
  });
  on(dom.scroller, "scroll", () => view.userScrolledToTop() && loadOlder());
  on(dom.reconnectNow, "click", () => client.reconnectNow());
  on(dom.signOut, "click", () => options.onSignOut());
  on(dom.sidebarToggle, "click", () => setSidebar(!document.body.classList.contains("sidebar-open")));
  on(dom.sidebarBackdrop, "click", () => setSidebar(false));
  on<KeyboardEvent>(document, "keydown", (event) => event.key === "Escape" && setSidebar(false));
  on(window, "hashchange", () => {
    const roomId = roomFromHash(location.hash);
    if (roomId && roomId !== state.active) joinRoom(roomId);
  });
  // Background tabs get their timers throttled: when the user is back (or the network is), don't wait out the backoff.
  const retrySoon = () => client.state.status === "reconnecting" && client.reconnectNow();
  on(window, "online", retrySoon);
  on(document, "visibilitychange", () => document.visibilityState === "visible" && retrySoon());

  // The "Reconnecting in N s…" countdown.
  const ticker = setInterval(() => {
    if (state.connection.status === "reconnecting") view.render(state);
  }, 500);

  const wanted = [...options.prefs.rooms()];
  if (options.initialRoom && !wanted.includes(options.initialRoom)) wanted.push(options.initialRoom);
  if (wanted.length === 0) wanted.push("lobby");
  const remembered = options.prefs.active();
  const first = options.initialRoom ?? (remembered && wanted.includes(remembered) ? remembered : wanted[0]!);
  for (const roomId of wanted) joinRoom(roomId);
  dispatch({ type: "select", roomId: first });
  dom.root.hidden = false;
  view.render(state);
  dom.input.focus();

  return {
    client,
    dispose() {
      if (abort.signal.aborted) return;
      abort.abort();
      clearInterval(ticker);
      clearTimeout(noticeTimer);
      client.close();
      setSidebar(false);
      dom.root.hidden = true;
      dom.messages.replaceChildren();
      dom.input.value = "";
    },
  };
}
