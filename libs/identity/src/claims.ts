// What an identity token says, in one place: the users service signs these claims and every
// verifier reads them back.
import { roleSchema } from "@boxoffice/contracts";
import { z } from "zod";

/** `iss` of every identity token. */
export const IDENTITY_ISSUER = "boxoffice-users";
/** The audience tokens are issued for unless a caller asks for another. */
export const DEFAULT_AUDIENCE = "boxoffice";
/** Ed25519 signatures: small keys, fast to verify, no parameter choices to get wrong. */
export const IDENTITY_ALGORITHM = "EdDSA";
/** Tokens are short-lived: the gateway re-issues them from its session; nothing revokes them. */
export const DEFAULT_TOKEN_TTL_SECONDS = 15 * 60;

/**
 * Audience of refresh tokens: what the gateway keeps in its session to get fresh identity tokens
 * from users.refresh.v1. Their own audience keeps them from ever passing as identity tokens.
 */
export const REFRESH_AUDIENCE = "boxoffice-refresh";
/** Refresh tokens last as long as a session may (7 days by default). */
export const DEFAULT_REFRESH_TTL_SECONDS = 7 * 24 * 3600;

/** The signed-in caller, as handlers see it. */
export interface Identity {
  userId: string;
  role: "buyer" | "organizer" | "operator";
  email: string;
}

export const identityClaimsSchema = z.object({
  sub: z.string().min(1),
  role: roleSchema,
  email: z.string(),
});
