-- Inventory lives on the event's shard: an event's seats, counters, holds, orders and tickets are
-- together so a purchase is one local transaction. Ids are shard-aware decimal strings; every row
-- carries its logical shard so a logical shard can be copied to another server.

-- One row per event whose seats exist: the idempotency marker of seat creation.
CREATE SCHEMA IF NOT EXISTS inventory;

CREATE TABLE inventory.event_seating (
  "event_id" TEXT PRIMARY KEY,
  "logical_shard" INTEGER NOT NULL,
  "status" TEXT NOT NULL DEFAULT 'on_sale',
  "version" INTEGER NOT NULL,
  "capacity" INTEGER NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE inventory.sections (
  "id" TEXT PRIMARY KEY,
  "event_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  "position" INTEGER NOT NULL,
  "price_cents" INTEGER NOT NULL,
  "rows" INTEGER NOT NULL,
  "seats_per_row" INTEGER NOT NULL
);
CREATE INDEX "sections_event_idx" ON inventory.sections ("event_id");

-- Availability is split into sub-counters (one per slot of rows) so concurrent holds on a hot
-- event lock different counter rows instead of queueing on one.
CREATE TABLE inventory.section_counters (
  "event_id" TEXT NOT NULL,
  "section_id" TEXT NOT NULL,
  "slot" INTEGER NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "price_cents" INTEGER NOT NULL,
  "position" INTEGER NOT NULL,
  "available" INTEGER NOT NULL CHECK ("available" >= 0),
  PRIMARY KEY ("event_id", "section_id", "slot")
);

CREATE TABLE inventory.seats (
  "id" TEXT PRIMARY KEY,
  "event_id" TEXT NOT NULL,
  "section_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "slot" INTEGER NOT NULL,
  "row" INTEGER NOT NULL,
  "number" INTEGER NOT NULL,
  "price_cents" INTEGER NOT NULL,
  "status" TEXT NOT NULL DEFAULT 'available' CHECK ("status" IN ('available', 'held', 'sold')),
  "hold_id" TEXT,
  "order_id" TEXT,
  UNIQUE ("event_id", "section_id", "row", "number")
);
CREATE INDEX "seats_pick_idx" ON inventory.seats ("event_id", "section_id", "slot", "row", "number") WHERE "status" = 'available';
CREATE INDEX "seats_hold_idx" ON inventory.seats ("hold_id") WHERE "hold_id" IS NOT NULL;

CREATE TABLE inventory.holds (
  "id" TEXT PRIMARY KEY,
  "event_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "buyer_id" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('active', 'released', 'expired', 'confirmed')),
  "seat_ids" TEXT[] NOT NULL,
  "total_cents" INTEGER NOT NULL,
  "expires_at" TIMESTAMPTZ NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX "holds_active_expiry_idx" ON inventory.holds ("expires_at") WHERE "status" = 'active';
CREATE INDEX "holds_event_active_expiry_idx" ON inventory.holds ("event_id", "expires_at") WHERE "status" = 'active';

-- Seats a buyer holds or bought per event: the row is the lock that keeps the limit exact.
CREATE TABLE inventory.buyer_usage (
  "event_id" TEXT NOT NULL,
  "buyer_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "seats" INTEGER NOT NULL CHECK ("seats" >= 0),
  PRIMARY KEY ("event_id", "buyer_id")
);

CREATE TABLE inventory.orders (
  "id" TEXT PRIMARY KEY,
  "event_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "buyer_id" TEXT NOT NULL,
  "hold_id" TEXT NOT NULL UNIQUE,
  "payment_id" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('confirmed', 'refunded')),
  "total_cents" INTEGER NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX "orders_buyer_idx" ON inventory.orders ("buyer_id", "created_at" DESC, "id" DESC);

-- A seat is in at most one ticket, ever: the unique constraint is the last line against overselling.
CREATE TABLE inventory.tickets (
  "id" TEXT PRIMARY KEY,
  "order_id" TEXT NOT NULL,
  "event_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "seat_id" TEXT NOT NULL UNIQUE,
  "code" TEXT NOT NULL UNIQUE
);
CREATE INDEX "tickets_order_idx" ON inventory.tickets ("order_id");

-- What became of each captured payment: confirmed into an order, or to be refunded. One row per
-- payment, written in the transaction that decides it.
CREATE TABLE inventory.payment_outcomes (
  "payment_id" TEXT PRIMARY KEY,
  "hold_id" TEXT NOT NULL,
  "event_id" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "buyer_id" TEXT NOT NULL,
  "amount_cents" INTEGER NOT NULL,
  "outcome" TEXT NOT NULL CHECK ("outcome" IN ('confirmed', 'refund')),
  "order_id" TEXT,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Checkout requests by the client's Idempotency-Key, on the buyer's shard.
CREATE TABLE inventory.checkout_requests (
  "buyer_id" TEXT NOT NULL,
  "idempotency_key" TEXT NOT NULL,
  "logical_shard" INTEGER NOT NULL,
  "request_hash" TEXT NOT NULL,
  "hold_id" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('in_progress', 'done')),
  "response" JSONB,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ("buyer_id", "idempotency_key")
);

-- Firehose events already applied (consumers are idempotent: the id is recorded with the effect).
CREATE TABLE inventory.processed_events (
  "id" TEXT PRIMARY KEY,
  "logical_shard" INTEGER NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);
