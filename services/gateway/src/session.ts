// Sessions live in the cookie itself (encrypted and authenticated with libsodium's secretbox by
// @fastify/secure-session): any gateway instance can serve any request, nothing is stored server
// side. The identity token rides inside, so the browser holds it but can neither read nor forge it;
// so does the refresh token issued at sign-in, exchanged for a fresh identity token a minute before
// the current one expires (a buyer is never signed out mid-purchase while the session lasts).
import { randomUUID } from "node:crypto";
import secureSession from "@fastify/secure-session";
import type { ProcessedEventLog } from "@boxoffice/bus";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { User } from "@boxoffice/contracts";
import type { GatewayBackend } from "./backend.ts";
import { GatewayError } from "./errors.ts";

export const SESSION_COOKIE = "boxoffice_session";

export interface SessionState {
  user: User;
  token: string;
  tokenExpiresAt: number;
  refreshToken?: string;
  refreshExpiresAt?: number;
}

declare module "@fastify/secure-session" {
  interface SessionData {
    /** This sign-in's id: signing out records it as revoked, so a copy of the cookie is worthless. */
    sid: string;
    user: User;
    token: string;
    tokenExpiresAt: number;
    refreshToken: string;
    refreshExpiresAt: number;
  }
}

export interface SessionOptions {
  keys: string[];
  ttlSeconds: number;
  /**
   * Session ids signed out, shared by every gateway (Redis; in memory for one process), kept as
   * long as a cookie can live. A cookie whose id is in it signs nobody in.
   */
  revoked?: Pick<ProcessedEventLog, "has" | "add">;
}

/**
 * The revocation list with a per-gateway memory of its answers: "not signed out" is reused for
 * `ttlMs` (so a buyer's requests within that second cost one Redis round trip, not one each),
 * "signed out" for as long as it is kept (a sign-out is never undone), and a sign-out made on this
 * gateway is known here at once. The bound that follows: a cookie signed out on another gateway may
 * still be let in here for up to `ttlMs`. Concurrent checks of one session share one lookup; a
 * failed lookup is not kept (the next request asks again). `ttlMs` 0: every request asks.
 */
export function cachedRevocations(revoked: ProcessedEventLog, ttlMs: number, now: () => number = Date.now, maxEntries = 100_000): ProcessedEventLog {
  if (ttlMs <= 0) return revoked;
  const known = new Map<string, { signedOut: Promise<boolean>; at: number; settled: boolean; value?: boolean }>();
  const remember = (sid: string, entry: { signedOut: Promise<boolean>; at: number; settled: boolean; value?: boolean }) => {
    known.delete(sid);
    known.set(sid, entry);
    // Oldest first: a burst of new sessions forgets the ones not seen for longest.
    while (known.size > maxEntries) known.delete(known.keys().next().value as string);
  };
  return {
    has(sid) {
      const entry = known.get(sid);
      if (entry && (entry.value === true || !entry.settled || now() - entry.at < ttlMs)) return entry.signedOut;
      const fresh: { signedOut: Promise<boolean>; at: number; settled: boolean; value?: boolean } = { signedOut: revoked.has(sid), at: now(), settled: false };
      fresh.signedOut.then(
        (value) => {
          fresh.settled = true;
          fresh.value = value;
        },
        () => {
          if (known.get(sid) === fresh) known.delete(sid);
        },
      );
      remember(sid, fresh);
      return fresh.signedOut;
    },
    async add(sid) {
      const added = await revoked.add(sid);
      remember(sid, { signedOut: Promise.resolve(true), at: now(), settled: true, value: true });
      return added;
    },
    close() {
      known.clear();
      return revoked.close();
    },
  };
}

export async function registerSessions(app: FastifyInstance, options: SessionOptions): Promise<void> {
  await app.register(secureSession, {
    cookieName: SESSION_COOKIE,
    // First key encrypts, every key decrypts: add a new key in front, drop the old one later.
    key: options.keys.map((hex) => Buffer.from(hex, "hex")),
    expiry: options.ttlSeconds,
    cookie: { path: "/", httpOnly: true, sameSite: "lax", secure: "auto", maxAge: options.ttlSeconds },
  });
  const revoked = options.revoked;
  if (!revoked) return;
  app.addHook("onRequest", async (request) => {
    const sid = request.session.get("sid");
    if (typeof sid !== "string") return;
    let signedOut: boolean;
    try {
      signedOut = await revoked.has(sid);
    } catch {
      // Without the list a replayed cookie cannot be told apart: refuse rather than let it in.
      throw new GatewayError("UNAVAILABLE", "sessions cannot be checked right now; retry in a moment");
    }
    if (signedOut) {
      request.session.regenerate();
      request.session.delete();
    }
  });
}

/**
 * Signs out: the session id goes on the revocation list, the users service revokes the refresh
 * token's sign-in, then the browser's cookie is cleared.
 */
export async function endSession(
  request: FastifyRequest,
  revoked: SessionOptions["revoked"],
  backend: Pick<GatewayBackend, "revokeRefreshToken">,
): Promise<void> {
  const sid = request.session.get("sid");
  const refreshToken = request.session.get("refreshToken");
  if (typeof refreshToken === "string") {
    // Best effort: the session id above already makes this cookie useless; this makes the refresh
    // token inside it useless too, should it ever leave the cookie.
    await backend.revokeRefreshToken(refreshToken).catch((error: unknown) => request.log.warn({ err: error }, "refresh token not revoked at sign-out"));
  }
  if (revoked && typeof sid === "string") {
    try {
      await revoked.add(sid);
    } catch {
      throw new GatewayError("UNAVAILABLE", "signing out failed; retry in a moment");
    }
  }
  request.session.delete();
}

