/**
 * The journal side of payouts, as pure functions: account codes, the pending reserve booked at
 * planning time, and the booking of a payout the vault deferred. The treasury's accounts (the
 * vault's tokens, `fx:USDC-USD`, the sellers' claimable debts) and the bookings of the vault's own
 * events (funding, claims) are in service/treasury.
 *
 * Accounts posted to:
 * - `seller:<id>:available` (CNY or USD; settlement's account): debited by the payout.
 * - `fx:<CCY>-USD` (settlement's clearing accounts, in both currencies): CNY -> USD at the quote,
 *   and `fx:USDC-USD`: USD -> USDC at 1:1 (1 cent = 10^4 base units).
 * - `treasury:vault:USDC`: credited by the reserve (the tokens leave the vault at final).
 * - `seller:<id>:claimable`: credited when the vault defers a payout.
 * - `platform:fx:realised_gain_loss` (USD): at final, what the CNY was booked at in `fx:CNY-USD`
 *   less the USD the quote paid for it (realised-fx.ts, as the bank rail's).
 *
 * Every transaction balances per currency: a CNY payout nets to zero in CNY (seller -> fx:CNY-USD),
 * in USD (fx:CNY-USD -> fx:USDC-USD) and in USDC (fx:USDC-USD -> vault).
 *
 * Why the realisation is its own transaction, after the commit: the reserve is booked at planning,
 * when the position the CNY will leave at final is not known, and a pending transaction's postings
 * cannot change. The commit takes the CNY out at the quote's USD; the realisation then moves the
 * position's USD to the average booked value and books the difference. It is computed from the
 * commit's own postings (their balances after, less the commit's legs: the position right before
 * it), so a retry after a crash derives the same request and the key lets it post once. Only a
 * final payout is committed, so a cancelled one (voided) realises nothing, and a failed batch
 * retried with the same ids still has one commit per payout.
 */
import type { AccountSpec, JournalTransaction, PostingInput, TransactionInput } from "../ledger/types.js";
import { Accounts, accountSpec } from "../settlement/index.js";
import { Legs, TreasuryAccounts, treasuryAccountSpec } from "../treasury/index.js";
import { fxRealisation, realisedLeg, type Position } from "./realised-fx.js";

export const PayoutAccounts = {
  available: (sellerId: string) => `seller:${sellerId}:available`,
  fxClearing: (currency: string) => `fx:${currency}-USD`,
} as const;

/** Owner, normal side and negative policy of every account this module posts to. */
export function payoutAccountSpec(code: string, currency: string): AccountSpec {
  const [head, id, tail] = code.split(":");
  if (head === "seller" && id !== undefined && tail === "available") {
    // Settlement's policy: may go negative (a refund after a payout).
    return { code, currency, ownerType: "seller", ownerId: id, normalBalance: "credit", allowNegative: true };
  }
  if (code === Accounts.fxRealised) return accountSpec(code, currency);
  const treasury = treasuryAccountSpec(code, currency);
  if (treasury === null) throw new Error(`payouts: no account spec for ${code}`);
  return treasury;
}

export interface PayoutBookingInput {
  payoutId: bigint;
  batchId: bigint;
  sellerId: string;
  chainId: bigint;
  vault: string;
  address: string;
  /** Seller's payout currency (CNY or USD) and the amount taken from `seller:<id>:available`. */
  currency: string;
  amount: bigint;
  usdAmount: bigint;
  tokenAmount: bigint;
  tokenCurrency: string;
  fx: { quoteId: string; rate: string; rounding: string } | null;
}

export const ledgerKeys = {
  reserve: (payoutId: bigint) => `payout:${payoutId}:reserve`,
  commit: (payoutId: bigint) => `payout:${payoutId}:commit`,
  claimable: (payoutId: bigint) => `payout:${payoutId}:claimable`,
  /** The realised FX of a converted payout, booked right after its commit. */
  fx: (payoutId: bigint) => `payout:${payoutId}:fx`,
  void: (payoutId: bigint) => `payout:${payoutId}:void`,
} as const;

/**
 * The PENDING transaction booked when a payout is planned: reserves the seller's available balance
 * (a pending debit counts against `available` at once) and the vault's stablecoin. Committed only
 * when the vault's events are final; voided if an operator cancels the batch. No timeout: a payout
 * in flight must never have its reserve released by a clock.
 */
export function pendingPayoutRequest(p: PayoutBookingInput): TransactionInput {
  const legs = new Legs(payoutAccountSpec);
  const T = p.tokenCurrency;
  legs.debit(PayoutAccounts.available(p.sellerId), p.currency, p.amount);
  if (p.currency !== "USD") {
    legs.credit(PayoutAccounts.fxClearing(p.currency), p.currency, p.amount);
    legs.debit(PayoutAccounts.fxClearing(p.currency), "USD", p.usdAmount);
  }
  legs.credit(TreasuryAccounts.stablecoinClearing(T), "USD", p.usdAmount);
  legs.debit(TreasuryAccounts.stablecoinClearing(T), T, p.tokenAmount);
  legs.credit(TreasuryAccounts.vault(T), T, p.tokenAmount);
  const metadata: Record<string, string> = {
    kind: "payout",
    payoutId: p.payoutId.toString(),
    payoutBatchId: p.batchId.toString(),
    sellerId: p.sellerId,
    chainId: p.chainId.toString(),
    vault: p.vault,
    destination: p.address,
    tokenAmount: p.tokenAmount.toString(),
  };
  if (p.fx !== null) {
    metadata["fxQuoteId"] = p.fx.quoteId;
    metadata["fxRate"] = p.fx.rate;
    metadata["fxRounding"] = p.fx.rounding;
  }
  return {
    idempotencyKey: ledgerKeys.reserve(p.payoutId),
    pending: true,
    postings: legs.postings,
    accounts: legs.specs(),
    metadata,
    description: `payout ${p.payoutId} (batch ${p.batchId}) to seller ${p.sellerId}`,
  };
}

