-- A reconciliation run reports a gateway's own charges and corrections (Adyen MiscCosts,
-- InvoiceDeduction, DepositCorrection; Stripe network_cost, other_adjustment) as `gateway_cost`
-- exceptions with the entry that books them, instead of absorbing them in the payout sum.
ALTER TABLE "recon_run_items" DROP CONSTRAINT "recon_run_items_category_check";
ALTER TABLE "recon_run_items" ADD CONSTRAINT "recon_run_items_category_check" CHECK ("category" IN (
    'missing_in_ledger', 'missing_at_gateway', 'missing_on_chain', 'amount_mismatch', 'currency_mismatch',
    'fx_difference', 'duplicate', 'timing_difference', 'gateway_cost'));
