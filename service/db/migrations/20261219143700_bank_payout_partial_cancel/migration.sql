-- Hand-written: a bank payout gets a definite outcome when the bank executed part of it, or none.
--
-- 1. `partially_paid`: the bank debited the platform's account for part of the instruction (a
--    camt.054 debit whose AmtDtls/InstdAmt is below the instructed amount, recorded as an
--    `instructed_mismatch` exception). An operator settles the exception by what the bank did
--    (service/payouts/bank/rail.ts): one journal transaction under the cash booking's key books the
--    debit as a full confirmation would, for the amount paid, and gives the rest back to the seller's
--    available balance. The payout keeps its reserve's commit and that transaction as its cash
--    booking (`final_at` set, as for `final`), what the bank debited (`settled_*`) and what it paid
--    of the instruction (`paid_amount`, in the payout currency, above 0 and below `amount`).
-- 2. `cancelled`: an instructed payout the bank never executed (it refused it by phone, say),
--    cancelled by an operator: the reserve is voided (`void_tx_id`), only while no debit of the bank
--    is booked (no commit). Unlike a return, it does not hold the seller's account.
-- Both end the payout, so the next run pays what the seller has available. The trigger of migration
-- 20261215140000_bank_returns_and_ids is replaced with two more cases, `bank_payout.partially_paid`
-- and `bank_payout.cancelled`, and `paid` in every bank payout event's data.
ALTER TABLE "bank_payouts" ADD COLUMN "paid_amount" DECIMAL(38,0);
ALTER TABLE "bank_payouts" DROP CONSTRAINT "bank_payouts_status_check",
    ADD CONSTRAINT "bank_payouts_status_check" CHECK ("status" IN ('planned', 'instructed', 'final', 'rejected', 'returned', 'partially_paid', 'cancelled'));
ALTER TABLE "bank_payouts" DROP CONSTRAINT "bank_payouts_final_check",
    ADD CONSTRAINT "bank_payouts_final_check" CHECK (("status" IN ('final', 'returned', 'partially_paid')) = ("commit_tx_id" IS NOT NULL AND "cash_tx_id" IS NOT NULL AND "final_at" IS NOT NULL));
ALTER TABLE "bank_payouts" ADD CONSTRAINT "bank_payouts_paid_check"
    CHECK ((("status" = 'partially_paid') = ("paid_amount" IS NOT NULL)) AND ("paid_amount" IS NULL OR ("paid_amount" > 0 AND "paid_amount" < "amount")));
ALTER TABLE "bank_payouts" ADD CONSTRAINT "bank_payouts_cancelled_check"
    CHECK ("status" <> 'cancelled' OR ("void_tx_id" IS NOT NULL AND "file_id" IS NOT NULL AND "commit_tx_id" IS NULL AND "cash_tx_id" IS NULL));

CREATE OR REPLACE FUNCTION "webhook_on_bank_payouts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
BEGIN
  kind := CASE
    WHEN NEW."status" = 'instructed' AND OLD."status" = 'planned' THEN 'bank_payout.instructed'
    WHEN NEW."status" = 'final' AND OLD."status" = 'instructed' THEN 'bank_payout.final'
    WHEN NEW."status" = 'rejected' AND OLD."status" = 'instructed' THEN 'bank_payout.rejected'
    WHEN NEW."status" = 'returned' AND OLD."status" = 'final' THEN 'bank_payout.returned'
    WHEN NEW."status" = 'partially_paid' AND OLD."status" = 'instructed' THEN 'bank_payout.partially_paid'
    WHEN NEW."status" = 'cancelled' AND OLD."status" = 'instructed' THEN 'bank_payout.cancelled'
  END;
  IF kind IS NULL OR NOT "webhook_wanted"(kind) THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES (kind, 'bank_payout:' || NEW."id", NEW."seller_id", jsonb_build_object(
    'id', NEW."id"::text, 'sellerId', NEW."seller_id", 'currency', NEW."currency", 'amount', NEW."amount"::text,
    'endToEndId', NEW."end_to_end_id", 'fileId', NEW."file_id", 'status', NEW."status",
    'settled', CASE WHEN NEW."settled_currency" IS NULL OR NEW."settled_amount" IS NULL THEN NULL
                    ELSE jsonb_build_object('currency', NEW."settled_currency", 'amount', NEW."settled_amount"::text) END,
    'paid', CASE WHEN NEW."paid_amount" IS NULL THEN NULL
                 ELSE jsonb_build_object('currency', NEW."currency", 'amount', NEW."paid_amount"::text) END,
    'returned', CASE WHEN NEW."returned_currency" IS NULL OR NEW."returned_amount" IS NULL THEN NULL
                     ELSE jsonb_build_object('currency', NEW."returned_currency", 'amount', NEW."returned_amount"::text) END,
    'returnedAt', NEW."returned_at",
    'reason', NEW."reason"));
  RETURN NULL;
END $$;
