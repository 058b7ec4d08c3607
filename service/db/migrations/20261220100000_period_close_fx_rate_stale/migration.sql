-- Ledger: a period close that was accepted with FX positions standing at closing rates older than
-- the close allows (CLOSE_MAX_RATE_AGE_DAYS; the close's `fxRateStale: "accept"` with a note) keeps
-- them, per currency, as JSON: the rate in force at the period's last instant, its own instant and
-- its age there, and the limit. Null for every other close. Written to match
-- `LedgerPeriodClose.fxRateStale` in schema.prisma.

-- AlterTable
ALTER TABLE "ledger_period_closes" ADD COLUMN "fx_rate_stale" JSONB;
