/**
 * Draws timeline items into the message list, keyed: a row is rebuilt only
 * when what it shows changed, and rows are moved rather than recreated, so
 * a new message costs one element and the scroll position can be kept.
 *
 * A row rebuilt while it holds the focus (someone reacted to the message
 * whose Reply button I am on) gets the focus back on its control of the
 * same name, and the inline editor is one element kept across rebuilds, so
 * a change to a message never takes my draft or my place.
 */
import { el } from "./dom";
import { renderItem } from "./message-row";
import type { MessageItem, TimelineItem } from "./timeline";

export interface TimelineActions {
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
  /** Opens (or closes, when open) a message's reaction picker or delete confirmation. */
  toggleMenu(id: string, kind: "react" | "delete"): void;
  closeMenu(id: string): void;
  /** Adds my reaction `emoji`, or removes it when it is there. */
  toggleReaction(id: string, emoji: string): void;
  reply(id: string): void;
  edit(id: string): void;
  saveEdit(id: string, text: string): void;
  cancelEdit(id: string): void;
  confirmDelete(id: string): void;
  /** Scrolls to the message a reply quotes. */
  showOriginal(id: string): void;
}

export interface TimelineView {
  render(items: TimelineItem[]): void;
  /** Forgets every row (switching rooms). */
  clear(): void;
  /** Focuses the control named `name` (a `data-focus`) of message `id`, or the row itself; false if not shown. */
  focus(id: string, name?: string): boolean;
  /** Scrolls message `id` into view and flashes it; false when it is not shown. */
  highlight(id: string): boolean;
  /** While an edit is being saved: the editor is read-only. */
  setEditorBusy(busy: boolean): void;
}

const HIGHLIGHT_MS = 2000;

/** The control of a row that had the focus (its `data-focus` name), and the editor's selection. */
interface FocusMark {
  name?: string;
  selection?: [number, number, "forward" | "backward" | "none"];
}

