-- AlterTable: when holds open (v1.1). Null on events created before: on sale since their creation.
ALTER TABLE "catalogue_events" ADD COLUMN "sales_start_at" TIMESTAMPTZ(3);
