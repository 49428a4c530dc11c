// Verifying identity tokens locally, in every service and the gateway. The users service's public
// keys come over the bus (users.keys.v1) and are cached; a token signed with a key id we have not
// seen makes us re-fetch (rotation), at most once per `refreshMinIntervalMs` so forged kids cannot
// turn every request into a bus call.
import { createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import type { RpcClient, RpcContext } from "@boxoffice/bus";
import { RpcError, RpcErrorCodes } from "@boxoffice/bus";
import { publicJwkSchema, usersKeysV1, type PublicJwk } from "@boxoffice/contracts";
import { z } from "zod";
import { createLocalJWKSet, errors as joseErrors, jwtVerify, UnsecuredJWT, type JWK } from "jose";
import { IDENTITY_ISSUER, DEFAULT_AUDIENCE, identityClaimsSchema, type Identity } from "./claims.ts";

/**
 * `IDENTITY_TRUSTED_JWKS` (a JSON list of the users service's public JWKs) as a key source, so a
 * verifier trusts configured keys instead of whatever answers users.keys.v1 on the bus. Unset:
 * undefined (keys come over the bus). Throws a TypeError saying what is wrong.
 */
export function pinnedKeysFrom(json: string | undefined): (() => Promise<PublicJwk[]>) | undefined {
  if (json === undefined || json.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new TypeError("IDENTITY_TRUSTED_JWKS must be a JSON list of public JWKs");
  }
  const parsed = z.array(publicJwkSchema).min(1).safeParse(value);
  if (!parsed.success) throw new TypeError(`IDENTITY_TRUSTED_JWKS: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  if (parsed.data.some((k) => "d" in k)) throw new TypeError("IDENTITY_TRUSTED_JWKS holds a private key (d): list only the public parts");
  const keys = parsed.data;
  return async () => keys;
}

export interface TokenVerifierOptions {
  /** Fetches the public keys with users.keys.v1. Give this or `fetchKeys`. */
  rpc?: RpcClient;
  /** Where the keys come from when not over the bus (the users service verifies with its own). */
  fetchKeys?: () => Promise<JWK[] | PublicJwk[]>;
  /** Tokens for another audience are refused. Default "boxoffice". */
  audience?: string;
  /** How long fetched keys are trusted before the next fetch. Default 5 minutes. */
  cacheTtlMs?: number;
  /** Least time between two fetches triggered by an unknown key id. Default 10 s. */
  refreshMinIntervalMs?: number;
  /** Clock skew between machines tolerated on exp/iat, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /**
   * Tokens already verified, remembered by their exact string until their `exp` (never longer, and
   * never past the trust of the keys that verified them): a buyer's token arrives with every call,
   * and each signature check costs more than the call's own work. 0 turns it off. Default 10,000.
   */
  verifiedCacheSize?: number;
  now?: () => number;
}

export const DEFAULT_TOKEN_VERIFIER_OPTIONS = {
  audience: DEFAULT_AUDIENCE,
  cacheTtlMs: 5 * 60_000,
  refreshMinIntervalMs: 10_000,
  clockToleranceSeconds: 5,
  verifiedCacheSize: 10_000,
};

export interface TokenVerifier {
  /** The identity in the token, or RpcError UNAUTHENTICATED (UNAVAILABLE when keys cannot be had). */
  verify(token: string | undefined): Promise<Identity>;
  /** For RPC handlers: the caller's identity from the token the request carried. */
  requireUser(ctx: Pick<RpcContext, "token">): Promise<Identity>;
  /** Like requireUser, and FORBIDDEN unless the caller has the role. */
  requireRole(ctx: Pick<RpcContext, "token">, role: Identity["role"]): Promise<Identity>;
  /** Forget cached keys (the next verification fetches them). */
  invalidate(): void;
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

/** An unsecured JWS header (`{"alg":"none"}`): jose's claim checks run on a payload whose signature was checked here. */
const NONE_HEADER = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
/** A compact JWS signed with Ed25519: three base64url parts, the signature 64 bytes (86 characters). */
const ED25519_COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})$/;

/**
 * The Ed25519 public keys of a key list by kid, for the native path of `verify`: only kids that
 * name exactly one key, an OKP Ed25519 key usable for verifying (what jose's key selection would
 * pick for an EdDSA header with that kid); any other key is left to jose.
 */
function ed25519KeysByKid(keys: ReadonlyArray<JWK | PublicJwk>): Map<string, { key: KeyObject; alg?: string }> {
  const byKid = new Map<string, { key: KeyObject; alg?: string }>();
  const seen = new Set<string>();
  for (const key of keys as JWK[]) {
    if (typeof key.kid !== "string") continue;
    if (seen.has(key.kid)) {
      byKid.delete(key.kid);
      continue;
    }
    seen.add(key.kid);
    const usable =
      key.kty === "OKP" &&
      key.crv === "Ed25519" &&
      typeof key.x === "string" &&
      key.d === undefined &&
      (key.use === undefined || key.use === "sig") &&
      (key.alg === undefined || key.alg === "EdDSA" || key.alg === "Ed25519") &&
      (key.key_ops === undefined || key.key_ops.includes("verify"));
    if (!usable) continue;
    try {
      byKid.set(key.kid, { key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: key.x }, format: "jwk" }), alg: key.alg });
    } catch {
      // Not a valid key: jose says so when a token names it.
    }
  }
  return byKid;
}

/**
 * The header of a compact token, when it is the plain `{"alg":"EdDSA"|"Ed25519","kid":…}` this
 * platform issues (no crit, no b64, no other algorithm); undefined otherwise (jose decides).
 */
function plainEd25519Header(encodedHeader: string): { alg: string; kid: string } | undefined {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(encodedHeader, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
  const { alg, kid, crit, b64 } = header as Record<string, unknown>;
  if ((alg !== "EdDSA" && alg !== "Ed25519") || typeof kid !== "string" || crit !== undefined || b64 !== undefined) return undefined;
  return { alg, kid };
}

function unauthenticated(message: string): RpcError {
  return new RpcError(RpcErrorCodes.UNAUTHENTICATED, message);
}

function describeFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "token expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `token ${error.claim} claim rejected`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "token signed by an unknown key";
  return "token malformed";
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const settings = { ...DEFAULT_TOKEN_VERIFIER_OPTIONS, ...stripUndefined(options) };
  const now = options.now ?? Date.now;
  const rpc = options.rpc;
  const fetchKeys =
    options.fetchKeys ??
    (rpc
      ? async () => (await rpc.call(usersKeysV1, {}, { waitForCapacity: true })).keys
      : undefined);
  if (!fetchKeys) throw new TypeError("createTokenVerifier needs rpc or fetchKeys");

  let keySet: KeySet | undefined;
  let ed25519Keys = new Map<string, { key: KeyObject; alg?: string }>();
  let fetchedAt = 0;
  let inflight: Promise<KeySet> | undefined;
  // Token string → what verifying it gave, and until when (ms) that answer holds.
  const verified = new Map<string, { identity: Identity; until: number }>();

  function load(): Promise<KeySet> {
    // One fetch at a time: a burst of requests after expiry shares it.
    inflight ??= (async () => {
      try {
        const keys = await fetchKeys!();
        keySet = createLocalJWKSet({ keys: keys as JWK[] });
        ed25519Keys = ed25519KeysByKid(keys);
        fetchedAt = now();
        // Answers given under the keys of before are not carried over to these.
        verified.clear();
        return keySet;
      } catch (error) {
        // Keep verifying with the keys we had if the users service is briefly away.
        if (keySet) return keySet;
        throw new RpcError(RpcErrorCodes.UNAVAILABLE, "identity keys are unavailable", { retryable: true, details: { cause: String(error) } });
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function currentKeys(): Promise<KeySet> {
    if (keySet && now() - fetchedAt < settings.cacheTtlMs) return keySet;
    return load();
  }

  async function verifyWith(keys: KeySet, token: string): Promise<{ payload: Awaited<ReturnType<typeof jwtVerify>>["payload"] }> {
    const claimOptions = { issuer: IDENTITY_ISSUER, audience: settings.audience, clockTolerance: settings.clockToleranceSeconds, currentDate: new Date(now()) };
    // The tokens this platform issues (EdDSA, a known kid) are checked with node:crypto at once:
    // half the CPU of jose's WebCrypto job, which every service pays for every new buyer's token.
    // The claims still go through jose's own checks (an unsecured JWT of the same payload), so
    // expiry, issuer and audience are judged exactly as below. Anything else takes jose's path.
    const parts = ED25519_COMPACT.exec(token);
    const header = parts ? plainEd25519Header(parts[1]) : undefined;
    const known = header === undefined ? undefined : ed25519Keys.get(header.kid);
    // A key pinned to one alg verifies only that alg (jose's key selection does the same).
    if (parts && header && known && (known.alg === undefined || known.alg === header.alg)) {
      const signed = verifySignature(null, Buffer.from(`${parts[1]}.${parts[2]}`, "latin1"), known.key, Buffer.from(parts[3], "base64url"));
      if (!signed) throw new joseErrors.JWSSignatureVerificationFailed();
      return UnsecuredJWT.decode(`${NONE_HEADER}.${parts[2]}.`, claimOptions);
    }
    return jwtVerify(token, keys, { ...claimOptions, algorithms: ["EdDSA", "Ed25519", "ES256"] });
  }

  async function verify(token: string | undefined): Promise<Identity> {
    if (!token) throw unauthenticated("sign in first: no identity token");
    const known = verified.get(token);
    if (known) {
      const at = now();
      if (at < known.until && keySet && at - fetchedAt < settings.cacheTtlMs) return { ...known.identity };
      verified.delete(token);
    }
    let result;
    try {
      result = await verifyWith(await currentKeys(), token);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      if (error instanceof joseErrors.JWKSNoMatchingKey && now() - fetchedAt >= settings.refreshMinIntervalMs) {
        try {
          result = await verifyWith(await load(), token);
        } catch (retryError) {
          if (retryError instanceof RpcError) throw retryError;
          throw unauthenticated(describeFailure(retryError));
        }
      } else {
        throw unauthenticated(describeFailure(error));
      }
    }
    const claims = identityClaimsSchema.safeParse(result.payload);
    if (!claims.success) throw unauthenticated("token claims malformed");
    const identity: Identity = { userId: claims.data.sub, role: claims.data.role, email: claims.data.email };
    remember(token, identity, result.payload.exp);
    return identity;
  }

  function remember(token: string, identity: Identity, exp: number | undefined): void {
    if (settings.verifiedCacheSize <= 0 || typeof exp !== "number") return;
    // Oldest first out: a Map iterates in insertion order.
    if (verified.size >= settings.verifiedCacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, { identity, until: exp * 1000 });
  }

  const requireUser = (ctx: Pick<RpcContext, "token">) => verify(ctx.token);
  return {
    verify,
    requireUser,
    async requireRole(ctx, role) {
      const identity = await requireUser(ctx);
      if (identity.role !== role) throw new RpcError(RpcErrorCodes.FORBIDDEN, `only a ${role} may do this`);
      return identity;
    },
    invalidate() {
      keySet = undefined;
      ed25519Keys = new Map();
      fetchedAt = 0;
      verified.clear();
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
