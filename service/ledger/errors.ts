import { defineError } from "../errors.js";

export const LedgerErrors = {
  invalid: defineError("ENT_LEDGER_INVALID_TRANSACTION", 400, "Invalid ledger transaction"),
  unbalanced: defineError("ENT_LEDGER_UNBALANCED", 422, "Transaction does not balance in every currency"),
  idempotencyConflict: defineError("ENT_LEDGER_IDEMPOTENCY_CONFLICT", 409, "Idempotency key reused with a different request"),
  insufficientFunds: defineError("ENT_LEDGER_INSUFFICIENT_FUNDS", 422, "Posting would take a balance below zero"),
  accountNotFound: defineError("ENT_LEDGER_ACCOUNT_NOT_FOUND", 404, "Ledger account not found"),
  transactionNotFound: defineError("ENT_LEDGER_TRANSACTION_NOT_FOUND", 404, "Ledger transaction not found"),
  notPending: defineError("ENT_LEDGER_NOT_PENDING", 409, "Transaction is not pending"),
  pendingExpired: defineError("ENT_LEDGER_PENDING_EXPIRED", 409, "Pending transaction has expired"),
  notReversible: defineError("ENT_LEDGER_NOT_REVERSIBLE", 409, "Transaction cannot be reversed"),
  invalidCursor: defineError("ENT_LEDGER_INVALID_CURSOR", 400, "Invalid pagination cursor"),
  /** An account total would leave the range the ledger keeps exact (plan.ts: MAX_ACCOUNT_TOTAL). */
  limitExceeded: defineError("ENT_LEDGER_LIMIT_EXCEEDED", 422, "Posting would take an account total beyond the ledger's limit"),
  /** A close that would not move the closed-before instant forward (closed periods are not reopened). */
  periodClosed: defineError("ENT_LEDGER_PERIOD_CLOSED", 409, "Period already closed"),
  /**
   * A close whose period holds FX positions the revaluation at its last instant would still restate
   * (or could not: no rate in force): IAS 21 retranslates them at the closing rate first.
   */
  periodFxNotRevalued: defineError("ENT_LEDGER_PERIOD_FX_NOT_REVALUED", 409, "FX positions are not revalued at the period's end"),
  /**
   * A close whose FX positions stand at closing rates older than the close allows at its last
   * instant (CLOSE_MAX_RATE_AGE_DAYS): IAS 21's closing rate is the spot rate at the period's end.
   */
  periodFxRateStale: defineError("ENT_LEDGER_PERIOD_FX_RATE_STALE", 409, "The FX positions stand at closing rates too old for the period's end"),
  /** A transaction effective in the period was booked while its close was being checked: check again. */
  periodChanged: defineError("ENT_LEDGER_PERIOD_CHANGED", 409, "The period changed while its close was being checked"),
  /** The row attached to the transaction (TransactionInput.attachment) broke a unique constraint of its table: another writer was first. */
  recordConflict: defineError("ENT_LEDGER_RECORD_CONFLICT", 409, "The record attached to the transaction conflicts with one already written"),
  /** The database kept failing transiently (deadlock, lost connection) after bounded retries: retry later. */
  unavailable: defineError("ENT_LEDGER_UNAVAILABLE", 503, "The ledger is temporarily unavailable"),
} as const;
