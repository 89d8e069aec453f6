/**
 * One message row, built from its timeline item with `el()` only, so every
 * text a person typed stays text. Each control carries `data-action` (what
 * a click on it means, handled once by the timeline view) and `data-focus`
 * (its name within the row: when the row is rebuilt because the message
 * changed, the view puts focus back on the control of the same name).
 */
import { avatar } from "./avatar";
import { el } from "./dom";
import { formatFullTime, formatTime, seenText } from "./format";
import { QUICK_REACTIONS, type ReactionChip } from "./reactions";
import type { MessageItem, TimelineItem } from "./timeline";

/** The inline editor of the message being edited: the view keeps one, so a rebuilt row keeps the draft. */
export type EditorFor = (item: MessageItem) => HTMLElement;

export function renderItem(item: TimelineItem, editorFor: EditorFor): HTMLLIElement {
  if (item.kind === "day") {
    return el("li", { className: "day", attrs: { role: "separator" } }, item.label);
  }
  if (item.kind === "divider") {
    return el(
      "li",
      { className: "new-divider", attrs: { role: "separator", "aria-label": item.label } },
      el("span", { className: "new-divider-label" }, item.label),
    );
  }
  const classes = ["msg"];
  if (item.own) classes.push("is-own");
  if (item.grouped) classes.push("is-grouped");
  if (item.status === "pending") classes.push("is-pending");
  if (item.status === "failed") classes.push("is-failed");
  if (item.deleted) classes.push("is-deleted");
  if (item.editing) classes.push("is-editing");
  const time = el(
    "time",
    { attrs: { datetime: new Date(item.ts).toISOString(), title: formatFullTime(item.ts) } },
    formatTime(item.ts),
  );
  return el(
    "li",
    {
      className: classes.join(" "),
      attrs: {
        "data-status": item.status,
        "data-own": String(item.own),
        "data-id": item.id,
        "data-seq": item.seq === undefined ? undefined : String(item.seq),
        // Focusable by script and by a tap (which shows its actions on touch screens), not a Tab stop of its own.
        tabindex: item.id === undefined ? undefined : "-1",
      },
    },
    avatar(item.user),
    el(
      "div",
      { className: "bubble-wrap" },
      el("div", { className: "meta" }, el("span", { className: "author" }, item.own ? "You" : item.user.name), time),
      quoteButton(item),
      item.editing ? editorFor(item) : bubble(item),
      reactionList(item),
      item.menu === "react" ? picker(item) : null,
      item.menu === "delete" ? deleteConfirmation(item) : null,
      deliveryLine(item),
      item.editing ? null : toolbar(item),
    ),
  );
}

function bubble(item: MessageItem): HTMLElement {
  if (item.deleted) return el("p", { className: "bubble is-deleted" }, "Message deleted");
  return el(
    "p",
    { className: "bubble" },
    item.text,
    item.edited ? el("span", { className: "edited", attrs: { title: item.edited } }, " (edited)") : null,
  );
}

function quoteButton(item: MessageItem): HTMLElement | null {
  const quote = item.quote;
  if (!quote) return null;
  const label =
    quote.state === "missing"
      ? "Reply to a message not loaded: show it"
      : `Reply to ${quote.author}: ${quote.text}. Show the original`;
  return el(
    "button",
    {
      className: `quote is-${quote.state}`,
      attrs: { type: "button", "data-action": "show-original", "data-target": quote.id, "data-focus": "quote" },
    },
    el("span", { className: "visually-hidden" }, label),
    el("span", { className: "quote-author", attrs: { "aria-hidden": "true" } }, quote.author ?? "Reply"),
    el("span", { className: "quote-text", attrs: { "aria-hidden": "true" } }, quote.text),
  );
}

function reactionList(item: MessageItem): HTMLElement | null {
  if (item.reactions.length === 0) return null;
  return el(
    "div",
    { className: "reactions", attrs: { role: "group", "aria-label": "Reactions" } },
    ...item.reactions.map((chip) => reactionChip(chip, item.status === "confirmed")),
  );
}

