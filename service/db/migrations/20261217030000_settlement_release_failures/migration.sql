-- Settlement: the releases the maintenance worker could not book (service/settlement/service.ts
-- releaseDue), one row per capture: how often, the last refusal, and when to try again. A capture
-- is no release candidate before `next_attempt_at`, so refusals that do not go away (a capture
-- whose release id a gateway took before the prefix was reserved, a ledger refusal) back off
-- (1 minute doubling, at most a day) instead of filling every tick's budget ahead of due releases.
-- Scheduling only: whether a capture is released is read from its chain of records, never here.
-- Written to match `SettlementReleaseFailure` in schema.prisma.

-- CreateTable
CREATE TABLE "settlement_release_failures" (
    "capture_key" VARCHAR(255) NOT NULL,
    "event_type" VARCHAR(24) NOT NULL,
    "attempts" INTEGER NOT NULL,
    "last_code" VARCHAR(100) NOT NULL,
    "last_message" VARCHAR(500) NOT NULL,
    "first_failed_at" TIMESTAMPTZ(6) NOT NULL,
    "last_failed_at" TIMESTAMPTZ(6) NOT NULL,
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "settlement_release_failures_pkey" PRIMARY KEY ("capture_key")
);
