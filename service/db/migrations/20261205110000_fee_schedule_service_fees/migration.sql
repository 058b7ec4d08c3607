-- Logistics, warehousing and fulfilment are services rendered: a schedule says whether they are
-- refunded with the goods (default: no, the seller is charged them on a return). Written to match
-- schema.prisma (Prisma's migration SQL style).

-- AlterTable
ALTER TABLE "settlement_fee_schedules" ADD COLUMN "service_fees_refundable" BOOLEAN NOT NULL DEFAULT false;
