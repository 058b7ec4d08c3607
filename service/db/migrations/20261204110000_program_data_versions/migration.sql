-- Program data published through the API: who published each seller, fee schedule version and tax
-- rule version, and when. Written to match schema.prisma (Prisma's migration SQL style).

-- AlterTable
ALTER TABLE "settlement_sellers" ADD COLUMN "created_by" VARCHAR(120);

-- AlterTable
ALTER TABLE "settlement_fee_schedules" ADD COLUMN "created_by" VARCHAR(120),
ADD COLUMN "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "created_by" VARCHAR(120),
ADD COLUMN "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;
