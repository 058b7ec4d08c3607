/** Errors of the cash reconciliation (`ENT_CASH_*`). */
import { defineError } from "../errors.js";

export const CashErrors = {
  /** Not a camt.053 (.001.02 to .001.13), malformed, or a statement without its booked balances. */
  statementInvalid: defineError("ENT_CASH_STATEMENT_INVALID", 422, "Bank statement refused"),
  statementNotFound: defineError("ENT_CASH_STATEMENT_NOT_FOUND", 404, "Bank statement not found"),
} as const;
