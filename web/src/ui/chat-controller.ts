/**
 * The signed-in chat: one typed client, one store, one view. Client events
 * become store actions; user intents (send, join, leave, scroll up, retry)
 * become client calls. Everything it listens to is removed by `dispose()`,
 * so signing out and in again starts clean.
 *
 * Read state (§9): the sidebar is my rooms as the server lists them, the same
 * on every device, merged with the rooms joined in this tab. Only the room I
 * look at and the ones I opened in this tab are joined (a connection may be in
 * at most MAX_ROOMS_PER_CONNECTION rooms), so the others get no messages here:
 * their counts come from `rooms:list` and from my own `read` events (which
 * reach every tab, joined or not), and grow only when the list is asked again —
 * on start, after a reconnect, when the window gets the focus back, and every
 * 30 s. Messages are marked read as they are seen: in view, in a visible and
 * focused page, 300 ms after the view settles.
 */
import { checkMessageText } from "../../../shared/text";
import { createHuddleClient, isTransient, type HuddleClient, type HuddleClientError } from "@huddle/client";
import { createChatView } from "./chat-view";
import { errorText, hashForRoom, isBanned, isRoomId, roomFromHash } from "./format";
import { createMessageActions } from "./message-actions";
import { createModerationDialogs } from "./moderation-dialogs";
import type { RoomPrefs } from "./prefs";
import { createSeenTracker } from "./seen-tracker";
import { activeRoom, initialState, reduce, type Action, type ChatState } from "./store";

