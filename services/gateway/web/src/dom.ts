// A tiny element builder: enough to keep views declarative without a framework.
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replaces the page content and moves focus to its heading (screen readers announce the new page). */
export function render(...children: Array<Child | Child[]>): void {
  const main = document.getElementById("main") as HTMLElement;
  main.replaceChildren(...(children.flat().filter((c) => c !== null && c !== undefined && c !== false) as Array<Node | string>));
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

let noticeTimer: number | undefined;
let noticeShownAt = 0;

/** Shows a message in the live region; `retryAfterSeconds` adds a countdown and calls `onRetry` at zero. */
export function notify(message: string, kind: "ok" | "error" | "warn" = "ok", options: { retryAfterSeconds?: number; onRetry?: () => void } = {}): void {
  const notice = document.getElementById("notice") as HTMLElement;
  window.clearInterval(noticeTimer);
  noticeShownAt = Date.now();
  notice.hidden = false;
  notice.className = `notice ${kind}`;
  if (options.retryAfterSeconds === undefined) {
    notice.textContent = message;
    return;
  }
  let left = options.retryAfterSeconds;
  const paint = () => (notice.textContent = `${message} Retrying in ${left} s…`);
  paint();
  noticeTimer = window.setInterval(() => {
    left -= 1;
    if (left > 0) return paint();
    window.clearInterval(noticeTimer);
    notice.textContent = `${message} Retrying now…`;
    options.onRetry?.();
  }, 1000);
}

export function clearNotice(): void {
  const notice = document.getElementById("notice") as HTMLElement;
  window.clearInterval(noticeTimer);
  notice.hidden = true;
  notice.textContent = "";
}

/** On navigation: a message shown just before it (e.g. "Signed in.") stays for the new page. */
export function clearStaleNotice(): void {
  if (Date.now() - noticeShownAt > 1500) clearNotice();
}
