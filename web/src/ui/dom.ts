/**
 * The only way the UI builds elements: text goes in as text nodes, never as
 * markup, and event-handler or style attributes are refused, so nothing a
 * user typed can become HTML or script (and the page works under a strict CSP).
 */

type Child = Node | string | null | undefined | false;

export interface ElementProps {
  className?: string;
  /** Plain attributes (aria-*, title, datetime, type…). `on*` and `style` are refused. */
  attrs?: Record<string, string | undefined>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className) element.className = props.className;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === undefined) continue;
    if (/^on/i.test(name) || name.toLowerCase() === "style") throw new Error(`refusing attribute ${name}`);
    element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/** The element with `id`, or a clear error when the page and the script disagree. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** Sets text only when it changed (keeps screen readers from re-announcing, and saves layout work). */
export function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export function setHidden(element: HTMLElement, hidden: boolean): void {
  if (element.hidden !== hidden) element.hidden = hidden;
}
