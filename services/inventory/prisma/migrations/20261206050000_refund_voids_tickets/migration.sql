-- A refunded order's tickets are void (kept, so a scanned code can say "refunded"), and a void
-- ticket no longer holds its seat: a seat is in at most one live ticket, ever.
ALTER TABLE inventory.tickets ADD COLUMN "voided_at" TIMESTAMPTZ;
ALTER TABLE inventory.tickets DROP CONSTRAINT IF EXISTS "tickets_seat_id_key";
CREATE UNIQUE INDEX "tickets_live_seat_idx" ON inventory.tickets ("seat_id") WHERE "voided_at" IS NULL;
