-- Payments live on the buyer's shard. Card numbers are never stored: only their last four digits.
CREATE SCHEMA IF NOT EXISTS payments;

-- Stripe-style idempotency records. The insert of a key and the charge it guards commit together:
-- a concurrent request with the same key waits on the primary key, then reads the stored reply.
CREATE TABLE payments.idempotency_keys (
  "buyer_id" TEXT NOT NULL,
  "operation" TEXT NOT NULL,
  "key" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "request_hash" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('in_progress', 'done')),
  "response" JSONB,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ("buyer_id", "operation", "key")
);

CREATE TABLE payments.payments (
  "id" TEXT PRIMARY KEY,
  "buyer_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('captured', 'refunded')),
  "amount_cents" INTEGER NOT NULL CHECK ("amount_cents" > 0),
  "refunded_cents" INTEGER NOT NULL DEFAULT 0,
  "currency" TEXT NOT NULL,
  "card_last4" TEXT NOT NULL,
  "reference" JSONB NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX "payments_buyer_idx" ON payments.payments ("buyer_id", "created_at" DESC, "id" DESC);

-- Full refunds only: one refund per payment, ever.
CREATE TABLE payments.refunds (
  "id" TEXT PRIMARY KEY,
  "payment_id" TEXT NOT NULL UNIQUE,
  "buyer_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "amount_cents" INTEGER NOT NULL,
  "reason" TEXT,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Transactional outbox: a firehose event is written with the change it announces and relayed after.
CREATE TABLE payments.outbox (
  "id" TEXT PRIMARY KEY,
  "logical_shard" INTEGER NOT NULL,
  "stream" TEXT NOT NULL,
  "type" TEXT NOT NULL,
  "version" INTEGER NOT NULL,
  "key" TEXT NOT NULL,
  "data" JSONB NOT NULL,
  "occurred_at" TIMESTAMPTZ NOT NULL,
  -- A relay leases rows while it publishes them (no transaction is held open across the publish).
  "claimed_until" TIMESTAMPTZ,
  "published_at" TIMESTAMPTZ
);
CREATE INDEX "outbox_pending_idx" ON payments.outbox ("occurred_at") WHERE "published_at" IS NULL;
