-- Settlement: each record written once, in the ledger's own commit (issue 14). Until now a record
-- was inserted "pending", booked by the ledger in a second transaction, then rewritten "posted" in a
-- third; a crash between them left a pending row that a redelivery completed. Now the ledger's flush
-- function inserts the record beside its journal transaction (`ledger_attach`, called by
-- `ledger_apply_flush`): both commit together or neither does, so there is no pending state, no
-- rewrite, and no copy of the journal request on the row (`journal_request` is dropped; the journal
-- holds the postings and metadata). Written to match `Settlement` in schema.prisma.

-- 1. Records left pending by the old protocol: completed where the ledger booked their request (the
-- same idempotency key), withdrawn where it did not (nothing was booked; a redelivery starts afresh).
UPDATE "settlements" AS s SET "status" = 'posted', "journal_transaction_id" = t."id"::text, "updated_at" = now()
  FROM "ledger_transactions" t
 WHERE s."status" = 'pending' AND t."idempotency_key" = s."journal_request"->>'idempotencyKey';
DELETE FROM "settlements" WHERE "status" = 'pending';

-- 2. A record's id is its journal transaction's id (one settlement, one transaction), so the ledger
-- writes both with one id and nothing is read back. Existing records take their transaction's id
-- (through negatives: the primary key is checked row by row).
UPDATE "settlements" SET "id" = -"id";
UPDATE "settlements" SET "id" = "journal_transaction_id"::bigint;
ALTER TABLE "settlements" ALTER COLUMN "id" DROP DEFAULT;
DROP SEQUENCE "settlements_id_seq";

-- 3. The row no longer carries the journal request, nor a second copy of its FX evidence (the
-- breakdown holds it: `breakdown->'fx'`), and every row is posted with its transaction.
ALTER TABLE "settlements" DROP COLUMN "journal_request";
ALTER TABLE "settlements" DROP COLUMN "fx";
ALTER TABLE "settlements" ALTER COLUMN "status" SET DEFAULT 'posted';
ALTER TABLE "settlements" ALTER COLUMN "journal_transaction_id" SET NOT NULL;
ALTER TABLE "settlements" ADD CONSTRAINT "settlements_status_check" CHECK ("status" = 'posted');

-- 4. What a journal transaction carries for its caller's own table, inserted in the flush's commit.
-- `docs` is a JSON array of {"kind": "settlement", "tx": <journal transaction id>, "at": <its booking
-- instant>, "row": {...}}; the row's keys are the settlements columns; the record takes the
-- transaction's id and booking instant. A unique violation (the event key, or a capture's
-- sequence taken by another writer) fails the flush; the ledger's writer isolates the item
-- (ENT_LEDGER_RECORD_CONFLICT) and commits the rest.
CREATE FUNCTION "ledger_attach"(docs JSONB) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "settlements" ("id", "created_at", "event_key", "capture_key", "sequence", "event_type", "gateway", "gateway_event_id",
        "settlement_id", "seller_id", "market", "category", "currency", "amount", "gateway_fee", "supply_price",
        "listing_price", "listing_currency", "return_reason", "ship_from", "ship_to_region", "shipping", "weight_grams",
        "occurred_at", "original_event_id", "fx_quote_id", "program", "breakdown", "refunded_delta", "status",
        "journal_transaction_id", "request_hash")
    SELECT d."tx"::bigint, d."at", r."event_key", r."capture_key", r."sequence", r."event_type", r."gateway", r."gateway_event_id",
        r."settlement_id", r."seller_id", r."market", r."category", r."currency", r."amount", r."gateway_fee", r."supply_price",
        r."listing_price", r."listing_currency", r."return_reason", r."ship_from", r."ship_to_region", r."shipping", r."weight_grams",
        r."occurred_at", r."original_event_id", r."fx_quote_id", r."program", r."breakdown", r."refunded_delta", 'posted',
        d."tx", r."request_hash"
      FROM jsonb_to_recordset(docs) AS d("kind" TEXT, "tx" TEXT, "at" TIMESTAMPTZ, "row" JSONB)
      CROSS JOIN LATERAL jsonb_populate_record(NULL::"settlements", d."row") AS r
     WHERE d."kind" = 'settlement'
     -- Event-key order: two writers carrying the same new events take the unique index's locks in
     -- one order, so one waits for the other instead of deadlocking.
     ORDER BY r."event_key";
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(docs) e WHERE e->>'kind' IS DISTINCT FROM 'settlement') THEN
        RAISE EXCEPTION 'ledger_attach: unknown attachment kind' USING ERRCODE = 'data_exception';
    END IF;
END
$$;

-- 5. ledger_apply_flush with the attachments (same body as 20261124160000_ledger_fast_write, plus
-- the call to ledger_attach after the transactions are inserted).
DROP FUNCTION "ledger_apply_flush"(BIGINT, TEXT, BIGINT, TEXT, TIMESTAMPTZ, BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], JSONB[],
    TEXT[], TIMESTAMPTZ[], BIGINT[], TIMESTAMPTZ[], TEXT[], TEXT[], BIGINT[], BIGINT[], NUMERIC[], NUMERIC[], NUMERIC[],
    NUMERIC[], BIGINT[], BIGINT[], TEXT[], BIGINT[], BIGINT[], TEXT[], TEXT[], TEXT[], NUMERIC[], NUMERIC[], NUMERIC[],
    NUMERIC[], NUMERIC[], NUMERIC[]);
