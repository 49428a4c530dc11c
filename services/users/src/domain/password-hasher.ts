// Password hashing with scrypt (node:crypto). Each stored hash carries its own parameters
// ("scrypt$<log2 N>$<r>$<p>$<salt>$<hash>", base64url), so raising the cost later keeps every
// existing hash verifiable.
//
// Default cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s per hash on this project's 2-core
// machine). OWASP's recommendation is N = 2^17 (128 MiB, ~0.4 s here); we take 2^15 because login
// throughput during an on-sale spike is bounded by the KDF (one core does ~9 logins/s at 2^15,
// ~2.5/s at 2^17). Deployments that can afford it raise USERS_SCRYPT_LOG_N.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. */
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  // scrypt needs 128·N·r bytes; Node refuses above maxmem (32 MiB by default), so allow twice that.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when the password matches; constant-time comparison of the derived keys. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Spends the same time as a verification; used when there is no account, so timing does not tell. */
  burn(password: string): Promise<void>;
}

export function createPasswordHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): PasswordHasher {
  const dummySalt = randomBytes(SALT_LENGTH);
  return {
    async hash(password) {
      const salt = randomBytes(SALT_LENGTH);
      const key = await derive(password, salt, params);
      return ["scrypt", params.logN, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
    },
    async verify(password, stored) {
      const parts = stored.split("$");
      if (parts.length !== 6 || parts[0] !== "scrypt") return false;
      const [, logN, r, p, salt, expected] = parts;
      const expectedKey = Buffer.from(expected, "base64url");
      const key = await derive(password, Buffer.from(salt, "base64url"), { logN: Number(logN), r: Number(r), p: Number(p) });
      return key.length === expectedKey.length && timingSafeEqual(key, expectedKey);
    },
    async burn(password) {
      await derive(password, dummySalt, params);
    },
  };
}
