/**
 * The moderator's dialogs (§11): "Remove from room" for a member (for how
 * long, and why) and the room's bans, each with "Lift ban". They are native
 * <dialog>s opened with showModal(): the page behind is inert, so Tab stays
 * inside, and Escape closes; the focus goes back to what opened them.
 *
 * The server decides who may do this: the controls that open these are only
 * shown to a token that says moderator, and a refusal is shown as words.
 */
import type { Ban, HuddleClient, HuddleClientError, User } from "@huddle/client";
import { byId, el, setText } from "./dom";
import { BAN_DURATIONS, banLength, banUntil, errorText } from "./format";
import type { ChatState } from "./store";

export interface ModerationDialogsOptions {
  client: Pick<HuddleClient, "ban" | "unban" | "bans">;
  getState(): ChatState;
  notice(text: string, kind?: "error" | "info"): void;
  /** Where the focus goes when a dialog closes and the control that opened it is gone (the member left). */
  focusFallback(): void;
  signal: AbortSignal;
  now?: () => number;
}

export interface ModerationDialogs {
  openRemove(roomId: string, user: User): void;
  openBans(roomId: string): void;
  close(): void;
}

export function createModerationDialogs(options: ModerationDialogsOptions): ModerationDialogs {
  const { client, signal } = options;
  const now = options.now ?? Date.now;
  const on = (target: EventTarget, type: string, listener: (event: Event) => void) =>
    target.addEventListener(type, listener, { signal });
  const remove = {
    dialog: byId<HTMLDialogElement>("remove-dialog"),
    form: byId<HTMLFormElement>("remove-form"),
    title: byId("remove-title"),
    lead: byId("remove-lead"),
    durations: byId("remove-durations"),
    reason: byId<HTMLInputElement>("remove-reason"),
    error: byId("remove-error"),
    cancel: byId<HTMLButtonElement>("remove-cancel"),
    submit: byId<HTMLButtonElement>("remove-submit"),
  };
  const bans = {
    dialog: byId<HTMLDialogElement>("bans-dialog"),
    title: byId("bans-title"),
    status: byId("bans-status"),
    list: byId<HTMLUListElement>("bans-list"),
    close: byId<HTMLButtonElement>("bans-close"),
  };
  /** Names of the users banned here: a ban carries only the user's id, and they are no longer in the room. */
  const names = new Map<string, string>();
  let target: { roomId: string; user: User } | undefined;
  let bansRoom: string | undefined;
  /** Only the answer of the latest listing is drawn. */
  let listing = 0;
  let opener: HTMLElement | null = null;

  remove.durations.replaceChildren(
    ...BAN_DURATIONS.map((choice, i) =>
      el(
        "label",
        { className: "duration" },
        el("input", {
          attrs: { type: "radio", name: "duration", value: String(choice.seconds ?? ""), "data-index": String(i) },
        }),
        choice.label,
      ),
    ),
  );
  const radios = () => [...remove.durations.querySelectorAll<HTMLInputElement>("input[type=radio]")];

  function show(dialog: HTMLDialogElement) {
    opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
  }

  // A modal dialog makes the page behind inert, but Tab past its last control would leave for the browser's own
  // UI: it wraps around instead, so the keyboard stays where the eyes are.
  for (const dialog of [remove.dialog, bans.dialog]) {
    on(dialog, "keydown", (event) => {
      const key = event as KeyboardEvent;
      if (key.key !== "Tab") return;
      const controls = [...dialog.querySelectorAll<HTMLElement>("button, input, textarea")].filter(
        (e) => !(e as HTMLButtonElement).disabled && e.getClientRects().length > 0 && !isOtherRadio(e),
      );
      const first = controls[0];
      const last = controls.at(-1);
      const wrapTo = key.shiftKey
        ? document.activeElement === first
          ? last
          : undefined
        : document.activeElement === last
          ? first
          : undefined;
      if (!wrapTo) return;
      key.preventDefault();
      wrapTo.focus();
    });
  }

  // Back to the control that opened the dialog: the same one, or its twin when a render rebuilt the member list.
  for (const dialog of [remove.dialog, bans.dialog]) {
    on(dialog, "close", () => {
      const { action, user } = opener?.dataset ?? {};
      const twin =
        opener && !opener.isConnected && action && user
          ? document.querySelector<HTMLElement>(`[data-action="${action}"][data-user="${CSS.escape(user)}"]`)
          : opener;
      if (twin?.isConnected && !twin.closest("[hidden]") && !(twin as HTMLButtonElement).disabled) twin.focus();
      else options.focusFallback();
      opener = null;
    });
  }

  /** Everyone this page knows by name: members and authors of the rooms open here. */
  function learnNames() {
    for (const room of options.getState().rooms) {
      for (const user of room.members) names.set(user.id, user.name);
      for (const message of room.messages) names.set(message.user.id, message.user.name);
    }
  }
  const nameOf = (userId: string) => names.get(userId) ?? userId;

  function openRemove(roomId: string, user: User) {
    target = { roomId, user };
    names.set(user.id, user.name);
    setText(remove.title, `Remove ${user.name} from #${roomId}`);
    setText(remove.lead, `${user.name} leaves the room at once and can't rejoin until the ban ends or you lift it.`);
    remove.reason.value = "";
    setText(remove.error, "");
    remove.submit.disabled = false;
    setText(remove.submit, "Remove");
    radios().forEach((radio, i) => (radio.checked = i === 0));
    show(remove.dialog);
    radios()[0]?.focus();
  }

  on(remove.cancel, "click", () => remove.dialog.close());
  on(remove.form, "submit", (event) => {
    event.preventDefault();
    if (!target || remove.submit.disabled) return;
    const { roomId, user } = target;
    const picked = radios().find((r) => r.checked);
    const seconds = BAN_DURATIONS[Number(picked?.dataset.index ?? 0)]?.seconds;
    const reason = remove.reason.value.trim();
    remove.submit.disabled = true;
    setText(remove.submit, "Removing…");
    setText(remove.error, "");
    client.ban(roomId, user.id, { durationSec: seconds, reason: reason || undefined }).then(
      () => {
        if (target?.user.id === user.id) remove.dialog.close();
        options.notice(`${user.name} was removed from #${roomId} ${banLength(seconds)}`, "info");
      },
      (error: HuddleClientError) => {
        remove.submit.disabled = false;
        setText(remove.submit, "Remove");
        setText(remove.error, errorText(error));
      },
    );
  });

  function openBans(roomId: string) {
    bansRoom = roomId;
    learnNames();
    setText(bans.title, `Bans in #${roomId}`);
    setText(bans.status, "Loading…");
    bans.list.replaceChildren();
    show(bans.dialog);
    bans.close.focus();
    const seq = ++listing;
    client.bans(roomId).then(
      (list) => seq === listing && drawBans(roomId, list),
      (error: HuddleClientError) =>
        seq === listing && setText(bans.status, `Couldn't load the bans: ${errorText(error)}`),
    );
  }

  function drawBans(roomId: string, list: Ban[]) {
    const at = now();
    // Soonest end first; bans without an end last.
    const sorted = [...list].sort((a, b) => (a.until ?? Infinity) - (b.until ?? Infinity));
    bans.list.replaceChildren(
      ...sorted.map((ban) => {
        const name = nameOf(ban.userId);
        return el(
          "li",
          { className: "ban", attrs: { "data-user": ban.userId } },
          el(
            "div",
            { className: "ban-words" },
            el("span", { className: "ban-name" }, name),
            el("span", { className: "ban-until" }, banUntil(ban.until, at)),
            ban.reason ? el("span", { className: "ban-reason" }, ban.reason) : null,
          ),
          el(
            "button",
            {
              className: "ban-lift",
              attrs: { type: "button", "data-user": ban.userId, "aria-label": `Lift the ban on ${name}` },
            },
            "Lift ban",
          ),
        );
      }),
    );
    setText(bans.status, countText(roomId, sorted.length));
  }

  const countText = (roomId: string, n: number) =>
    n === 0
      ? `No one is banned from #${roomId}.`
      : `${n} ${n === 1 ? "person is" : "people are"} banned from #${roomId}.`;

  on(bans.close, "click", () => bans.dialog.close());
  on(bans.list, "click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button.ban-lift");
    const userId = button?.dataset.user;
    const roomId = bansRoom;
    if (!button || userId === undefined || roomId === undefined || button.disabled) return;
    button.disabled = true;
    setText(button, "Lifting…");
    client.unban(roomId, userId).then(
      () => {
        if (bansRoom !== roomId) return;
        const row = button.closest("li");
        // The focus was on the button that is going: the next ban's, else the previous one's, else Close.
        const next = row?.nextElementSibling ?? row?.previousElementSibling;
        row?.remove();
        (next?.querySelector<HTMLButtonElement>("button.ban-lift") ?? bans.close).focus();
        const left = bans.list.children.length;
        setText(bans.status, `The ban on ${nameOf(userId)} was lifted. ${countText(roomId, left)}`);
      },
      (error: HuddleClientError) => {
        button.disabled = false;
        setText(button, "Lift ban");
        setText(bans.status, `Couldn't lift the ban: ${errorText(error)}`);
      },
    );
  });

  return {
    openRemove,
    openBans,
    close() {
      if (remove.dialog.open) remove.dialog.close();
      if (bans.dialog.open) bans.dialog.close();
    },
  };
}

/** A radio button that Tab skips: one of a group whose checked button (or, with none checked, first) takes Tab. */
function isOtherRadio(element: HTMLElement): boolean {
  if (!(element instanceof HTMLInputElement) || element.type !== "radio" || element.checked) return false;
  const group = element.form?.querySelectorAll<HTMLInputElement>(`input[type=radio][name="${element.name}"]`);
  const anyChecked = [...(group ?? [])].some((r) => r.checked);
  return anyChecked || group?.[0] !== element;
}
