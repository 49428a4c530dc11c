// @boxoffice/identity: identity tokens — issued by the users service, verified locally by every
// service and the gateway with the public keys published on users.keys.v1.
export { DEFAULT_AUDIENCE, DEFAULT_REFRESH_TTL_SECONDS, DEFAULT_TOKEN_TTL_SECONDS, IDENTITY_ALGORITHM, IDENTITY_ISSUER, REFRESH_AUDIENCE } from "./claims.ts";
export type { Identity } from "./claims.ts";
export { createTokenSigner, generateSigningKey, parseSigningKeys, signingKeysSchema } from "./token-signer.ts";
export type { TokenSigner, TokenSignerOptions } from "./token-signer.ts";
export { createTokenVerifier, DEFAULT_TOKEN_VERIFIER_OPTIONS, pinnedKeysFrom } from "./token-verifier.ts";
export type { TokenVerifier, TokenVerifierOptions } from "./token-verifier.ts";
export type { JWK } from "jose";
export { admissionKeysSchema, createAdmissionKeys } from "./admission.ts";
export type { Admission, AdmissionKeys, AdmissionRejection } from "./admission.ts";
