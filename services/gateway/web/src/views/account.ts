// Sign in and sign up. After either, the buyer returns to where they were going (`next`).
import { api, ApiError, describeError } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { navigate, setUser } from "../state.ts";

function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function signInView(next: string | null): void {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { "aria-label": "Sign in" }, h("label", {}, "Email", email), h("label", {}, "Password", password), submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      setUser(await api.signIn({ email: email.value, password: password.value }));
      notify("Signed in.", "ok");
      navigate(safeNext(next));
    } catch (error) {
      notify(describeError(error), "error", error instanceof ApiError && error.code === "BUSY" ? { retryAfterSeconds: error.retryAfterSeconds ?? 2, onRetry: () => form.requestSubmit() } : {});
    } finally {
      submit.disabled = false;
    }
  });
  render(
    h("h1", {}, "Sign in"),
    form,
    h("p", {}, "New here? ", h("a", { href: `#/signup${next ? `?next=${encodeURIComponent(next)}` : ""}` }, "Create an account")),
    h("p", { class: "hint" }, "Demo logins: buyer@boxoffice.test / buyer-password · organizer@boxoffice.test / organizer-password · operator@boxoffice.test / operator-password"),
  );
}

export function signUpView(next: string | null): void {
  const displayName = h("input", { name: "displayName", autocomplete: "name", required: true });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const submit = h("button", { type: "submit" }, "Create account");
  const form = h("form", { "aria-label": "Create an account" },
    h("label", {}, "Your name", displayName),
    h("label", {}, "Email", email),
    h("label", {}, "Password", h("span", { class: "hint" }, "At least 8 characters"), password),
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await api.signUp({ email: email.value, password: password.value, displayName: displayName.value });
      setUser(await api.signIn({ email: email.value, password: password.value }));
      notify("Welcome! Your account is ready.", "ok");
      navigate(safeNext(next));
    } catch (error) {
      notify(describeError(error), "error");
    } finally {
      submit.disabled = false;
    }
  });
  render(h("h1", {}, "Create an account"), form, h("p", {}, "Already have one? ", h("a", { href: "#/signin" }, "Sign in")));
}
