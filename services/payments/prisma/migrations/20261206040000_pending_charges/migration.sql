-- A charge commits a pending record before the card processor is called, and records the outcome
-- after: a failure between the processor's answer and the commit can no longer charge twice (the
-- processor honours the pending record's key), and a reconciler settles what was left pending.
ALTER TABLE payments.idempotency_keys DROP CONSTRAINT IF EXISTS "idempotency_keys_status_check";
ALTER TABLE payments.idempotency_keys ADD CONSTRAINT "idempotency_keys_status_check"
  CHECK ("status" IN ('in_progress', 'done', 'abandoned'));
-- The payment id minted with the pending record; the processor's idempotency key is derived from it.
ALTER TABLE payments.idempotency_keys ADD COLUMN "payment_id" TEXT;
-- What the outcome needs without the card: amount, currency, last four digits, reference.
ALTER TABLE payments.idempotency_keys ADD COLUMN "pending" JSONB;
-- Whoever is at the processor with this key now; others wait for it or take over after it.
ALTER TABLE payments.idempotency_keys ADD COLUMN "locked_until" TIMESTAMPTZ;
CREATE INDEX "idempotency_keys_pending_idx" ON payments.idempotency_keys ("created_at") WHERE "status" = 'in_progress';

-- What became of a captured payment (confirmed into an order, refunded, …) once the reconciler or
-- a refund decided it; NULL until then. The reconciler leases undecided rows (one owner at a time).
ALTER TABLE payments.payments ADD COLUMN "settled_at" TIMESTAMPTZ;
ALTER TABLE payments.payments ADD COLUMN "outcome" TEXT;
ALTER TABLE payments.payments ADD COLUMN "reconcile_lease" TIMESTAMPTZ;
CREATE INDEX "payments_unsettled_idx" ON payments.payments ("created_at") WHERE "settled_at" IS NULL;

-- The simulated card processor's own books (a real processor keeps them on its side): one row per
-- idempotency key, written outside any payments transaction, so they survive a rolled-back commit.
CREATE TABLE payments.simulated_processor (
  "key" TEXT PRIMARY KEY,
  "logical_shard" INTEGER NOT NULL,
  "kind" TEXT NOT NULL CHECK ("kind" IN ('charge', 'refund')),
  "amount_cents" INTEGER NOT NULL,
  "result" JSONB NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);
