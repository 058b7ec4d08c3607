/**
 * Realised FX of a payout converted out of an `fx:P-USD` position, pure, shared by both rails (the
 * bank's cash booking, bank/booking.ts; the vault's realisation at final, booking.ts).
 *
 * Captures debit fx:P-USD in P and credit it in USD: a long P position (the P the platform owes its
 * sellers), valued at its average booked rate -usd/p. A payout takes its P out at that value, and
 * the difference to the USD it really cost (the bank's debit, the vault's tokens at the quote) is
 * realised FX. Taken out at any other rate, the difference would stay in the position: realised
 * later on other sellers' payouts or, once the P is gone, restated as unrealised by the revaluation.
 * Taking P out at the average leaves the average of what stays unchanged.
 */
import { divideRounded, impliedRate, rateFractionToString } from "../money/index.js";
import { Accounts } from "../settlement/index.js";
import type { Legs } from "../treasury/index.js";

/** The fx:P-USD position before a payout leaves it: posted balances (debits - credits) in P and in USD. */
export interface Position {
  p: bigint;
  usd: bigint;
}

/**
 * What `amount` P is worth at the position's average booked rate (in the position's other
 * currency), or null without a long P position to value it by.
 */
export function bookedValue(amount: bigint, position: Position | null): bigint | null {
  return position !== null && position.p > 0n && position.usd < 0n ? divideRounded(amount * -position.usd, position.p, "half-even") : null;
}

export interface FxRealisation {
  /** What the P was worth in the books (`paid` without a long position to value it by). */
  booked: bigint;
  /** booked - paid: > 0 a gain (the P cost less than it was booked at), < 0 a loss. */
  realised: bigint;
  /** The evidence, for the transaction's metadata: the rate applied, the booked value, the result, the position before. */
  metadata: Record<string, string>;
}

/** `amount` P leaving the position against `paid` of the position's other currency. */
export function fxRealisation(out: { currency: string; amount: bigint; paidCurrency: string; paid: bigint }, position: Position | null): FxRealisation {
  const booked = bookedValue(out.amount, position) ?? out.paid;
  const realised = booked - out.paid;
  const metadata: Record<string, string> = {
    appliedRate: rateFractionToString(impliedRate(out.amount, out.currency, out.paid, out.paidCurrency), 10, "half-even"),
    bookedUsd: booked.toString(),
    realised: realised.toString(),
  };
  if (position !== null) {
    metadata["position.before"] = position.p.toString();
    metadata["position.beforeUsd"] = position.usd.toString();
  }
  return { booked, realised, metadata };
}

/** The result's leg: Cr `platform:fx:realised_gain_loss` a gain, Dr a loss (none for 0). */
export function realisedLeg(legs: Legs, currency: string, realised: bigint): Legs {
  return realised > 0n ? legs.credit(Accounts.fxRealised, currency, realised) : legs.debit(Accounts.fxRealised, currency, -realised);
}
