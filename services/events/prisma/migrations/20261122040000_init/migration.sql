-- CreateTable
CREATE TABLE "catalogue_events" (
    "id" BIGINT NOT NULL,
    "organizer_id" BIGINT NOT NULL,
    "title" TEXT NOT NULL,
    "venue" TEXT NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL,
    "sections" JSONB NOT NULL,
    "capacity" INTEGER NOT NULL,
    "min_price_cents" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "catalogue_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "catalogue_outbox" (
    "id" BIGSERIAL NOT NULL,
    "event_id" BIGINT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "catalogue_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "catalogue_events_upcoming_idx" ON "catalogue_events"("starts_at", "id");

-- CreateIndex
CREATE INDEX "catalogue_outbox_pending_idx" ON "catalogue_outbox"("published_at", "id");
