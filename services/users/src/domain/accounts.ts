// The users service's use cases: register, log in, refresh an identity token, read one's profile,
// seed the demo organiser.
// Plain functions of (input, deps); no transport, no SQL.
import { randomUUID } from "node:crypto";
import type { Role, User } from "@boxoffice/contracts";
import { RpcError } from "@boxoffice/bus";
import { REFRESH_AUDIENCE, type TokenSigner, type TokenVerifier } from "@boxoffice/identity";
import { audienceRefused, emailTaken, invalidCredentials, rateLimited, refreshRefused, userNotFound } from "../errors.ts";
import type { UserRecord, UsersStore } from "../store/users-store.ts";
import type { LoginLimiter } from "./login-limiter.ts";
import { hashToken, type RefreshLedger } from "./refresh-ledger.ts";
import type { PasswordHasher } from "./password-hasher.ts";

export interface AccountsDeps {
  store: UsersStore;
  hasher: PasswordHasher;
  /** Mints a user id on the logical shard of the given key (the email). */
  newUserId(email: string): string;
}

export interface LoginDeps extends AccountsDeps {
  limiter: LoginLimiter;
  signer: TokenSigner;
  /** Lifetime of the refresh token issued with each login. */
  refreshTtlSeconds: number;
  ledger: RefreshLedger;
}

export interface RefreshDeps extends Pick<AccountsDeps, "store"> {
  signer: TokenSigner;
  /** Verifies refresh tokens only (audience REFRESH_AUDIENCE). */
  refreshVerifier: Pick<TokenVerifier, "verify">;
  ledger: RefreshLedger;
  now?: () => number;
}

/**
 * The audience of an identity token the caller asked for. Never the refresh tokens' own: a refresh
 * token that could mint refresh tokens would make one stolen token valid forever.
 */
function identityAudience(requested: string | undefined): string | undefined {
  if (requested === REFRESH_AUDIENCE) throw audienceRefused(requested);
  return requested;
}

export function toUser(record: UserRecord): User {
  return { id: record.id, email: record.email, displayName: record.displayName, role: record.role };
}

/** Creates an account; the email arrives lower-cased (contracts normalise it). */
export async function registerUser(
  input: { email: string; password: string; displayName: string; role?: Role },
  deps: AccountsDeps,
): Promise<User> {
  // Cheap early answer for the common case; the unique index decides races.
  if (await deps.store.findByEmail(input.email)) throw emailTaken();
  const record = {
    id: deps.newUserId(input.email),
    email: input.email,
    displayName: input.displayName,
    role: input.role ?? "buyer",
    passwordHash: await deps.hasher.hash(input.password),
  };
  if ((await deps.store.insert(record)) === "email_taken") throw emailTaken();
  return toUser({ ...record, createdAt: new Date() });
}

export async function loginUser(
  input: { email: string; password: string; clientAddress?: string; audience?: string },
  deps: LoginDeps,
): Promise<{ user: User; token: string; expiresAt: string; refreshToken: string; refreshExpiresAt: string }> {
  const audience = identityAudience(input.audience);
  const attempt = await deps.limiter.begin(input.email, input.clientAddress);
  if (!attempt.allowed) throw rateLimited(attempt.retryAfterSeconds);
  const record = await deps.store.findByEmail(input.email);
  // Without an account we still spend one KDF run, so response time does not reveal which emails exist.
  const ok = record ? await deps.hasher.verify(input.password, record.passwordHash) : (await deps.hasher.burn(input.password), false);
  // A failure keeps the slot it took, and past the free attempts makes the next one wait longer.
  if (!record || !ok) {
    await deps.limiter.failed(input.email, input.clientAddress, attempt);
    throw invalidCredentials();
  }
  await deps.limiter.succeeded(input.email, input.clientAddress);
  const user = toUser(record);
  const identity = { userId: user.id, role: user.role, email: user.email };
  const { token, expiresAt } = await deps.signer.sign(identity, { audience });
  // A random token id: two sign-ins in the same second are two families, never one.
  const refresh = await deps.signer.sign(identity, { audience: REFRESH_AUDIENCE, ttlSeconds: deps.refreshTtlSeconds, tokenId: randomUUID() });
  await deps.ledger.start(hashToken(refresh.token), deps.refreshTtlSeconds);
  return { user, token, expiresAt: expiresAt.toISOString(), refreshToken: refresh.token, refreshExpiresAt: refresh.expiresAt.toISOString() };
}

