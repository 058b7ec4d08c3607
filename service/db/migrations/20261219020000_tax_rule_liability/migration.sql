-- Settlement tax rules: who is liable and for which sales (service/settlement/types.ts TaxRule).
-- `collected_by` now also takes "seller" (the seller declares the tax; the platform books none),
-- `seller_established` limits a rule to sellers established outside the market's VAT area (the EU
-- deemed supplier, VAT Directive art. 14a(2)), `territory` limits a national rule to captures
-- shipped to one subdivision (the Canary Islands, Ceuta and Melilla, outside the EU VAT territory),
-- and `national_scheme` levies a state tax only with that national scheme (Brazil's ICMS with
-- Remessa Conforme). Existing rows keep null: every seller, every destination, any national rule.
-- Written to match `SettlementTaxRule` in schema.prisma.

-- AlterTable
ALTER TABLE "settlement_tax_rules" ADD COLUMN "seller_established" VARCHAR(24),
ADD COLUMN "territory" VARCHAR(6),
ADD COLUMN "national_scheme" VARCHAR(40);
