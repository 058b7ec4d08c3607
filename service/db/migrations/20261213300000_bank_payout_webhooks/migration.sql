-- Hand-written: bank-rail payouts announce their status changes, as vault payouts do (migration
-- 20261203140000_webhooks): written by a trigger in the transaction that changes the status, and
-- only while an active endpoint wants the type (`webhook_wanted`).
--
-- The subject is `bank_payout:<id>`, not `payout:<id>`: bank_payouts has its own id sequence, so
-- `payout:1` would name two payouts. The transitions (service/payouts/bank/store.ts):
--   planned -> instructed   bank_payout.instructed: in the pain.001 file, recorded in the same
--                           transaction (the file reaches the outbox just after)
--   instructed -> final     bank_payout.final: the bank's debit booked (settled = what it debited)
--   instructed -> rejected  bank_payout.rejected: returned or reversed before final, reserve voided
-- planned -> rejected (the ledger refused the reserve) is not announced: nothing was instructed,
-- no money moved, and no earlier event named the payout. A return after final is a reported
-- exception, not a status change, and announces nothing.
--
-- seller_id is filled so a sellerId filter works; gateway stays NULL, so an endpoint of a gateway
-- key (always filtered to its gateway) never matches, besides the type list it may subscribe to.
-- The WHEN clause keeps the many updates that leave the status alone (ledger ids, cash request,
-- reason) from calling the function at all.
CREATE FUNCTION "webhook_on_bank_payouts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
BEGIN
  kind := CASE
    WHEN NEW."status" = 'instructed' AND OLD."status" = 'planned' THEN 'bank_payout.instructed'
    WHEN NEW."status" = 'final' AND OLD."status" = 'instructed' THEN 'bank_payout.final'
    WHEN NEW."status" = 'rejected' AND OLD."status" = 'instructed' THEN 'bank_payout.rejected'
  END;
  IF kind IS NULL OR NOT "webhook_wanted"(kind) THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES (kind, 'bank_payout:' || NEW."id", NEW."seller_id", jsonb_build_object(
    'id', NEW."id"::text, 'sellerId', NEW."seller_id", 'currency', NEW."currency", 'amount', NEW."amount"::text,
    'endToEndId', NEW."end_to_end_id", 'fileId', NEW."file_id", 'status', NEW."status",
    'settled', CASE WHEN NEW."settled_currency" IS NULL OR NEW."settled_amount" IS NULL THEN NULL
                    ELSE jsonb_build_object('currency', NEW."settled_currency", 'amount', NEW."settled_amount"::text) END,
    'reason', NEW."reason"));
  RETURN NULL;
END $$;
CREATE TRIGGER "bank_payouts_webhooks" AFTER UPDATE ON "bank_payouts"
    FOR EACH ROW WHEN (NEW."status" IS DISTINCT FROM OLD."status")
    EXECUTE FUNCTION "webhook_on_bank_payouts"();