/** The `exp` (epoch s) of a token whose signature was already verified. */
function expiryOf(token: string): number {
  return (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp: number }).exp;
}

/**
 * A fresh identity token for a valid refresh token whose user still exists (role and email as now),
 * and its replacement refresh token. The replacement expires when the presented one would have: a
 * sign-in lasts as long as its first refresh token, however often it is rotated.
 */
export async function refreshIdentity(
  input: { refreshToken: string; audience?: string },
  deps: RefreshDeps,
): Promise<{ user: User; token: string; expiresAt: string; refreshToken?: string; refreshExpiresAt?: string }> {
  const audience = identityAudience(input.audience);
  let userId: string;
  try {
    userId = (await deps.refreshVerifier.verify(input.refreshToken)).userId;
  } catch (error) {
    if (error instanceof RpcError && error.code === "UNAUTHENTICATED") throw refreshRefused(error.message);
    throw error;
  }
  const record = await deps.store.findById(userId);
  if (!record) throw refreshRefused("the account no longer exists");
  const user = toUser(record);
  const identity = { userId: user.id, role: user.role, email: user.email };
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const expiresAtSeconds = expiryOf(input.refreshToken);
  // The successor's id derives from the presented token: racing twins sign the very same successor.
  const tokenId = hashToken(input.refreshToken).slice(0, 22);
  const successor = (issuedAt: number) =>
    deps.signer.sign(identity, { audience: REFRESH_AUDIENCE, issuedAt, tokenId, ttlSeconds: Math.max(1, expiresAtSeconds - issuedAt) });
  let next = await successor(nowSeconds);
  const outcome = await deps.ledger.rotate(hashToken(input.refreshToken), hashToken(next.token), nowSeconds, Math.max(1, expiresAtSeconds - nowSeconds));
  if (outcome.kind === "reused") throw refreshRefused("this refresh token was already used, so every session of its sign-in is signed out");
  if (outcome.kind === "unknown") throw refreshRefused("the refresh token was revoked");
  let refresh: { token: string; expiresAt: Date } | undefined = next;
  if (outcome.kind === "raced") {
    // The same successor the racing request got (deterministic signature); if the account changed
    // meanwhile it differs, and this answer carries no refresh token (the session keeps its own).
    next = await successor(outcome.rotatedAt);
    refresh = hashToken(next.token) === outcome.successorHash ? next : undefined;
  }
  const { token, expiresAt } = await deps.signer.sign(identity, { audience });
  return {
    user,
    token,
    expiresAt: expiresAt.toISOString(),
    ...(refresh ? { refreshToken: refresh.token, refreshExpiresAt: refresh.expiresAt.toISOString() } : {}),
  };
}

/** Sign-out: the refresh token's sign-in (all its rotations) is revoked. Any token string is accepted. */
export async function revokeRefreshToken(refreshToken: string, deps: Pick<RefreshDeps, "ledger">): Promise<void> {
  await deps.ledger.revoke(hashToken(refreshToken));
}

export async function getProfile(userId: string, deps: Pick<AccountsDeps, "store">): Promise<User> {
  const record = await deps.store.findById(userId);
  if (!record) throw userNotFound();
  return toUser(record);
}

/** Creates a demo account (the organiser, the operator) unless it exists; safe to run on every start of every instance. */
export async function seedDemoAccount(
  account: { email: string; password: string; displayName: string; role: "organizer" | "operator" },
  deps: AccountsDeps,
): Promise<"created" | "existed"> {
  if (await deps.store.findByEmail(account.email)) return "existed";
  const record = {
    id: deps.newUserId(account.email),
    email: account.email,
    displayName: account.displayName,
    role: account.role,
    passwordHash: await deps.hasher.hash(account.password),
  };
  return (await deps.store.insert(record)) === "created" ? "created" : "existed";
}
