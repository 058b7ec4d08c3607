-- A seller's warehouse (the country its goods ship from: a capture's default shipFrom, so its tax
-- supply) and the currency it prices in (a listing price's default currency) are program data.
-- Written to match schema.prisma.

-- AlterTable
ALTER TABLE "settlement_sellers" ADD COLUMN "warehouse" VARCHAR(2),
ADD COLUMN "listing_currency" VARCHAR(3);
