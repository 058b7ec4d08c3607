-- Tax v2, second step: state taxes on top of the national one (Brazil's ICMS, US state sales tax),
-- chosen by the region the goods ship to; a tax included in its own base (ICMS "por dentro"); and
-- each scheme's basis (shipping taxed or not, the band on the intrinsic or customs value, the rate
-- date). Captures say the region they ship to and the shipping inside their amount. Written to
-- match schema.prisma.

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "level" VARCHAR(16),
ADD COLUMN "region" VARCHAR(6),
ADD COLUMN "computation" VARCHAR(16),
ADD COLUMN "basis_shipping" VARCHAR(16),
ADD COLUMN "basis_band_value" VARCHAR(16),
ADD COLUMN "basis_valued_at" VARCHAR(16);

-- AlterTable
ALTER TABLE "settlements" ADD COLUMN "ship_to_region" VARCHAR(6),
ADD COLUMN "shipping" DECIMAL(38,0);
