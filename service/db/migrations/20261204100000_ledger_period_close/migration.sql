-- Ledger: closing periods. A closed period takes no new posting: the journal head carries the
-- instant before which every period is closed, every journal writer locks the head row first, and
-- a trigger refuses a transaction effective before it. Written to match `LedgerJournalHead` and
-- `LedgerPeriodClose` in schema.prisma (Prisma's migration SQL style).

-- AlterTable
ALTER TABLE "ledger_journal_head" ADD COLUMN "closed_before" TIMESTAMPTZ(6);

-- CreateTable
CREATE TABLE "ledger_period_closes" (
    "id" BIGSERIAL NOT NULL,
    "closed_before" TIMESTAMPTZ(6) NOT NULL,
    "previous_closed_before" TIMESTAMPTZ(6),
    "journal_sequence" BIGINT NOT NULL,
    "journal_hash" CHAR(64) NOT NULL,
    "closed_by" VARCHAR(120),
    "note" VARCHAR(500),
    "closed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_period_closes_pkey" PRIMARY KEY ("id")
);

-- A close is history: never edited, never removed.
CREATE TRIGGER "ledger_period_closes_immutable" BEFORE UPDATE OR DELETE ON "ledger_period_closes"
  FOR EACH ROW EXECUTE FUNCTION "ledger_journal_guard"();

-- The writer plans late transactions into the open period (effective at the close instant, the
-- original instant kept in their metadata). A flush planned before another process closed a period
-- is refused here as stale (SQLSTATE 40001, the writer's own "ledger flush is stale"), so the writer
-- re-plans it under the head lock with the close in force. One primary-key read per transaction.
CREATE FUNCTION "ledger_check_closed_period"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  closed TIMESTAMPTZ;
BEGIN
  SELECT "closed_before" INTO closed FROM "ledger_journal_head" WHERE "id" = 1;
  IF closed IS NOT NULL AND NEW."effective_at" < closed THEN
    RAISE EXCEPTION 'ledger flush is stale: transaction % is effective at %, in a period closed before %', NEW."id", NEW."effective_at", closed
      USING ERRCODE = '40001';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER "ledger_transactions_closed_period" BEFORE INSERT ON "ledger_transactions"
  FOR EACH ROW EXECUTE FUNCTION "ledger_check_closed_period"();
