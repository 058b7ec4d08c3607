-- A tax rule may apply to one seller program only (full hosting, where the platform sells its own
-- stock as principal, is taxed as the platform's own supply). Written to match schema.prisma.

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "program" VARCHAR(32);
