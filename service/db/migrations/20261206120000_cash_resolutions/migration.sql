-- Resolutions of unmatched bank statement entries (service/cash): a note and, optionally, the
-- adjusting journal entry that books what the books lack. Written once. Written to match schema.prisma.

-- CreateTable
CREATE TABLE "cash_resolutions" (
    "statement_id" BIGINT NOT NULL,
    "entry_index" INTEGER NOT NULL,
    "note" TEXT NOT NULL,
    "adjustment" JSONB,
    "journal_transaction_id" BIGINT,
    "request_hash" CHAR(64) NOT NULL,
    "resolved_by" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cash_resolutions_pkey" PRIMARY KEY ("statement_id","entry_index")
);
