// Which keys sign identity tokens: the configured ones, or (development only) one Ed25519 key
// derived deterministically from a seed, so every dev instance and every restart agree on it
// without sharing a file. Anyone who reads this code can derive it: never use it in production.
import { createHash, createPrivateKey } from "node:crypto";
import { parseSigningKeys, type JWK } from "@boxoffice/identity";

// The fixed PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export function developmentSigningKey(seed: string): JWK {
  const secret = createHash("sha256").update(`boxoffice-users-dev-signing-key:${seed}`).digest();
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secret]), format: "der", type: "pkcs8" });
  const jwk = key.export({ format: "jwk" }) as JWK;
  const kid = `dev-${createHash("sha256").update(jwk.x ?? "").digest("hex").slice(0, 12)}`;
  return { ...jwk, kid, alg: "EdDSA" };
}

export function resolveSigningKeys(config: { USERS_SIGNING_KEYS?: string; USERS_DEV_KEY_SEED: string }): { keys: JWK[]; development: boolean } {
  if (config.USERS_SIGNING_KEYS) return { keys: parseSigningKeys(config.USERS_SIGNING_KEYS), development: false };
  return { keys: [developmentSigningKey(config.USERS_DEV_KEY_SEED)], development: true };
}
