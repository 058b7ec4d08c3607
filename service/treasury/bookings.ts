/**
 * The journal side of the vault's own events, as pure functions: a funding (`Funded`), a seller's
 * claim of deferred payouts (`Claimed`) and an admin's sweep of the surplus (`ExcessSwept`). Each transaction balances per currency, and its
 * idempotency key names the event (`vault:<chainId>:<txHash>:<logIndex>:<kind>`), so booking an
 * event twice returns the first booking.
 */
import type { TransactionInput } from "../ledger/types.js";
import { Legs, requireTreasuryAccountSpec, TreasuryAccounts } from "./accounts.js";
import { unitsPerCent } from "./stablecoin.js";

export type VaultEventKind = "funded" | "claimed" | "swept";

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

/**
 * An admin swept the vault's surplus (`ExcessSwept`): the tokens leave the vault asset for
 * `treasury:swept:USDC`, the platform's stablecoin outside the vault. Not into `treasury:bank`: the
 * tokens are at `to` (a treasury wallet, an off-ramp), not USD in the bank until someone redeems them.
 */
export function sweepRequest(s: { chainId: bigint; txHash: string; logIndex: number; to: string; amount: bigint; tokenCurrency: string }): TransactionInput {
  const T = s.tokenCurrency;
  const legs = new Legs(requireTreasuryAccountSpec).debit(TreasuryAccounts.swept(T), T, s.amount).credit(TreasuryAccounts.vault(T), T, s.amount);
  return {
    idempotencyKey: vaultEventKey(s.chainId, s.txHash, s.logIndex, "swept"),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "vault_swept", chainId: s.chainId.toString(), txHash: s.txHash, logIndex: String(s.logIndex), to: s.to },
    description: `vault surplus of ${s.amount} ${T} base units swept to ${s.to}`,
  };
}
