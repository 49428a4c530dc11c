// The browser UI's entry: a hash router over the views, and the navigation that follows who is
// signed in. Each view may return a cleanup (close its socket, stop its timers) run on leaving.
// Views are imported when their route is opened: a page never downloads another page's code
// (the bundle budget in services/gateway/test/web-ui.test.ts checks it).
import { api, prefetchEvent } from "./api.ts";
import { clearStaleNotice, h, notify } from "./dom.ts";
import { loadUser, navigate, onUserChange, setUser, user } from "./state.ts";

type Cleanup = (() => void) | void;
let cleanup: Cleanup;

function paintNav(): void {
  const nav = document.getElementById("nav") as HTMLElement;
  const me = user();
  const link = (href: string, text: string) => h("li", {}, h("a", { href }, text));
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await api.signOut().catch(() => {});
    setUser(null);
    notify("Signed out.", "ok");
    navigate("/");
  });
  const items = [
    link("#/", "Events"),
    me ? link("#/tickets", "My tickets") : null,
    me?.role === "organizer" ? link("#/organiser", "Create event") : null,
    me?.role === "operator" ? link("#/ops", "Console") : null,
    me ? h("li", { class: "meta" }, me.displayName) : null,
    me ? h("li", {}, signOut) : link("#/signin", "Sign in"),
    me ? null : link("#/signup", "Sign up"),
  ];
  nav.replaceChildren(...items.filter((x): x is HTMLLIElement => x !== null));
}

async function route(): Promise<void> {
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const [path, query = ""] = (location.hash.replace(/^#/, "") || "/").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  clearStaleNotice();
  const seq = ++routeSeq;
  const next = await openRoute(parts, params);
  // The buyer moved on while this page's code or data was loading: drop it at once.
  if (seq !== routeSeq && typeof next === "function") next();
  else cleanup = next;
}

let routeSeq = 0;

type Parts = string[];

/** Starts downloading the code of the page at `parts` (the browser keeps the module for the route). */
function preloadView(parts: Parts): Promise<unknown> {
  if (parts[0] === "events" && parts[1] && parts[2] === "queue") return import("./views/queue.ts");
  if (parts[0] === "events" && parts[1]) return import("./views/event-page.ts");
  if (parts[0] === "checkout" && parts[1]) return import("./views/checkout.ts");
  if (parts[0] === "orders" || parts[0] === "tickets") return import("./views/tickets.ts");
  if (parts[0] === "signin" || parts[0] === "signup") return import("./views/account.ts");
  if (parts[0] === "organiser") return import("./views/organiser.ts");
  if (parts[0] === "ops") return import("./views/ops.ts");
  return import("./views/events-list.ts");
}

async function openRoute(parts: Parts, params: URLSearchParams): Promise<Cleanup> {
  if (parts[0] === "events" && parts[1] && parts[2] === "queue") return (await import("./views/queue.ts")).queueView(parts[1]);
  if (parts[0] === "events" && parts[1]) return (await import("./views/event-page.ts")).eventPageView(parts[1]);
  if (parts[0] === "checkout" && parts[1]) return (await import("./views/checkout.ts")).checkoutView(parts[1]);
  if (parts[0] === "orders" && parts[1]) return (await import("./views/tickets.ts")).orderView(parts[1]);
  if (parts[0] === "tickets") return (await import("./views/tickets.ts")).myTicketsView();
  if (parts[0] === "signin") return (await import("./views/account.ts")).signInView(params.get("next"));
  if (parts[0] === "signup") return (await import("./views/account.ts")).signUpView(params.get("next"));
  if (parts[0] === "organiser" && parts[1] === "events" && parts[2]) return (await import("./views/organiser.ts")).salesView(parts[2]);
  if (parts[0] === "organiser") return (await import("./views/organiser.ts")).organiserView();
  if (parts[0] === "ops") return (await import("./views/ops.ts")).opsView();
  return (await import("./views/events-list.ts")).eventsListView();
}

function currentParts(): Parts {
  return (location.hash.replace(/^#/, "") || "/").split("?")[0].split("/").filter(Boolean);
}

window.addEventListener("hashchange", () => void route());
window.addEventListener("boxoffice:signed-out", () => {
  if (user()) setUser(null);
});
onUserChange(paintNav);

void (async () => {
  // The first page's code (and an event page's event) download while we ask who is signed in, not after.
  const first = currentParts();
  preloadView(first).catch(() => {});
  if (first[0] === "events" && first[1] && first.length === 2) prefetchEvent(first[1]);
  await loadUser().catch(() => setUser(null));
  paintNav();
  await route();
  document.documentElement.dataset.ready = "true";
})();
