-- Anchoring: batches of journal transactions and documents committed to SettlementAnchor.
-- Written to match `// ---- chain: anchoring ----` in schema.prisma (Prisma's migration SQL style),
-- followed by hand-written guards the schema language cannot express.

-- CreateTable
CREATE TABLE "anchor_batches" (
    "chain_id" BIGINT NOT NULL,
    "anchor_address" VARCHAR(42) NOT NULL,
    "batch_id" BIGINT NOT NULL,
    "root" CHAR(66) NOT NULL,
    "leaf_count" INTEGER NOT NULL,
    "journal_count" INTEGER NOT NULL,
    "first_sequence" BIGINT NOT NULL,
    "last_sequence" BIGINT NOT NULL,
    "currency_totals" JSONB NOT NULL,
    "totals_digest" CHAR(66) NOT NULL,
    "previous_root" CHAR(66) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "sender_key" VARCHAR(255) NOT NULL,
    "tx_hash" CHAR(66),
    "block_number" BIGINT,
    "block_hash" CHAR(66),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "anchor_batches_pkey" PRIMARY KEY ("chain_id","anchor_address","batch_id")
);

-- CreateTable
CREATE TABLE "anchor_leaves" (
    "chain_id" BIGINT NOT NULL,
    "anchor_address" VARCHAR(42) NOT NULL,
    "batch_id" BIGINT NOT NULL,
    "position" INTEGER NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "subject_id" VARCHAR(300) NOT NULL,
    "leaf_hash" CHAR(66) NOT NULL,
    "leaf_values" JSONB NOT NULL,

    CONSTRAINT "anchor_leaves_pkey" PRIMARY KEY ("chain_id","anchor_address","batch_id","position")
);

-- CreateTable
CREATE TABLE "anchor_documents" (
    "chain_id" BIGINT NOT NULL,
    "anchor_address" VARCHAR(42) NOT NULL,
    "kind" VARCHAR(64) NOT NULL,
    "document_id" VARCHAR(200) NOT NULL,
    "digest" CHAR(66) NOT NULL,
    "batch_id" BIGINT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "anchor_documents_pkey" PRIMARY KEY ("chain_id","anchor_address","kind","document_id")
);

-- CreateIndex
CREATE INDEX "anchor_batches_status_idx" ON "anchor_batches"("chain_id", "anchor_address", "status");

-- CreateIndex
CREATE UNIQUE INDEX "anchor_leaves_subject_key" ON "anchor_leaves"("chain_id", "anchor_address", "kind", "subject_id");

-- CreateIndex
CREATE INDEX "anchor_documents_waiting_idx" ON "anchor_documents"("chain_id", "anchor_address", "batch_id", "created_at");

-- Hand-written guards.
ALTER TABLE "anchor_batches" ADD CONSTRAINT "anchor_batches_status_check"
    CHECK ("status" IN ('built', 'submitted', 'observed', 'safe', 'final', 'reverted'));
ALTER TABLE "anchor_batches" ADD CONSTRAINT "anchor_batches_batch_id_check" CHECK ("batch_id" >= 1);
ALTER TABLE "anchor_batches" ADD CONSTRAINT "anchor_batches_counts_check" CHECK (
    "leaf_count" >= 1 AND "journal_count" >= 0 AND "journal_count" <= "leaf_count"
    AND "first_sequence" >= 1 AND "last_sequence" - "first_sequence" + 1 = "journal_count");
ALTER TABLE "anchor_batches" ADD CONSTRAINT "anchor_batches_block_check"
    CHECK (("status" IN ('observed', 'safe', 'final')) = ("block_number" IS NOT NULL AND "block_hash" IS NOT NULL AND "tx_hash" IS NOT NULL));
ALTER TABLE "anchor_leaves" ADD CONSTRAINT "anchor_leaves_kind_check" CHECK ("kind" IN ('journal', 'document'));

-- What was anchored never changes: a batch's content columns are immutable and its rows are never
-- deleted (only status and where its transaction was mined move); leaves never change at all; a
-- queued document's digest never changes and its batch, once set, stays.
CREATE FUNCTION "anchor_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_TABLE_NAME = 'anchor_batches'
        AND (to_jsonb(NEW) - 'status' - 'tx_hash' - 'block_number' - 'block_hash' - 'updated_at')
          = (to_jsonb(OLD) - 'status' - 'tx_hash' - 'block_number' - 'block_hash' - 'updated_at') THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'anchor_documents' AND OLD."batch_id" IS NULL
        AND (to_jsonb(NEW) - 'batch_id') = (to_jsonb(OLD) - 'batch_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'anchored content is immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER "anchor_batches_guard" BEFORE UPDATE OR DELETE ON "anchor_batches"
    FOR EACH ROW EXECUTE FUNCTION "anchor_guard"();
CREATE TRIGGER "anchor_leaves_guard" BEFORE UPDATE OR DELETE ON "anchor_leaves"
    FOR EACH ROW EXECUTE FUNCTION "anchor_guard"();
CREATE TRIGGER "anchor_documents_guard" BEFORE UPDATE OR DELETE ON "anchor_documents"
    FOR EACH ROW EXECUTE FUNCTION "anchor_guard"();
CREATE TRIGGER "anchor_batches_no_truncate" BEFORE TRUNCATE ON "anchor_batches"
    FOR EACH STATEMENT EXECUTE FUNCTION "anchor_guard"();
CREATE TRIGGER "anchor_leaves_no_truncate" BEFORE TRUNCATE ON "anchor_leaves"
    FOR EACH STATEMENT EXECUTE FUNCTION "anchor_guard"();
