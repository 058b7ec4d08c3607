-- Fees that behave like the charges they are (issue 10, point 5): per-order fees priced by the
-- parcel's weight band, and storage billed per period by volume x days from warehouse stock
-- snapshots. Written to match schema.prisma (Prisma's migration SQL style).

-- AlterTable: a fee schedule's weight bands (JSON, fees as decimal strings) and storage rate
-- (USD minor units per m3 per day, the decimal string as published).
ALTER TABLE "settlement_fee_schedules" ADD COLUMN "weight_bands" JSONB,
ADD COLUMN "storage_rate" VARCHAR(24);

-- AlterTable: the parcel's weight on captures that carry it.
ALTER TABLE "settlements" ADD COLUMN "weight_grams" INTEGER;

-- CreateTable
CREATE TABLE "stock_snapshots" (
    "id" BIGSERIAL NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "warehouse" VARCHAR(120) NOT NULL,
    "country" VARCHAR(2) NOT NULL,
    "snapshot_date" DATE NOT NULL,
    "volume_cm3" DECIMAL(38,0) NOT NULL,
    "created_by" VARCHAR(200),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_snapshots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "storage_runs" (
    "id" BIGSERIAL NOT NULL,
    "period" VARCHAR(7) NOT NULL,
    "seller_id" VARCHAR(120),
    "items" JSONB NOT NULL,
    "created_by" VARCHAR(200),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "storage_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "stock_snapshots_seller_warehouse_date_key" ON "stock_snapshots"("seller_id", "warehouse", "snapshot_date");

-- CreateIndex
CREATE INDEX "storage_runs_period_idx" ON "storage_runs"("period", "id");
