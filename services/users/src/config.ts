// The users service's environment, one zod schema (manifests are checked against it).
import { commonConfigShape, envBoolean, type PublicDefaults } from "@boxoffice/runtime";
import { z } from "zod";

const DEV_DEMO_ORGANIZER_PASSWORD = "organizer-password";
const DEV_DEMO_OPERATOR_PASSWORD = "operator-password";

export const usersConfigSchema = z.object({
  ...commonConfigShape,
  /**
   * JSON list of private JWKs (Ed25519 "OKP" or P-256 "EC"), each with a `kid`; the first signs,
   * all verify (rotation: add the new key first, keep the old one until its tokens expired).
   * Unset: a deterministic development key derived from USERS_DEV_KEY_SEED, so every dev instance
   * agrees without sharing a file; refused when NODE_ENV=production.
   */
  USERS_SIGNING_KEYS: z.string().min(1).optional(),
  USERS_DEV_KEY_SEED: z.string().min(1).default("boxoffice-dev"),
  /** Identity token lifetime. Default 900 s. */
  USERS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  /** Refresh token lifetime (how long a session may go on without signing in again). Default 7 days. */
  USERS_REFRESH_TTL_SECONDS: z.coerce.number().int().min(60).max(90 * 86_400).default(7 * 86_400),
  /** scrypt cost as log2 N (r = 8, p = 1). Default 15 (32 MiB, ~0.1 s); see password-hasher.ts. */
  USERS_SCRYPT_LOG_N: z.coerce.number().int().min(10).max(20).default(15),
  /**
   * Failed sign-ins of one email from one client address before each further attempt of that pair
   * must wait (429 RATE_LIMITED with Retry-After). Default 5. Failures from other addresses do not
   * count: nobody can lock an account's owner out from elsewhere.
   */
  LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: z.coerce.number().int().min(1).default(5),
  /** The first wait once a pair used its free attempts; each further failure doubles it. Default 30 s. */
  LOGIN_DELAY_BASE_SECONDS: z.coerce.number().int().min(1).default(30),
  /** The longest wait between two attempts of one pair. Default 900 s (15 minutes). */
  LOGIN_DELAY_MAX_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Failed sign-ins from one client address, across emails, per window before it is refused until the window ends. Default 20. */
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(20),
  /** The per-address window, and how long a pair's failures are remembered after its last one. Default 900 s. */
  LOGIN_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  /**
   * Where login failure counters live: a redis:// URL shares them across instances. Unset: the first
   * BUS_URL host when the bus is Redis, else in memory (one process).
   */
  RATE_LIMIT_REDIS_URL: z.string().optional(),
  /** Create the demo organiser and the demo operator at start-up. Default: true with the in-memory bus (embedded), else false. */
  SEED_DEMO: envBoolean.optional(),
  DEMO_ORGANIZER_EMAIL: z.string().default("organizer@boxoffice.test"),
  DEMO_ORGANIZER_PASSWORD: z.string().min(8).default(DEV_DEMO_ORGANIZER_PASSWORD),
  /** The demo operator (role `operator`: the operator console). */
  DEMO_OPERATOR_EMAIL: z.string().default("operator@boxoffice.test"),
  DEMO_OPERATOR_PASSWORD: z.string().min(8).default(DEV_DEMO_OPERATOR_PASSWORD),
}).refine((c) => c.NODE_ENV !== "production" || c.USERS_SIGNING_KEYS, {
  path: ["USERS_SIGNING_KEYS"],
  message: "required when NODE_ENV=production (the development key is public)",
});

export type UsersConfig = z.infer<typeof usersConfigSchema>;

/** Public development values refused when NODE_ENV=production (the signing key is refused by the schema). */
export const usersPublicDefaults: PublicDefaults<UsersConfig> = {
  DEMO_ORGANIZER_PASSWORD: (c) => c.SEED_DEMO === true && c.DEMO_ORGANIZER_PASSWORD === DEV_DEMO_ORGANIZER_PASSWORD,
  DEMO_OPERATOR_PASSWORD: (c) => c.SEED_DEMO === true && c.DEMO_OPERATOR_PASSWORD === DEV_DEMO_OPERATOR_PASSWORD,
};
