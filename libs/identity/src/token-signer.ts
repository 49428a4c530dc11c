// Issuing identity tokens (used by the users service only). Keys are private JWKs with a `kid`;
// the first key signs, all of them are published so tokens signed by a retiring key still verify
// during the overlap of a rotation.
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import type { PublicJwk } from "@boxoffice/contracts";
import { z } from "zod";
import { DEFAULT_AUDIENCE, DEFAULT_TOKEN_TTL_SECONDS, IDENTITY_ALGORITHM, IDENTITY_ISSUER, type Identity } from "./claims.ts";

export const privateJwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string().min(1),
  crv: z.string().optional(),
  d: z.string({ error: "a signing key needs its private part (d)" }).min(1, "a signing key needs its private part (d)"),
  x: z.string().optional(),
  y: z.string().optional(),
});

export const signingKeysSchema = z.array(privateJwkSchema).min(1, "at least one signing key");

/** Parses `USERS_SIGNING_KEYS` (a JSON list of private JWKs); throws a TypeError saying what is wrong. */
export function parseSigningKeys(json: string): JWK[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new TypeError("signing keys must be a JSON list of private JWKs");
  }
  const result = signingKeysSchema.safeParse(value);
  if (!result.success) throw new TypeError(`invalid signing keys: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return result.data as JWK[];
}

/** A fresh Ed25519 private JWK with the given key id. */
export async function generateSigningKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(IDENTITY_ALGORITHM, { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid, alg: IDENTITY_ALGORITHM };
}

function publicPart(jwk: JWK): PublicJwk {
  // Only the public members go out; `d` (and RSA's private members, if any) never leave.
  const { kty, crv, x, y, kid } = jwk;
  if (!kty || !kid) throw new TypeError("every signing key needs kty and kid");
  const pub: PublicJwk = { kty, kid, alg: jwk.alg ?? algorithmOf(jwk), use: "sig" };
  if (crv) pub.crv = crv;
  if (x) pub.x = x;
  if (y) pub.y = y;
  return pub;
}

function algorithmOf(jwk: JWK): string {
  if (jwk.kty === "OKP") return "EdDSA";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  throw new TypeError(`signing key ${jwk.kid}: only Ed25519 (OKP) and P-256 (EC) keys are supported`);
}

export interface TokenSigner {
  /** `ttlSeconds` overrides the signer's lifetime (refresh tokens live longer than identity tokens). */
  /**
   * `issuedAt` (epoch s) fixes the issue time: Ed25519 signatures are deterministic, so the same
   * identity, audience, lifetime, issue time and `tokenId` (the `jti` claim) give the very same token again.
   */
  sign(identity: Identity, options?: { audience?: string; ttlSeconds?: number; issuedAt?: number; tokenId?: string }): Promise<{ token: string; expiresAt: Date }>;
  /** Public JWKs of every configured key, the signing key first. */
  publicKeys(): PublicJwk[];
}

export interface TokenSignerOptions {
  keys: JWK[];
  /** Lifetime of a token. Default 15 minutes. */
  ttlSeconds?: number;
  now?: () => number;
}

export async function createTokenSigner(options: TokenSignerOptions): Promise<TokenSigner> {
  const [signingJwk] = options.keys;
  if (!signingJwk?.kid) throw new TypeError("the signing key needs a kid");
  const alg = signingJwk.alg ?? algorithmOf(signingJwk);
  const signingKey = (await importJWK(signingJwk, alg)) as CryptoKey;
  const publics = options.keys.map(publicPart);
  const ttl = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const now = options.now ?? Date.now;
  return {
    async sign(identity, signOptions = {}) {
      const issuedAt = signOptions.issuedAt ?? Math.floor(now() / 1000);
      const expiresAt = issuedAt + (signOptions.ttlSeconds ?? ttl);
      const claims: Record<string, string> = { role: identity.role, email: identity.email };
      if (signOptions.tokenId) claims.jti = signOptions.tokenId;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg, kid: signingJwk.kid, typ: "JWT" })
        .setIssuer(IDENTITY_ISSUER)
        .setSubject(identity.userId)
        .setAudience(signOptions.audience ?? DEFAULT_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .sign(signingKey);
      return { token, expiresAt: new Date(expiresAt * 1000) };
    },
    publicKeys: () => publics.map((k) => ({ ...k })),
  };
}
