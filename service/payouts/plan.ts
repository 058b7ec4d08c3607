/**
 * The planner's rules, without I/O: which sellers are due a payout, what each payout is in the
 * seller's currency, in USD cents and in stablecoin base units, which payouts the vault can cover,
 * and how they are cut into batches. planner.ts gathers the facts (destinations, balances, FX
 * conversions, the vault's free balance) and records what these functions decide.
 *
 * The rules, in the order a seller meets them (the first that applies is the reason it is skipped):
 * established where a stablecoin may not be paid (mainland China, jurisdiction.ts), whatever
 * destination is on file; no destination on the chain; an earlier payout whose ledger reserve is not booked yet; no ledger
 * account; an available balance below `minAmount`; no FX conversion (planner.ts); nothing left after
 * converting to cents. The due sellers are then taken in order while the vault's budget and the
 * run's cap allow (a payout that does not fit is skipped, a smaller one after it may still fit),
 * and cut into batches of at most `maxPerBatch`.
 */
import { packPayout, payoutsHash } from "../chain/contracts.js";
import type { Seller } from "../settlement/types.js";
import { vaultBar } from "./jurisdiction.js";
import type { PayoutDestination, PayoutFx, SkippedSeller } from "./types.js";

/** Sellers in the order the planner visits them (ids ascending), so that a run is reproducible. */
export function planningOrder(sellers: readonly Seller[]): Seller[] {
  return [...sellers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * First of all: a seller the vault may never pay (vault_not_permitted). Checked before the
 * destination, so an address stored before the API refused one (or written around it) is never
 * paid, and a seller without one is told the rail it needs rather than `no_destination`.
 */
export function skipNotPermitted(seller: Pick<Seller, "id" | "homeCountry">, destination: PayoutDestination | undefined): SkippedSeller | null {
  const bar = vaultBar(seller);
  if (bar === null) return null;
  const onFile = destination === undefined ? "" : `; its destination ${destination.address} stays on file, unused`;
  return { sellerId: seller.id, reason: "vault_not_permitted", detail: `${bar}: set its bank account${onFile}` };
}

/** Before a seller's balance is read: skipped without a destination, or with an unbooked earlier intent. */
export function skipBeforeBalance(sellerId: string, destination: PayoutDestination | undefined, unbookedSellers: ReadonlySet<string>): SkippedSeller | null {
  if (destination === undefined) return { sellerId, reason: "no_destination" };
  if (unbookedSellers.has(sellerId)) return { sellerId, reason: "unbooked_intent", detail: "an earlier payout's ledger reserve is not booked yet" };
  return null;
}

/** Once the balance is known (null: the seller has no ledger account yet): skipped below the minimum. */
export function skipForBalance(seller: Pick<Seller, "id" | "payoutCurrency">, available: bigint | null, minAmount: bigint): SkippedSeller | null {
  if (available === null) return { sellerId: seller.id, reason: "no_account" };
  if (available < minAmount) return { sellerId: seller.id, reason: "below_minimum", detail: `${available} < ${minAmount} ${seller.payoutCurrency}` };
  return null;
}

/** A seller's balance in USD cents: as it is for a USD seller, through an FX quote otherwise. */
export interface Conversion {
  usdAmount: bigint;
  fx: PayoutFx | null;
}

export interface Candidate {
  sellerId: string;
  address: string;
  /** The seller's payout currency and the amount taken from its available balance. */
  currency: string;
  amount: bigint;
  usdAmount: bigint;
  tokenAmount: bigint;
  fx: PayoutFx | null;
}

/** The payout of a due seller (the whole available balance), or why there is none. */
export function candidate(
  seller: Pick<Seller, "id" | "payoutCurrency">,
  address: string,
  available: bigint,
  conversion: Conversion,
  unitsPerCent: bigint,
): Candidate | SkippedSeller {
  if (conversion.usdAmount <= 0n) return { sellerId: seller.id, reason: "zero_after_conversion" };
  return {
    sellerId: seller.id,
    address,
    currency: seller.payoutCurrency,
    amount: available,
    usdAmount: conversion.usdAmount,
    tokenAmount: conversion.usdAmount * unitsPerCent,
    fx: conversion.fx,
  };
}

export function isCandidate(c: Candidate | SkippedSeller): c is Candidate {
  return "tokenAmount" in c;
}

/**
 * The candidates the vault can cover, in order: each is taken while its token amount fits what is
 * left of `budget` (the vault's free balance minus what is in flight) and fewer than `maxCount`
 * are taken; the others are skipped as `vault_capacity`, naming the budget left when they were met.
 */
export function fitVault<C extends Pick<Candidate, "sellerId" | "tokenAmount">>(candidates: readonly C[], budget: bigint, maxCount: number): { fitting: C[]; skipped: SkippedSeller[] } {
  const fitting: C[] = [];
  const skipped: SkippedSeller[] = [];
  let left = budget;
  for (const c of candidates) {
    if (c.tokenAmount <= left && fitting.length < maxCount) {
      fitting.push(c);
      left -= c.tokenAmount;
    } else {
      skipped.push({ sellerId: c.sellerId, reason: "vault_capacity", detail: `needs ${c.tokenAmount} base units; vault budget ${left < 0n ? 0n : left}` });
    }
  }
  return { fitting, skipped };
}

export interface BatchDraft<C> {
  payouts: C[];
  /** `payoutsHash` of the packed list (lower case), as `PayoutBatchExecuted` will carry it. */
  payoutsHash: string;
  /** Sum of the token amounts. */
  total: bigint;
}

/**
 * Consecutive chunks of at most `maxPerBatch` payouts, in order. The packing (address and amount
 * per word) does not depend on the ids the batch will get, so the hash is known before they are.
 */
export function draftBatches<C extends Pick<Candidate, "address" | "tokenAmount">>(payouts: readonly C[], maxPerBatch: number): BatchDraft<C>[] {
  if (!Number.isInteger(maxPerBatch) || maxPerBatch < 1) throw new RangeError("maxPerBatch must be a positive integer");
  const drafts: BatchDraft<C>[] = [];
  for (let i = 0; i < payouts.length; i += maxPerBatch) {
    const chunk = payouts.slice(i, i + maxPerBatch);
    const packed = chunk.map((c) => packPayout(c.address, c.tokenAmount));
    drafts.push({ payouts: chunk, payoutsHash: payoutsHash(packed).toLowerCase(), total: chunk.reduce((t, c) => t + c.tokenAmount, 0n) });
  }
  return drafts;
}