/** How long the view must rest on messages before they are marked read. */
const MARK_DELAY_MS = 300;
/** How often the room list is asked again: counts of rooms not joined here grow only then. */
const LIST_REFRESH_MS = 30_000;
/** Rooms opened in this tab before a reload that are joined again (if still mine) once the list is in. */
const RESTORE_MAX = 20;

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
  const seen = createSeenTracker(dom.scroller, dom.messages, () => scheduleMark());
  const moderation = createModerationDialogs({
    client,
    getState: () => state,
    notice: (text, kind) => notice(text, kind),
    focusFallback: () => (dom.input.disabled ? dom.scroller : dom.input).focus(),
    signal: abort.signal,
  });

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
      seen.sync();
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
    if (state.active && activeRoom(state)?.status === "joined") fetchMarkers(state.active);
  }

  // ── read state ─────────────────────────────────────────────────────────────
  let markTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per room: the highest seq asked to be marked read, so a read in flight is not asked again. */
  const asked = new Map<string, number>();

  const pageInUse = () => document.visibilityState === "visible" && document.hasFocus();

  function scheduleMark() {
    clearTimeout(markTimer);
    markTimer = setTimeout(markSeen, MARK_DELAY_MS);
  }

  /** Marks the room I look at read up to the newest message in view, if the page is in use and that is news. */
  function markSeen() {
    if (abort.signal.aborted || !pageInUse()) return;
    const room = activeRoom(state);
    const entry = state.list.find((e) => e.id === room?.id);
    const newest = seen.newestInView();
    if (!room || room.status !== "joined" || !entry?.known || !newest) return;
    if (newest.seq <= entry.read.readSeq || newest.seq <= (asked.get(room.id) ?? 0)) return;
    const roomId = room.id;
    asked.set(roomId, newest.seq);
    client.markRead(roomId, newest.id).then(
      (answer) => dispatch({ type: "marked", roomId, answer }),
      () => {
        // Not marked (a drop, the room left): the next look asks again.
        if (asked.get(roomId) === newest.seq) asked.delete(roomId);
      },
    );
  }

  /** "Seen by": the room's public markers, kept up to date by the others' read events afterwards. */
  function fetchMarkers(roomId: string) {
    client.reads(roomId).then(
      (markers) => dispatch({ type: "markers", roomId, markers }),
      () => {}, // "Seen by" waits for the next read events, or the next time the room is opened.
    );
  }

  let listing = false;
  let listedOnce = false;
  /** Asks the server for my rooms (skipped while one is on its way, or while offline: reconnecting asks). */
  function refreshRooms() {
    if (listing || abort.signal.aborted || client.state.status !== "connected") return;
    listing = true;
    client
      .listRooms()
      .then(
        (rooms) => {
          dispatch({ type: "roomList", rooms });
          if (!listedOnce) restoreRooms(rooms.map((r) => r.roomId));
          listedOnce = true;
        },
        () => {
          // The sidebar keeps what it has; the next refresh tries again. Nothing to show at all: the lobby.
          if (!listedOnce && state.rooms.length === 0) joinRoom("lobby");
        },
      )
      .finally(() => (listing = false));
  }

  /**
   * After a reload, the rooms this tab had open come back, unless they were left (forgotten) meanwhile. A tab
   * with nothing to show (a first sign-in on this device) opens my most active room, or the lobby.
   */
  function restoreRooms(listed: string[]) {
    const mine = new Set(listed);
    for (const roomId of options.prefs.rooms().slice(0, RESTORE_MAX)) {
      if (mine.has(roomId) && !state.rooms.some((r) => r.id === roomId)) joinRoom(roomId, { show: false });
    }
    if (state.rooms.length === 0) joinRoom(listed[0] ?? "lobby");
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
    // In sync again (or for the first time): the list may have changed meanwhile, on another device too.
    if (newState.status === "connected") refreshRooms();
    if (newState.status === "offline" && newState.reason === "auth") {
      const message = newState.error ? errorText(newState.error) : "Please sign in again.";
      // Not from inside the client's own event: the handler disposes this client.
      setTimeout(() => options.onAuthLost(message), 0);
    }
  });
  client.on("session", (info) => dispatch({ type: "session", user: info.user, moderator: options.moderator }));
  client.on("joined", (event) => {
    if (event.reset) asked.delete(event.roomId);
    // Back in after a removal: the banner whose button had the focus goes, the composer is the place to be.
    if (document.activeElement === dom.rejoin && event.roomId === state.active) {
      afterRenderTasks.push(() => dom.input.focus());
    }
    dispatch({ type: "joined", event });
    if (event.roomId === state.active) fetchMarkers(event.roomId);
  });
  client.on("read", (update) => {
    dispatch({ type: "read", update });
    // My marker moved in a room the sidebar does not have: another device joined it. Ask for the list.
    if (update.user.id === state.me?.id && !state.list.some((e) => e.id === update.roomId)) refreshRooms();
  });
  client.on("message", (message) => dispatch({ type: "message", message }));
  client.on("updated", (message) => dispatch({ type: "updated", message }));
  client.on("presence", (event) =>
    dispatch({ type: "presence", roomId: event.roomId, kind: event.type, user: event.user }),
  );
  client.on("typing", (update) => dispatch({ type: "typing", roomId: update.roomId, users: update.users }));
  client.on("outbox", (entry) => dispatch({ type: "outbox", entry }));
  client.on("left", ({ roomId, error }) => {
    // Banned while away: the reconnect's join was refused. The same as being removed while here.
    if (isBanned(error)) return removed(roomId);
    dispatch({ type: "left", roomId });
    notice(`You left #${roomId}: ${errorText(error)}`);
  });
  client.on("removed", ({ roomId }) => removed(roomId));

  /** A moderator took me out (§11): the room stays, read-only, with the reason in view and a way to try again. */
  function removed(roomId: string, refusal?: string) {
    drafts.delete(roomId);
    asked.delete(roomId);
    const typing = roomId === state.active && document.activeElement === dom.input;
    dispatch({ type: "removed", roomId, refusal });
    // The composer is disabled under the cursor: the way back in takes the focus rather than nothing.
    if (typing) afterRenderTasks.push(() => dom.rejoin.focus());
    // The room's banner says it where I look; from another room, only a notice can.
    if (roomId !== state.active) notice(`A moderator removed you from #${roomId}`);
  }

  // ── intents ────────────────────────────────────────────────────────────────
  function joinRoom(raw: string, { show = true }: { show?: boolean } = {}): boolean {
    const roomId = raw.trim().replace(/^#/, "");
    if (!isRoomId(roomId)) {
      dom.joinError.textContent = "Room names are 1–64 letters, digits, or _ - . :";
      return false;
    }
    dom.joinError.textContent = "";
    dispatch({ type: "joining", roomId });
    if (show) dispatch({ type: "select", roomId });
    client.join(roomId).catch((error: HuddleClientError) => {
      // Offline: the room stays wanted and is joined on reconnect. Refused: it goes, unless for a ban: then it
      // stays in view as removed, and says why the door is shut.
      if (isTransient(error)) return;
      if (isBanned(error)) return removed(roomId, "You can't rejoin yet: the ban is still on.");
      dispatch({ type: "left", roomId });
      notice(`Couldn't join #${roomId}: ${errorText(error)}`);
    });
    return true;
  }

  /** Leaves the room and forgets it: it leaves my rooms, on every device (theirs drop it on their next list). */
  function leaveRoom(roomId: string) {
    dispatch({ type: "left", roomId });
    drafts.delete(roomId);
    asked.delete(roomId);
    client.leave(roomId, { forget: true }).catch((error: HuddleClientError) => notice(errorText(error)));
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
    const roomId = button?.dataset.room;
    if (!roomId) return;
    // A room of my list not joined in this tab is joined now that I open it.
    if (state.rooms.some((r) => r.id === roomId)) dispatch({ type: "select", roomId });
    else joinRoom(roomId);
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
  on(dom.rejoin, "click", () => state.active && joinRoom(state.active));
  on(dom.showBans, "click", () => state.active && moderation.openBans(state.active));
  on<MouseEvent>(dom.memberList, "click", (event) => {
    const userId = (event.target as Element).closest<HTMLElement>('[data-action="remove-member"]')?.dataset.user;
    const room = activeRoom(state);
    const user = room?.members.find((m) => m.id === userId);
    if (room && user) moderation.openRemove(room.id, user);
  });
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
  on(document, "visibilitychange", () => {
    if (document.visibilityState !== "visible") return clearTimeout(markTimer);
    retrySoon();
    refreshRooms();
    scheduleMark();
  });
  // Back to the window: what is in view is seen now, and rooms may have changed elsewhere.
  on(window, "focus", () => {
    refreshRooms();
    scheduleMark();
  });
  on(window, "blur", () => clearTimeout(markTimer));

  // The "Reconnecting in N s…" countdown.
  const ticker = setInterval(() => {
    if (state.connection.status === "reconnecting") view.render(state);
  }, 500);
  const listTicker = setInterval(refreshRooms, LIST_REFRESH_MS);

  // The room to show is joined at once; the others this tab had open come back with the list (restoreRooms),
  // which also decides what to show when nothing says.
  const first = options.initialRoom ?? options.prefs.active() ?? options.prefs.rooms()[0];
  if (first !== undefined) joinRoom(first);
  dom.root.hidden = false;
  view.render(state);
  dom.input.focus();

  return {
    client,
    dispose() {
      if (abort.signal.aborted) return;
      abort.abort();
      clearInterval(ticker);
      clearInterval(listTicker);
      clearTimeout(noticeTimer);
      clearTimeout(markTimer);
      moderation.close();
      seen.disconnect();
      client.close();
      setSidebar(false);
      dom.root.hidden = true;
      dom.messages.replaceChildren();
      dom.input.value = "";
    },
  };
}
