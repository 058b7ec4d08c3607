-- The transactions by effective instant, for an FX position's balance at a period's end (the
-- revaluation plan a period close checks, fenced, under the journal head lock every writer waits
-- for). The plan summed every posting of the `fx:` accounts effective by the period's end: its time
-- grew with the positions' history (measured in docs/performance.md). It now reads the account's
-- running totals less the postings of the transactions effective after the period's end (ledger
-- store.ts postedTotalsAtEffective), which this index finds without a pass over the journal.
-- Written to match `LedgerTransaction` in schema.prisma.

-- CreateIndex
CREATE INDEX "ledger_transactions_effective_at_idx" ON "ledger_transactions"("effective_at");
