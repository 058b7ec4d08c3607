-- Payouts: what the last planning run found of the vault (service/payouts/planner.ts), stamped with
-- `last_planned_at` in the run's fenced write, so every instance's /metrics reports the same
-- figures whichever instance planned: whether the vault was paused, its budget (excess() minus what
-- is in flight), what the due payouts came to, and how many sellers the budget could not cover
-- (token base units). Null until a run has planned. Written to match `PayoutState` in schema.prisma.
ALTER TABLE "payout_state" ADD COLUMN "vault_paused" BOOLEAN;
ALTER TABLE "payout_state" ADD COLUMN "vault_budget" DECIMAL(38,0);
ALTER TABLE "payout_state" ADD COLUMN "vault_due" DECIMAL(38,0);
ALTER TABLE "payout_state" ADD COLUMN "capacity_skipped" INTEGER;
