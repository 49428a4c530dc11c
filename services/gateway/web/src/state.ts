// Who is signed in, shared by the views; the session itself is an HttpOnly cookie the page cannot read.
import { api, ApiError, type Hold, type User } from "./api.ts";

let currentUser: User | null = null;
const listeners = new Set<() => void>();

export function user(): User | null {
  return currentUser;
}

export function setUser(next: User | null): void {
  currentUser = next;
  for (const listener of listeners) listener();
}

export function onUserChange(listener: () => void): void {
  listeners.add(listener);
}

export async function loadUser(): Promise<void> {
  try {
    setUser(await api.me());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) setUser(null);
    else throw error;
  }
}

/** The hold being checked out survives a reload (the gateway has no "get hold" call). */
export function rememberHold(hold: Hold): void {
  sessionStorage.setItem(`hold:${hold.id}`, JSON.stringify(hold));
}

export function recallHold(holdId: string): Hold | null {
  const raw = sessionStorage.getItem(`hold:${holdId}`);
  return raw ? (JSON.parse(raw) as Hold) : null;
}

export function forgetHold(holdId: string): void {
  sessionStorage.removeItem(`hold:${holdId}`);
}

export function navigate(path: string): void {
  location.hash = `#${path}`;
}

/** Until when the waiting room admitted this buyer for an event (epoch ms), kept across pages. */
export function rememberAdmission(eventId: string, admittedUntil: string | null): void {
  if (admittedUntil) sessionStorage.setItem(`admitted:${eventId}`, admittedUntil);
  else sessionStorage.removeItem(`admitted:${eventId}`);
}

export function recallAdmission(eventId: string): number | null {
  const raw = sessionStorage.getItem(`admitted:${eventId}`);
  const until = raw ? Date.parse(raw) : NaN;
  return Number.isFinite(until) && until > Date.now() ? until : null;
}
