/**
 * The bank rail's rules for a camt.054, pure (test/payouts/bank-matching.unit.test.ts):
 * - `accountRefusal`: a notification is for the platform's debtor account (the one every pain.001
 *   is drawn on) in its currency, or nothing of it is applied (the cash reconciliation holds a
 *   camt.053's statements to it the same way);
 * - `entryKind`: what a booked entry naming a payout is: the bank's debit, or a return (a credit
 *   back to the account, or a reversal; RtrInf carries the reason);
 * - `instructionMismatch`: a debit or a return must be of the instruction, in full: in the
 *   account's currency, with the instructed amount (AmtDtls/InstdAmt, or the amount itself when the
 *   payout is in the account's currency). A bank returns what it was told to pay, so a partial or
 *   stray credit is a mismatch to report, never a return: voiding the payout on it would make the
 *   seller's money available again while the bank pays it (paid twice). A return may be credited
 *   net of the bank's charges when it itemises them (`returnCharges`: TxDtls/Chrgs/Rcrd, in the
 *   account's currency, taken from the amount): the amount plus the charges must then be the
 *   instruction; charges not itemised, or not adding up, leave it a mismatch;
 * - `rateMismatch`: a converted amount far from what the payout's P was booked at (or, for the
 *   return of a payout the bank debited, from that debit, its charges counted) is not booked (a
 *   finance key or a wrong file cannot book arbitrary cash and realised FX, as for remittances).
 *   The caller gives the reference: the position's booked value, else the published mid rate at
 *   the entry's booking date; with neither (`noReference`), the entry is not booked either.
 * Amounts in details are in major units with their currency, as an operator reads a statement.
 */
import { exponentOrNull, formatMinor } from "../../money/index.js";
import { accountNumberKey } from "./account-identity.js";
import type { BankAccountRef, BankEntry } from "./iso20022.js";

/**
 * The ISO 20022 return reasons (ExternalReturnReason1Code) banks send most, in words, so an operator
 * reads "AC04: closed account" where the code alone would send them to the code list.
 */
const RETURN_REASONS: Readonly<Record<string, string>> = {
  AC01: "incorrect account number",
  AC03: "invalid creditor account number",
  AC04: "closed account",
  AC06: "blocked account",
  AG01: "transaction forbidden on this account",
  AG02: "invalid bank operation code",
  AM04: "insufficient funds",
  AM05: "duplicate payment",
  BE04: "missing creditor address",
  FOCR: "following a cancellation request",
  MD07: "beneficiary deceased",
  MS02: "reason not specified (beneficiary)",
  MS03: "reason not specified (bank)",
  NARR: "see the bank's narrative",
  RC01: "bank identifier incorrect",
  RR01: "regulatory: missing debtor account or identification",
  RR02: "regulatory: missing debtor name or address",
  RR03: "regulatory: missing creditor name or address",
  RR04: "regulatory reason",
};

/** "AC04: closed account"; a code not in the list as it came. */
export const returnReasonText = (code: string): string => (RETURN_REASONS[code] === undefined ? code : `${code}: ${RETURN_REASONS[code]}`);

/** "107.74 USD" (minor units only for a code without ISO 4217 minor units). */
export const major = (v: bigint, currency: string): string => `${exponentOrNull(currency) === null ? v : formatMinor(v, currency)} ${currency}`;

/** Why an entry is not applied, stable for operators and tests (the detail is for people). */
export const BANK_EXCEPTION_CODES = [
  // unmatched: nothing of ours
  "no_end_to_end_id",
  "unknown_end_to_end_id",
  // mismatch: the entry is not the instruction
  "not_account_currency",
  "no_instructed_amount",
  "instructed_mismatch",
  "rate_out_of_range",
  "debit_with_return_info",
  "charges_mismatch",
  // exception: the entry is the instruction, the payout's state does not take it
  "returned_after_final",
  "returned_not_instructed",
  "debited_not_instructed",
  "debited_again",
  "cash_refused",
  "cash_cleared",
  "no_reference_rate",
] as const;
export type BankExceptionCode = (typeof BANK_EXCEPTION_CODES)[number];

