/** Errors of the cash reconciliation (`ENT_CASH_*`). */
import { defineError } from "../errors.js";

export const CashErrors = {
  /** Not a camt.053 (.001.02 to .001.13), malformed, or a statement without its booked balances. */
  statementInvalid: defineError("ENT_CASH_STATEMENT_INVALID", 422, "Bank statement refused"),
  statementNotFound: defineError("ENT_CASH_STATEMENT_NOT_FOUND", 404, "Bank statement not found"),
  /** The entry is not an open exception (it was matched, or it is not booked). */
  notAnException: defineError("ENT_CASH_NOT_AN_EXCEPTION", 409, "Bank statement entry is not an exception"),
  /** The exception was resolved before with another note or adjustment. */
  resolutionConflict: defineError("ENT_CASH_RESOLUTION_CONFLICT", 409, "Bank statement exception resolved differently before"),
} as const;
