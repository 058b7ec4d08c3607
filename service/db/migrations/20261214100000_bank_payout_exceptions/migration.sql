-- Hand-written: what the bank rail did not apply from the bank's camt.054 (service/payouts/bank/exceptions.ts):
-- an entry naming no payout of ours (`unmatched`), one that is not the instruction (`mismatch`), one
-- the payout's state does not take (`exception`: a return after final, a debit of a returned payout,
-- a cash booking the ledger refused), kept for an operator until resolved with a note. Written to
-- match schema.prisma.
--
-- `key` makes a notification entry one record however often the file is applied: `<MsgId>#<n>` (n:
-- the transaction's position in the document); the worker's own records use `<code>:<payout id>`.
-- `payout_id` is NULL for an unmatched entry; `entry` is NULL when the worker, not a notification,
-- found the problem.

-- CreateTable
CREATE TABLE "bank_payout_exceptions" (
    "id" BIGSERIAL NOT NULL,
    "key" VARCHAR(120) NOT NULL,
    "message_id" VARCHAR(35),
    "payout_id" BIGINT,
    "end_to_end_id" VARCHAR(35),
    "outcome" VARCHAR(16) NOT NULL,
    "code" VARCHAR(40) NOT NULL,
    "detail" TEXT NOT NULL,
    "entry" JSONB,
    "received_by" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(6),
    "resolved_by" VARCHAR(200),
    "resolution_note" TEXT,

    CONSTRAINT "bank_payout_exceptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "bank_payout_exceptions_outcome_check" CHECK ("outcome" IN ('unmatched', 'mismatch', 'exception')),
    CONSTRAINT "bank_payout_exceptions_resolution_check" CHECK (("resolved_at" IS NULL) = ("resolved_by" IS NULL) AND ("resolved_at" IS NULL) = ("resolution_note" IS NULL))
);

-- CreateIndex
CREATE UNIQUE INDEX "bank_payout_exceptions_key_key" ON "bank_payout_exceptions"("key");

-- CreateIndex
CREATE INDEX "bank_payout_exceptions_payout_idx" ON "bank_payout_exceptions"("payout_id", "id");