export interface Refusal {
  code: BankExceptionCode;
  detail: string;
}

/** The message an account check reads: a camt.054's notifications (Ntfctn), a camt.053's statements (Stmt). */
export interface AccountReport {
  /** How one is called in a message ("notification", "statement"). */
  noun: string;
  /** Its element, the root of the fields named ("Ntfctn", "Stmt"). */
  element: string;
}

const NOTIFICATION: AccountReport = { noun: "notification", element: "Ntfctn" };

/**
 * Null when every report is for `debtor` (its IBAN or account number as `accountNumberKey` reads it;
 * its currency when the report gives one), else what is wrong and the field naming it. The one
 * check of "the platform's own account" for the bank's camt.054 (the rail) and camt.053 (cash).
 */
export function accountRefusal(
  accounts: ReadonlyArray<{ id: string; currency: string | null }>,
  debtor: Pick<BankAccountRef, "iban" | "accountNumber"> & { accountCurrency: string },
  report: AccountReport = NOTIFICATION,
): { message: string; field: string; index: number } | null {
  const ours = debtor.iban ?? debtor.accountNumber ?? "";
  if (accounts.length === 0) return { message: `the ${report.noun} names no account (${report.element}/Acct)`, field: `${report.element}/Acct/Id`, index: 0 };
  for (const [i, a] of accounts.entries()) {
    const which = accounts.length === 1 ? `the ${report.noun}` : `${report.noun} ${i + 1}`;
    if (accountNumberKey(a.id) !== accountNumberKey(ours)) {
      return { message: `${which} is for account ${JSON.stringify(a.id.slice(0, 40))}, not the platform's account ${ours} that the transfers are drawn on`, field: `${report.element}/Acct/Id`, index: i };
    }
    if (a.currency !== null && a.currency !== debtor.accountCurrency) {
      return { message: `${which} is for account ${ours} in ${JSON.stringify(a.currency.slice(0, 8))}; the platform's account is in ${debtor.accountCurrency}`, field: `${report.element}/Acct/Ccy`, index: i };
    }
  }
  return null;
}

/**
 * A return gives money back to the account: a credit, or a reversal (ISO 20022: a reversed debit is
 * reported CRDT with RvslInd, though some banks keep DBIT; either way it undoes the transfer). A
 * debit carrying return information and no reversal is neither the transfer nor its return.
 */
export function entryKind(entry: Pick<BankEntry, "side" | "reversal" | "returnReason">): "debit" | "return" | Refusal {
  if (entry.side === "credit" || entry.reversal) return "return";
  if (entry.returnReason !== null) return { code: "debit_with_return_info", detail: `a debit with return information (${entry.returnReason}) but no reversal: neither the transfer nor its return` };
  return "debit";
}

/**
 * The bank's charges a return was credited net of: its itemised TxDtls/Chrgs/Rcrd summed (0n when
 * none), each in the account's currency and taken from the amount (not a credit, not ChrgInclInd
 * false); else why they cannot be.
 */
export function returnCharges(entry: Pick<BankEntry, "charges">, accountCurrency: string): bigint | Refusal {
  let total = 0n;
  for (const c of entry.charges ?? []) {
    if (c.currency !== accountCurrency) return { code: "charges_mismatch", detail: `charges of ${major(c.amount, c.currency)} itemised: the platform's account is in ${accountCurrency}` };
    if (c.side === "credit" || c.included === false) {
      return { code: "charges_mismatch", detail: `charges of ${major(c.amount, c.currency)} itemised ${c.side === "credit" ? "as a credit" : "as not included in the amount (ChrgInclInd false)"}: not taken from the amount returned` };
    }
    total += c.amount;
  }
  return total;
}

/** A return: a credit, or a reversal (see entryKind). */
const isReturn = (entry: { side: string; reversal?: boolean }): boolean => entry.side === "credit" || entry.reversal === true;

