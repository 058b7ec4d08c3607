-- Delivery deadlines of POP orders, stored: what the overdue listing (`GET /v1/orders?fulfilment=overdue`)
-- reads through an index, and what the maintenance worker checks once per capture when the deadline
-- passes, announcing `order.fulfilment_overdue` for an order with no delivery by then.
--
-- Until now the listing filtered every capture by `(breakdown->'confirmOnDelivery'->>'deadline')::timestamptz`:
-- a sequential pass over the settlements (a text-to-timestamptz cast is not immutable, so no
-- expression index could hold it). The deadline is fixed at capture (the breakdown is written once),
-- so a trigger copies it as the capture is inserted, in the ledger's own commit. Written to match
-- `OrderDeliveryDeadline` in schema.prisma, then the trigger, the backfill and the webhook trigger.

-- CreateTable
CREATE TABLE "order_delivery_deadlines" (
    "capture_id" BIGINT NOT NULL,
    "gateway" VARCHAR(120) NOT NULL,
    "settlement_id" VARCHAR(120) NOT NULL,
    "deadline" TIMESTAMPTZ(6) NOT NULL,
    "checked_at" TIMESTAMPTZ(6),
    "overdue" BOOLEAN,

    CONSTRAINT "order_delivery_deadlines_pkey" PRIMARY KEY ("capture_id")
);

-- CreateIndex
CREATE INDEX "order_delivery_deadlines_deadline_idx" ON "order_delivery_deadlines"("deadline", "capture_id");
-- The worker's queue: deadlines not checked yet (a checked row never returns to it).
CREATE INDEX "order_delivery_deadlines_unchecked_idx" ON "order_delivery_deadlines"("deadline") WHERE "checked_at" IS NULL;
CREATE INDEX "order_delivery_deadlines_order_idx" ON "order_delivery_deadlines"("gateway", "settlement_id");

-- A held capture under a delivery-based schedule carries `confirmOnDelivery` (settlement/plan.ts);
-- the WHEN clause keeps every other insert from calling the function.
CREATE FUNCTION "order_delivery_deadline_of_capture"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "order_delivery_deadlines" ("capture_id", "gateway", "settlement_id", "deadline")
    VALUES (NEW."id", NEW."gateway", NEW."settlement_id", (NEW."breakdown"->'confirmOnDelivery'->>'deadline')::timestamptz);
    RETURN NULL;
END $$;
CREATE TRIGGER "settlements_delivery_deadline" AFTER INSERT ON "settlements"
    FOR EACH ROW WHEN (NEW."event_type" = 'capture' AND NEW."breakdown" ? 'confirmOnDelivery' AND NEW."breakdown"->>'sellerBucket' = 'held')
    EXECUTE FUNCTION "order_delivery_deadline_of_capture"();

-- The captures booked since 20261221100000_order_fulfilment. Not checked yet: an order already
-- overdue is announced at the worker's first tick, once, like any other.
INSERT INTO "order_delivery_deadlines" ("capture_id", "gateway", "settlement_id", "deadline")
SELECT "id", "gateway", "settlement_id", ("breakdown"->'confirmOnDelivery'->>'deadline')::timestamptz
  FROM "settlements"
 WHERE "event_type" = 'capture' AND "breakdown" ? 'confirmOnDelivery' AND "breakdown"->>'sellerBucket' = 'held';

-- order.fulfilment_overdue: the worker marks a capture `overdue` in the transaction that checks it;
-- this announces it there, only while an active endpoint wants the type, once per order (the
-- dedupe key: an order's second capture found overdue later adds nothing). The subject is the
-- order's, as its settlement.* events; gateway, seller and market fill the endpoint filters.
CREATE FUNCTION "webhook_on_order_overdue"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s RECORD;
  latest RECORD;
BEGIN
  IF NOT "webhook_wanted"('order.fulfilment_overdue') THEN RETURN NULL; END IF;
  SELECT "seller_id", "market", "occurred_at" INTO s FROM "settlements" WHERE "id" = NEW."capture_id";
  SELECT "status", "carrier", "tracking_number", "shipped_at" INTO latest FROM "order_fulfilments"
   WHERE "gateway" = NEW."gateway" AND "settlement_id" = NEW."settlement_id" ORDER BY "sequence" DESC LIMIT 1;
  INSERT INTO "webhook_events" ("type", "subject", "gateway", "seller_id", "market", "dedupe_key", "data")
  VALUES ('order.fulfilment_overdue', 'order:' || NEW."gateway" || ':' || NEW."settlement_id", NEW."gateway", s."seller_id", s."market",
    'order.fulfilment_overdue:' || NEW."gateway" || ':' || NEW."settlement_id",
    jsonb_build_object(
      'captureId', NEW."capture_id"::text, 'gateway', NEW."gateway", 'settlementId', NEW."settlement_id",
      'sellerId', s."seller_id", 'market', s."market",
      'capturedAt', to_char(s."occurred_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'deliveryDeadline', to_char(NEW."deadline" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'latest', CASE WHEN latest."status" IS NULL THEN NULL ELSE jsonb_build_object(
        'status', latest."status", 'carrier', latest."carrier", 'trackingNumber', latest."tracking_number",
        'shippedAt', to_char(latest."shipped_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) END))
  ON CONFLICT ("dedupe_key") DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER "order_delivery_deadlines_overdue_webhooks" AFTER UPDATE ON "order_delivery_deadlines"
    FOR EACH ROW WHEN (OLD."overdue" IS NULL AND NEW."overdue")
    EXECUTE FUNCTION "webhook_on_order_overdue"();
