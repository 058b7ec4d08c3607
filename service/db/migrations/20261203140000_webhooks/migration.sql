-- Webhooks: endpoints (subscriptions), the outbox of events, deliveries and their attempts.
-- Written to match `// ---- webhooks ----` in schema.prisma (Prisma's migration SQL style).
--
-- The outbox is written by triggers in the same transaction as the state change it announces, so
-- an event is never announced without its change, nor a change committed unannounced. Every
-- trigger first asks `webhook_wanted(type)`: while no active endpoint subscribes to a type, its
-- events are not written at all, and the write path pays one indexed lookup on a small table.

-- CreateTable
CREATE TABLE "webhook_endpoints" (
    "id" VARCHAR(40) NOT NULL,
    "url" VARCHAR(2048) NOT NULL,
    "description" VARCHAR(200),
    "event_types" VARCHAR(64)[],
    "gateway" VARCHAR(120),
    "seller_id" VARCHAR(120),
    "market" VARCHAR(2),
    "owner_gateway" VARCHAR(120),
    "secret_ciphertext" TEXT NOT NULL,
    "secret_key_id" VARCHAR(16) NOT NULL,
    "previous_secret_ciphertext" TEXT,
    "previous_secret_key_id" VARCHAR(16),
    "previous_secret_valid_until" TIMESTAMPTZ(6),
    "status" VARCHAR(16) NOT NULL,
    "created_by" VARCHAR(120),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" BIGSERIAL NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "subject" VARCHAR(300) NOT NULL,
    "gateway" VARCHAR(120),
    "seller_id" VARCHAR(120),
    "market" VARCHAR(2),
    "endpoint_id" VARCHAR(40),
    "dedupe_key" VARCHAR(300),
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "dispatched_at" TIMESTAMPTZ(6),

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "endpoint_id" VARCHAR(40) NOT NULL,
    "event_id" BIGINT NOT NULL,
    "subject" VARCHAR(300) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL,
    "last_attempt_at" TIMESTAMPTZ(6),
    "last_status_code" INTEGER,
    "last_error" VARCHAR(500),
    "delivered_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("endpoint_id","event_id")
);

-- CreateTable
CREATE TABLE "webhook_attempts" (
    "endpoint_id" VARCHAR(40) NOT NULL,
    "event_id" BIGINT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(6) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "status_code" INTEGER,
    "error" VARCHAR(500),

    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("endpoint_id","event_id","attempt")
);

-- CreateIndex
CREATE UNIQUE INDEX "webhook_events_dedupe_key_key" ON "webhook_events"("dedupe_key");

-- CreateIndex (partial: only events not yet fanned out to deliveries)
CREATE INDEX "webhook_events_undispatched_idx" ON "webhook_events"("id") WHERE "dispatched_at" IS NULL;

-- CreateIndex (partial: each endpoint's due queue)
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries"("endpoint_id", "next_attempt_at") WHERE "status" = 'pending';

-- CreateIndex (partial: each (endpoint, subject) line of open deliveries, for ordering)
CREATE INDEX "webhook_deliveries_subject_idx" ON "webhook_deliveries"("endpoint_id", "subject", "event_id") WHERE "status" IN ('pending', 'waiting');

-- CreateIndex (retention: the deliveries of an old event)
CREATE INDEX "webhook_deliveries_event_idx" ON "webhook_deliveries"("event_id");

-- CreateIndex
CREATE INDEX "webhook_endpoints_status_idx" ON "webhook_endpoints"("status");

ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_status_check" CHECK ("status" IN ('active', 'disabled'));
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_status_check" CHECK ("status" IN ('pending', 'waiting', 'delivered', 'dead'));

-- Is any active endpoint subscribed to this event type ('*' = every type)?
CREATE FUNCTION "webhook_wanted"(event_type TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM "webhook_endpoints" WHERE "status" = 'active' AND (event_type = ANY("event_types") OR '*' = ANY("event_types")))
$$;

-- The subject of a settlement's events: its order (all events of one order reach an endpoint in order).
CREATE FUNCTION "webhook_settlement_event"(event_type TEXT, tx_id BIGINT, meta JSONB, booked TIMESTAMPTZ, effective TIMESTAMPTZ, extra JSONB)
RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO "webhook_events" ("type", "subject", "gateway", "seller_id", "market", "data")
  VALUES (
    event_type,
    'order:' || (meta->>'gateway') || ':' || (meta->>'settlementId'),
    meta->>'gateway',
    meta->>'sellerId',
    meta->>'market',
    jsonb_build_object(
      'eventKey', 'settlement:' || (meta->>'gateway') || ':' || (meta->>'gatewayEventId'),
      'eventType', meta->>'eventType',
      'gateway', meta->>'gateway',
      'gatewayEventId', meta->>'gatewayEventId',
      'orderId', meta->>'settlementId',
      'sellerId', meta->>'sellerId',
      'market', meta->>'market',
      'program', meta->>'program',
      'journalTransactionId', tx_id::text,
      'bookedAt', booked,
      'effectiveAt', effective
    ) || extra
  )
$$;

-- settlement.booked: a settlement's journal transaction committed (the booking itself). A row
-- trigger with a WHEN clause: a transaction without settlement metadata queues nothing, and no
-- transition table is kept (a statement trigger with one cost the 16-writer ledger bench ~20%).
CREATE FUNCTION "webhook_on_ledger_transactions"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF "webhook_wanted"('settlement.booked') THEN
    PERFORM "webhook_settlement_event"('settlement.booked', NEW."id", NEW."metadata", NEW."booked_at", NEW."effective_at", '{}'::jsonb);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER "ledger_transactions_webhooks" AFTER INSERT ON "ledger_transactions"
    FOR EACH ROW WHEN (NEW."metadata" ? 'gatewayEventId' AND NEW."metadata" ? 'eventType')
    EXECUTE FUNCTION "webhook_on_ledger_transactions"();

-- settlement.anchored (its batch mined), settlement.final and anchoring.batch_final (final on chain).
CREATE FUNCTION "webhook_on_anchor_batches"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mined CONSTANT TEXT[] := ARRAY['observed', 'safe', 'final'];
  event_kind TEXT;
  anchor_info JSONB := jsonb_build_object('batchId', NEW."batch_id"::text, 'chainId', NEW."chain_id"::text, 'anchorAddress', NEW."anchor_address",
                                       'root', NEW."root", 'txHash', NEW."tx_hash", 'blockNumber', NEW."block_number"::text);
BEGIN
  IF NEW."status" = OLD."status" THEN RETURN NULL; END IF;
  -- Anchored when the batch is first mined; final with it (both at once when it is first seen final).
  FOREACH event_kind IN ARRAY ARRAY['settlement.anchored', 'settlement.final'] LOOP
    CONTINUE WHEN event_kind = 'settlement.anchored' AND NOT (NEW."status" = ANY(mined) AND NOT OLD."status" = ANY(mined));
    CONTINUE WHEN event_kind = 'settlement.final' AND NEW."status" <> 'final';
    CONTINUE WHEN NOT "webhook_wanted"(event_kind);
    PERFORM "webhook_settlement_event"(event_kind, t."id", t."metadata", t."booked_at", t."effective_at", anchor_info)
       FROM "anchor_leaves" l JOIN "ledger_transactions" t ON t."id" = l."subject_id"::bigint
      WHERE l."chain_id" = NEW."chain_id" AND l."anchor_address" = NEW."anchor_address" AND l."batch_id" = NEW."batch_id"
        AND l."kind" = 'journal' AND t."metadata" ? 'gatewayEventId' AND t."metadata" ? 'eventType'
      ORDER BY l."position";
  END LOOP;
  IF NEW."status" = 'final' AND "webhook_wanted"('anchoring.batch_final') THEN
    INSERT INTO "webhook_events" ("type", "subject", "data")
    VALUES ('anchoring.batch_final', 'anchoring_batch:' || NEW."chain_id" || ':' || NEW."anchor_address" || ':' || NEW."batch_id",
            anchor_info || jsonb_build_object('leafCount', NEW."leaf_count", 'firstSequence', NEW."first_sequence"::text, 'lastSequence', NEW."last_sequence"::text,
                                           'currencyTotals', NEW."currency_totals"));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER "anchor_batches_webhooks" AFTER UPDATE ON "anchor_batches"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_anchor_batches"();

-- payout.sent / .failed / .final / .deferred / .cancelled.
CREATE FUNCTION "webhook_on_payouts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind TEXT;
BEGIN
  IF NEW."status" = OLD."status" THEN RETURN NULL; END IF;
  kind := CASE
    WHEN NEW."status" = 'sent' AND OLD."status" IN ('planned', 'failed') THEN 'payout.sent'
    WHEN NEW."status" = 'failed' THEN 'payout.failed'
    WHEN NEW."status" = 'final' AND NEW."outcome" = 'deferred' THEN 'payout.deferred'
    WHEN NEW."status" = 'final' THEN 'payout.final'
    WHEN NEW."status" = 'cancelled' THEN 'payout.cancelled'
  END;
  IF kind IS NULL OR NOT "webhook_wanted"(kind) THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES (kind, 'payout:' || NEW."id", NEW."seller_id", jsonb_build_object(
    'payoutId', NEW."id"::text, 'batchId', NEW."batch_id"::text, 'sellerId', NEW."seller_id", 'status', NEW."status", 'outcome', NEW."outcome",
    'currency', NEW."currency", 'amount', NEW."amount"::text, 'usdAmount', NEW."usd_amount"::text, 'tokenAmount', NEW."token_amount"::text,
    'address', NEW."address", 'chainId', NEW."chain_id"::text, 'vault', NEW."vault", 'txHash', NEW."tx_hash", 'blockNumber', NEW."block_number"::text,
    'error', NEW."error"));
  RETURN NULL;
END $$;
CREATE TRIGGER "payouts_webhooks" AFTER UPDATE ON "payouts"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_payouts"();

-- payout.claimed: a deferred payout collected from the vault by its seller.
CREATE FUNCTION "webhook_on_payout_vault_bookings"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."kind" <> 'claimed' OR NOT "webhook_wanted"('payout.claimed') THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "seller_id", "data")
  VALUES ('payout.claimed', 'claim:' || NEW."chain_id" || ':' || NEW."tx_hash" || ':' || NEW."log_index", NEW."seller_id", jsonb_build_object(
    'sellerId', NEW."seller_id", 'address', NEW."account", 'to', NEW."to_address", 'tokenAmount', NEW."amount"::text,
    'chainId', NEW."chain_id"::text, 'vault', NEW."vault", 'txHash', NEW."tx_hash", 'logIndex', NEW."log_index", 'blockNumber', NEW."block_number"::text,
    'journalTransactionId', NEW."ledger_tx_id"::text));
  RETURN NULL;
END $$;
CREATE TRIGGER "payout_vault_bookings_webhooks" AFTER INSERT ON "payout_vault_bookings"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_payout_vault_bookings"();

-- reconciliation.run_completed.
CREATE FUNCTION "webhook_on_recon_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "webhook_wanted"('reconciliation.run_completed') THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "gateway", "data")
  VALUES ('reconciliation.run_completed', 'reconciliation_run:' || NEW."id", NEW."gateway", jsonb_build_object(
    'runId', NEW."id", 'gateway', NEW."gateway", 'periodFrom', NEW."period_from", 'periodTo', NEW."period_to",
    'exceptions', NEW."item_count", 'summary', NEW."summary", 'digest', NEW."digest"));
  RETURN NULL;
END $$;
CREATE TRIGGER "recon_runs_webhooks" AFTER INSERT ON "recon_runs"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_recon_runs"();

-- reconciliation.exception_opened: each exception of a run (one statement per insert).
CREATE FUNCTION "webhook_on_recon_run_items"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "webhook_wanted"('reconciliation.exception_opened') THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "gateway", "seller_id", "market", "data")
  SELECT 'reconciliation.exception_opened', 'reconciliation_exception:' || i."run_id" || ':' || i."seq", r."gateway", i."seller_id", i."market",
         jsonb_build_object('runId', i."run_id", 'itemId', i."seq", 'category', i."category", 'rule', i."rule", 'gateway', r."gateway",
           'market', i."market", 'sellerId', i."seller_id", 'currency', i."currency", 'settlementId', i."settlement_id",
           'gatewayReference', i."gateway_reference", 'gatewayEventId', i."gateway_event_id",
           'reportAmount', i."report_amount"::text, 'ledgerAmount', i."ledger_amount"::text, 'difference', i."difference"::text)
    FROM "webhook_new_rows" i JOIN "recon_runs" r ON r."id" = i."run_id"
   ORDER BY i."run_id", i."seq";
  RETURN NULL;
