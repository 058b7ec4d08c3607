-- Hand-written: the bank rail books a full return after final, and its ids carry the installation.
--
-- 1. A payout the bank returns after its debit was booked (`final`: reserve committed, cash booked)
--    becomes `returned`: the return is a journal transaction of its own (`return_tx_id`, ledger key
--    `bankpayout:<id>:returned`; the cash booking is never edited), at `returned_at`, with what the
--    bank credited (`returned_currency`, `returned_amount`: the bank statement's credit matches it). It keeps its
--    cash booking, so the final check now covers `returned` too. The status change is announced as
--    `bank_payout.returned` (final -> returned), by the trigger of migration
--    20261213300000_bank_payout_webhooks, replaced here with the one more case and the return's
--    `returned` and `returnedAt` in every bank payout event's data, as GET /v1/payouts/bank/:id.
-- 2. `bank_rail_installation`: one row, a random tag made once per database (8 upper-case hex
--    digits). pain.001 MsgIds (`ENT-<tag>-<yyyymmdd>-<n>`) and EndToEndIds (`ENT-BP-<tag>-<id>`)
--    carry it, so a new database never issues an id the bank saw from an earlier one (banks
--    deduplicate on both for months). Every instance on one database reads the same row. Payouts
--    and files issued before keep their ids (`ENT-BP-<id>`, `ENT-<yyyymmdd>-<n>`): confirmations
--    are matched on the stored id, whatever its format.
ALTER TABLE "bank_payouts" ADD COLUMN "return_tx_id" BIGINT, ADD COLUMN "returned_at" TIMESTAMPTZ(6),
    ADD COLUMN "returned_currency" VARCHAR(3), ADD COLUMN "returned_amount" DECIMAL(38,0);
ALTER TABLE "bank_payouts" DROP CONSTRAINT "bank_payouts_status_check",
    ADD CONSTRAINT "bank_payouts_status_check" CHECK ("status" IN ('planned', 'instructed', 'final', 'rejected', 'returned'));
ALTER TABLE "bank_payouts" DROP CONSTRAINT "bank_payouts_final_check",
    ADD CONSTRAINT "bank_payouts_final_check" CHECK (("status" IN ('final', 'returned')) = ("commit_tx_id" IS NOT NULL AND "cash_tx_id" IS NOT NULL AND "final_at" IS NOT NULL));
ALTER TABLE "bank_payouts" ADD CONSTRAINT "bank_payouts_returned_check" CHECK (("status" = 'returned') = ("return_tx_id" IS NOT NULL AND "returned_at" IS NOT NULL AND "returned_currency" IS NOT NULL AND "returned_amount" IS NOT NULL));

CREATE OR REPLACE FUNCTION "webhook_on_bank_payouts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
BEGIN
  kind := CASE
    WHEN NEW."status" = 'instructed' AND OLD."status" = 'planned' THEN 'bank_payout.instructed'
    WHEN NEW."status" = 'final' AND OLD."status" = 'instructed' THEN 'bank_payout.final'
    WHEN NEW."status" = 'rejected' AND OLD."status" = 'instructed' THEN 'bank_payout.rejected'
    WHEN NEW."status" = 'returned' AND OLD."status" = 'final' THEN 'bank_payout.returned'
  END;
  IF kind IS NULL OR NOT "webhook_wanted"(kind) THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES (kind, 'bank_payout:' || NEW."id", NEW."seller_id", jsonb_build_object(
    'id', NEW."id"::text, 'sellerId', NEW."seller_id", 'currency', NEW."currency", 'amount', NEW."amount"::text,
    'endToEndId', NEW."end_to_end_id", 'fileId', NEW."file_id", 'status', NEW."status",
    'settled', CASE WHEN NEW."settled_currency" IS NULL OR NEW."settled_amount" IS NULL THEN NULL
                    ELSE jsonb_build_object('currency', NEW."settled_currency", 'amount', NEW."settled_amount"::text) END,
    'returned', CASE WHEN NEW."returned_currency" IS NULL OR NEW."returned_amount" IS NULL THEN NULL
                     ELSE jsonb_build_object('currency', NEW."returned_currency", 'amount', NEW."returned_amount"::text) END,
    'returnedAt', NEW."returned_at",
    'reason', NEW."reason"));
  RETURN NULL;
END $$;

CREATE TABLE "bank_rail_installation" (
    "id" BOOLEAN NOT NULL DEFAULT true,
    "tag" VARCHAR(8) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bank_rail_installation_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "bank_rail_installation_one_row" CHECK ("id"),
    CONSTRAINT "bank_rail_installation_tag_check" CHECK ("tag" ~ '^[0-9A-F]{8}$')
);
INSERT INTO "bank_rail_installation" ("id", "tag") VALUES (true, upper(substr(md5(random()::text || clock_timestamp()::text), 1, 8)));
