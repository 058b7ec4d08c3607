/**
 * The journal side of the vault's own events, as pure functions: a funding (`Funded`) and a
 * seller's claim of deferred payouts (`Claimed`). Each transaction balances per currency, and its
 * idempotency key names the event (`vault:<chainId>:<txHash>:<logIndex>:<kind>`), so booking an
 * event twice returns the first booking.
 */
import type { TransactionInput } from "../ledger/types.js";
import { Legs, requireTreasuryAccountSpec, TreasuryAccounts } from "./accounts.js";
import { unitsPerCent } from "./stablecoin.js";

export type VaultEventKind = "funded" | "claimed";

/** Idempotency key of the booking of one vault event. */
export function vaultEventKey(chainId: bigint, txHash: string, logIndex: number, kind: VaultEventKind): string {
  return `vault:${chainId}:${txHash}:${logIndex}:${kind}`;
}

/** A seller collected deferred payouts (`Claimed`): the debt is paid from the vault's tokens. */
export function claimRequest(c: { chainId: bigint; txHash: string; logIndex: number; sellerId: string; amount: bigint; tokenCurrency: string; to: string }): TransactionInput {
  const legs = new Legs(requireTreasuryAccountSpec)
    .debit(TreasuryAccounts.claimable(c.sellerId), c.tokenCurrency, c.amount)
    .credit(TreasuryAccounts.vault(c.tokenCurrency), c.tokenCurrency, c.amount);
  return {
    idempotencyKey: vaultEventKey(c.chainId, c.txHash, c.logIndex, "claimed"),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "payout_claimed", sellerId: c.sellerId, chainId: c.chainId.toString(), txHash: c.txHash, logIndex: String(c.logIndex), to: c.to },
    description: `seller ${c.sellerId} claimed deferred payouts`,
  };
}

/**
 * The vault was funded (`Funded`): stablecoin bought from the bank at 1:1 (cents rounded down;
 * a sub-cent remainder stays in `fx:USDC-USD`, which is where a 1:1 conversion's dust belongs).
 */
export function fundingRequest(f: { chainId: bigint; txHash: string; logIndex: number; from: string; amount: bigint; tokenCurrency: string; tokenDecimals: number }): TransactionInput {
  const T = f.tokenCurrency;
  const cents = f.amount / unitsPerCent(f.tokenDecimals);
  const legs = new Legs(requireTreasuryAccountSpec)
    .debit(TreasuryAccounts.vault(T), T, f.amount)
    .credit(TreasuryAccounts.stablecoinClearing(T), T, f.amount)
    .debit(TreasuryAccounts.stablecoinClearing(T), "USD", cents)
    .credit(TreasuryAccounts.bank, "USD", cents);
  return {
    idempotencyKey: vaultEventKey(f.chainId, f.txHash, f.logIndex, "funded"),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "vault_funded", chainId: f.chainId.toString(), txHash: f.txHash, logIndex: String(f.logIndex), from: f.from },
    description: `vault funded with ${f.amount} ${T} base units`,
  };
}
