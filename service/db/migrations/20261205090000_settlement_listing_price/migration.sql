-- Seller-priced programs: the price the seller listed the order at (tax included) and its currency,
-- on captures that carry them. Written to match schema.prisma (Prisma's migration SQL style).

-- AlterTable
ALTER TABLE "settlements" ADD COLUMN "listing_price" DECIMAL(38,0),
ADD COLUMN "listing_currency" VARCHAR(3);
