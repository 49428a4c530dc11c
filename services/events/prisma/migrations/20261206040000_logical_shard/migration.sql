-- An event's logical shard as a column, so a shard move can find and carry the rows (every sharded
-- table carries one). Ids keep their logical shard in their low 12 bits: the columns are computed
-- from the event's id, so no code writes them.
ALTER TABLE "catalogue_events" ADD COLUMN "logical_shard" INTEGER GENERATED ALWAYS AS (("id" & 4095)::integer) STORED;
CREATE INDEX "catalogue_events_logical_shard_idx" ON "catalogue_events" ("logical_shard");
ALTER TABLE "catalogue_outbox" ADD COLUMN "logical_shard" INTEGER GENERATED ALWAYS AS (("event_id" & 4095)::integer) STORED;
CREATE INDEX "catalogue_outbox_logical_shard_idx" ON "catalogue_outbox" ("logical_shard");
