/**
 * The treasury's ledger accounts (the stablecoin is its own currency, `USDC`, in base units):
 * - `treasury:vault:USDC` (debit-normal asset): the stablecoin held by the vault. Funding debits it,
 *   a push payout or a claim credits it, so its balance follows the vault's token balance.
 * - `seller:<id>:claimable` (USDC, credit-normal liability, never negative): what the vault owes a
 *   seller whose push was deferred (blocklisted, paused token); a `Claimed` event clears it.
 * - `fx:USDC-USD` (clearing, both currencies): USD <-> stablecoin at 1:1 (1 cent = 10^4 base units).
 * - `treasury:bank` (USD, debit-normal): the platform's bank account the vault is funded from; not
 *   tracked elsewhere in the ledger, so it may go negative (by what was moved into the vault).
 * - `treasury:swept:USDC` (debit-normal asset, never negative): the stablecoin an admin swept out of
 *   the vault (`ExcessSwept`) and the platform holds, or has in transit, at the sweep's `to` address:
 *   still the platform's money, no longer in the vault, not yet in the bank.
 *
 * Payouts post to the same accounts (a payout's reserve credits the vault asset, a deferred payout
 * credits the seller's claimable), so they take the codes and specs from here.
 */
import type { AccountSpec, PostingInput } from "../ledger/types.js";
import { STABLECOIN_CURRENCY } from "./stablecoin.js";

export const TreasuryAccounts = {
  vault: (token: string = STABLECOIN_CURRENCY) => `treasury:vault:${token}`,
  bank: "treasury:bank",
  swept: (token: string = STABLECOIN_CURRENCY) => `treasury:swept:${token}`,
  claimable: (sellerId: string) => `seller:${sellerId}:claimable`,
  /** Clearing between USD and the stablecoin (the settlement's `fx:<CCY>-USD` convention). */
  stablecoinClearing: (token: string = STABLECOIN_CURRENCY) => `fx:${token}-USD`,
} as const;

/** Owner, normal side and negative policy of a treasury account; null for any other code. */
export function treasuryAccountSpec(code: string, currency: string): AccountSpec | null {
  const [head, id, tail] = code.split(":");
  if (head === "seller" && id !== undefined && tail === "claimable") {
    return { code, currency, ownerType: "seller", ownerId: id, normalBalance: "credit", allowNegative: false };
  }
  if (head === "fx") return { code, currency, ownerType: "fx_clearing", ownerId: id ?? code, normalBalance: "debit", allowNegative: true };
  if (code === TreasuryAccounts.bank) return { code, currency, ownerType: "treasury", ownerId: "bank", normalBalance: "debit", allowNegative: true };
  if (head === "treasury" && id === "swept" && tail !== undefined) {
    // Only a final sweep puts tokens here, and only an entry for where they went takes them out.
    return { code, currency, ownerType: "treasury", ownerId: "swept", normalBalance: "debit", allowNegative: false };
  }
  if (head === "treasury" && id === "vault") {
    // May go negative: the vault can be funded outside this service (the chain's solvency check is
    // the guard that matters); a negative balance is a reconciliation finding, never a lost payout.
    return { code, currency, ownerType: "treasury", ownerId: "vault", normalBalance: "debit", allowNegative: true };
  }
  return null;
}

/**
 * The postings of one booking, written leg by leg: a zero leg is left out (a sub-cent funding has
 * no USD legs), and every account posted to gets its spec from `specOf`, so the ledger creates it
 * on first use.
 */
export class Legs {
  readonly postings: PostingInput[] = [];
  constructor(private readonly specOf: (code: string, currency: string) => AccountSpec) {}

  debit(account: string, currency: string, amount: bigint): this {
    if (amount > 0n) this.postings.push({ account, currency, direction: "debit", amount });
    return this;
  }

  credit(account: string, currency: string, amount: bigint): this {
    if (amount > 0n) this.postings.push({ account, currency, direction: "credit", amount });
    return this;
  }

  specs(): AccountSpec[] {
    const seen = new Map<string, AccountSpec>();
    for (const p of this.postings) seen.set(`${p.account}\u0000${p.currency}`, this.specOf(p.account, p.currency));
    return [...seen.values()];
  }
}

/** The spec of a treasury account; throws for a code this module does not own. */
export function requireTreasuryAccountSpec(code: string, currency: string): AccountSpec {
  const spec = treasuryAccountSpec(code, currency);
  if (spec === null) throw new Error(`treasury: no account spec for ${code}`);
  return spec;
}
