-- Hand-written: a delivery's claim is recorded apart from its schedule.
--
-- A claim used to push next_attempt_at out by the lease and nothing else, so a claimed delivery
-- (a request in flight) looked like one waiting for its retry, and a redelivery reset it and had it
-- sent again beside the running attempt, under the same attempt number. claimed_until is set by the
-- claim and cleared by the outcome's record; while it is in the future, redelivery is refused
-- (ENT_WEBHOOK_DELIVERY_IN_FLIGHT). A worker that dies mid-request leaves it to lapse with the lease.
ALTER TABLE "webhook_deliveries" ADD COLUMN "claimed_until" TIMESTAMPTZ(6);
