/**
 * Draws timeline items into the message list, keyed: a row is rebuilt only
 * when what it shows changed, and rows are moved rather than recreated, so
 * a new message costs one element and the scroll position can be kept.
 */
import { avatar } from "./avatar";
import { el } from "./dom";
import { formatFullTime, formatTime } from "./format";
import type { TimelineItem } from "./timeline";

export interface TimelineActions {
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
}

export interface TimelineView {
  render(items: TimelineItem[]): void;
  /** Forgets every row (switching rooms). */
  clear(): void;
}

export function createTimelineView(
  list: HTMLOListElement,
  actions: TimelineActions,
  signal?: AbortSignal,
): TimelineView {
  const rows = new Map<string, { element: HTMLLIElement; signature: string }>();

  list.addEventListener(
    "click",
    (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
      const id = button?.dataset.clientMsgId;
      if (!button || !id) return;
      if (button.dataset.action === "retry") actions.retry(id);
      if (button.dataset.action === "discard") actions.discard(id);
    },
    { signal },
  );

  return {
    render(items) {
      const wanted = new Set<string>();
      let cursor: ChildNode | null = list.firstChild;
      for (const item of items) {
        if (wanted.has(item.key)) continue;
        wanted.add(item.key);
        const signature = JSON.stringify(item);
        let row = rows.get(item.key);
        if (!row || row.signature !== signature) {
          const element = renderItem(item);
          if (row) {
            if (cursor === row.element) cursor = element;
            row.element.replaceWith(element);
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
    },
    clear() {
      rows.clear();
      list.replaceChildren();
    },
  };
}

function renderItem(item: TimelineItem): HTMLLIElement {
  if (item.kind === "day") {
    return el("li", { className: "day", attrs: { role: "separator" } }, item.label);
  }
  const classes = ["msg"];
  if (item.own) classes.push("is-own");
  if (item.grouped) classes.push("is-grouped");
  if (item.status === "pending") classes.push("is-pending");
  if (item.status === "failed") classes.push("is-failed");
  const time = el(
    "time",
    { attrs: { datetime: new Date(item.ts).toISOString(), title: formatFullTime(item.ts) } },
    formatTime(item.ts),
  );
  const li = el(
    "li",
    { className: classes.join(" "), attrs: { "data-status": item.status, "data-own": String(item.own) } },
    avatar(item.user),
    el(
      "div",
      { className: "bubble-wrap" },
      el("div", { className: "meta" }, el("span", { className: "author" }, item.own ? "You" : item.user.name), time),
      el("p", { className: "bubble" }, item.text),
      deliveryLine(item),
    ),
  );
  return li;
}

function deliveryLine(item: Extract<TimelineItem, { kind: "message" }>): HTMLElement | null {
  if (!item.own) return null;
  const id = item.clientMsgId;
  switch (item.status) {
    case "pending":
      return el("div", { className: "delivery" }, "Sending…");
    case "sent":
      return el("div", { className: "delivery" }, "Sent");
    case "failed":
      return el(
        "div",
        { className: "delivery" },
        el("span", {}, `Not sent: ${item.error ?? "unknown error"}`),
        id ? actionButton("retry", id, "Retry", "Retry sending this message") : null,
        id ? actionButton("discard", id, "Discard", "Discard this message") : null,
      );
    case "confirmed":
      return item.showSent ? el("div", { className: "delivery" }, "Sent") : null;
  }
}

function actionButton(action: string, clientMsgId: string, label: string, ariaLabel: string): HTMLButtonElement {
  return el(
    "button",
    {
      className: "link-button",
      attrs: { type: "button", "data-action": action, "data-client-msg-id": clientMsgId, "aria-label": ariaLabel },
    },
    label,
  );
}
