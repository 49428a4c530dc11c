// The payments service's environment, one zod schema (manifests are checked against it).
import { commonConfigShape, type PublicDefaults } from "@boxoffice/runtime";
import { z } from "zod";

const DEV_PAYMENTS_HASH_SECRET = "boxoffice-payments-dev-secret";

export const paymentsConfigSchema = z.object({
  ...commonConfigShape,
  /** Latency the simulated card processor adds to every call, in ms (load tests). Default 0. */
  PAYMENTS_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  /** Probability 0–1 that a processor call fails as unavailable (fault tests). Default 0. */
  PAYMENTS_FAIL_RATE: z.coerce.number().min(0).max(1).default(0),
  /** Key of the HMAC over idempotent request bodies (so no stored hash reveals a card number). */
  PAYMENTS_HASH_SECRET: z.string().min(8).default(DEV_PAYMENTS_HASH_SECRET),
  /** Milliseconds between outbox polls when no local write nudged the relay. Default 250. */
  PAYMENTS_OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /**
   * Milliseconds the relay waits after a local write nudged it, so the rows committed meanwhile go in
   * one claim and one mark (two statements per pass, whatever its size). Nothing on the checkout's
   * path waits for the publish: the checkout confirms directly, and recovery looks at a
   * payment.captured.v1 only once it is INVENTORY_RECOVERY_DELAY_MS old. 0: at once. Default 100.
   */
  PAYMENTS_OUTBOX_NUDGE_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  /** Milliseconds between reconciler passes (settling pending charges and undecided captured payments). Default 5000. */
  PAYMENTS_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(20).max(3_600_000).default(5000),
  /**
   * Age in ms after which a pending charge or a captured payment with no decided outcome is the
   * reconciler's (younger ones still have a live request or firehose consumer). Default 60000.
   */
  PAYMENTS_RECONCILE_AFTER_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  /**
   * Group commit of a charge's three statements (its pending record, the simulated processor's book,
   * its outcome): the most charges of one physical shard served by one statement (those that queued
   * while the previous one ran). 1 turns it off (one statement per charge each). Default 64.
   */
  PAYMENTS_BATCH_MAX: z.coerce.number().int().min(1).max(256).default(64),
  /**
   * Group commit, waiting for company: a charge statement whose physical shard is hot (another arrived
   * within PAYMENTS_BATCH_HOT_MS) waits up to this many ms from its arrival, or until a full batch
   * queued, before it runs. A quiet shard never waits. 0: never wait (a batch is only what queued
   * while the previous one ran). Default 0.
   */
  PAYMENTS_BATCH_WAIT_MS: z.coerce.number().min(0).max(50).default(0),
  /** How recent the previous charge of a shard must be for the shard to be hot (PAYMENTS_BATCH_WAIT_MS). Default 50. */
  PAYMENTS_BATCH_HOT_MS: z.coerce.number().min(0).max(1000).default(50),
  /** Audience of the identity tokens this service accepts. Default "boxoffice". */
  IDENTITY_AUDIENCE: z.string().min(1).default("boxoffice"),
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;

/** Public development values refused when NODE_ENV=production. */
export const paymentsPublicDefaults: PublicDefaults<PaymentsConfig> = {
  PAYMENTS_HASH_SECRET: (c) => c.PAYMENTS_HASH_SECRET === DEV_PAYMENTS_HASH_SECRET,
};
