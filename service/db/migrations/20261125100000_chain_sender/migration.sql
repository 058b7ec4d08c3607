-- Chain transaction sender: durable outbox of the service's own transactions and per-key nonces.
-- Written to match `// ---- chain: transaction sender ----` in schema.prisma (Prisma's migration SQL style),
-- followed by hand-written guards the schema language cannot express.

-- CreateTable
CREATE TABLE "chain_transactions" (
    "id" BIGSERIAL NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "purpose" VARCHAR(64) NOT NULL,
    "from_address" VARCHAR(42) NOT NULL,
    "to_address" VARCHAR(42) NOT NULL,
    "data" TEXT NOT NULL,
    "gas_limit" BIGINT NOT NULL,
    "nonce" BIGINT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "hash" VARCHAR(66) NOT NULL,
    "attempts" JSONB NOT NULL,
    "block_number" BIGINT,
    "block_hash" VARCHAR(66),
    "revert_reason" TEXT,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "chain_nonces" (
    "chain_id" BIGINT NOT NULL,
    "address" VARCHAR(42) NOT NULL,
    "next_nonce" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_nonces_pkey" PRIMARY KEY ("chain_id","address")
);

-- CreateTable
CREATE TABLE "chain_sender_chains" (
    "chain_id" BIGINT NOT NULL,
    "genesis_hash" VARCHAR(66) NOT NULL,
    "witness_block_number" BIGINT,
    "witness_block_hash" VARCHAR(66),
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_sender_chains_pkey" PRIMARY KEY ("chain_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "chain_transactions_chain_key_key" ON "chain_transactions"("chain_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "chain_transactions_sender_nonce_key" ON "chain_transactions"("chain_id", "from_address", "nonce");

-- CreateIndex
CREATE INDEX "chain_transactions_status_idx" ON "chain_transactions"("chain_id", "status");

-- Hand-written guards.
ALTER TABLE "chain_transactions" ADD CONSTRAINT "chain_transactions_status_check"
    CHECK ("status" IN ('signed', 'sent', 'mined', 'reverted'));
ALTER TABLE "chain_transactions" ADD CONSTRAINT "chain_transactions_nonce_check" CHECK ("nonce" >= 0);
ALTER TABLE "chain_transactions" ADD CONSTRAINT "chain_transactions_attempts_check"
    CHECK (jsonb_typeof("attempts") = 'array' AND jsonb_array_length("attempts") >= 1);
ALTER TABLE "chain_transactions" ADD CONSTRAINT "chain_transactions_block_check"
    CHECK (("status" IN ('mined', 'reverted')) = ("block_number" IS NOT NULL AND "block_hash" IS NOT NULL));
ALTER TABLE "chain_nonces" ADD CONSTRAINT "chain_nonces_next_nonce_check" CHECK ("next_nonce" >= 0);

-- The intent (key, sender, nonce, target, calldata) never changes once recorded; attempts are only
-- appended; a nonce never goes back; status moves forward only, except back to "sent" when a
-- reorg drops the receipt of a mined or reverted transaction. Rows are never deleted.
CREATE FUNCTION "chain_transactions_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'chain_transactions rows are never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW."chain_id" <> OLD."chain_id" OR NEW."key" <> OLD."key" OR NEW."purpose" <> OLD."purpose"
        OR NEW."from_address" <> OLD."from_address" OR NEW."to_address" <> OLD."to_address"
        OR NEW."data" <> OLD."data" OR NEW."gas_limit" <> OLD."gas_limit" OR NEW."nonce" <> OLD."nonce" THEN
        RAISE EXCEPTION 'chain transaction %: the intent is immutable', OLD."id" USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF jsonb_array_length(NEW."attempts") < jsonb_array_length(OLD."attempts")
        OR NEW."attempts" -> 0 ->> 'raw' IS DISTINCT FROM OLD."attempts" -> 0 ->> 'raw' THEN
        RAISE EXCEPTION 'chain transaction %: attempts are append-only', OLD."id" USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW."status" <> OLD."status" AND NOT (
        (OLD."status" = 'signed' AND NEW."status" IN ('sent', 'mined', 'reverted'))
        OR (OLD."status" = 'sent' AND NEW."status" IN ('mined', 'reverted'))
        OR (OLD."status" IN ('mined', 'reverted') AND NEW."status" = 'sent')
    ) THEN
        RAISE EXCEPTION 'chain transaction %: status % -> % refused', OLD."id", OLD."status", NEW."status"
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "chain_transactions_guard" BEFORE UPDATE OR DELETE ON "chain_transactions"
    FOR EACH ROW EXECUTE FUNCTION "chain_transactions_guard"();

CREATE FUNCTION "chain_nonces_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW."next_nonce" < OLD."next_nonce" THEN
        RAISE EXCEPTION 'chain_nonces: a nonce never goes back (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "chain_nonces_guard" BEFORE UPDATE OR DELETE ON "chain_nonces"
    FOR EACH ROW EXECUTE FUNCTION "chain_nonces_guard"();
