/**
 * The journal side of payouts, as pure functions: account codes, the pending reserve booked at
 * planning time, and the bookings of a deferred payout, a claim and a vault funding.
 *
 * Accounts (the stablecoin is its own ledger currency, `USDC`, in base units of 6 decimals):
 * - `seller:<id>:available` (CNY or USD; settlement's account): debited by the payout.
 * - `fx:<CCY>-USD` (settlement's clearing accounts, in both currencies): CNY -> USD at the quote,
 *   and `fx:USDC-USD`: USD -> USDC at 1:1 (1 cent = 10^4 base units).
 * - `treasury:vault:USDC` (debit-normal asset): the stablecoin held by the vault. Funding debits it,
 *   a push payout or a claim credits it, so its balance follows the vault's token balance.
 * - `seller:<id>:claimable` (USDC, credit-normal liability, never negative): what the vault owes a
 *   seller whose push was deferred (blocklisted, paused token); a `Claimed` event clears it.
 * - `treasury:bank` (USD, debit-normal): the platform's bank account the vault is funded from; not
 *   tracked elsewhere in the ledger, so it may go negative (by what was moved into the vault).
 *
 * Every transaction balances per currency: a CNY payout nets to zero in CNY (seller -> fx:CNY-USD),
 * in USD (fx:CNY-USD -> fx:USDC-USD) and in USDC (fx:USDC-USD -> vault).
 */
import type { AccountSpec, PostingInput, TransactionInput } from "../ledger/types.js";

/** The ledger currency code of the vault's stablecoin (USD-pegged, 6 decimals). */
export const STABLECOIN_CURRENCY = "USDC";
/** USD has 2 decimals: one cent is 10^(decimals - 2) base units of the stablecoin. */
export const USD_EXPONENT = 2;

export const PayoutAccounts = {
  available: (sellerId: string) => `seller:${sellerId}:available`,
  claimable: (sellerId: string) => `seller:${sellerId}:claimable`,
  fxClearing: (currency: string) => `fx:${currency}-USD`,
  vault: (token: string = STABLECOIN_CURRENCY) => `treasury:vault:${token}`,
  bank: "treasury:bank",
} as const;

/** Owner, normal side and negative policy of every account this module posts to. */
export function payoutAccountSpec(code: string, currency: string): AccountSpec {
  const [head, id, tail] = code.split(":");
  if (head === "seller" && id !== undefined) {
    // available: settlement's policy (may go negative: refunds after a payout); claimable: never.
    return { code, currency, ownerType: "seller", ownerId: id, normalBalance: "credit", allowNegative: tail === "available" };
  }
  if (head === "fx") return { code, currency, ownerType: "fx_clearing", ownerId: id ?? code, normalBalance: "debit", allowNegative: true };
  if (code === PayoutAccounts.bank) return { code, currency, ownerType: "treasury", ownerId: "bank", normalBalance: "debit", allowNegative: true };
  if (head === "treasury" && id === "vault") {
    // May go negative: the vault can be funded outside this service (the chain's solvency check is
    // the guard that matters); a negative balance is a reconciliation finding, never a lost payout.
    return { code, currency, ownerType: "treasury", ownerId: "vault", normalBalance: "debit", allowNegative: true };
  }
  throw new Error(`payouts: no account spec for ${code}`);
}

/** Stablecoin base units per USD cent. */
export function unitsPerCent(tokenDecimals: number): bigint {
  if (!Number.isInteger(tokenDecimals) || tokenDecimals < USD_EXPONENT || tokenDecimals > 36) {
    throw new RangeError(`stablecoin decimals ${tokenDecimals} outside ${USD_EXPONENT}..36`);
  }
  return 10n ** BigInt(tokenDecimals - USD_EXPONENT);
}

class Legs {
  readonly postings: PostingInput[] = [];
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
    for (const p of this.postings) seen.set(`${p.account}\u0000${p.currency}`, payoutAccountSpec(p.account, p.currency));
    return [...seen.values()];
  }
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
  void: (payoutId: bigint) => `payout:${payoutId}:void`,
  vaultEvent: (chainId: bigint, txHash: string, logIndex: number, kind: string) => `vault:${chainId}:${txHash}:${logIndex}:${kind}`,
} as const;

/**
 * The PENDING transaction booked when a payout is planned: reserves the seller's available balance
 * (a pending debit counts against `available` at once) and the vault's stablecoin. Committed only
 * when the vault's events are final; voided if an operator cancels the batch. No timeout: a payout
 * in flight must never have its reserve released by a clock.
 */
export function pendingPayoutRequest(p: PayoutBookingInput): TransactionInput {
  const legs = new Legs();
  const T = p.tokenCurrency;
  legs.debit(PayoutAccounts.available(p.sellerId), p.currency, p.amount);
  if (p.currency !== "USD") {
    legs.credit(PayoutAccounts.fxClearing(p.currency), p.currency, p.amount);
    legs.debit(PayoutAccounts.fxClearing(p.currency), "USD", p.usdAmount);
  }
  legs.credit(PayoutAccounts.fxClearing(T), "USD", p.usdAmount);
  legs.debit(PayoutAccounts.fxClearing(T), T, p.tokenAmount);
  legs.credit(PayoutAccounts.vault(T), T, p.tokenAmount);
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
 * the vault, now owed to the seller. This puts them back on the vault asset and books the debt.
 */
export function claimableRequest(p: { payoutId: bigint; sellerId: string; tokenAmount: bigint; tokenCurrency: string; txHash: string; chainId: bigint }): TransactionInput {
  const legs = new Legs()
    .debit(PayoutAccounts.vault(p.tokenCurrency), p.tokenCurrency, p.tokenAmount)
    .credit(PayoutAccounts.claimable(p.sellerId), p.tokenCurrency, p.tokenAmount);
  return {
    idempotencyKey: ledgerKeys.claimable(p.payoutId),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "payout_deferred", payoutId: p.payoutId.toString(), sellerId: p.sellerId, chainId: p.chainId.toString(), txHash: p.txHash },
    description: `payout ${p.payoutId} deferred by the vault: claimable by seller ${p.sellerId}`,
  };
}

/** A seller collected deferred payouts (`Claimed`): the debt is paid from the vault's tokens. */
export function claimRequest(c: { chainId: bigint; txHash: string; logIndex: number; sellerId: string; amount: bigint; tokenCurrency: string; to: string }): TransactionInput {
  const legs = new Legs()
    .debit(PayoutAccounts.claimable(c.sellerId), c.tokenCurrency, c.amount)
    .credit(PayoutAccounts.vault(c.tokenCurrency), c.tokenCurrency, c.amount);
  return {
    idempotencyKey: ledgerKeys.vaultEvent(c.chainId, c.txHash, c.logIndex, "claimed"),
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
  const legs = new Legs()
    .debit(PayoutAccounts.vault(T), T, f.amount)
    .credit(PayoutAccounts.fxClearing(T), T, f.amount)
    .debit(PayoutAccounts.fxClearing(T), "USD", cents)
    .credit(PayoutAccounts.bank, "USD", cents);
  return {
    idempotencyKey: ledgerKeys.vaultEvent(f.chainId, f.txHash, f.logIndex, "funded"),
    postings: legs.postings,
    accounts: legs.specs(),
    metadata: { kind: "vault_funded", chainId: f.chainId.toString(), txHash: f.txHash, logIndex: String(f.logIndex), from: f.from },
    description: `vault funded with ${f.amount} ${T} base units`,
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
