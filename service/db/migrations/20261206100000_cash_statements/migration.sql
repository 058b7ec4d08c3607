-- Cash reconciliation (service/cash): imported camt.053 statements with their matches, and what
-- each bank entry was matched to (a remittance or a bank payout is matched once). Written to match schema.prisma.

-- CreateTable
CREATE TABLE "cash_statements" (
    "id" BIGSERIAL NOT NULL,
    "file_sha256" CHAR(64) NOT NULL,
    "message_id" VARCHAR(35) NOT NULL,
    "statement_id" VARCHAR(35) NOT NULL,
    "account" VARCHAR(34) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "sequence" VARCHAR(20),
    "opening" DECIMAL(38,0) NOT NULL,
    "closing" DECIMAL(38,0) NOT NULL,
    "unmatched" INTEGER NOT NULL,
    "report" JSONB NOT NULL,
    "imported_by" VARCHAR(200) NOT NULL,
    "imported_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cash_statements_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cash_matches" (
    "kind" VARCHAR(16) NOT NULL,
    "ref" VARCHAR(200) NOT NULL,
    "statement_id" BIGINT NOT NULL,

    CONSTRAINT "cash_matches_pkey" PRIMARY KEY ("kind","ref")
);

-- CreateIndex
CREATE UNIQUE INDEX "cash_statements_file_statement_key" ON "cash_statements"("file_sha256", "statement_id");

-- CreateIndex
CREATE INDEX "cash_statements_account_idx" ON "cash_statements"("account", "currency", "id");
