-- Delivery evidence of orders (service/settlement/fulfilment.ts), and fee schedules that count the
-- auto-confirm of held (POP) proceeds from the order's delivery instead of its capture. Until now a
-- POP capture's proceeds were released `auto_confirm_days` after the sale whether or not the order
-- shipped; a schedule with `auto_confirm_from = 'delivery'` releases them that many days after the
-- order's delivery, never without one. Every schedule published before counts from the capture, as
-- it did. Written to match `SettlementFeeSchedule` and `OrderFulfilment` in schema.prisma, followed
-- by the evidence's append-only guard.

-- AlterTable
ALTER TABLE "settlement_fee_schedules"
    ADD COLUMN "auto_confirm_from" VARCHAR(16) NOT NULL DEFAULT 'capture',
    ADD COLUMN "delivery_deadline_days" INTEGER;

-- CreateTable
CREATE TABLE "order_fulfilments" (
    "id" BIGSERIAL NOT NULL,
    "gateway" VARCHAR(120) NOT NULL,
    "settlement_id" VARCHAR(120) NOT NULL,
    "sequence" INTEGER NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "carrier" VARCHAR(60) NOT NULL,
    "tracking_number" VARCHAR(40) NOT NULL,
    "shipped_at" TIMESTAMPTZ(6) NOT NULL,
    "delivered_at" TIMESTAMPTZ(6),
    "recorded_by" VARCHAR(200) NOT NULL,
    "recorded_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_fulfilments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "order_fulfilments_order_sequence_key" ON "order_fulfilments"("gateway", "settlement_id", "sequence");

CREATE FUNCTION "order_fulfilments_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_fulfilments is append-only (% refused): a correction is a new entry', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER "order_fulfilments_guard" BEFORE UPDATE OR DELETE ON "order_fulfilments"
    FOR EACH ROW EXECUTE FUNCTION "order_fulfilments_guard"();