/** The signed-in session, or 401 UNAUTHENTICATED. */
export function requireSession(request: FastifyRequest): SessionState {
  const user = request.session.get("user");
  const token = request.session.get("token");
  const tokenExpiresAt = request.session.get("tokenExpiresAt");
  if (!user || !token || typeof tokenExpiresAt !== "number") throw new GatewayError("UNAUTHENTICATED");
  const refreshToken = request.session.get("refreshToken");
  const refreshExpiresAt = request.session.get("refreshExpiresAt");
  return { user, token, tokenExpiresAt, refreshToken, refreshExpiresAt };
}

/** The browser may drop the cookie when nothing in it can authenticate any more. */
function limitCookieLifetime(request: FastifyRequest, state: SessionState, sessionTtlSeconds: number): void {
  const lastsUntil = state.refreshToken && state.refreshExpiresAt ? state.refreshExpiresAt : state.tokenExpiresAt;
  const seconds = Math.floor((lastsUntil - Date.now()) / 1000);
  if (seconds > 0 && seconds < sessionTtlSeconds) request.session.options({ maxAge: seconds });
}

export function startSession(request: FastifyRequest, state: SessionState, sessionTtlSeconds: number): void {
  // A new session on sign-in: nothing from before carries over (session fixation).
  request.session.regenerate();
  request.session.set("sid", randomUUID());
  request.session.set("user", state.user);
  request.session.set("token", state.token);
  request.session.set("tokenExpiresAt", state.tokenExpiresAt);
  if (state.refreshToken && state.refreshExpiresAt !== undefined) {
    request.session.set("refreshToken", state.refreshToken);
    request.session.set("refreshExpiresAt", state.refreshExpiresAt);
  }
  limitCookieLifetime(request, state, sessionTtlSeconds);
}

/** Margin before the token's expiry at which it is no longer sent (a call must not carry a dead token). */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;
/** How long before its expiry an identity token is exchanged for a fresh one. */
export const TOKEN_REFRESH_BEFORE_MS = 60_000;

function sessionOver(request: FastifyRequest): GatewayError {
  request.session.delete();
  return new GatewayError("UNAUTHENTICATED", "your session expired; sign in again");
}

/**
 * Who is signed in, for routes the gateway answers itself without sending the identity token on (the
 * waiting room): the session cookie, signed by this tier and checked against sign-outs, says who it
 * is, so a token near or past its expiry is not refreshed here — while a refresh token could still
 * renew it, the buyer is signed in; the next call that carries the token (a hold) refreshes it.
 * Refreshing on every poll put the users service on the waiting room's path: 40,000 buyers signed
 * in over a few minutes reached their tokens' last minute together, mid-sale, and every poll
 * waited for a token exchange (the distributed 40,000-buyer run that broke down ~100 s into the sale).
 * A sign-in revoked at the users service from elsewhere (another device's sign-out, a reused refresh
 * token) is noticed at the next call that carries the token: until then such a buyer may keep a place
 * in a line, never hold.
 */
export function signedInCaller(request: FastifyRequest): SessionState {
  const state = requireSession(request);
  const now = Date.now();
  if (state.tokenExpiresAt - now > TOKEN_EXPIRY_MARGIN_MS) return state;
  if (state.refreshToken && (state.refreshExpiresAt ?? 0) > now) return state;
  throw sessionOver(request);
}

/**
 * The signed-in session with a usable identity token, refreshed (and the cookie re-set) when it is
 * within a minute of expiry or expired; 401 with the cookie cleared when it cannot be refreshed.
 */
export async function authenticatedCaller(
  request: FastifyRequest,
  backend: Pick<GatewayBackend, "refresh">,
  sessionTtlSeconds: number,
): Promise<SessionState> {
  const state = requireSession(request);
  const left = state.tokenExpiresAt - Date.now();
  if (left > TOKEN_REFRESH_BEFORE_MS) return state;
  if (!state.refreshToken || (state.refreshExpiresAt ?? 0) <= Date.now()) {
    if (left > TOKEN_EXPIRY_MARGIN_MS) return state;
    throw sessionOver(request);
  }
  let fresh;
  try {
    fresh = await backend.refresh(state.refreshToken);
  } catch (error) {
    if ((error as { code?: unknown }).code === "UNAUTHENTICATED") throw sessionOver(request);
    // The users service is briefly away: the current token serves while it lasts.
    if (left > TOKEN_EXPIRY_MARGIN_MS) return state;
    throw error;
  }
  const next: SessionState = { ...state, user: fresh.user, token: fresh.token, tokenExpiresAt: fresh.tokenExpiresAt };
  request.session.set("user", next.user);
  request.session.set("token", next.token);
  request.session.set("tokenExpiresAt", next.tokenExpiresAt);
  // Rotation: the presented refresh token is spent; the cookie keeps the one that replaces it.
  if (fresh.refreshToken && fresh.refreshExpiresAt !== undefined) {
    next.refreshToken = fresh.refreshToken;
    next.refreshExpiresAt = fresh.refreshExpiresAt;
    request.session.set("refreshToken", fresh.refreshToken);
    request.session.set("refreshExpiresAt", fresh.refreshExpiresAt);
  }
  limitCookieLifetime(request, next, sessionTtlSeconds);
  return next;
}
