-- A tax rule may take a fixed amount off the tax (Brazil's Remessa Conforme above USD 50: 60% less
-- USD 20). Written to match schema.prisma.

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "deduction_currency" VARCHAR(3),
ADD COLUMN "deduction_amount" DECIMAL(38,0);