export function createTimelineView(
  list: HTMLOListElement,
  actions: TimelineActions,
  signal?: AbortSignal,
): TimelineView {
  const rows = new Map<string, { element: HTMLLIElement; signature: string }>();
  let editor: { id: string; form: HTMLFormElement; input: HTMLTextAreaElement } | undefined;

  const rowOf = (id: string) =>
    [...list.querySelectorAll<HTMLLIElement>("li[data-id]")].find((row) => row.dataset.id === id);
  const named = (row: Element, name: string) =>
    [...row.querySelectorAll<HTMLElement>("[data-focus]")].find((e) => e.dataset.focus === name);

  function editorFor(item: MessageItem): HTMLElement {
    if (editor && editor.id === item.id) return editor.form;
    const input = el("textarea", {
      className: "edit-input",
      attrs: { "aria-label": "Edit message", "data-focus": "editor", rows: "2", enterkeyhint: "done" },
    });
    input.value = item.text;
    const form = el(
      "form",
      { className: "editor", attrs: { novalidate: "" } },
      input,
      el(
        "div",
        { className: "editor-footer" },
        el("span", { className: "hint" }, "Enter to save · Esc to cancel · Shift+Enter for a new line"),
        el("button", { className: "link-button", attrs: { type: "button", "data-action": "cancel-edit" } }, "Cancel"),
        el("button", { className: "primary small", attrs: { type: "submit" } }, "Save"),
      ),
    );
    editor = { id: item.id!, form, input };
    return form;
  }

  const save = () => editor && actions.saveEdit(editor.id, editor.input.value);

  list.addEventListener(
    "click",
    (event) => {
      const control = (event.target as Element).closest<HTMLElement>("[data-action]");
      if (!control || !list.contains(control)) return;
      const action = control.dataset.action!;
      const clientMsgId = control.dataset.clientMsgId;
      if (action === "retry" && clientMsgId) return actions.retry(clientMsgId);
      if (action === "discard" && clientMsgId) return actions.discard(clientMsgId);
      const id = control.closest<HTMLLIElement>("li[data-id]")?.dataset.id;
      if (!id) return;
      const emoji = control.dataset.emoji;
      if (action === "react" || action === "delete") actions.toggleMenu(id, action);
      else if (action === "close-menu") actions.closeMenu(id);
      else if ((action === "pick" || action === "toggle-reaction") && emoji) actions.toggleReaction(id, emoji);
      else if (action === "reply") actions.reply(id);
      else if (action === "edit") actions.edit(id);
      else if (action === "cancel-edit") actions.cancelEdit(id);
      else if (action === "confirm-delete") actions.confirmDelete(id);
      else if (action === "show-original" && control.dataset.target) actions.showOriginal(control.dataset.target);
    },
    { signal },
  );
  list.addEventListener(
    "submit",
    (event) => {
      event.preventDefault();
      save();
    },
    { signal },
  );
  list.addEventListener(
    "keydown",
    (event) => {
      const target = event.target as HTMLElement;
      const id = target.closest<HTMLLIElement>("li[data-id]")?.dataset.id;
      if (!id) return;
      if (target === editor?.input) {
        if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          actions.cancelEdit(id);
        } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          save();
        }
      } else if (event.key === "Escape" && target.closest(".picker, .confirm, .msg-actions")) {
        event.stopPropagation();
        actions.closeMenu(id);
      }
    },
    { signal },
  );

  /**
   * Where the focus is in a row about to be rebuilt, taken before the new row is built: building it moves the
   * inline editor (the same element) out of the old row, which blurs it.
   */
  function focusIn(row: HTMLLIElement): FocusMark | undefined {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !row.contains(active)) return undefined;
    const name = active === row ? undefined : active.closest<HTMLElement>("[data-focus]")?.dataset.focus;
    const text = active instanceof HTMLTextAreaElement ? active : undefined;
    return { name, selection: text && [text.selectionStart, text.selectionEnd, text.selectionDirection] };
  }

  function replaceRow(old: HTMLLIElement, element: HTMLLIElement, focus: FocusMark | undefined) {
    old.replaceWith(element);
    if (!focus) return;
    // A control that is gone (the chip of a reaction just removed) hands the focus to the row's React button.
    const target = (focus.name && (named(element, focus.name) ?? named(element, "react"))) || element;
    target.focus({ preventScroll: true });
    // The editor keeps the caret (and selection) where it was, so the next key lands where the person typed.
    if (focus.selection && target instanceof HTMLTextAreaElement) target.setSelectionRange(...focus.selection);
  }

  return {
    render(items) {
      const wanted = new Set<string>();
      let cursor: ChildNode | null = list.firstChild;
      let editing = false;
      for (const item of items) {
        if (wanted.has(item.key)) continue;
        wanted.add(item.key);
        if (item.kind === "message" && item.editing) editing = true;
        const signature = JSON.stringify(item);
        let row = rows.get(item.key);
        if (!row || row.signature !== signature) {
          const focus = row && focusIn(row.element);
          const element = renderItem(item, editorFor);
          if (row) {
            if (cursor === row.element) cursor = element;
            replaceRow(row.element, element, focus);
          }
          row = { element, signature };
          rows.set(item.key, row);
        }
        if (row.element === cursor) cursor = cursor.nextSibling;
        else list.insertBefore(row.element, cursor);
      }
      for (const [key, row] of rows) {
        if (wanted.has(key)) continue;
        row.element.remove();
        rows.delete(key);
      }
      if (!editing) editor = undefined;
    },
    clear() {
      rows.clear();
      editor = undefined;
      list.replaceChildren();
    },
    focus(id, name) {
      const row = rowOf(id);
      if (!row) return false;
      const target = (name && named(row, name)) || row;
      target.focus();
      if (target instanceof HTMLTextAreaElement) target.setSelectionRange(target.value.length, target.value.length);
      return true;
    },
    highlight(id) {
      const row = rowOf(id);
      if (!row) return false;
      const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
      row.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
      row.classList.remove("is-highlighted");
      // Restarts the animation when the same message is shown twice in a row.
      void row.offsetWidth;
      row.classList.add("is-highlighted");
      row.focus({ preventScroll: true });
      setTimeout(() => row.classList.remove("is-highlighted"), HIGHLIGHT_MS);
      return true;
    },
    setEditorBusy(busy) {
      if (!editor) return;
      editor.input.readOnly = busy;
      editor.form.setAttribute("aria-busy", String(busy));
    },
  };
}
