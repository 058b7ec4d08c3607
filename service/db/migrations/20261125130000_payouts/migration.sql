-- Payouts: seller payout destinations, id counters and the planner's lease, payout batches, payouts,
-- and the vault bookings (Funded, Claimed).
-- Written to match `// ---- payouts ----` in schema.prisma (Prisma's migration SQL style), followed by
-- hand-written guards the schema language cannot express.

-- CreateTable
CREATE TABLE "payout_destinations" (
    "seller_id" VARCHAR(120) NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "address" VARCHAR(42) NOT NULL,
    "set_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "set_by" VARCHAR(200) NOT NULL,

    CONSTRAINT "payout_destinations_pkey" PRIMARY KEY ("seller_id","chain_id")
);

-- CreateTable
CREATE TABLE "payout_destination_changes" (
    "id" BIGSERIAL NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "address" VARCHAR(42) NOT NULL,
    "previous_address" VARCHAR(42),
    "set_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "set_by" VARCHAR(200) NOT NULL,

    CONSTRAINT "payout_destination_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payout_state" (
    "name" VARCHAR(32) NOT NULL,
    "next_batch_id" BIGINT NOT NULL,
    "next_payout_id" BIGINT NOT NULL,
    "lease_owner" VARCHAR(64),
    "lease_until" TIMESTAMPTZ(6),
    "last_planned_at" TIMESTAMPTZ(6),

    CONSTRAINT "payout_state_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "payout_batches" (
    "id" BIGINT NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "vault" VARCHAR(42) NOT NULL,
    "first_payout_id" BIGINT NOT NULL,
    "count" INTEGER NOT NULL,
    "total" DECIMAL(38,0) NOT NULL,
    "payouts_hash" CHAR(66) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 1,
    "tx_key" VARCHAR(255),
    "tx_hash" VARCHAR(66),
    "block_number" BIGINT,
    "block_hash" VARCHAR(66),
    "paid_total" DECIMAL(38,0),
    "deferred_total" DECIMAL(38,0),
    "cancel_tx_key" VARCHAR(255),
    "error" TEXT,
    "next_attempt_at" TIMESTAMPTZ(6),
    "created_by" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(6),
    "final_at" TIMESTAMPTZ(6),

    CONSTRAINT "payout_batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payouts" (
    "id" BIGINT NOT NULL,
    "batch_id" BIGINT NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "vault" VARCHAR(42) NOT NULL,
    "address" VARCHAR(42) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "amount" DECIMAL(38,0) NOT NULL,
    "usd_amount" DECIMAL(38,0) NOT NULL,
    "token_amount" DECIMAL(38,0) NOT NULL,
    "fx_quote_id" VARCHAR(64),
    "fx_rate" DECIMAL(38,18),
    "fx_evidence" JSONB,
    "rounding" VARCHAR(16),
    "status" VARCHAR(16) NOT NULL,
    "outcome" VARCHAR(16),
    "ledger_request" JSONB NOT NULL,
    "pending_tx_id" BIGINT,
    "commit_tx_id" BIGINT,
    "claimable_tx_id" BIGINT,
    "void_tx_id" BIGINT,
    "tx_hash" VARCHAR(66),
    "log_index" INTEGER,
    "block_number" BIGINT,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "final_at" TIMESTAMPTZ(6),

    CONSTRAINT "payouts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payout_vault_bookings" (
    "chain_id" BIGINT NOT NULL,
    "tx_hash" VARCHAR(66) NOT NULL,
    "log_index" INTEGER NOT NULL,
    "vault" VARCHAR(42) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "account" VARCHAR(42) NOT NULL,
    "to_address" VARCHAR(42),
    "amount" DECIMAL(38,0) NOT NULL,
    "seller_id" VARCHAR(120),
    "ledger_tx_id" BIGINT,
    "block_number" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payout_vault_bookings_pkey" PRIMARY KEY ("chain_id","tx_hash","log_index")
);

-- CreateIndex
CREATE UNIQUE INDEX "payout_destinations_chain_address_key" ON "payout_destinations"("chain_id", "address");

-- CreateIndex
CREATE INDEX "payout_destination_changes_seller_idx" ON "payout_destination_changes"("seller_id", "chain_id");

-- CreateIndex
CREATE INDEX "payout_batches_status_idx" ON "payout_batches"("status", "id");

-- CreateIndex
CREATE INDEX "payouts_batch_idx" ON "payouts"("batch_id");

-- CreateIndex
CREATE INDEX "payouts_seller_idx" ON "payouts"("seller_id", "id");

-- CreateIndex
CREATE INDEX "payouts_status_idx" ON "payouts"("status", "id");

-- Hand-written guards.
ALTER TABLE "payout_state" ADD CONSTRAINT "payout_state_counters_check"
    CHECK ("next_batch_id" >= 1 AND "next_payout_id" >= 1);
ALTER TABLE "payout_batches" ADD CONSTRAINT "payout_batches_status_check"
    CHECK ("status" IN ('planned', 'sent', 'observed', 'safe', 'final', 'failed', 'cancelling', 'cancelled'));
ALTER TABLE "payout_batches" ADD CONSTRAINT "payout_batches_amounts_check"
    CHECK ("count" > 0 AND "total" > 0 AND "first_payout_id" >= 0 AND "attempt" >= 1);
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_status_check"
    CHECK ("status" IN ('planned', 'sent', 'observed', 'safe', 'final', 'failed', 'cancelling', 'cancelled'));
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_outcome_check"
    CHECK ("outcome" IS NULL OR "outcome" IN ('paid', 'deferred'));
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_amounts_check"
    CHECK ("amount" > 0 AND "usd_amount" > 0 AND "token_amount" > 0 AND "token_amount" < 79228162514264337593543950336);
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_final_check"
    CHECK (("status" = 'final') = ("commit_tx_id" IS NOT NULL AND "outcome" IS NOT NULL AND "final_at" IS NOT NULL));
ALTER TABLE "payout_vault_bookings" ADD CONSTRAINT "payout_vault_bookings_kind_check"
    CHECK ("kind" IN ('funded', 'claimed') AND "amount" > 0);

-- A recorded payout is evidence: what was promised (seller, address, amounts, FX, the ledger request,
-- its batch and ids) never changes, a final or cancelled payout never changes state again, and no
-- payout, batch or destination change is ever deleted.
CREATE FUNCTION "payouts_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payouts rows are never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW."id" <> OLD."id" OR NEW."batch_id" <> OLD."batch_id" OR NEW."seller_id" <> OLD."seller_id"
        OR NEW."chain_id" <> OLD."chain_id" OR NEW."vault" <> OLD."vault" OR NEW."address" <> OLD."address"
        OR NEW."currency" <> OLD."currency" OR NEW."amount" <> OLD."amount" OR NEW."usd_amount" <> OLD."usd_amount"
        OR NEW."token_amount" <> OLD."token_amount" OR NEW."fx_quote_id" IS DISTINCT FROM OLD."fx_quote_id"
        OR NEW."fx_rate" IS DISTINCT FROM OLD."fx_rate" OR NEW."ledger_request" <> OLD."ledger_request" THEN
        RAISE EXCEPTION 'payout %: the recorded intent is immutable', OLD."id" USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD."status" IN ('final', 'cancelled') AND NEW."status" <> OLD."status" THEN
        RAISE EXCEPTION 'payout %: % is terminal', OLD."id", OLD."status" USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "payouts_guard" BEFORE UPDATE OR DELETE ON "payouts"
    FOR EACH ROW EXECUTE FUNCTION "payouts_guard"();

CREATE FUNCTION "payout_batches_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payout_batches rows are never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW."id" <> OLD."id" OR NEW."chain_id" <> OLD."chain_id" OR NEW."vault" <> OLD."vault"
        OR NEW."first_payout_id" <> OLD."first_payout_id" OR NEW."count" <> OLD."count"
        OR NEW."total" <> OLD."total" OR NEW."payouts_hash" <> OLD."payouts_hash" OR NEW."attempt" < OLD."attempt" THEN
        RAISE EXCEPTION 'payout batch %: ids, amounts and attempts never change or go back', OLD."id"
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD."status" IN ('final', 'cancelled') AND NEW."status" <> OLD."status" THEN
        RAISE EXCEPTION 'payout batch %: % is terminal', OLD."id", OLD."status" USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "payout_batches_guard" BEFORE UPDATE OR DELETE ON "payout_batches"
    FOR EACH ROW EXECUTE FUNCTION "payout_batches_guard"();

CREATE FUNCTION "payout_destination_changes_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payout_destination_changes is append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER "payout_destination_changes_guard" BEFORE UPDATE OR DELETE ON "payout_destination_changes"
    FOR EACH ROW EXECUTE FUNCTION "payout_destination_changes_guard"();

CREATE FUNCTION "payout_state_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW."next_batch_id" < OLD."next_batch_id" OR NEW."next_payout_id" < OLD."next_payout_id" THEN
        RAISE EXCEPTION 'payout_state: an id counter never goes back (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "payout_state_guard" BEFORE UPDATE OR DELETE ON "payout_state"
    FOR EACH ROW EXECUTE FUNCTION "payout_state_guard"();
