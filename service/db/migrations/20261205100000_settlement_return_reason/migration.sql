-- Refunds say why the goods came back: in full hosting a return for the supplier's fault
-- (supplier_defect) is repaid by the supplier, any other is the platform's. Written to match
-- schema.prisma (Prisma's migration SQL style).

-- AlterTable
ALTER TABLE "settlements" ADD COLUMN "return_reason" VARCHAR(32);
