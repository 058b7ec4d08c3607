-- Reconciliation module: gateway report imports (the file itself, its malformed records), runs,
-- their exception items and the resolutions of those. Written to match
-- `// ---- reconciliation (service/reconciliation) ----` in schema.prisma (Prisma's migration SQL
-- style), followed by the hand-written guards (append-only triggers, CHECKs).

-- CreateTable
CREATE TABLE "recon_imports" (
    "id" VARCHAR(40) NOT NULL,
    "gateway" VARCHAR(120) NOT NULL,
    "format" VARCHAR(40) NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "file_name" VARCHAR(255),
    "byte_size" BIGINT NOT NULL,
    "line_count" INTEGER NOT NULL,
    "row_count" INTEGER NOT NULL,
    "error_count" INTEGER NOT NULL,
    "min_occurred_at" TIMESTAMPTZ(6),
    "max_occurred_at" TIMESTAMPTZ(6),
    "summary" JSONB NOT NULL,
    "imported_by" VARCHAR(120),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recon_imports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recon_import_chunks" (
    "import_id" VARCHAR(40) NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "recon_import_chunks_pkey" PRIMARY KEY ("import_id","seq")
);

-- CreateTable
CREATE TABLE "recon_import_errors" (
    "import_id" VARCHAR(40) NOT NULL,
    "seq" INTEGER NOT NULL,
    "line" INTEGER NOT NULL,
    "column" VARCHAR(120),
    "code" VARCHAR(64) NOT NULL,
    "message" TEXT NOT NULL,

    CONSTRAINT "recon_import_errors_pkey" PRIMARY KEY ("import_id","seq")
);

-- CreateTable
CREATE TABLE "recon_runs" (
    "id" VARCHAR(40) NOT NULL,
    "gateway" VARCHAR(120) NOT NULL,
    "period_from" TIMESTAMPTZ(6) NOT NULL,
    "period_to" TIMESTAMPTZ(6) NOT NULL,
    "import_ids" VARCHAR(40)[],
    "rules" JSONB NOT NULL,
    "rules_version" VARCHAR(64) NOT NULL,
    "rules_sha256" CHAR(64) NOT NULL,
    "summary" JSONB NOT NULL,
    "item_count" INTEGER NOT NULL,
    "matched_sha256" CHAR(64) NOT NULL,
    "digest" CHAR(66) NOT NULL,
    "started_at" TIMESTAMPTZ(6) NOT NULL,
    "finished_at" TIMESTAMPTZ(6) NOT NULL,
    "created_by" VARCHAR(120),

    CONSTRAINT "recon_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recon_run_items" (
    "run_id" VARCHAR(40) NOT NULL,
    "seq" INTEGER NOT NULL,
    "category" VARCHAR(32) NOT NULL,
    "rule" VARCHAR(40) NOT NULL,
    "market" VARCHAR(2),
    "seller_id" VARCHAR(120),
    "currency" VARCHAR(3),
    "settlement_id" VARCHAR(255),
    "gateway_reference" VARCHAR(255),
    "gateway_event_id" VARCHAR(120),
    "journal_transaction_id" VARCHAR(40),
    "lines" INTEGER[],
    "report_amount" DECIMAL(38,0),
    "ledger_amount" DECIMAL(38,0),
    "difference" DECIMAL(38,0),
    "evidence" JSONB NOT NULL,

    CONSTRAINT "recon_run_items_pkey" PRIMARY KEY ("run_id","seq")
);

-- CreateTable
CREATE TABLE "recon_resolutions" (
    "run_id" VARCHAR(40) NOT NULL,
    "item_seq" INTEGER NOT NULL,
    "note" TEXT NOT NULL,
    "adjustment" JSONB,
    "journal_transaction_id" VARCHAR(40),
    "request_hash" CHAR(64) NOT NULL,
    "resolved_by" VARCHAR(120),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recon_resolutions_pkey" PRIMARY KEY ("run_id","item_seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "recon_imports_sha256_key" ON "recon_imports"("sha256");

-- CreateIndex
CREATE INDEX "recon_imports_gateway_idx" ON "recon_imports"("gateway", "created_at");

-- CreateIndex
CREATE INDEX "recon_runs_gateway_idx" ON "recon_runs"("gateway", "finished_at");

-- CreateIndex
CREATE INDEX "recon_run_items_category_idx" ON "recon_run_items"("run_id", "category");

-- Hand-written guards below (the drift check ignores CHECK constraints and triggers).

ALTER TABLE "recon_imports" ADD CONSTRAINT "recon_imports_format_check" CHECK ("format" IN ('adyen_settlement_details', 'stripe_itemized_balance'));
ALTER TABLE "recon_imports" ADD CONSTRAINT "recon_imports_counts_check" CHECK ("byte_size" >= 0 AND "line_count" >= 0 AND "row_count" >= 0 AND "error_count" >= 0);
ALTER TABLE "recon_runs" ADD CONSTRAINT "recon_runs_period_check" CHECK ("period_to" > "period_from");
ALTER TABLE "recon_runs" ADD CONSTRAINT "recon_runs_digest_check" CHECK ("digest" ~ '^0x[0-9a-f]{64}$');
ALTER TABLE "recon_run_items" ADD CONSTRAINT "recon_run_items_category_check" CHECK ("category" IN (
    'missing_in_ledger', 'missing_at_gateway', 'missing_on_chain', 'amount_mismatch', 'currency_mismatch',
    'fx_difference', 'duplicate', 'timing_difference'));

-- Imports, runs, run items and resolutions are evidence: written once, never updated or deleted.
-- A run is written complete (with its items) in one transaction, so "immutable once finished" is
-- simply "immutable"; a resolution is a new row of its own, never an edit of the run.
CREATE FUNCTION "recon_append_only_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER "recon_imports_append_only" BEFORE UPDATE OR DELETE ON "recon_imports"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_import_chunks_append_only" BEFORE UPDATE OR DELETE ON "recon_import_chunks"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_import_errors_append_only" BEFORE UPDATE OR DELETE ON "recon_import_errors"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_runs_append_only" BEFORE UPDATE OR DELETE ON "recon_runs"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_run_items_append_only" BEFORE UPDATE OR DELETE ON "recon_run_items"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_resolutions_append_only" BEFORE UPDATE OR DELETE ON "recon_resolutions"
    FOR EACH ROW EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_imports_no_truncate" BEFORE TRUNCATE ON "recon_imports"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_import_chunks_no_truncate" BEFORE TRUNCATE ON "recon_import_chunks"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_import_errors_no_truncate" BEFORE TRUNCATE ON "recon_import_errors"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_runs_no_truncate" BEFORE TRUNCATE ON "recon_runs"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_run_items_no_truncate" BEFORE TRUNCATE ON "recon_run_items"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
CREATE TRIGGER "recon_resolutions_no_truncate" BEFORE TRUNCATE ON "recon_resolutions"
    FOR EACH STATEMENT EXECUTE FUNCTION "recon_append_only_guard"();
