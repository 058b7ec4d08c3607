-- Hand-written: `bank_payout.exception_resolved` carries the whole resolution, not only its note.
-- Migration 20261216110000_bank_exception_resolution_refs gave a resolution who (`resolved_by`),
-- when (`resolved_at`) and what it names (the journal transaction, the cash statement entry); the
-- trigger of migration 20261214200000_bank_exception_webhooks still wrote `resolutionNote` alone.
-- The function is replaced (the triggers stay): `data.resolution` is the exception's resolution as
-- `GET /v1/payouts/bank/exceptions/:id` shows it (`note`, `resolvedBy`, `resolvedAt` in ISO 8601
-- UTC with milliseconds, `journalTransactionId`, `cashEntry` {`statementId`, `index`}), null while
-- open; `resolutionNote` stays for the endpoints that read it. No table changes.
CREATE OR REPLACE FUNCTION "webhook_on_bank_payout_exceptions"() RETURNS trigger LANGUAGE plpgsql AS $$
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
      'resolutionNote', NEW."resolution_note",
      'resolution', CASE WHEN NEW."resolved_at" IS NULL THEN NULL ELSE jsonb_build_object(
        'note', NEW."resolution_note",
        'resolvedBy', NEW."resolved_by",
        'resolvedAt', to_char(NEW."resolved_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'journalTransactionId', NEW."resolution_tx_id"::text,
        'cashEntry', CASE WHEN NEW."resolution_cash_statement_id" IS NULL THEN NULL ELSE jsonb_build_object(
          'statementId', NEW."resolution_cash_statement_id"::text, 'index', NEW."resolution_cash_entry_index") END) END));
  RETURN NULL;
END $$;
