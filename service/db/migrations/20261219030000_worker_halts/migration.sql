-- Worker halts: a background worker stopped on a state only an operator resolves (anchored batches
-- that disagree with the chain, a reverted anchoring transaction, a chain that is not the one the
-- database's transactions were sent on). The worker leader writes the row when the halt starts and
-- deletes it at the worker's next successful tick, so /readyz and /metrics on every instance report
-- it (service/loop.ts, service/leader/lease-store.ts). Written to match `WorkerHalt` in schema.prisma.

-- CreateTable
CREATE TABLE "worker_halts" (
    "worker" VARCHAR(32) NOT NULL,
    "code" VARCHAR(64) NOT NULL,
    "reason" TEXT NOT NULL,
    "details" JSONB,
    "since" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "worker_halts_pkey" PRIMARY KEY ("worker")
);
