/** Errors of the payouts module (`ENT_PAYOUT_*`). */
import { defineError } from "../errors.js";

export const PayoutErrors = {
  /** A request is malformed: an address, a chain id, a filter, an amount. */
  invalid: defineError("ENT_PAYOUT_INVALID_REQUEST", 400, "Invalid payout request"),
  notFound: defineError("ENT_PAYOUT_NOT_FOUND", 404, "Payout not found"),
  batchNotFound: defineError("ENT_PAYOUT_BATCH_NOT_FOUND", 404, "Payout batch not found"),
  sellerNotFound: defineError("ENT_PAYOUT_SELLER_NOT_FOUND", 404, "Seller not found"),
  /** The seller has no payout destination on this chain. */
  destinationNotFound: defineError("ENT_PAYOUT_DESTINATION_NOT_FOUND", 404, "Payout destination not set"),
  /** The seller may not be paid in a stablecoin (established in mainland China): the bank rail pays it; names `homeCountry`. */
  vaultNotPermitted: defineError("ENT_PAYOUT_VAULT_NOT_PERMITTED", 422, "Seller may not be paid through the stablecoin vault"),
  /** The address already receives another seller's payouts on that chain. */
  destinationTaken: defineError("ENT_PAYOUT_DESTINATION_TAKEN", 409, "Address is another seller's payout destination"),
  /** The payout module runs without a chain (no RPC configured): planning and execution are off. */
  unavailable: defineError("ENT_PAYOUT_UNAVAILABLE", 503, "Payouts are not configured"),
  /** A batch is not in a state that allows the operation (e.g. cancelling a batch in flight). */
  invalidState: defineError("ENT_PAYOUT_INVALID_STATE", 409, "Payout batch is not in a state that allows this"),
  /** Another process holds the planner's lease; retry later. */
  plannerBusy: defineError("ENT_PAYOUT_PLANNER_BUSY", 409, "Another payout run is in progress"),
  /** A payout run (bank or vault) whose lease ended (not renewed in time, or taken over): it stopped before its next write. */
  plannerLeaseLost: defineError("ENT_PAYOUT_PLANNER_LEASE_LOST", 409, "The payout run lost its lease"),
  /** Vault funding outside a local chain, or without the mock token. */
  fundingRefused: defineError("ENT_PAYOUT_FUNDING_REFUSED", 409, "Vault funding refused"),
  /** The seller has no bank account on file (the bank rail). */
  bankAccountNotFound: defineError("ENT_PAYOUT_BANK_ACCOUNT_NOT_FOUND", 404, "Bank account not set"),
  /** The account set is the one the bank returned a payout from (its last payout, any seller's), without `confirmReturnedAccount`: the hold stays. */
  bankAccountHeld: defineError("ENT_PAYOUT_BANK_ACCOUNT_HELD", 409, "Bank account held after a return"),
  /** The account (the same IBAN or account number at the same bank) is on file for another seller: one account, one seller. */
  bankAccountInUse: defineError("ENT_PAYOUT_BANK_ACCOUNT_IN_USE", 409, "Bank account is another seller's"),
  /** The holder's name is not the seller's registered name (close_match or no_match) and `confirmHolderName` was not given. */
  bankHolderNameMismatch: defineError("ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH", 409, "Account holder's name does not match the seller's"),
  /** A bank notification that is not a camt.054 (.001.02 to .001.13), or malformed. */
  bankStatementInvalid: defineError("ENT_PAYOUT_BANK_STATEMENT_INVALID", 422, "Bank notification refused"),
  /** A camt.054 for another account than the platform's debtor account (BANK_ACCOUNT_*), or in another currency: nothing of it is applied. */
  bankNotificationAccount: defineError("ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT", 422, "Bank notification for another account"),
  bankExceptionNotFound: defineError("ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND", 404, "Bank notification exception not found"),
  /** The exception was resolved before with another note. */
  bankExceptionConflict: defineError("ENT_PAYOUT_BANK_EXCEPTION_CONFLICT", 409, "Bank notification exception already resolved"),
  /** A bank payout settled or cancelled by an operator is not awaiting the bank (planned, or at its outcome: final, partially paid, rejected, returned, cancelled). */
  bankPayoutNotOpen: defineError("ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN", 409, "Bank payout is not awaiting the bank"),
  /** A cancellation of a bank payout whose debit the bank booked or reported: it is settled by what the bank did, never voided. */
  bankPayoutDebited: defineError("ENT_PAYOUT_BANK_PAYOUT_DEBITED", 409, "The bank debited the payout"),
  /** A partial debit whose amount paid is not below the instructed amount (or is nothing). */
  bankPartialAmount: defineError("ENT_PAYOUT_BANK_PARTIAL_AMOUNT", 422, "Partial debit not below the instructed amount"),
  /** An exception that is not the bank's booked debit of part of the instruction (another code, a credit, another currency, a rate far from the booked one). */
  bankPartialNotApplicable: defineError("ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE", 422, "Exception cannot be settled as a partial debit"),
} as const;
