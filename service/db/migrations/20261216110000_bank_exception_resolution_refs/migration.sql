-- Hand-written: what a bank payout exception's resolution names (service/payouts/bank/exceptions.ts),
-- beside its note, who and when: the journal transaction that settled it (given by the operator,
-- or the one the rail booked when it overtook the exception) and the cash statement entry it
-- answers (`POST /v1/cash/statements/:id/entries/:index/resolution` books adjusting entries; the
-- exception only names it). Written to match schema.prisma.
ALTER TABLE "bank_payout_exceptions"
    ADD COLUMN "resolution_tx_id" BIGINT,
    ADD COLUMN "resolution_cash_statement_id" BIGINT,
    ADD COLUMN "resolution_cash_entry_index" INTEGER,
    ADD CONSTRAINT "bank_payout_exceptions_resolution_refs_check" CHECK (
        ("resolution_cash_statement_id" IS NULL) = ("resolution_cash_entry_index" IS NULL)
        AND ("resolved_at" IS NOT NULL OR ("resolution_tx_id" IS NULL AND "resolution_cash_statement_id" IS NULL)));
