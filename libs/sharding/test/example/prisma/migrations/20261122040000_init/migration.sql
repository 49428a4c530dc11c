-- CreateTable
CREATE TABLE "accounts" (
    "id" BIGINT NOT NULL,
    "logical_shard" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "balance" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "entries" (
    "id" BIGINT NOT NULL,
    "logical_shard" INTEGER NOT NULL,
    "account_id" BIGINT NOT NULL,
    "amount" INTEGER NOT NULL,

    CONSTRAINT "entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "accounts_logical_shard_idx" ON "accounts"("logical_shard");

-- CreateIndex
CREATE INDEX "entries_logical_shard_idx" ON "entries"("logical_shard");

-- CreateIndex
CREATE INDEX "entries_account_id_idx" ON "entries"("account_id");

-- AddForeignKey
ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
