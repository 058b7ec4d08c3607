-- Hand-written: the vault payout planner's lease (`payout_state`) gets a fencing token. A run now
-- takes a short lease (6 s) and renews it every 2 s while it works (service/payouts/planner.ts,
-- through bank/run-lease.ts as the bank rail's run does); a takeover adds one to `lease_token`, and
-- every write of a run verifies (owner, token, unexpired) inside its own transaction, so a run that
-- lost its lease records no batch, no reserve link and no `last_planned_at`. `lease_owner` and
-- `lease_until` keep their meaning, so an instance of the previous version (which checks only
-- them) and this one still exclude each other during a rolling deploy. Written to match schema.prisma.
ALTER TABLE "payout_state" ADD COLUMN "lease_token" BIGINT NOT NULL DEFAULT '0'::bigint;
