-- Treasury: an admin's sweep of the vault's surplus (`ExcessSwept`) is booked like a funding the
-- other way (kind 'swept'), and a transfer of the vault's token out of the vault that no vault event
-- of the same transaction accounts for is recorded once as a finding, never booked (kind
-- 'transfer_out', `ledger_tx_id` null). service/treasury/repository.ts.
ALTER TABLE "payout_vault_bookings" DROP CONSTRAINT "payout_vault_bookings_kind_check";
ALTER TABLE "payout_vault_bookings" ADD CONSTRAINT "payout_vault_bookings_kind_check"
    CHECK ("kind" IN ('funded', 'claimed', 'swept', 'transfer_out') AND "amount" > 0);