CREATE FUNCTION "ledger_apply_flush"(
    expected_sequence BIGINT, expected_hash TEXT, new_sequence BIGINT, new_hash TEXT, booked TIMESTAMPTZ,
    t_id BIGINT[], t_kind TEXT[], t_status TEXT[], t_key TEXT[], t_request_hash TEXT[], t_metadata JSONB[],
    t_description TEXT[], t_effective_at TIMESTAMPTZ[], t_references_id BIGINT[], t_pending_expires_at TIMESTAMPTZ[],
    t_previous_hash TEXT[], t_hash TEXT[],
    a_id BIGINT[], a_seen_last BIGINT[], a_pd NUMERIC[], a_pc NUMERIC[], a_qd NUMERIC[], a_qc NUMERIC[], a_last BIGINT[],
    s_id BIGINT[], s_status TEXT[],
    p_tx BIGINT[], p_account BIGINT[], p_currency TEXT[], p_direction TEXT[], p_phase TEXT[], p_amount NUMERIC[],
    p_balance NUMERIC[], p_pd NUMERIC[], p_pc NUMERIC[], p_qd NUMERIC[], p_qc NUMERIC[],
    attachments JSONB
) RETURNS SETOF BIGINT LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    head_sequence BIGINT;
    head_hash TEXT;
    unchanged INTEGER;
BEGIN
    SELECT h."sequence", h."hash" INTO head_sequence, head_hash FROM "ledger_journal_head" h WHERE h."id" = 1 FOR UPDATE;
    IF head_sequence < expected_sequence THEN
        RAISE EXCEPTION 'ledger flush is early: journal head behind the plan' USING ERRCODE = 'serialization_failure';
    END IF;
    IF head_sequence IS DISTINCT FROM expected_sequence OR head_hash IS DISTINCT FROM expected_hash THEN
        RAISE EXCEPTION 'ledger flush is stale: journal head moved' USING ERRCODE = 'serialization_failure';
    END IF;
    IF EXISTS (SELECT 1 FROM "ledger_transactions" t WHERE t."idempotency_key" = ANY (t_key)) THEN
        RAISE EXCEPTION 'ledger flush is stale: idempotency key already used' USING ERRCODE = 'serialization_failure';
    END IF;
    SELECT count(*) INTO unchanged FROM (
        SELECT 1 FROM "ledger_accounts" a JOIN unnest(a_id, a_seen_last) AS v("id", "last") ON a."id" = v."id"
         WHERE a."last_transaction_id" IS NOT DISTINCT FROM v."last"
         ORDER BY a."id" FOR UPDATE OF a) locked;
    IF unchanged <> coalesce(cardinality(a_id), 0) THEN
        RAISE EXCEPTION 'ledger flush is stale: account totals moved' USING ERRCODE = 'serialization_failure';
    END IF;

    INSERT INTO "ledger_transactions" ("id", "kind", "status", "idempotency_key", "request_hash", "metadata", "description",
        "effective_at", "booked_at", "references_id", "pending_expires_at", "previous_hash", "hash")
    SELECT v."id", v."kind", v."status", v."key", v."request_hash", v."metadata", v."description", v."effective_at", booked,
        v."references_id", v."pending_expires_at", v."previous_hash", v."hash"
      FROM unnest(t_id, t_kind, t_status, t_key, t_request_hash, t_metadata, t_description, t_effective_at, t_references_id,
        t_pending_expires_at, t_previous_hash, t_hash)
        AS v("id", "kind", "status", "key", "request_hash", "metadata", "description", "effective_at", "references_id",
        "pending_expires_at", "previous_hash", "hash");
    IF attachments IS NOT NULL AND jsonb_array_length(attachments) > 0 THEN
        PERFORM "ledger_attach"(attachments);
    END IF;
    UPDATE "ledger_accounts" AS a SET "posted_debits" = v."pd", "posted_credits" = v."pc", "pending_debits" = v."qd",
        "pending_credits" = v."qc", "last_transaction_id" = v."last"
      FROM unnest(a_id, a_pd, a_pc, a_qd, a_qc, a_last) AS v("id", "pd", "pc", "qd", "qc", "last")
     WHERE a."id" = v."id";
    IF cardinality(s_id) > 0 THEN
        UPDATE "ledger_transactions" AS t SET "status" = v."status"
          FROM unnest(s_id, s_status) AS v("id", "status") WHERE t."id" = v."id";
    END IF;
    UPDATE "ledger_journal_head" SET "sequence" = new_sequence, "hash" = new_hash, "booked_at" = booked WHERE "id" = 1;
    RETURN QUERY
      WITH inserted AS (
        INSERT INTO "ledger_postings" ("transaction_id", "account_id", "currency", "direction", "phase", "amount", "booked_at",
            "balance_after", "posted_debits_after", "posted_credits_after", "pending_debits_after", "pending_credits_after")
        SELECT v."tx", v."account", v."currency", v."direction", v."phase", v."amount", booked, v."balance", v."pd", v."pc",
            v."qd", v."qc"
          FROM unnest(p_tx, p_account, p_currency, p_direction, p_phase, p_amount, p_balance, p_pd, p_pc, p_qd, p_qc)
            AS v("tx", "account", "currency", "direction", "phase", "amount", "balance", "pd", "pc", "qd", "qc")
        RETURNING "id")
      SELECT inserted."id" FROM inserted;
END
$$;
