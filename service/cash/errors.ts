/** Errors of the cash reconciliation (`ENT_CASH_*`). */
import { defineError } from "../errors.js";

export const CashErrors = {
  /** Not a camt.053 (.001.02 to .001.13), malformed, or a statement without its booked balances. */
  statementInvalid: defineError("ENT_CASH_STATEMENT_INVALID", 422, "Bank statement refused"),
  /**
   * A statement of another account than the platform's (BANK_ACCOUNT_IBAN or _NUMBER), or in another
   * currency than BANK_ACCOUNT_CURRENCY: the whole file is refused.
   */
  statementAccount: defineError("ENT_CASH_STATEMENT_ACCOUNT", 422, "Bank statement for another account"),
  statementNotFound: defineError("ENT_CASH_STATEMENT_NOT_FOUND", 404, "Bank statement not found"),
  /** The account's statement with this id (or electronic sequence number) was imported before with other content. */
  statementConflict: defineError("ENT_CASH_STATEMENT_CONFLICT", 409, "Bank statement imported before with other content"),
  /** An entry booked in another currency than the statement's account: it cannot be summed into its balance. */
  entryCurrency: defineError("ENT_CASH_ENTRY_CURRENCY", 422, "Bank statement entry in another currency than its account"),
  /** A resolution's adjusting entry that does not book the bank entry on `platform:cash:bank`, or touches a seller's account. */
  adjustmentInvalid: defineError("ENT_CASH_ADJUSTMENT_INVALID", 422, "Adjusting entry does not book the bank statement entry"),
  /**
   * A resolution's adjusting entry credits a gateway's receivable with more than it holds when booked
   * (the platform would owe the gateway), without `adjustment.exceedsReceivable`.
   */
  resolutionExceedsReceivable: defineError("ENT_CASH_RESOLUTION_EXCEEDS_RECEIVABLE", 422, "Adjusting entry credits a gateway receivable beyond its balance"),
  /** The entry is not an open exception (it was matched, or it is not booked). */
  notAnException: defineError("ENT_CASH_NOT_AN_EXCEPTION", 409, "Bank statement entry is not an exception"),
  /** The exception was resolved before with another note or adjustment. */
  resolutionConflict: defineError("ENT_CASH_RESOLUTION_CONFLICT", 409, "Bank statement exception resolved differently before"),
} as const;
