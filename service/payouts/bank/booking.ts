/**
 * The journal side of the bank rail, pure. A payout moves in two steps:
 *
 * 1. Reserve (PENDING, at planning): debit `seller:<id>:available`, credit
 *    `platform:payouts:in_transit`, both in the payout currency P. The seller's available balance
 *    drops at once; nothing touches cash or FX until the bank says what it did.
 * 2. At the bank's booked debit (camt.054): the reserve is committed, then the cash booking clears
 *    the in-transit amount against what left the platform's account (`platform:cash:bank`, in the
 *    account's currency, USD). For P = USD the two amounts must be equal. For another P the bank
 *    converted: the P leaves the `fx:P-USD` position (which captures built when they converted the
 *    seller's USD proceeds into P) at the position's average booked rate; what the P is worth at the
 *    published mid rate at the booking instant less that is realised FX
 *    (`platform:fx:realised_gain_loss`), and the USD the bank debited against the mid value is the
 *    bank's conversion spread (`platform:expense:fx_conversion`), exactly like a gateway remittance
 *    on the buyer side. Without a mid rate for the instant the whole difference is realised, and the
 *    booking's metadata says why (`midMissing`).
 * A transfer the bank executed in part (its debit's instructed amount below the instruction, settled by
 * an operator: rail.ts) books the committed reserve out of the in-transit account in one transaction
 * under the cash booking's key: the part paid as the cash booking above would, the rest back to the
 * seller's `available` (`partialRequest`).
 * A rejected or returned transfer, or one an operator cancels before any debit, voids the reserve:
 * the money is back in `available`. When the
 * reserve was already committed (the bank's debit was taken, its cash booking refused and never
 * posted), the return is an entry of its own: Dr `platform:payouts:in_transit`, Cr the seller's
 * `available`, under the cash booking's key, so the ledger itself lets only one of the two ever
 * post: the in-transit amount leaves once, to the bank or back to the seller.
 *
 * A full return after final (the bank debited, the cash was booked, then the beneficiary's bank sent
 * the money back) is a correcting transaction of its own, never an edit of the cash booking, under
 * `bankpayout:<id>:returned`: Dr `platform:cash:bank` what the bank credited, Cr the seller's
 * `available` the instructed P in full (it was the seller's money). For another P the account's
 * currency goes back through `fx:P-USD` (Cr in USD, Dr in P): the position is long that P again,
 * valued at the bank's return rate.
 * A return credited net of the bank's itemised charges books the charges to
 * `platform:expense:bank_charges` (Dr, in the account's currency) beside the cash actually
 * credited: the seller still gets the instructed amount back. Where the return voids the reserve
 * (no cash booked, nothing to correct), the charges are an entry of their own
 * (`bankpayout:<id>:return_charges`: Dr the expense, Cr the cash the bank kept).
 */
import { Accounts, accountSpec } from "../../settlement/index.js";
import type { AccountSpec, TransactionInput } from "../../ledger/types.js";
import { Legs } from "../../treasury/index.js";
import { conversionLeg, fxRealisation, realisedLeg, type MidRate, type Position } from "../realised-fx.js";
import { major } from "./matching.js";

export const BankAccounts = {
  available: (sellerId: string) => Accounts.seller(sellerId, "available"),
  /** Credit-normal: what the platform has instructed its bank to pay and the bank has not booked yet. */
  inTransit: "platform:payouts:in_transit",
  cash: Accounts.bank,
  /** Debit-normal: what banks charged on returns (taken from the amount they credited back). */
  charges: "platform:expense:bank_charges",
} as const;

export function bankAccountSpec(code: string, currency: string): AccountSpec {
  if (code === BankAccounts.inTransit) return { code, currency, ownerType: "platform", ownerId: "platform", normalBalance: "credit", allowNegative: false };
  if (code === BankAccounts.charges) return { code, currency, ownerType: "platform", ownerId: "platform", normalBalance: "debit", allowNegative: true };
  return accountSpec(code, currency);
}

export const bankLedgerKeys = {
  reserve: (id: bigint) => `bankpayout:${id}:reserve`,
  commit: (id: bigint) => `bankpayout:${id}:commit`,
  /** The cash booking, or the return of a committed reserve: one key, so at most one of them posts. */
  cash: (id: bigint) => `bankpayout:${id}:cash`,
  void: (id: bigint) => `bankpayout:${id}:void`,
  /** A full return after final: its own correcting transaction. */
  returned: (id: bigint) => `bankpayout:${id}:returned`,
  /** The charges of a return that voided the reserve. */
  returnCharges: (id: bigint) => `bankpayout:${id}:return_charges`,
} as const;

