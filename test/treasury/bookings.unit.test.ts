/**
 * The treasury's pure parts (service/treasury): the bookings of the vault's funding, of a
 * seller's claim and of an admin's sweep balance per currency and are keyed by their event, the treasury's accounts get
 * their specs, and the stablecoin's decimals are read once and checked.
 */
import { describe, expect, it } from "vitest";
import type { TransactionInput } from "../../service/ledger/types.js";
import { claimRequest, decimalsReader, fundingRequest, Legs, STABLECOIN_CURRENCY, sweepRequest, TreasuryAccounts, treasuryAccountSpec, unitsPerCent, vaultEventKey } from "../../service/treasury/index.js";

const TX = `0x${"ab".repeat(32)}`;

function legs(r: TransactionInput): string[] {
  return r.postings.map((p) => `${p.direction} ${p.account} ${p.currency} ${p.amount}`);
}

function expectBalanced(r: TransactionInput): void {
  const net = new Map<string, bigint>();
  for (const p of r.postings) net.set(p.currency, (net.get(p.currency) ?? 0n) + (p.direction === "debit" ? p.amount : -p.amount));
  for (const [currency, n] of net) expect(n, currency).toBe(0n);
  // One spec per account and currency posted to, so the ledger can open each on first use.
  expect(r.accounts?.map((a) => `${a.code}/${a.currency}`).sort()).toEqual([...new Set(r.postings.map((p) => `${p.account}/${p.currency}`))].sort());
}

describe("a funding of the vault (Funded)", () => {
  it("moves USD from the bank to the vault's stablecoin at 1:1, keyed by the event", () => {
    const r = fundingRequest({ chainId: 31337n, txHash: TX, logIndex: 4, from: "0xF00", amount: 10_000_000_000n, tokenCurrency: STABLECOIN_CURRENCY, tokenDecimals: 6 });
    expect(r.idempotencyKey).toBe(`vault:31337:${TX}:4:funded`);
    expect(legs(r)).toEqual([
      "debit treasury:vault:USDC USDC 10000000000",
      "credit fx:USDC-USD USDC 10000000000",
      "debit fx:USDC-USD USD 1000000",
      "credit treasury:bank USD 1000000",
    ]);
    expect(r.metadata).toEqual({ kind: "vault_funded", chainId: "31337", txHash: TX, logIndex: "4", from: "0xF00" });
    expectBalanced(r);
  });

  it("rounds cents down: the sub-cent dust stays in fx:USDC-USD, and a sub-cent funding has no USD legs", () => {
    const r = fundingRequest({ chainId: 1n, txHash: TX, logIndex: 0, from: "0xF00", amount: 1_234_567n, tokenCurrency: STABLECOIN_CURRENCY, tokenDecimals: 6 });
    expect(legs(r).slice(2)).toEqual(["debit fx:USDC-USD USD 123", "credit treasury:bank USD 123"]);
    expectBalanced(r);
    const dust = fundingRequest({ chainId: 1n, txHash: TX, logIndex: 1, from: "0xF00", amount: 9_999n, tokenCurrency: STABLECOIN_CURRENCY, tokenDecimals: 6 });
    expect(legs(dust)).toEqual(["debit treasury:vault:USDC USDC 9999", "credit fx:USDC-USD USDC 9999"]);
  });
});

describe("a claim of deferred payouts (Claimed)", () => {
  it("clears the seller's claimable debt against the vault's tokens, keyed by the event", () => {
    const r = claimRequest({ chainId: 31337n, txHash: TX, logIndex: 2, sellerId: "S-1", amount: 50_000_000n, tokenCurrency: STABLECOIN_CURRENCY, to: "0xB0B" });
    expect(r.idempotencyKey).toBe(vaultEventKey(31337n, TX, 2, "claimed"));
    expect(legs(r)).toEqual(["debit seller:S-1:claimable USDC 50000000", "credit treasury:vault:USDC USDC 50000000"]);
    expect(r.metadata).toMatchObject({ kind: "payout_claimed", sellerId: "S-1", to: "0xB0B", logIndex: "2" });
    expectBalanced(r);
  });
});

