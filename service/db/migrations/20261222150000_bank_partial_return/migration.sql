-- Hand-written: the return of the part a partially paid payout paid (a camt.054 credit of it after
-- `partially_paid`, recorded as a `returned_after_final` exception) is booked by an operator's
-- action (`book_return`, service/payouts/bank/rail.ts) as a full return after final is: its own
-- journal transaction under `bankpayout:<id>:returned`, the part paid back in the seller's
-- available balance. The payout becomes `returned` and keeps what the bank had paid of it
-- (`paid_amount`), so `bank_payouts_paid_check` now allows it on a returned payout too (still
-- required on a partially paid one), and the trigger announces `bank_payout.returned` from
-- `partially_paid` as from `final`. Nothing else changes.
ALTER TABLE "bank_payouts" DROP CONSTRAINT "bank_payouts_paid_check",
    ADD CONSTRAINT "bank_payouts_paid_check"
    CHECK (("status" <> 'partially_paid' OR "paid_amount" IS NOT NULL) AND ("paid_amount" IS NULL OR "status" IN ('partially_paid', 'returned')) AND ("paid_amount" IS NULL OR ("paid_amount" > 0 AND "paid_amount" < "amount")));

CREATE OR REPLACE FUNCTION "webhook_on_bank_payouts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
BEGIN
  kind := CASE
    WHEN NEW."status" = 'instructed' AND OLD."status" = 'planned' THEN 'bank_payout.instructed'
    WHEN NEW."status" = 'final' AND OLD."status" = 'instructed' THEN 'bank_payout.final'
    WHEN NEW."status" = 'rejected' AND OLD."status" = 'instructed' THEN 'bank_payout.rejected'
    WHEN NEW."status" = 'returned' AND OLD."status" IN ('final', 'partially_paid') THEN 'bank_payout.returned'
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
