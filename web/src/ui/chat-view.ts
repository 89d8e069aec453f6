/**
 * Renders the chat state into the static shell of index.html: top bar,
 * rooms, members, room header, timeline, typing line and composer limits.
 * It reads state and writes DOM; user intents are the controller's.
 */
import { codePointLength, normalizeText } from "../../../shared/text";
import { Limits } from "../../../shared/protocol";
import type { User } from "@huddle/client";
import { avatar } from "./avatar";
import { byId, el, setHidden, setText } from "./dom";
import { connectionText, firstLine, typingLine } from "./format";
import { activeRoom, totalUnread, unreadOf, type ChatState, type RoomView } from "./store";
import { buildTimeline } from "./timeline";
import { createTimelineView, type TimelineActions, type TimelineView } from "./timeline-view";

export interface ChatView {
  readonly dom: ReturnType<typeof chatDom>;
  /** The message list: focus, highlight, the editor's busy state. */
  readonly timeline: Pick<TimelineView, "focus" | "highlight" | "setEditorBusy">;
  render(state: ChatState, options?: { stickToBottom?: boolean }): void;
  /** Re-checks the composer's length and button after the text changed. */
  renderComposer(state: ChatState): void;
  /** True when the user (not the view itself) scrolled to near the top: time to load older messages. */
  userScrolledToTop(): boolean;
}

export function chatDom() {
  return {
    root: byId("chat"),
    connection: byId("connection"),
    connectionText: byId("connection-text"),
    reconnectNow: byId<HTMLButtonElement>("reconnect-now"),
    meName: byId("me-name"),
    signOut: byId<HTMLButtonElement>("sign-out"),
    sidebarToggle: byId<HTMLButtonElement>("sidebar-toggle"),
    sidebarBackdrop: byId("sidebar-backdrop"),
    roomList: byId<HTMLUListElement>("room-list"),
    joinForm: byId<HTMLFormElement>("join-form"),
    joinInput: byId<HTMLInputElement>("join-input"),
    joinError: byId("join-error"),
    memberCount: byId("member-count"),
    memberList: byId<HTMLUListElement>("member-list"),
    roomTitle: byId("room-title"),
    roomSummary: byId("room-members-summary"),
    copyInvite: byId<HTMLButtonElement>("copy-invite"),
    leaveRoom: byId<HTMLButtonElement>("leave-room"),
    showBans: byId<HTMLButtonElement>("show-bans"),
    scroller: byId("scroller"),
    loadOlder: byId<HTMLButtonElement>("load-older"),
    historyStart: byId("history-start"),
    messages: byId<HTMLOListElement>("messages"),
    emptyRoom: byId("empty-room"),
    typing: byId("typing"),
    notice: byId("notice"),
    removedBanner: byId("removed-banner"),
    removedRefusal: byId("removed-refusal"),
    rejoin: byId<HTMLButtonElement>("rejoin-room"),
    replyBanner: byId("reply-banner"),
    replyAuthor: byId("reply-author"),
    replyText: byId("reply-text"),
    replyCancel: byId<HTMLButtonElement>("reply-cancel"),
    composer: byId<HTMLFormElement>("composer"),
    input: byId<HTMLTextAreaElement>("message-input"),
    send: byId<HTMLButtonElement>("send-button"),
    charCount: byId("char-count"),
  };
}

