-- Hand-written: a bank payout exception (service/payouts/bank/exceptions.ts: a camt.054 entry the
-- rail did not apply, a cash booking it could not make) is announced as it is recorded and when it
-- is resolved, as a gateway reconciliation's exceptions are (migration 20261203140000_webhooks):
-- written by a trigger in the transaction that records or resolves it, only while an active
-- endpoint wants the type.
--
-- The subject is the payout's (`bank_payout:<id>`), so an endpoint gets a payout's status changes and
-- its exceptions in order; an entry naming no payout of ours is `bank_payout_exception:<id>`. The
-- seller is the payout's, for a sellerId filter; gateway stays NULL (operators' business: no gateway
-- key's endpoint may subscribe to bank_payout.*).
CREATE FUNCTION "webhook_on_bank_payout_exceptions"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
  seller TEXT;
BEGIN
  kind := CASE WHEN TG_OP = 'INSERT' THEN 'bank_payout.exception_opened' ELSE 'bank_payout.exception_resolved' END;
  IF NOT "webhook_wanted"(kind) THEN RETURN NULL; END IF;
  SELECT "seller_id" INTO seller FROM "bank_payouts" WHERE "id" = NEW."payout_id";
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES (kind,
    CASE WHEN NEW."payout_id" IS NULL THEN 'bank_payout_exception:' || NEW."id" ELSE 'bank_payout:' || NEW."payout_id" END,
    seller,
    jsonb_build_object(
      'id', NEW."id"::text, 'payoutId', NEW."payout_id"::text, 'sellerId', seller, 'messageId', NEW."message_id",
      'endToEndId', NEW."end_to_end_id", 'outcome', NEW."outcome", 'code', NEW."code", 'detail', NEW."detail",
      'status', CASE WHEN NEW."resolved_at" IS NULL THEN 'open' ELSE 'resolved' END,
      'resolutionNote', NEW."resolution_note"));
  RETURN NULL;
END $$;
CREATE TRIGGER "bank_payout_exceptions_opened_webhooks" AFTER INSERT ON "bank_payout_exceptions"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_bank_payout_exceptions"();
CREATE TRIGGER "bank_payout_exceptions_resolved_webhooks" AFTER UPDATE ON "bank_payout_exceptions"
    FOR EACH ROW WHEN (OLD."resolved_at" IS NULL AND NEW."resolved_at" IS NOT NULL)
    EXECUTE FUNCTION "webhook_on_bank_payout_exceptions"();
