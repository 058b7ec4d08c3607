/**
 * Realised FX of a payout converted out of an `fx:P-USD` position, pure, shared by both rails (the
 * bank's cash booking, bank/booking.ts; the vault's realisation at final, booking.ts).
 *
 * Captures debit fx:P-USD in P and credit it in USD: a long P position (the P the platform owes its
 * sellers), valued at its average booked rate -usd/p. A payout takes its P out at that value. On the
 * bank rail, what the P is worth at the published mid rate at the booking instant less that is the
 * realised exchange difference, and the bank's debit against the mid value its conversion spread,
 * a cost (platform:expense:fx_conversion), no exchange difference; without a mid rate, and on the
 * vault (its own quote, fixed at planning), the whole difference to the USD it really cost is
 * realised FX. Taken out at any other rate, the difference would stay in the position: realised
 * later on other sellers' payouts or, once the P is gone, restated as unrealised by the revaluation.
 * Taking P out at the average leaves the average of what stays unchanged.
 */
import { convertMinor, divideRounded, impliedRate, rateFractionToString } from "../money/index.js";
import { Accounts } from "../settlement/index.js";
import type { Legs } from "../treasury/index.js";

/** The fx:P-USD position before a payout leaves it: posted balances (debits - credits) in P and in USD. */
export interface Position {
  p: bigint;
  usd: bigint;
}

/** The published P->(paid currency) mid rate at the conversion's instant, or why there is none. */
export type MidRate = { rate: string; source: string; asOf: string } | { missing: string };

/**
 * What `amount` P is worth at the position's average booked rate (in the position's other
 * currency), or null without a long P position to value it by.
 */
export function bookedValue(amount: bigint, position: Position | null): bigint | null {
  return position !== null && position.p > 0n && position.usd < 0n ? divideRounded(amount * -position.usd, position.p, "half-even") : null;
}

export interface FxRealisation {
  /** What the P leaves the position at: its booked value (without a long position, its mid value; without a mid rate either, `paid`). */
  booked: bigint;
  /** The realised exchange difference: booked less the P's mid value (booked - paid without a mid rate); > 0 a gain, < 0 a loss. */
  realised: bigint;
  /** The bank's conversion spread: the P's mid value less `paid` (0 without a mid rate); < 0 a cost (platform:expense:fx_conversion). */
  conversion: bigint;
  /** The evidence, for the transaction's metadata: the rate applied, the booked value, the result, the position before, the mid rate (or why none). */
  metadata: Record<string, string>;
}

/**
 * `amount` P leaving the position against `paid` of the position's other currency. With `mid`, the
 * exchange difference (booked value against the mid value at the instant, IAS 21.52(a)) and the
 * converter's spread (mid value against what it debited, a conversion cost) are kept apart; without
 * one (none published for the instant, or the vault's own quote, which `mid` is not given for) the
 * whole difference to `paid` is realised, as before the split, and `mid.missing` says why.
 */
export function fxRealisation(out: { currency: string; amount: bigint; paidCurrency: string; paid: bigint }, position: Position | null, mid?: MidRate): FxRealisation {
  const atMid = mid !== undefined && "rate" in mid ? convertMinor(out.amount, out.currency, out.paidCurrency, mid.rate, "half-even") : null;
  const booked = bookedValue(out.amount, position) ?? atMid ?? out.paid;
  const realised = booked - (atMid ?? out.paid);
  const conversion = atMid === null ? 0n : atMid - out.paid;
  const metadata: Record<string, string> = {
    appliedRate: rateFractionToString(impliedRate(out.amount, out.currency, out.paid, out.paidCurrency), 10, "half-even"),
    bookedUsd: booked.toString(),
    realised: realised.toString(),
  };
  if (position !== null) {
    metadata["position.before"] = position.p.toString();
    metadata["position.beforeUsd"] = position.usd.toString();
  }
  if (mid !== undefined && "rate" in mid && atMid !== null) Object.assign(metadata, { midRate: mid.rate, midSource: mid.source, midAsOf: mid.asOf, midUsd: atMid.toString(), conversion: conversion.toString() });
  else if (mid !== undefined && "missing" in mid) metadata["midMissing"] = mid.missing.slice(0, 300);
  return { booked, realised, conversion, metadata };
}

/** The result's leg: Cr `platform:fx:realised_gain_loss` a gain, Dr a loss (none for 0). */
export function realisedLeg(legs: Legs, currency: string, realised: bigint): Legs {
  return realised > 0n ? legs.credit(Accounts.fxRealised, currency, realised) : legs.debit(Accounts.fxRealised, currency, -realised);
}

/** The spread's leg: Dr `platform:expense:fx_conversion` a cost (conversion < 0), Cr a gain (none for 0). */
export function conversionLeg(legs: Legs, currency: string, conversion: bigint): Legs {
  return conversion < 0n ? legs.debit(Accounts.fxConversion, currency, -conversion) : legs.credit(Accounts.fxConversion, currency, conversion);
}