describe("a sweep of the vault's surplus (ExcessSwept)", () => {
  it("moves the tokens from the vault asset to the swept stablecoin outside it, keyed by the event", () => {
    const r = sweepRequest({ chainId: 31337n, txHash: TX, logIndex: 1, to: "0xC0FFEE", amount: 2_500_000_000n, tokenCurrency: STABLECOIN_CURRENCY });
    expect(r.idempotencyKey).toBe(vaultEventKey(31337n, TX, 1, "swept"));
    expect(legs(r)).toEqual(["debit treasury:swept:USDC USDC 2500000000", "credit treasury:vault:USDC USDC 2500000000"]);
    expect(r.metadata).toEqual({ kind: "vault_swept", chainId: "31337", txHash: TX, logIndex: "1", to: "0xC0FFEE" });
    expectBalanced(r);
  });
});

describe("the treasury's accounts", () => {
  it("are a debit-normal vault asset and bank, a never-negative claimable liability, and fx clearing", () => {
    expect(treasuryAccountSpec(TreasuryAccounts.vault(), "USDC")).toEqual({ code: "treasury:vault:USDC", currency: "USDC", ownerType: "treasury", ownerId: "vault", normalBalance: "debit", allowNegative: true });
    expect(treasuryAccountSpec(TreasuryAccounts.bank, "USD")).toMatchObject({ ownerType: "treasury", ownerId: "bank", normalBalance: "debit", allowNegative: true });
    expect(treasuryAccountSpec(TreasuryAccounts.claimable("S-1"), "USDC")).toMatchObject({ ownerType: "seller", ownerId: "S-1", normalBalance: "credit", allowNegative: false });
    expect(treasuryAccountSpec(TreasuryAccounts.stablecoinClearing(), "USD")).toMatchObject({ code: "fx:USDC-USD", ownerType: "fx_clearing", normalBalance: "debit" });
    expect(treasuryAccountSpec(TreasuryAccounts.swept(), "USDC")).toEqual({ code: "treasury:swept:USDC", currency: "USDC", ownerType: "treasury", ownerId: "swept", normalBalance: "debit", allowNegative: false });
    expect(treasuryAccountSpec("seller:S-1:available", "USD")).toBeNull();
    expect(treasuryAccountSpec("platform:revenue:commission", "USD")).toBeNull();
  });

  it("are written leg by leg, leaving zero legs out, one spec per account and currency", () => {
    const l = new Legs((code, currency) => ({ code, currency, ownerType: "treasury", ownerId: code, normalBalance: "debit", allowNegative: true }))
      .debit("a", "USD", 5n)
      .credit("b", "USD", 0n)
      .credit("a", "USD", 5n)
      .debit("a", "EUR", 1n);
    expect(l.postings.map((p) => `${p.direction} ${p.account} ${p.amount}`)).toEqual(["debit a 5", "credit a 5", "debit a 1"]);
    expect(l.specs().map((s) => `${s.code}/${s.currency}`)).toEqual(["a/USD", "a/EUR"]);
  });
});

describe("the stablecoin's decimals", () => {
  it("make one cent 10^(decimals - 2) base units, and refuse fewer than 2 decimals", () => {
    expect(unitsPerCent(6)).toBe(10_000n);
    expect(unitsPerCent(2)).toBe(1n);
    expect(() => unitsPerCent(1)).toThrow(RangeError);
    expect(() => unitsPerCent(37)).toThrow(RangeError);
  });

  it("are read once; a failed read is asked again, a token with too few decimals is refused", async () => {
    let calls = 0;
    const answers: Array<() => Promise<bigint>> = [() => Promise.reject(new Error("rpc down")), () => Promise.resolve(6n)];
    const read = decimalsReader(() => answers[calls++]!());
    await expect(read()).rejects.toThrow("rpc down");
    expect(await read()).toBe(6);
    expect(await read()).toBe(6);
    expect(calls).toBe(2);
    await expect(decimalsReader(() => Promise.resolve(1n))()).rejects.toThrow(RangeError);
  });
});
