// Contracts of the users service: accounts, credentials, identity tokens.
// Identity tokens are EdDSA-signed JWTs (issuer "boxoffice-users", claims sub = user id, role,
// email); every service verifies them locally with the public keys of `users.keys.v1`
// (@boxoffice/identity caches them).
import { defineMethod } from "@boxoffice/bus";
import { z } from "zod";
import { emailSchema, emptyRequestSchema, healthResponseSchema, idSchema, isoDateTimeSchema, roleSchema } from "./common.ts";

export const passwordSchema = z.string().min(8, "must be at least 8 characters").max(256);
export const displayNameSchema = z.string().trim().min(1).max(100);

export const userSchema = z.object({
  id: idSchema,
  email: z.string(),
  displayName: z.string(),
  role: roleSchema,
});
export type User = z.infer<typeof userSchema>;

/** New accounts are buyers; organisers come from the seed or an admin command. */
export const usersRegisterV1 = defineMethod({
  name: "users.register.v1",
  access: { services: ["gateway"] },
  request: z.object({ email: emailSchema, password: passwordSchema, displayName: displayNameSchema }),
  response: z.object({ user: userSchema }),
});

/**
 * Checks the password and issues a short-lived identity token. `clientAddress` is the browser's
 * address as the gateway saw it (rate limiting per address); `audience` defaults to "boxoffice".
 */
export const usersLoginV1 = defineMethod({
  name: "users.login.v1",
  access: { services: ["gateway"] },
  request: z.object({
    email: emailSchema,
    // Any length is checked (a short wrong password is just wrong), but not unbounded.
    password: z.string().min(1).max(256),
    clientAddress: z.string().max(100).optional(),
    audience: z.string().min(1).max(100).optional(),
  }),
  response: z.object({
    user: userSchema,
    token: z.string(),
    expiresAt: isoDateTimeSchema,
    /** For users.refresh.v1: kept by the gateway in its session, never shown to the browser. */
    refreshToken: z.string().optional(),
    refreshExpiresAt: isoDateTimeSchema.optional(),
  }),
});

/**
 * A fresh identity token for the holder of a refresh token issued at login (so a session outlives
 * one identity token), and the refresh token that replaces it. UNAUTHENTICATED when the refresh
 * token is forged, expired, for another audience, revoked (sign-out), already replaced (reuse: its
 * whole sign-in is revoked), or its user no longer exists. `audience` of the new token as in login.
 */
export const usersRefreshV1 = defineMethod({
  name: "users.refresh.v1",
  access: { services: ["gateway"] },
  request: z.object({
    refreshToken: z.string().min(1).max(4096),
    audience: z.string().min(1).max(100).optional(),
  }),
  response: z.object({
    user: userSchema,
    token: z.string(),
    expiresAt: isoDateTimeSchema,
    /**
     * The refresh token that replaces the one presented (rotation: the presented one is spent; using
     * it again later revokes every token of its sign-in). Keep it instead of the old one.
     */
    refreshToken: z.string().optional(),
    refreshExpiresAt: isoDateTimeSchema.optional(),
  }),
});

/** Sign-out: the refresh token's whole sign-in (every rotation of it) stops being accepted. */
export const usersRevokeV1 = defineMethod({
  name: "users.revoke.v1",
  access: { services: ["gateway"] },
  request: z.object({ refreshToken: z.string().min(1).max(4096) }),
  response: z.object({}),
});

/** The caller's own profile; needs the caller's token (RPC `token` option). */
export const usersProfileV1 = defineMethod({
  name: "users.profile.v1",
  access: { services: ["gateway"] },
  request: emptyRequestSchema,
  response: z.object({ user: userSchema }),
});

/** One public key of the token signer, as a JWK (OKP/Ed25519 or EC/P-256). */
export const publicJwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string(),
  alg: z.string().optional(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
  use: z.string().optional(),
});
export type PublicJwk = z.infer<typeof publicJwkSchema>;

/** The JWKS every verifier needs: the current signing key first, then keys still valid during rotation. */
export const usersKeysV1 = defineMethod({
  name: "users.keys.v1",
  request: emptyRequestSchema,
  response: z.object({ keys: z.array(publicJwkSchema) }),
});

export const usersHealthV1 = defineMethod({
  name: "users.health.v1",
  request: emptyRequestSchema,
  response: healthResponseSchema,
});

/** Every method the users service serves (the contract test checks the server serves exactly these). */
export const usersMethods = [usersRegisterV1, usersLoginV1, usersRefreshV1, usersRevokeV1, usersProfileV1, usersKeysV1, usersHealthV1] as const;
