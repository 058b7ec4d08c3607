/**
 * Reads for callers to whom an account that does not exist yet simply holds nothing (a position
 * never opened, a seller never credited): the ledger's `balance` refuses an unknown account with
 * ENT_LEDGER_ACCOUNT_NOT_FOUND, these answer null instead.
 */
import { isAppError } from "../errors.js";
import { LedgerErrors } from "./errors.js";
import type { Balance, Ledger } from "./types.js";

/** The account's balance, or null when the account does not exist. */
export async function balanceOrNull(ledger: Pick<Ledger, "balance">, account: string, currency: string, at?: Date, basis?: "booked" | "effective"): Promise<Balance | null> {
  try {
    return await ledger.balance(account, currency, at, basis);
  } catch (e) {
    if (isAppError(e) && e.code === LedgerErrors.accountNotFound.code) return null;
    throw e;
  }
}

/** Posted debits less posted credits (a debit-normal account's posted balance), 0 for an account that does not exist. */
export async function postedDebitBalance(ledger: Pick<Ledger, "balance">, account: string, currency: string, at?: Date, basis?: "booked" | "effective"): Promise<bigint> {
  const b = await balanceOrNull(ledger, account, currency, at, basis);
  return b === null ? 0n : b.postedDebits - b.postedCredits;
}
