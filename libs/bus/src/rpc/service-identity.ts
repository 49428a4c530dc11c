// Which service is calling: every service holds an Ed25519 key; a request carries a short-lived
// proof signed with it, addressed to the service it calls (a proof payments receives from inventory
// is worthless against users). Servers know every service's public key from configuration, never
// from the bus. Both sides cache: a client signs one proof per target per half lifetime, a server
// verifies each distinct proof once, so the per-call cost is a map look-up.
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { InvalidRpcOptionError, RpcError, RpcErrorCodes } from "./errors.ts";

/** How long a proof is accepted. Short, so a proof read off the wire is soon useless. */
export const DEFAULT_SERVICE_PROOF_TTL_MS = 60_000;
/** Clock difference between machines tolerated on a proof's expiry. */
const CLOCK_SKEW_MS = 5_000;
/** Verified proofs a server remembers (a handful per calling instance and lifetime). */
const MAX_CACHED_PROOFS = 4096;

// DER wrappers that turn a raw 32-byte Ed25519 seed / public key into a key Node can use.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

const HEX32 = /^[0-9a-f]{64}$/i;

function privateKeyOf(secretHex: string): KeyObject {
  if (typeof secretHex !== "string" || !HEX32.test(secretHex)) throw new InvalidRpcOptionError("secret", "a service identity secret is 64 hex digits (an Ed25519 seed)");
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(secretHex, "hex")]), format: "der", type: "pkcs8" });
}

function publicKeyOf(publicHex: string, service: string): KeyObject {
  if (typeof publicHex !== "string" || !HEX32.test(publicHex)) throw new InvalidRpcOptionError("identities", `the public key of ${service} must be 64 hex digits`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(publicHex, "hex")]), format: "der", type: "spki" });
}

/** A fresh service identity secret (64 hex digits). */
export function generateServiceIdentitySecret(): string {
  return randomBytes(32).toString("hex");
}

/** The public key (64 hex digits) that verifies proofs signed with `secretHex`. */
export function serviceIdentityPublicKey(secretHex: string): string {
  const der = createPublicKey(privateKeyOf(secretHex)).export({ format: "der", type: "spki" });
  return der.subarray(SPKI_ED25519_PREFIX.length).toString("hex");
}

/** "gateway=<hex>,users=<hex>" (SERVICE_IDENTITIES) → { gateway: "<hex>", users: "<hex>" }. */
export function parseServiceIdentities(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const [service, key, extra] = entry.split("=");
    if (!service || !key || extra !== undefined || !HEX32.test(key)) throw new InvalidRpcOptionError("identities", `expected "<service>=<64 hex digits>", got ${JSON.stringify(entry)}`);
    out[service.trim()] = key.trim();
  }
  return out;
}

export interface ServiceIdentity {
  readonly service: string;
  /** A proof of this identity for a call to `target` (cached; renewed at half its lifetime). */
  proofFor(target: string): string;
}

export interface ServiceIdentityOptions {
  service: string;
  /** This service's secret: 64 hex digits (SERVICE_IDENTITY_SECRET). */
  secret: string;
  ttlMs?: number;
  now?: () => number;
}

export function createServiceIdentity(options: ServiceIdentityOptions): ServiceIdentity {
  const key = privateKeyOf(options.secret);
  const ttlMs = options.ttlMs ?? DEFAULT_SERVICE_PROOF_TTL_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { proof: string; renewAt: number }>();
  return {
    service: options.service,
    proofFor(target) {
      const at = now();
      const cached = cache.get(target);
      if (cached && at < cached.renewAt) return cached.proof;
      const claims = Buffer.from(JSON.stringify({ s: options.service, a: target, e: at + ttlMs })).toString("base64url");
      const proof = `${claims}.${sign(null, Buffer.from(claims), key).toString("base64url")}`;
      cache.set(target, { proof, renewAt: at + ttlMs / 2 });
      return proof;
    },
  };
}

export interface ServiceIdentityVerifier {
  /** The calling service's name, or RpcError UNAUTHENTICATED. */
  verify(proof: unknown, target: string): string;
}

export function createServiceIdentityVerifier(options: { identities: Record<string, string>; now?: () => number }): ServiceIdentityVerifier {
  const keys = new Map(Object.entries(options.identities).map(([service, hex]) => [service, publicKeyOf(hex, service)]));
  const now = options.now ?? Date.now;
  const verified = new Map<string, { service: string; target: string; expiresAt: number }>();
  const refuse = (why: string) => new RpcError(RpcErrorCodes.UNAUTHENTICATED, `caller not authenticated: ${why}`);
  return {
    verify(proof, target) {
      if (typeof proof !== "string" || proof.length === 0) throw refuse("the request carries no service identity");
      const at = now();
      const hit = verified.get(proof);
      if (hit) {
        if (hit.target !== target) throw refuse(`the identity was issued for ${hit.target}`);
        if (at > hit.expiresAt + CLOCK_SKEW_MS) throw refuse("the identity expired");
        return hit.service;
      }
      const dot = proof.indexOf(".");
      let claims: { s?: unknown; a?: unknown; e?: unknown };
      try {
        claims = JSON.parse(Buffer.from(proof.slice(0, dot), "base64url").toString("utf8")) as typeof claims;
      } catch {
        throw refuse("the identity is malformed");
      }
      if (dot < 0 || typeof claims.s !== "string" || typeof claims.a !== "string" || typeof claims.e !== "number") throw refuse("the identity is malformed");
      const key = keys.get(claims.s);
      if (!key) throw refuse(`${claims.s} is not a known service`);
      let valid: boolean;
      try {
        valid = verify(null, Buffer.from(proof.slice(0, dot)), key, Buffer.from(proof.slice(dot + 1), "base64url"));
      } catch {
        valid = false;
      }
      if (!valid) throw refuse("the identity's signature is invalid");
      if (claims.a !== target) throw refuse(`the identity was issued for ${claims.a}`);
      if (at > claims.e + CLOCK_SKEW_MS) throw refuse("the identity expired");
      if (verified.size >= MAX_CACHED_PROOFS) verified.clear();
      verified.set(proof, { service: claims.s, target: claims.a, expiresAt: claims.e });
      return claims.s;
    },
  };
}
