/**
 * What a person does to messages (react, reply, edit, delete, go to the
 * message a reply quotes) as store actions and client calls, and where the
 * keyboard focus goes after each. Failures become a notice in words. The
 * messages themselves change only through the client's `updated` events,
 * in the server's order, never from a call's answer.
 */
import { checkMessageText } from "../../../shared/text";
import type { HuddleClient, HuddleClientError } from "@huddle/client";
import type { ChatView } from "./chat-view";
import { errorText } from "./format";
import { hasMyReaction, QUICK_REACTIONS } from "./reactions";
import { activeRoom, type Action, type ChatState } from "./store";
import type { TimelineActions } from "./timeline-view";

export interface MessageActionsOptions {
  client: HuddleClient;
  getState(): ChatState;
  dispatch(action: Action): void;
  /** Runs `task` once the render of what was just dispatched is done (at once if none is pending). */
  afterRender(task: () => void): void;
  /** The view (created with these actions, hence a getter). */
  view(): ChatView;
  notice(text: string, kind?: "error" | "info"): void;
  /** Loads the page of messages before the oldest loaded; resolves false when there is none or it failed. */
  loadOlder(): Promise<boolean>;
  focusComposer(): void;
}

export interface MessageActions extends Omit<TimelineActions, "retry" | "discard"> {
  /** The composer no longer answers a message (the banner's ×, or Escape). */
  cancelReply(): void;
  /** Up-arrow in an empty composer: edits my last message still there; false when there is none. */
  editLast(): boolean;
}

/** How many older pages "go to the original" loads before it gives up. */
const MAX_PAGES_TO_ORIGINAL = 20;

export function createMessageActions(options: MessageActionsOptions): MessageActions {
  const { client, getState, dispatch, afterRender, notice } = options;
  const room = () => activeRoom(getState());
  const find = (id: string) => room()?.messages.find((m) => m.id === id);
  const focusLater = (id: string, name?: string) => afterRender(() => options.view().timeline.focus(id, name));
  const failed = (error: HuddleClientError) => notice(errorText(error));

  function endEdit(roomId: string) {
    dispatch({ type: "edit", roomId, id: undefined });
    options.focusComposer();
  }

  function edit(id: string) {
    const current = room();
    if (!current) return;
    dispatch({ type: "edit", roomId: current.id, id });
    focusLater(id, "editor");
  }

  return {
    toggleMenu(id, kind) {
      const current = room();
      if (!current) return;
      const open = current.menu?.id === id && current.menu.kind === kind;
      dispatch({ type: "menu", roomId: current.id, menu: open ? undefined : { id, kind } });
      // Into the menu it opened (on Cancel, for a delete), or back to the button that closed it.
      focusLater(id, open ? kind : kind === "react" ? `pick:${QUICK_REACTIONS[0]}` : "cancel");
    },
    closeMenu(id) {
      const current = room();
      if (!current?.menu) return;
      const kind = current.menu.kind;
      dispatch({ type: "menu", roomId: current.id, menu: undefined });
      focusLater(id, kind);
    },
    toggleReaction(id, emoji) {
      const current = room();
      const message = find(id);
      if (!current || !message) return;
      if (current.menu?.id === id) {
        dispatch({ type: "menu", roomId: current.id, menu: undefined });
        focusLater(id, "react");
      }
      const mine = hasMyReaction(message.reactions, emoji, getState().me?.id);
      const call = mine ? client.unreact : client.react;
      call(current.id, id, emoji).catch(failed);
    },
    reply(id) {
      const current = room();
      if (!current) return;
      dispatch({ type: "reply", roomId: current.id, id });
      options.focusComposer();
    },
    cancelReply() {
      const current = room();
      if (current?.replyTo !== undefined) dispatch({ type: "reply", roomId: current.id, id: undefined });
      options.focusComposer();
    },
    edit,
    saveEdit(id, text) {
      const current = room();
      const message = find(id);
      if (!current || !message) return;
      const checked = checkMessageText(text);
      if (!checked.ok) {
        return notice(
          checked.code === "bad_request" ? "A message can't be empty — delete it instead" : errorText(checked),
        );
      }
      if (checked.text === message.text) return endEdit(current.id);
      options.view().timeline.setEditorBusy(true);
      client.edit(current.id, id, checked.text).then(
        () => endEdit(current.id),
        (error: HuddleClientError) => {
          options.view().timeline.setEditorBusy(false);
          failed(error);
        },
      );
    },
    cancelEdit() {
      const current = room();
      if (current) endEdit(current.id);
    },
    confirmDelete(id) {
      const current = room();
      if (!current) return;
      dispatch({ type: "menu", roomId: current.id, menu: undefined });
      focusLater(id);
      client.delete(current.id, id).catch(failed);
    },
    async showOriginal(id) {
      const roomId = room()?.id;
      const shown = () => options.view().timeline.highlight(id);
      if (shown()) return;
      for (let page = 0; page < MAX_PAGES_TO_ORIGINAL; page++) {
        const current = room();
        if (current?.id !== roomId || !current?.hasMore || !(await options.loadOlder())) break;
        await new Promise<void>((resolve) => afterRender(resolve));
        if (shown()) return;
      }
      if (room()?.id === roomId) notice("The original message is no longer in this room's history", "info");
    },
    editLast() {
      const current = room();
      const meId = getState().me?.id;
      if (!current || meId === undefined) return false;
      const last = [...current.messages].reverse().find((m) => m.user.id === meId && !m.deleted);
      if (!last) return false;
      edit(last.id);
      return true;
    },
  };
}