END $$;
CREATE TRIGGER "recon_run_items_webhooks" AFTER INSERT ON "recon_run_items"
    REFERENCING NEW TABLE AS "webhook_new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "webhook_on_recon_run_items"();

-- reconciliation.exception_resolved.
CREATE FUNCTION "webhook_on_recon_resolutions"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "webhook_wanted"('reconciliation.exception_resolved') THEN RETURN NULL; END IF;
  INSERT INTO "webhook_events" ("type", "subject", "gateway", "seller_id", "market", "data")
  SELECT 'reconciliation.exception_resolved', 'reconciliation_exception:' || NEW."run_id" || ':' || NEW."item_seq", r."gateway", i."seller_id", i."market",
         jsonb_build_object('runId', NEW."run_id", 'itemId', NEW."item_seq", 'category', i."category", 'note', NEW."note",
           'journalTransactionId', NEW."journal_transaction_id", 'resolvedBy', NEW."resolved_by")
    FROM "recon_runs" r LEFT JOIN "recon_run_items" i ON i."run_id" = NEW."run_id" AND i."seq" = NEW."item_seq"
   WHERE r."id" = NEW."run_id";
  RETURN NULL;
END $$;
CREATE TRIGGER "recon_resolutions_webhooks" AFTER INSERT ON "recon_resolutions"
    FOR EACH ROW EXECUTE FUNCTION "webhook_on_recon_resolutions"();
