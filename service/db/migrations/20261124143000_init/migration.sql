-- CreateTable
CREATE TABLE "ledger_accounts" (
    "id" BIGSERIAL NOT NULL,
    "code" VARCHAR(200) NOT NULL,
    "currency" VARCHAR(12) NOT NULL,
    "owner_type" VARCHAR(32) NOT NULL,
    "owner_id" VARCHAR(200) NOT NULL,
    "normal_balance" VARCHAR(6) NOT NULL,
    "allow_negative" BOOLEAN NOT NULL DEFAULT false,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "posted_debits" DECIMAL(38,0) NOT NULL DEFAULT 0,
    "posted_credits" DECIMAL(38,0) NOT NULL DEFAULT 0,
    "pending_debits" DECIMAL(38,0) NOT NULL DEFAULT 0,
    "pending_credits" DECIMAL(38,0) NOT NULL DEFAULT 0,
    "last_transaction_id" BIGINT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_transactions" (
    "id" BIGINT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "idempotency_key" VARCHAR(255) NOT NULL,
    "request_hash" CHAR(64) NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "description" TEXT,
    "effective_at" TIMESTAMPTZ(6) NOT NULL,
    "booked_at" TIMESTAMPTZ(6) NOT NULL,
    "references_id" BIGINT,
    "pending_expires_at" TIMESTAMPTZ(6),
    "previous_hash" CHAR(64) NOT NULL,
    "hash" CHAR(64) NOT NULL,

    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_postings" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "account_id" BIGINT NOT NULL,
    "currency" VARCHAR(12) NOT NULL,
    "direction" VARCHAR(6) NOT NULL,
    "phase" VARCHAR(8) NOT NULL,
    "amount" DECIMAL(38,0) NOT NULL,
    "booked_at" TIMESTAMPTZ(6) NOT NULL,
    "balance_after" DECIMAL(38,0) NOT NULL,
    "posted_debits_after" DECIMAL(38,0) NOT NULL,
    "posted_credits_after" DECIMAL(38,0) NOT NULL,
    "pending_debits_after" DECIMAL(38,0) NOT NULL,
    "pending_credits_after" DECIMAL(38,0) NOT NULL,

    CONSTRAINT "ledger_postings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_journal_head" (
    "id" INTEGER NOT NULL,
    "sequence" BIGINT NOT NULL,
    "hash" CHAR(64) NOT NULL,
    "booked_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "ledger_journal_head_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ledger_accounts_owner_idx" ON "ledger_accounts"("owner_type", "owner_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_accounts_code_currency_key" ON "ledger_accounts"("code", "currency");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transactions_idempotency_key_key" ON "ledger_transactions"("idempotency_key");

-- CreateIndex
CREATE INDEX "ledger_transactions_booked_at_idx" ON "ledger_transactions"("booked_at");

-- CreateIndex
CREATE INDEX "ledger_transactions_references_id_idx" ON "ledger_transactions"("references_id");

-- CreateIndex
CREATE INDEX "ledger_transactions_pending_expiry_idx" ON "ledger_transactions"("status", "pending_expires_at");

-- CreateIndex
CREATE INDEX "ledger_transactions_metadata_idx" ON "ledger_transactions" USING GIN ("metadata" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "ledger_postings_transaction_id_idx" ON "ledger_postings"("transaction_id");

-- CreateIndex
CREATE INDEX "ledger_postings_account_booked_idx" ON "ledger_postings"("account_id", "booked_at", "id");

-- AddForeignKey
ALTER TABLE "ledger_transactions" ADD CONSTRAINT "ledger_transactions_references_id_fkey" FOREIGN KEY ("references_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- AddForeignKey
ALTER TABLE "ledger_postings" ADD CONSTRAINT "ledger_postings_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- AddForeignKey
ALTER TABLE "ledger_postings" ADD CONSTRAINT "ledger_postings_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;