/**
 * A deferred payout: the commit above moved the tokens out of `treasury:vault`, but they stayed in
 * the vault, now owed to the seller. This puts them back on the vault asset and books the debt
 * (cleared by the treasury when the seller claims).
 */
export function claimableRequest(p: { payoutId: bigint; sellerId: string; tokenAmount: bigint; tokenCurrency: string; txHash: string; chainId: bigint }): TransactionInput {
  const legs = new Legs(payoutAccountSpec)
    .debit(TreasuryAccounts.vault(p.tokenCurrency), p.tokenCurrency, p.tokenAmount)
    .credit(TreasuryAccounts.claimable(p.sellerId), p.tokenCurrency, p.tokenAmount);
  return {
    idempotencyKey: ledgerKeys.claimable(p.payoutId),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "payout_deferred", payoutId: p.payoutId.toString(), sellerId: p.sellerId, chainId: p.chainId.toString(), txHash: p.txHash },
    description: `payout ${p.payoutId} deferred by the vault: claimable by seller ${p.sellerId}`,
  };
}

/**
 * The `fx:P-USD` position right before a converted payout's commit (posted balances, debits -
 * credits, in P and in USD): each clearing leg's balance after the commit, less the leg. Null for
 * a payout without FX legs (USD).
 */
export function positionBeforeCommit(commit: Pick<JournalTransaction, "postings">, currency: string): Position | null {
  const clearing = PayoutAccounts.fxClearing(currency);
  const before = (ccy: string): bigint | null => {
    const leg = commit.postings.find((x) => x.account === clearing && x.currency === ccy);
    // fx:* is debit-normal: balanceAfter is debits - credits.
    return leg === undefined ? null : leg.balanceAfter - (leg.direction === "debit" ? leg.amount : -leg.amount);
  };
  const p = before(currency);
  const usd = before("USD");
  return p === null || usd === null ? null : { p, usd };
}

/**
 * The realised FX of a converted payout at final (see the module comment): the commit took
 * `amount` P out of `fx:P-USD` against `usdAmount` (the quote's); at the position's average booked
 * value `booked` it is worth, the position's USD moves by `booked - usdAmount` against
 * `platform:fx:realised_gain_loss`. Null when there is nothing to realise (a USD payout, no long
 * position to value the P by, or a quote that hit the average exactly).
 */
export function fxRealisationRequest(
  p: { payoutId: bigint; batchId: bigint; sellerId: string; currency: string; amount: bigint; usdAmount: bigint; fxQuoteId: string | null },
  position: Position | null,
): TransactionInput | null {
  if (p.currency === "USD" || position === null) return null;
  const r = fxRealisation({ currency: p.currency, amount: p.amount, paidCurrency: "USD", paid: p.usdAmount }, position);
  if (r.realised === 0n) return null;
  const clearing = PayoutAccounts.fxClearing(p.currency);
  const legs = new Legs(payoutAccountSpec);
  // The commit cleared `usdAmount` of the USD the P was booked against; the rest of `booked` (or
  // what it cleared beyond it) goes with it, a gain when the P cost less than it was booked at.
  if (r.realised > 0n) legs.debit(clearing, "USD", r.realised);
  else legs.credit(clearing, "USD", -r.realised);
  realisedLeg(legs, "USD", r.realised);
  return {
    idempotencyKey: ledgerKeys.fx(p.payoutId),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: {
      kind: "payout_fx_realised",
      payoutId: p.payoutId.toString(),
      payoutBatchId: p.batchId.toString(),
      sellerId: p.sellerId,
      currency: p.currency,
      amount: p.amount.toString(),
      paidCurrency: "USD",
      paidAmount: p.usdAmount.toString(),
      ...(p.fxQuoteId === null ? {} : { fxQuoteId: p.fxQuoteId }),
      ...r.metadata,
    },
    description: `payout ${p.payoutId} to seller ${p.sellerId}: ${p.amount} ${p.currency} out of ${clearing} at its average booked value, ${r.realised} USD realised`,
  };
}

/** JSON form of a request (bigints as strings) for the payouts table, and back. */
export function requestToJson(r: TransactionInput): unknown {
  return { ...r, postings: r.postings.map((p) => ({ ...p, amount: p.amount.toString() })) };
}

export function requestFromJson(j: unknown): TransactionInput {
  const r = j as TransactionInput & { postings: Array<PostingInput & { amount: string }> };
  return { ...r, postings: r.postings.map((p) => ({ ...p, amount: BigInt(p.amount) })) };
}

/** A seller available-account line's effect on the spendable balance (credit-normal): posted legs move it, a reserve (pending outflow) takes from it, a void of one gives back; pending inflows and commits of outflows do not. */
export function availableChange(l: { direction: "debit" | "credit"; phase: "posted" | "pending" | "commit" | "void"; amount: bigint }): bigint {
  const inflow = l.direction === "credit";
  switch (l.phase) {
    case "posted":
      return inflow ? l.amount : -l.amount;
    case "pending":
      return inflow ? 0n : -l.amount;
    case "commit":
      return inflow ? l.amount : 0n;
    case "void":
      return inflow ? 0n : l.amount;
  }
}