/**
 * Null when the entry is the payout's instruction in full (see the module comment); a return's
 * itemised charges count towards it (`returnCharges`).
 */
export function instructionMismatch(
  entry: Pick<BankEntry, "side" | "currency" | "amount" | "instructed"> & Partial<Pick<BankEntry, "reversal" | "charges">>,
  p: { currency: string; amount: bigint },
  accountCurrency: string,
): Refusal | null {
  const verb = entry.side === "credit" ? "credited" : "debited";
  if (entry.currency !== accountCurrency) return { code: "not_account_currency", detail: `${verb} ${major(entry.amount, entry.currency)}: the platform's account is in ${accountCurrency}` };
  const charges = isReturn(entry) ? returnCharges(entry, accountCurrency) : 0n;
  if (typeof charges !== "bigint") return charges;
  const gross = entry.amount + charges;
  const net = charges === 0n ? major(entry.amount, entry.currency) : `${major(entry.amount, entry.currency)} + charges ${major(charges, entry.currency)}`;
  const instructed = entry.instructed ?? (entry.currency === p.currency ? { currency: entry.currency, amount: gross } : null);
  if (instructed === null) return { code: "no_instructed_amount", detail: `${verb} ${major(entry.amount, entry.currency)} without the instructed ${p.currency} amount (AmtDtls/InstdAmt)` };
  if (instructed.currency !== p.currency || instructed.amount !== p.amount) {
    return { code: "instructed_mismatch", detail: `instructed ${major(p.amount, p.currency)}, the bank reports ${major(instructed.amount, instructed.currency)}` };
  }
  // Unconverted, the amount itself is what was paid: it must be the instruction (charges taken from
  // a debit are the bank's to explain, never booked as the payout; a return's itemised ones count).
  if (entry.currency === p.currency && gross !== p.amount) return { code: "instructed_mismatch", detail: `${verb} ${net} for an instruction of ${major(p.amount, p.currency)}` };
  return null;
}

/** A converted entry with nothing to hold its rate against: left for an operator, never booked unchecked. */
export function noReference(entry: Pick<BankEntry, "side" | "currency" | "amount" | "bookingDate">, p: { currency: string; amount: bigint }): Refusal {
  return {
    code: "no_reference_rate",
    detail: `${entry.side === "credit" ? "credited" : "debited"} ${major(entry.amount, entry.currency)} for ${major(p.amount, p.currency)}: no booked rate (the fx:${p.currency}-${entry.currency} position holds no ${p.currency} owed) and no published ${p.currency}->${entry.currency} mid rate at ${entry.bookingDate ?? "the booking date"} to check the rate against; nothing is booked (publish the rate and send the notification again, or settle it with the bank)`,
  };
}

/**
 * Null when a converted amount (a return's with its itemised `charges`) is within `maxBps` of
 * `reference`, in the entry's currency: the P at the position's booked rate, or, for the return of
 * a payout the bank debited, that debit (`basis` says which). Null reference: nothing to value it by.
 */
export function rateMismatch(
  entry: Pick<BankEntry, "side" | "currency" | "amount">,
  p: { currency: string; amount: bigint },
  reference: bigint | null,
  maxBps: number,
  opts: { charges?: bigint; basis?: string } = {},
): Refusal | null {
  if (entry.currency === p.currency || reference === null) return null;
  const charges = opts.charges ?? 0n;
  const gross = entry.amount + charges;
  const off = gross > reference ? gross - reference : reference - gross;
  if (off * 10_000n <= reference * BigInt(maxBps)) return null;
  const amount = charges === 0n ? major(entry.amount, entry.currency) : `${major(entry.amount, entry.currency)} + charges ${major(charges, entry.currency)}`;
  return {
    code: "rate_out_of_range",
    detail: `${entry.side === "credit" ? "credited" : "debited"} ${amount} for ${major(p.amount, p.currency)}: more than ${maxBps / 100}% from the ${major(reference, entry.currency)} ${opts.basis ?? "it was booked at"}`,
  };
}
