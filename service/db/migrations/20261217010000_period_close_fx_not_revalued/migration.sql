-- Ledger: a period close that was accepted with FX positions left unrevalued at its end (the
-- close's `fxNotRevalued: "accept"` with a note) keeps what was left, per currency, as JSON: what
-- the revaluation at the period's last instant would have booked, or why it could not. Null for
-- every other close. Written to match `LedgerPeriodClose.fxNotRevalued` in schema.prisma.

-- AlterTable
ALTER TABLE "ledger_period_closes" ADD COLUMN "fx_not_revalued" JSONB;