/** Charges a bank took from a return (minor units of the account's currency; amount 0n: none). */
export interface ReturnCharges {
  currency: string;
  amount: bigint;
}

export function reserveRequest(p: { id: bigint; sellerId: string; currency: string; amount: bigint; endToEndId: string }): TransactionInput {
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.available(p.sellerId), p.currency, p.amount).credit(BankAccounts.inTransit, p.currency, p.amount);
  return {
    idempotencyKey: bankLedgerKeys.reserve(p.id),
    pending: true,
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "bank_payout", bankPayoutId: p.id.toString(), sellerId: p.sellerId, endToEndId: p.endToEndId },
    description: `bank payout ${p.id} (${p.endToEndId}) to seller ${p.sellerId}`,
  };
}

/**
 * The cash booking of a payout of `amount` P that the bank booked as a debit of `settled` USD.
 * `position` is fx:P-USD's posted balance once the reserve is committed (the in-transit P is not in
 * it yet). For P = USD, `settled` must equal `amount` (the caller checks).
 */
export function cashRequest(
  p: { id: bigint; sellerId: string; currency: string; amount: bigint; endToEndId: string; settledCurrency: string; settled: bigint; bookingDate: string | null; bankReference?: string | null },
  position: Position | null,
  mid?: MidRate,
): TransactionInput {
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.inTransit, p.currency, p.amount);
  const metadata = { kind: "bank_payout_cash", ...debitLegs(legs, p, p.amount, position, mid) };
  return {
    idempotencyKey: bankLedgerKeys.cash(p.id),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata,
    description: `bank payout ${p.id} (${p.endToEndId}) booked by the bank: ${p.settled} ${p.settledCurrency}`,
  };
}

/**
 * The bank's debit of `paid` P of the instruction (an operator settled the bank's partial execution,
 * rail.ts): the committed reserve leaves the in-transit account whole, `paid` P as a full debit's
 * cash booking would (at the bank's debit `settled`, FX through fx:P-USD), the rest back to the
 * seller's `available`. Under the cash booking's key: the ledger lets one of a full debit, a return
 * and this one post. 0 < paid < amount (the caller checks).
 */
export function partialRequest(
  p: { id: bigint; sellerId: string; currency: string; amount: bigint; endToEndId: string; settledCurrency: string; settled: bigint; bookingDate: string | null; bankReference?: string | null },
  paid: bigint,
  position: Position | null,
  settledBy: { exceptionId: bigint; note: string },
  mid?: MidRate,
): TransactionInput {
  const unpaid = p.amount - paid;
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.inTransit, p.currency, p.amount).credit(BankAccounts.available(p.sellerId), p.currency, unpaid);
  const metadata = {
    kind: "bank_payout_partial",
    ...debitLegs(legs, p, paid, position, mid),
    paidAmount: paid.toString(),
    unpaidAmount: unpaid.toString(),
    // The operator's settlement, so a retry is told from another request (rail.ts).
    exceptionId: settledBy.exceptionId.toString(),
    note: settledBy.note.slice(0, 200),
  };
  const debited = `${p.settledCurrency === p.currency ? "" : `, the bank debited ${major(p.settled, p.settledCurrency)}`}`;
  return {
    idempotencyKey: bankLedgerKeys.cash(p.id),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata,
    description: `bank payout ${p.id} (${p.endToEndId}) partly paid by the bank: ${major(paid, p.currency)} of ${major(p.amount, p.currency)}${debited}; ${major(unpaid, p.currency)} not paid, back to available`,
  };
}

/**
 * The legs of `paid` P leaving the in-transit account to the bank, which debited `settled` of the
 * account's currency: its cash and, for another P, the fx:P-USD position and realised FX. Returns
 * the booking's metadata (what the bank debited, the rates).
 */