function reactionChip(chip: ReactionChip, enabled: boolean): HTMLButtonElement {
  const noun = chip.count === 1 ? "reaction" : "reactions";
  return el(
    "button",
    {
      className: chip.mine ? "chip is-mine" : "chip",
      attrs: {
        type: "button",
        "data-action": "toggle-reaction",
        "data-emoji": chip.emoji,
        "data-focus": `chip:${chip.emoji}`,
        "aria-pressed": String(chip.mine),
        "aria-label": `${chip.emoji} ${chip.count} ${noun}, by ${chip.who}`,
        title: chip.who,
        disabled: enabled ? undefined : "",
      },
    },
    el("span", { className: "chip-emoji", attrs: { "aria-hidden": "true" } }, chip.emoji),
    el("span", { className: "chip-count", attrs: { "aria-hidden": "true" } }, String(chip.count)),
  );
}

function picker(item: MessageItem): HTMLElement {
  const mine = new Set(item.reactions.filter((r) => r.mine).map((r) => r.emoji));
  return el(
    "div",
    { className: "picker", attrs: { role: "group", "aria-label": "Add a reaction" } },
    ...QUICK_REACTIONS.map((emoji) =>
      el(
        "button",
        {
          className: "pick",
          attrs: {
            type: "button",
            "data-action": "pick",
            "data-emoji": emoji,
            "data-focus": `pick:${emoji}`,
            "aria-label": `React with ${emoji}`,
            "aria-pressed": String(mine.has(emoji)),
          },
        },
        emoji,
      ),
    ),
  );
}

function deleteConfirmation(item: MessageItem): HTMLElement {
  const question = item.own ? "Delete this message?" : `Delete ${item.user.name}'s message for everyone?`;
  return el(
    "div",
    { className: "confirm", attrs: { role: "group", "aria-label": question } },
    el("span", { className: "confirm-text" }, question),
    el(
      "button",
      { className: "danger", attrs: { type: "button", "data-action": "confirm-delete", "data-focus": "confirm" } },
      "Delete",
    ),
    el(
      "button",
      { className: "link-button", attrs: { type: "button", "data-action": "close-menu", "data-focus": "cancel" } },
      "Cancel",
    ),
  );
}

function toolbar(item: MessageItem): HTMLElement | null {
  const { actions } = item;
  if (!actions.react && !actions.reply && !actions.edit && !actions.delete) return null;
  return el(
    "div",
    { className: "msg-actions", attrs: { role: "toolbar", "aria-label": `Actions for ${item.user.name}'s message` } },
    actions.react
      ? tool("react", "Add reaction", { "aria-expanded": String(item.menu === "react"), "aria-haspopup": "true" })
      : null,
    actions.reply ? tool("reply", "Reply") : null,
    actions.edit ? tool("edit", "Edit message") : null,
    actions.delete ? tool("delete", "Delete message", { "aria-expanded": String(item.menu === "delete") }) : null,
  );
}

function tool(action: string, label: string, extra: Record<string, string> = {}): HTMLButtonElement {
  return el(
    "button",
    {
      className: `tool tool-${action}`,
      attrs: {
        type: "button",
        "data-action": action,
        "data-focus": action,
        "aria-label": label,
        title: label,
        ...extra,
      },
    },
    el("span", { className: `icon icon-${action}`, attrs: { "aria-hidden": "true" } }),
  );
}

function deliveryLine(item: MessageItem): HTMLElement | null {
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
        id ? outboxButton("retry", id, "Retry", "Retry sending this message") : null,
        id ? outboxButton("discard", id, "Discard", "Discard this message") : null,
      );
    case "confirmed":
      if (!item.showSent) return null;
      return el("div", { className: "delivery" }, item.seenBy?.length ? seenLine(item.seenBy) : "Sent");
  }
}

/**
 * "Seen by Bob", "Seen by Bob and Carol", or "Seen by 5 people" with the names in a small popover that the
 * pointer (hover) and the keyboard (it is a Tab stop) both open; screen readers get the names as its label.
 */
function seenLine(names: readonly string[]): HTMLElement {
  const { text, full } = seenText(names);
  if (text === full) return el("span", { className: "seen-by" }, text);
  return el(
    "span",
    {
      className: "seen-by has-names",
      attrs: { tabindex: "0", role: "note", "aria-label": full, "data-focus": "seen" },
    },
    el("span", { attrs: { "aria-hidden": "true" } }, text),
    el("span", { className: "seen-names", attrs: { "aria-hidden": "true" } }, full),
  );
}

function outboxButton(action: string, clientMsgId: string, label: string, ariaLabel: string): HTMLButtonElement {
  return el(
    "button",
    {
      className: "link-button",
      attrs: { type: "button", "data-action": action, "data-client-msg-id": clientMsgId, "aria-label": ariaLabel },
    },
    label,
  );
}
