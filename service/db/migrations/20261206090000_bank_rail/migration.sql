-- The bank rail (service/payouts/bank): sellers' bank accounts, the pain.001 files written to the
-- outbox, and the payouts they carry, made final by the bank's camt.054. Written to match schema.prisma.

-- CreateTable
CREATE TABLE "payout_bank_accounts" (
    "seller_id" VARCHAR(120) NOT NULL,
    "holder_name" VARCHAR(140) NOT NULL,
    "iban" VARCHAR(34),
    "account_number" VARCHAR(34),
    "bic" VARCHAR(11),
    "clearing_system" VARCHAR(5),
    "clearing_member" VARCHAR(35),
    "country" VARCHAR(2) NOT NULL,
    "set_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "set_by" VARCHAR(200) NOT NULL,

    CONSTRAINT "payout_bank_accounts_pkey" PRIMARY KEY ("seller_id"),
    CONSTRAINT "payout_bank_accounts_account_check" CHECK (("iban" IS NULL) <> ("account_number" IS NULL)),
    CONSTRAINT "payout_bank_accounts_agent_check" CHECK ("bic" IS NOT NULL OR "clearing_member" IS NOT NULL)
);

-- CreateTable
CREATE TABLE "bank_payout_files" (
    "id" VARCHAR(35) NOT NULL,
    "count" INTEGER NOT NULL,
    "ctrl_sum" VARCHAR(40) NOT NULL,
    "xml" TEXT NOT NULL,
    "created_by" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "written_at" TIMESTAMPTZ(6),

    CONSTRAINT "bank_payout_files_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bank_payouts" (
    "id" BIGSERIAL NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "amount" DECIMAL(38,0) NOT NULL,
    "end_to_end_id" VARCHAR(35) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "file_id" VARCHAR(35),
    "account" JSONB NOT NULL,
    "reserve_request" JSONB NOT NULL,
    "pending_tx_id" BIGINT,
    "commit_tx_id" BIGINT,
    "cash_request" JSONB,
    "cash_tx_id" BIGINT,
    "void_tx_id" BIGINT,
    "settled_currency" VARCHAR(3),
    "settled_amount" DECIMAL(38,0),
    "reason" TEXT,
    "created_by" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "final_at" TIMESTAMPTZ(6),

    CONSTRAINT "bank_payouts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "bank_payouts_status_check" CHECK ("status" IN ('planned', 'instructed', 'final', 'rejected')),
    CONSTRAINT "bank_payouts_amount_check" CHECK ("amount" > 0),
    CONSTRAINT "bank_payouts_file_check" CHECK ("status" = 'planned' OR "status" = 'rejected' OR "file_id" IS NOT NULL),
    CONSTRAINT "bank_payouts_final_check" CHECK (("status" = 'final') = ("commit_tx_id" IS NOT NULL AND "cash_tx_id" IS NOT NULL AND "final_at" IS NOT NULL))
);

-- CreateIndex
CREATE UNIQUE INDEX "bank_payouts_end_to_end_id_key" ON "bank_payouts"("end_to_end_id");

-- CreateIndex
CREATE INDEX "bank_payouts_seller_idx" ON "bank_payouts"("seller_id", "id");

-- CreateIndex
CREATE INDEX "bank_payouts_status_idx" ON "bank_payouts"("status");

-- CreateIndex (partial: at most one payout in flight per seller, a guard beneath the planner's lease)
CREATE UNIQUE INDEX "bank_payouts_one_in_flight_key" ON "bank_payouts"("seller_id") WHERE "status" IN ('planned', 'instructed');
