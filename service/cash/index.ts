/** Public API of the cash reconciliation: bank statements (camt.053) against the ledger. */
export { CashErrors } from "./errors.js";
export { CashReconciliation, type AgeBucket, type CashAdjustment, type CashException, type CashResolutionView, type CashEntryView, type CashMatchView, type CashOptions, type CashStatementReport } from "./service.js";