export function createChatView(actions: TimelineActions, signal: AbortSignal, now: () => number = Date.now): ChatView {
  const dom = chatDom();
  const timeline = createTimelineView(dom.messages, actions, signal);
  let shownRoom: RoomView | undefined;
  let shownMe: User | undefined;
  let shownModerator = false;
  let shownList: ChatState["list"] | undefined;
  let shownActive: string | undefined;
  /** The rooms shown as removed in the sidebar, as a key. */
  let shownRemoved = "";
  let shownMembers: { members?: User[]; typing?: User[]; me?: User; moderator: boolean } | undefined;
  /** A room was just opened: once its "New messages" line is drawn, scroll up to it if it is out of view. */
  let revealDivider = false;
  /** Where the view last put the scroll position itself; a scroll event landing there is not the user's. */
  let placedAt: number | undefined;
  const placeScroll = (top: number) => {
    dom.scroller.scrollTop = top;
    placedAt = dom.scroller.scrollTop;
  };

  function renderConnection(state: ChatState) {
    const status = state.connection.status;
    dom.connection.className = `connection is-${status}`;
    setText(dom.connectionText, connectionText(state.connection, now()));
    const canRetry =
      status === "reconnecting" || (state.connection.status === "offline" && state.connection.reason !== "closed");
    setHidden(dom.reconnectNow, !canRetry);
    setText(dom.meName, state.me?.name ?? "");
  }

  function renderRooms(state: ChatState) {
    const removed = new Set(state.rooms.filter((r) => r.status === "removed").map((r) => r.id));
    const removedKey = [...removed].join(" ");
    if (state.list === shownList && state.active === shownActive && removedKey === shownRemoved) return;
    shownList = state.list;
    shownActive = state.active;
    shownRemoved = removedKey;
    // The buttons are rebuilt: whoever was on one (Tab through the rooms) stays on that room's.
    const focused = (document.activeElement as HTMLElement | null)?.closest?.<HTMLElement>("#room-list [data-room]");
    const focusedRoom = focused?.dataset.room;
    dom.roomList.replaceChildren(
      ...state.list.map((entry) => {
        const current = entry.id === state.active;
        const unread = unreadOf(entry);
        const button = el(
          "button",
          {
            className: removed.has(entry.id) ? "room-button is-removed" : "room-button",
            attrs: { type: "button", "data-room": entry.id, "aria-current": current ? "true" : "false" },
          },
          el("span", { className: "room-hash", attrs: { "aria-hidden": "true" } }, "#"),
          el("span", { className: "room-name" }, entry.id),
          removed.has(entry.id) ? el("span", { className: "room-tag" }, "removed") : null,
          unread > 0 && !current
            ? el("span", { className: "badge", attrs: { "aria-label": `${unread} unread` } }, badgeText(unread))
            : null,
        );
        return el("li", {}, button);
      }),
    );
    if (focusedRoom === undefined) return;
    const again = [...dom.roomList.querySelectorAll<HTMLElement>("[data-room]")].find(
      (b) => b.dataset.room === focusedRoom,
    );
    again?.focus({ preventScroll: true });
  }

  function renderRoom(state: ChatState, stickToBottom: boolean) {
    const room = activeRoom(state);
    const switched = room?.id !== shownRoom?.id;
    if (switched) {
      timeline.clear();
      placeScroll(0);
      revealDivider = true;
    }
    if (!switched && room === shownRoom && state.me === shownMe && state.moderator === shownModerator) return;
    const previous = shownRoom;
    shownRoom = room;
    shownMe = state.me;
    shownModerator = state.moderator;

    const removed = room?.status === "removed";
    setText(dom.roomTitle, room?.id ?? "No room");
    setText(dom.roomSummary, removed ? "You're not in this room" : room ? plural(room.members.length, "member") : "");
    dom.copyInvite.disabled = dom.leaveRoom.disabled = !room;
    setHidden(dom.showBans, !state.moderator);
    dom.showBans.disabled = !room;
    dom.input.disabled = dom.send.disabled = !room || removed;
    dom.input.placeholder = removed ? "You can't write here now" : "Write a message…";
    renderRemoved(room);
    renderMembers(room, state.me, state.moderator);
    setText(dom.typing, room ? typingLine(room.typing, state.me?.id) : "");
    renderReplyBanner(room, state.me);
    if (!room) {
      timeline.render([]);
      setHidden(dom.emptyRoom, true);
      setHidden(dom.loadOlder, true);
      setHidden(dom.historyStart, true);
      return;
    }

    const joined = room.status === "joined";
    setHidden(dom.loadOlder, !room.hasMore);
    dom.loadOlder.disabled = room.loadingOlder;
    setText(dom.loadOlder, room.loadingOlder ? "Loading…" : "Load earlier messages");
    const empty = room.messages.length === 0 && room.outgoing.length === 0;
    setHidden(dom.historyStart, !joined || room.hasMore || empty);
    setText(dom.historyStart, `This is the beginning of #${room.id}.`);
    setHidden(dom.emptyRoom, !joined || !empty);

    const scroller = dom.scroller;
    const before = {
      top: scroller.scrollTop,
      height: scroller.scrollHeight,
      atBottom: scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48,
    };
    timeline.render(buildTimeline(room, state.me, now(), { moderator: state.moderator }));
    const oldFirst = previous?.id === room.id ? previous.messages[0]?.id : undefined;
    const prepended = oldFirst !== undefined && room.messages[0]?.id !== oldFirst;
    if (prepended && !switched) placeScroll(before.top + (scroller.scrollHeight - before.height));
    else if (switched || before.atBottom || stickToBottom) placeScroll(scroller.scrollHeight);
    if (revealDivider) showDivider(room);
  }

  /** The room just opened shows its newest messages; if the first unread one is above them, start there. */
  function showDivider(room: RoomView) {
    const line = dom.messages.querySelector<HTMLElement>(".new-divider");
    if (!line) {
      // Wait while the divider may still come (the room's messages or its marker are on their way).
      if (room.status === "joined" && !room.dividerPending) revealDivider = false;
      return;
    }
    revealDivider = false;
    const scroller = dom.scroller;
    const top = line.getBoundingClientRect().top - scroller.getBoundingClientRect().top + scroller.scrollTop;
    if (top < scroller.scrollTop) placeScroll(Math.max(0, top - 8));
  }

  /** The room a moderator took me out of: what happened, why a rejoin was refused, and the way back in. */
  function renderRemoved(room: RoomView | undefined) {
    const removed = room?.status === "removed";
    setHidden(dom.removedBanner, !removed);
    if (!removed) return;
    setText(dom.removedRefusal, room.refusal ?? "");
    setText(dom.rejoin, room.rejoining ? "Rejoining…" : "Try to rejoin");
    dom.rejoin.setAttribute("aria-busy", String(room.rejoining === true));
  }

  function renderMembers(room: RoomView | undefined, me: User | undefined, moderator: boolean) {
    // Rebuilt only when who is here (or typing) changed, not on every message: a moderator on a Remove button
    // keeps it, and when the list is rebuilt under it, gets the same member's back.
    const last = shownMembers;
    if (last && last.members === room?.members && last.typing === room?.typing && last.me === me) {
      if (last.moderator === moderator) return;
    }
    shownMembers = { members: room?.members, typing: room?.typing, me, moderator };
    const actionButtons = () => [...dom.memberList.querySelectorAll<HTMLElement>("[data-action]")];
    const focusedAt = actionButtons().findIndex((b) => b === document.activeElement);
    const focusedUser = actionButtons()[focusedAt]?.dataset.user;
    const members = room?.members ?? [];
    // A room I was removed from: who is in it is not mine to see any more, not even as a count.
    setText(dom.memberCount, room && room.status !== "removed" ? `(${members.length})` : "");
    const typingIds = new Set(room?.typing.filter((u) => u.id !== me?.id).map((u) => u.id));
    dom.memberList.replaceChildren(
      ...members.map((member) =>
        el(
          "li",
          { className: typingIds.has(member.id) ? "member is-typing" : "member", attrs: { "data-user": member.id } },
          avatar(member),
          el("span", { className: "member-name" }, member.name),
          member.id === me?.id ? el("span", { className: "member-you" }, "(you)") : null,
          // The server decides (§11); the button is only offered to a token that says moderator.
          moderator && member.id !== me?.id
            ? el(
                "button",
                {
                  className: "link-button member-remove",
                  attrs: {
                    type: "button",
                    "data-action": "remove-member",
                    "data-user": member.id,
                    "aria-label": `Remove ${member.name} from the room`,
                    title: "Remove from room",
                  },
                },
                "Remove",
              )
            : null,
        ),
      ),
    );
    if (focusedUser === undefined) return;
    // That member's button, or (they left) the one now in its place, or the composer: never nowhere.
    const buttons = actionButtons();
    const again =
      buttons.find((b) => b.dataset.user === focusedUser) ?? buttons[Math.min(focusedAt, buttons.length - 1)];
    (again ?? (dom.input.disabled ? dom.scroller : dom.input)).focus({ preventScroll: true });
  }

  /** "Replying to Alice: first line" above the composer, while the composer answers a message. */
  function renderReplyBanner(room: RoomView | undefined, me: User | undefined) {
    const original = room?.replyTo === undefined ? undefined : room.messages.find((m) => m.id === room.replyTo);
    setHidden(dom.replyBanner, !original);
    if (!original) return;
    setText(dom.replyAuthor, original.user.id === me?.id ? "yourself" : original.user.name);
    setText(dom.replyText, original.deleted ? "Message deleted" : firstLine(original.text));
    dom.replyText.classList.toggle("is-deleted", original.deleted === true);
  }

  function renderComposer(state: ChatState) {
    const length = codePointLength(normalizeText(dom.input.value));
    const max = Limits.messageMaxLength;
    const over = length > max;
    dom.charCount.classList.toggle("is-over", over);
    setText(
      dom.charCount,
      over ? `Too long by ${length - max} characters` : length > max - 500 ? `${length} / ${max}` : "",
    );
    const room = activeRoom(state);
    dom.send.disabled = !room || room.status === "removed" || over;
  }

  return {
    dom,
    timeline,
    render(state, options = {}) {
      renderConnection(state);
      renderRooms(state);
      renderRoom(state, options.stickToBottom ?? false);
      renderComposer(state);
      const unread = totalUnread(state);
      const title = state.active ? `#${state.active} — Huddle` : "Huddle";
      document.title = unread > 0 ? `(${unread}) ${title}` : title;
    },
    renderComposer,
    userScrolledToTop() {
      const top = dom.scroller.scrollTop;
      if (placedAt !== undefined && Math.abs(top - placedAt) < 2) return false;
      placedAt = undefined;
      return top < 80;
    },
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A badge stays small: past 99 it says 99+ (its label has the number). */
const badgeText = (n: number) => (n > 99 ? "99+" : String(n));
