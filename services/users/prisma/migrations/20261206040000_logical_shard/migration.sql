-- A user's logical shard as a column, so a shard move can find and carry the rows (every sharded
-- table carries one). A user's id is minted on the logical shard of their email, and an id keeps
-- its logical shard in its low 12 bits: the column is computed from the id, so no code writes it.
ALTER TABLE "users" ADD COLUMN "logical_shard" INTEGER GENERATED ALWAYS AS (("id" & 4095)::integer) STORED;
CREATE INDEX "users_logical_shard_idx" ON "users" ("logical_shard");
