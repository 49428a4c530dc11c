// Sessions live in the cookie itself (encrypted and authenticated with libsodium's secretbox by
// @fastify/secure-session): any gateway instance can serve any request, nothing is stored server
// side. The identity token rides inside, so the browser holds it but can neither read nor forge it.
import secureSession from "@fastify/secure-session";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { User } from "@boxoffice/contracts";
import { GatewayError } from "./errors.ts";

export const SESSION_COOKIE = "boxoffice_session";

export interface SessionState {
  user: User;
  token: string;
  tokenExpiresAt: number;
}

declare module "@fastify/secure-session" {
  interface SessionData {
    user: User;
    token: string;
    tokenExpiresAt: number;
  }
}

export async function registerSessions(app: FastifyInstance, options: { keys: string[]; ttlSeconds: number }): Promise<void> {
  await app.register(secureSession, {
    cookieName: SESSION_COOKIE,
    // First key encrypts, every key decrypts: add a new key in front, drop the old one later.
    key: options.keys.map((hex) => Buffer.from(hex, "hex")),
    expiry: options.ttlSeconds,
    cookie: { path: "/", httpOnly: true, sameSite: "lax", secure: "auto", maxAge: options.ttlSeconds },
  });
}

/** The signed-in session, or 401 UNAUTHENTICATED. */
export function requireSession(request: FastifyRequest): SessionState {
  const user = request.session.get("user");
  const token = request.session.get("token");
  const tokenExpiresAt = request.session.get("tokenExpiresAt");
  if (!user || !token || typeof tokenExpiresAt !== "number") throw new GatewayError("UNAUTHENTICATED");
  return { user, token, tokenExpiresAt };
}

export function startSession(request: FastifyRequest, state: SessionState, sessionTtlSeconds: number): void {
  // A new session on sign-in: nothing from before carries over (session fixation).
  request.session.regenerate();
  request.session.set("user", state.user);
  request.session.set("token", state.token);
  request.session.set("tokenExpiresAt", state.tokenExpiresAt);
  // The session is worth nothing once the identity token expires: let the browser drop it then.
  const tokenSeconds = Math.floor((state.tokenExpiresAt - Date.now()) / 1000);
  if (tokenSeconds > 0 && tokenSeconds < sessionTtlSeconds) request.session.options({ maxAge: tokenSeconds });
}

/** Margin before the token's expiry at which the session counts as over (a call must not carry a dead token). */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;

/** The signed-in session with a usable identity token, or 401 (and the stale cookie cleared). */
export function authenticatedCaller(request: FastifyRequest): SessionState {
  const state = requireSession(request);
  if (state.tokenExpiresAt - Date.now() > TOKEN_EXPIRY_MARGIN_MS) return state;
  request.session.delete();
  throw new GatewayError("UNAUTHENTICATED", "your session expired; sign in again");
}
