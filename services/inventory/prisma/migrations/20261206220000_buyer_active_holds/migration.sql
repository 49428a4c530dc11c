-- A buyer's active holds on this shard (the per-buyer cap across events counts them on every shard
-- before and after each hold): an index look-up instead of a scan of every active hold of an on-sale.
CREATE INDEX "holds_buyer_active_idx" ON inventory.holds ("buyer_id") WHERE "status" = 'active';
