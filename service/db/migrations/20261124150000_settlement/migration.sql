-- Settlement module: sellers, markets, fee schedules, tax rules, settlement records.
-- Written to match `// ---- settlement ----` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "settlement_sellers" (
    "id" VARCHAR(120) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "program" VARCHAR(32) NOT NULL,
    "payout_currency" VARCHAR(3) NOT NULL,
    "home_country" VARCHAR(2) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settlement_sellers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "settlement_markets" (
    "code" VARCHAR(2) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "name" VARCHAR(100) NOT NULL,

    CONSTRAINT "settlement_markets_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "settlement_fee_schedules" (
    "id" VARCHAR(100) NOT NULL,
    "program" VARCHAR(32) NOT NULL,
    "market" VARCHAR(2) NOT NULL,
    "category" VARCHAR(50) NOT NULL,
    "effective_from" TIMESTAMPTZ(6) NOT NULL,
    "commission_bps" INTEGER NOT NULL,
    "payment_fee_borne_by" VARCHAR(8) NOT NULL,
    "logistics_fee" DECIMAL(38,0) NOT NULL,
    "warehousing_fee" DECIMAL(38,0) NOT NULL,
    "fulfilment_fee" DECIMAL(38,0) NOT NULL,
    "hold_until_confirmation" BOOLEAN NOT NULL,
    "auto_confirm_days" INTEGER NOT NULL,
    "reserve_bps" INTEGER,
    "reserve_hold_days" INTEGER,
    "reference_rates" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "settlement_fee_schedules_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "settlement_tax_rules" (
    "id" VARCHAR(100) NOT NULL,
    "market" VARCHAR(2) NOT NULL,
    "effective_from" TIMESTAMPTZ(6) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "scheme" VARCHAR(40) NOT NULL,
    "rate_bps" INTEGER NOT NULL,
    "collected_by" VARCHAR(16) NOT NULL,
    "authority" VARCHAR(60) NOT NULL,
    "note" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "settlement_tax_rules_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "settlements" (
    "id" BIGSERIAL NOT NULL,
    "event_key" VARCHAR(255) NOT NULL,
    "capture_key" VARCHAR(255) NOT NULL,
    "sequence" INTEGER NOT NULL,
    "event_type" VARCHAR(24) NOT NULL,
    "gateway" VARCHAR(120) NOT NULL,
    "gateway_event_id" VARCHAR(120) NOT NULL,
    "settlement_id" VARCHAR(120) NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "market" VARCHAR(2) NOT NULL,
    "category" VARCHAR(50) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "amount" DECIMAL(38,0) NOT NULL,
    "gateway_fee" DECIMAL(38,0) NOT NULL,
    "supply_price" DECIMAL(38,0),
    "occurred_at" TIMESTAMPTZ(6) NOT NULL,
    "original_event_id" VARCHAR(120),
    "fx_quote_id" VARCHAR(120),
    "program" VARCHAR(32) NOT NULL,
    "breakdown" JSONB NOT NULL,
    "fx" JSONB NOT NULL,
    "journal_request" JSONB NOT NULL,
    "refunded_delta" DECIMAL(38,0) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "journal_transaction_id" VARCHAR(40),
    "request_hash" CHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settlements_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "settlement_fee_schedules_lookup_idx" ON "settlement_fee_schedules"("program", "market", "category", "effective_from");

-- CreateIndex
CREATE INDEX "settlement_tax_rules_lookup_idx" ON "settlement_tax_rules"("market", "effective_from");

-- CreateIndex
CREATE UNIQUE INDEX "settlements_event_key_key" ON "settlements"("event_key");

-- CreateIndex
CREATE INDEX "settlements_settlement_id_idx" ON "settlements"("settlement_id");

-- CreateIndex
CREATE INDEX "settlements_seller_idx" ON "settlements"("seller_id", "occurred_at");

-- CreateIndex
CREATE UNIQUE INDEX "settlements_capture_sequence_key" ON "settlements"("capture_key", "sequence");