function debitLegs(
  legs: Legs,
  p: { id: bigint; sellerId: string; currency: string; endToEndId: string; settledCurrency: string; settled: bigint; bookingDate: string | null; bankReference?: string | null },
  paid: bigint,
  position: Position | null,
  mid?: MidRate,
): Record<string, string> {
  legs.credit(BankAccounts.cash, p.settledCurrency, p.settled);
  const metadata: Record<string, string> = {
    bankPayoutId: p.id.toString(),
    sellerId: p.sellerId,
    endToEndId: p.endToEndId,
    settledCurrency: p.settledCurrency,
    settledAmount: p.settled.toString(),
    ...(p.bookingDate === null ? {} : { bookingDate: p.bookingDate }),
    // The bank's entry (Ntry/AcctSvcrRef): a later debit under another one is a second debit, not this one again (rail.ts).
    ...(p.bankReference === null || p.bankReference === undefined ? {} : { bankReference: p.bankReference }),
  };
  if (p.currency !== p.settledCurrency) {
    const U = p.settledCurrency;
    const clearing = Accounts.fxClearing(p.currency);
    // The P paid leaves the position at its average booked value (its mid value without a long
    // position); the mid value less that is realised, the bank's debit against the mid value its
    // spread (realised-fx.ts). Without a mid rate: the booked value against the bank's debit.
    const r = fxRealisation({ currency: p.currency, amount: paid, paidCurrency: U, paid: p.settled }, position, mid);
    legs.credit(clearing, p.currency, paid).debit(clearing, U, r.booked);
    realisedLeg(legs, U, r.realised);
    conversionLeg(legs, U, r.conversion);
    Object.assign(metadata, r.metadata);
  }
  return metadata;
}

type PayoutRef = { id: bigint; sellerId: string; currency: string; amount: bigint; endToEndId: string };

const chargesMetadata = (charges: ReturnCharges | null): Record<string, string> => (charges === null || charges.amount === 0n ? {} : { chargesCurrency: charges.currency, chargesAmount: charges.amount.toString() });

/** The return of a payout whose reserve was committed and whose cash was never booked (see the module comment). */
export function returnRequest(p: PayoutRef, reason: string, charges: ReturnCharges | null = null): TransactionInput {
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.inTransit, p.currency, p.amount).credit(BankAccounts.available(p.sellerId), p.currency, p.amount);
  if (charges !== null) legs.debit(BankAccounts.charges, charges.currency, charges.amount).credit(BankAccounts.cash, charges.currency, charges.amount);
  return {
    idempotencyKey: bankLedgerKeys.cash(p.id),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "bank_payout_return", bankPayoutId: p.id.toString(), sellerId: p.sellerId, endToEndId: p.endToEndId, reason: reason.slice(0, 200), ...chargesMetadata(charges) },
    description: `bank payout ${p.id} (${p.endToEndId}) ${reason}`.slice(0, 500),
  };
}

/** The charges of a return that voided the reserve: the bank kept them from the transfer it took back. */
export function returnChargesRequest(p: PayoutRef, charges: ReturnCharges, reason: string): TransactionInput {
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.charges, charges.currency, charges.amount).credit(BankAccounts.cash, charges.currency, charges.amount);
  return {
    idempotencyKey: bankLedgerKeys.returnCharges(p.id),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "bank_payout_return_charges", bankPayoutId: p.id.toString(), sellerId: p.sellerId, endToEndId: p.endToEndId, ...chargesMetadata(charges) },
    description: `bank payout ${p.id} (${p.endToEndId}) ${reason}: the bank's charges`.slice(0, 500),
  };
}

/**
 * A full return after final (see the module comment): `credited` what the bank credited the
 * account (net of `charges`, in the same currency); the seller gets the payout's P in full.
 */
export function returnedRequest(p: PayoutRef, credited: { currency: string; amount: bigint; bookingDate: string | null; bankReference?: string | null }, charges: ReturnCharges | null, reason: string): TransactionInput {
  const U = credited.currency;
  const gross = credited.amount + (charges?.amount ?? 0n);
  const legs = new Legs(bankAccountSpec).debit(BankAccounts.cash, U, credited.amount);
  if (charges !== null) legs.debit(BankAccounts.charges, charges.currency, charges.amount);
  if (p.currency !== U) {
    const clearing = Accounts.fxClearing(p.currency);
    legs.credit(clearing, U, gross).debit(clearing, p.currency, p.amount);
  }
  legs.credit(BankAccounts.available(p.sellerId), p.currency, p.amount);
  return {
    idempotencyKey: bankLedgerKeys.returned(p.id),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: {
      kind: "bank_payout_returned",
      bankPayoutId: p.id.toString(),
      sellerId: p.sellerId,
      endToEndId: p.endToEndId,
      reason: reason.slice(0, 200),
      creditedCurrency: U,
      creditedAmount: credited.amount.toString(),
      ...chargesMetadata(charges),
      ...(credited.bookingDate === null ? {} : { bookingDate: credited.bookingDate }),
      // The bank's entry (Ntry/AcctSvcrRef): another credit of the same amount is another return.
      ...(credited.bankReference === null || credited.bankReference === undefined ? {} : { bankReference: credited.bankReference }),
    },
    description: `bank payout ${p.id} (${p.endToEndId}) ${reason}`.slice(0, 500),
  };
}
