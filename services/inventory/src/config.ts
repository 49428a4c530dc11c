// The inventory service's environment, one zod schema (manifests are checked against it).
import { admissionKeysSchema } from "@boxoffice/identity";
import { commonConfigShape, type PublicDefaults } from "@boxoffice/runtime";
import { z } from "zod";

const DEV_INVENTORY_HASH_SECRET = "boxoffice-inventory-dev-secret";

export const inventoryConfigSchema = z.object({
  ...commonConfigShape,
  /** How long a hold keeps its seats, in seconds. Default 600. */
  HOLD_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** Sub-counters per section: concurrent holds on one section spread over this many counter rows. Default 16. */
  INVENTORY_COUNTER_SLOTS: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * Active holds one buyer may have at once across every event (each at most 8 seats). Default 4:
   * a buyer shopping a few events at once is served; a script with thousands of accounts cannot
   * hold far more seats than it has accounts. Beyond it a hold is LIMIT_EXCEEDED (409).
   */
  MAX_ACTIVE_HOLDS_PER_BUYER: z.coerce.number().int().min(1).max(1000).default(4),
  /**
   * Group commit: the most holds by quantity of one event that one transaction serves (those that
   * queued while the event's previous hold transaction ran). 1 turns it off. Default 64.
   */
  INVENTORY_HOLD_BATCH_MAX: z.coerce.number().int().min(1).max(256).default(64),
  /**
   * Group commit of confirmations: the most usual confirmations (active hold, paid its amount) of one
   * logical shard that one transaction does (those that queued while the previous one ran). 1 turns it off. Default 64.
   */
  INVENTORY_CONFIRM_BATCH_MAX: z.coerce.number().int().min(1).max(256).default(64),
  /**
   * Group commit of the checkout's idempotency records (inventory.checkout_requests): the most of one
   * physical shard written by one statement (those that queued while the previous one ran). 1 turns it off. Default 64.
   */
  INVENTORY_RECORD_BATCH_MAX: z.coerce.number().int().min(1).max(256).default(64),
  /**
   * Group commit, waiting for company: a hold, confirmation or checkout record whose key (event, logical shard, physical shard) is hot
   * (another request of it arrived within INVENTORY_BATCH_HOT_MS) waits up to this many ms from its
   * arrival, or until a full batch queued, before its transaction starts; requests that arrive spread
   * out then share transactions. A quiet key never waits. 0: never wait (a batch is only what queued
   * while the previous one ran). Default 5.
   */
  INVENTORY_BATCH_WAIT_MS: z.coerce.number().min(0).max(50).default(5),
  /** How recent the previous request of a key must be for the key to be hot (INVENTORY_BATCH_WAIT_MS). Default 50. */
  INVENTORY_BATCH_HOT_MS: z.coerce.number().min(0).max(1000).default(50),
  /** Milliseconds between sweeps that free expired holds nobody touched. Default 1000. */
  INVENTORY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1000),
  /** Availability changes of one event within this many ms are published once (the latest state). Default 25. */
  INVENTORY_AVAILABILITY_COALESCE_MS: z.coerce.number().int().min(0).max(10_000).default(25),
  /** A consumed firehose event not acknowledged within this time is redelivered. Default 10000. */
  INVENTORY_CONSUMER_VISIBILITY_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * A payment.captured.v1 younger than this is left until it is this old before recovery looks at
   * it: the checkout that captured it confirms it within milliseconds, so recovery acting at once
   * only queues on the hold's row lock to find the decision made. Capped at a quarter of
   * INVENTORY_CONSUMER_VISIBILITY_MS (the event must not be redelivered while it waits). Default 2000.
   */
  INVENTORY_RECOVERY_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  /** Key of the HMAC over checkout request bodies (so no stored hash reveals a card number). */
  INVENTORY_HASH_SECRET: z.string().min(8).default(DEV_INVENTORY_HASH_SECRET),
  /** Audience of the identity tokens this service accepts. Default "boxoffice". */
  IDENTITY_AUDIENCE: z.string().min(1).default("boxoffice"),
  /**
   * Keys of the waiting room's signed admissions (the gateways' ADMISSION_KEYS). When set, a hold
   * needs a valid admission for its buyer and event (NOT_ADMITTED otherwise): nobody passes the
   * line by calling the bus. Unset: holds are not gated (a platform without a waiting room).
   */
  ADMISSION_KEYS: admissionKeysSchema.optional(),
});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;

/** Public development values refused when NODE_ENV=production. */
export const inventoryPublicDefaults: PublicDefaults<InventoryConfig> = {
  INVENTORY_HASH_SECRET: (c) => c.INVENTORY_HASH_SECRET === DEV_INVENTORY_HASH_SECRET,
};
