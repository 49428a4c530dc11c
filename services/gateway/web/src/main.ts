// The browser UI's entry: a hash router over the views, and the navigation that follows who is
// signed in. Each view may return a cleanup (close its socket, stop its timers) run on leaving.
import { api } from "./api.ts";
import { clearStaleNotice, h, notify } from "./dom.ts";
import { signInView, signUpView } from "./views/account.ts";
import { checkoutView } from "./views/checkout.ts";
import { eventPageView } from "./views/event-page.ts";
import { eventsListView } from "./views/events-list.ts";
import { organiserView, salesView } from "./views/organiser.ts";
import { opsView } from "./views/ops.ts";
import { queueView } from "./views/queue.ts";
import { myTicketsView, orderView } from "./views/tickets.ts";
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
  if (parts.length === 0) return eventsListView();
  if (parts[0] === "events" && parts[1] && parts[2] === "queue") cleanup = await queueView(parts[1]);
  else if (parts[0] === "events" && parts[1]) cleanup = await eventPageView(parts[1]);
  else if (parts[0] === "checkout" && parts[1]) cleanup = checkoutView(parts[1]);
  else if (parts[0] === "orders" && parts[1]) await orderView(parts[1]);
  else if (parts[0] === "tickets") await myTicketsView();
  else if (parts[0] === "signin") signInView(params.get("next"));
  else if (parts[0] === "signup") signUpView(params.get("next"));
  else if (parts[0] === "organiser" && parts[1] === "events" && parts[2]) cleanup = await salesView(parts[2]);
  else if (parts[0] === "organiser") organiserView();
  else if (parts[0] === "ops") cleanup = opsView();
  else await eventsListView();
}

window.addEventListener("hashchange", () => void route());
window.addEventListener("boxoffice:signed-out", () => {
  if (user()) setUser(null);
});
onUserChange(paintNav);

void (async () => {
  await loadUser().catch(() => setUser(null));
  paintNav();
  await route();
  document.documentElement.dataset.ready = "true";
})();
