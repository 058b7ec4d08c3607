-- Tax v2, first step: a tax rule may apply to imports or to domestic supplies only (goods shipped
-- from inside the market, e.g. an overseas warehouse), and up to a value (IOSS: EUR 150, Korea's
-- de minimis: USD 150). Captures say where the goods ship from. Written to match schema.prisma.

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "supply" VARCHAR(16),
ADD COLUMN "max_value_currency" VARCHAR(3),
ADD COLUMN "max_value_amount" DECIMAL(38,0);

-- AlterTable
ALTER TABLE "settlements" ADD COLUMN "ship_from" VARCHAR(2);
