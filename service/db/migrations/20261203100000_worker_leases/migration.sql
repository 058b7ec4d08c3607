-- Worker leader lease: which instance runs the background workers, with a fencing token.
-- Written to match `// ---- workers: leader lease ----` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "worker_leases" (
    "name" VARCHAR(64) NOT NULL,
    "holder" VARCHAR(128) NOT NULL,
    "token" BIGINT NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "acquired_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "renewed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "worker_leases_pkey" PRIMARY KEY ("name")
);

-- A fencing token only ever grows (a takeover adds one); never negative.
ALTER TABLE "worker_leases" ADD CONSTRAINT "worker_leases_token_check" CHECK ("token" >= 1);
