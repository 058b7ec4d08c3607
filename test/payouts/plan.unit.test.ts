/**
 * The planner's rules without a database or a chain (service/payouts/plan.ts): the order in which a
 * seller is skipped, the amounts of a payout, what fits in the vault, and how batches are cut,
 * with a property test that the vault is never over-committed and no payout is lost or doubled.
 */
import fc from "fast-check";
import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { packPayout, payoutsHash } from "../../service/chain/contracts.js";
import { mayTakeStablecoin, vaultBar } from "../../service/payouts/jurisdiction.js";
import { candidate, draftBatches, fitVault, isCandidate, planningOrder, skipBeforeBalance, skipForBalance, skipNotPermitted, type Candidate } from "../../service/payouts/plan.js";
import type { PayoutDestination } from "../../service/payouts/types.js";
import type { Seller } from "../../service/settlement/types.js";
import { unitsPerCent } from "../../service/treasury/index.js";

const USD_SELLER: Seller = { id: "S-USD", name: "USD seller", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "HK" };
const CNY_SELLER: Seller = { id: "S-CNY", name: "CNY seller", program: "pop", payoutCurrency: "CNY", homeCountry: "HK" };
/** Established in mainland China: the bank rail pays it, the vault never does. */
const MAINLAND_SELLER: Seller = { id: "S-CN", name: "Mainland seller", program: "pop", payoutCurrency: "CNY", homeCountry: "CN" };
const ADDRESSES = Array.from({ length: 8 }, (_, i) => new Wallet(`0x${(i + 1).toString(16).padStart(64, "0")}`).address);
const PER_CENT = unitsPerCent(6);

function destination(sellerId: string, address = ADDRESSES[0]!): PayoutDestination {
  return { sellerId, chainId: 31337n, address, setAt: new Date(0), setBy: "test" };
}

function payout(sellerId: string, tokenAmount: bigint, address = ADDRESSES[0]!): Candidate {
  return { sellerId, address, currency: "USD", amount: tokenAmount / PER_CENT, usdAmount: tokenAmount / PER_CENT, tokenAmount, fx: null };
}

describe("which sellers are due", () => {
  it("visits sellers by id, whatever order the directory gives", () => {
    const ids = ["S-b", "S-a", "S-c", "S-A"];
    expect(planningOrder(ids.map((id) => ({ ...USD_SELLER, id }))).map((s) => s.id)).toEqual(["S-A", "S-a", "S-b", "S-c"]);
  });

  it("skips a seller established in mainland China first, with or without a destination on file", () => {
    const stored = skipNotPermitted(MAINLAND_SELLER, destination("S-CN", ADDRESSES[3]));
    expect(stored).toMatchObject({ sellerId: "S-CN", reason: "vault_not_permitted" });
    expect(stored!.detail).toContain("homeCountry CN");
    expect(stored!.detail).toContain("bank account");
    expect(stored!.detail).toContain(`destination ${ADDRESSES[3]} stays on file, unused`);
    expect(skipNotPermitted(MAINLAND_SELLER, undefined)).toMatchObject({ sellerId: "S-CN", reason: "vault_not_permitted" });
    // Hong Kong, Macao and Taiwan are jurisdictions of their own: the vault may pay them.
    for (const homeCountry of ["HK", "MO", "TW", "US", "DE"]) expect(skipNotPermitted({ ...USD_SELLER, homeCountry }, destination("S-USD"))).toBeNull();
  });

  it("never pays a seller whose establishment is not an ISO 3166 code (none can be stored: it is required)", () => {
    for (const homeCountry of ["", "cn", "CHN", " CN"]) {
      expect(mayTakeStablecoin({ homeCountry }), homeCountry).toBe(false);
      expect(vaultBar({ homeCountry })).toContain("unknown");
    }
    expect(mayTakeStablecoin({ homeCountry: "HK" })).toBe(true);
    expect(mayTakeStablecoin({ homeCountry: "CN" })).toBe(false);
  });

  it("skips a seller without a destination before one with an unbooked earlier intent", () => {
    const unbooked = new Set(["S-USD"]);
    expect(skipBeforeBalance("S-USD", undefined, unbooked)).toEqual({ sellerId: "S-USD", reason: "no_destination" });
    expect(skipBeforeBalance("S-USD", destination("S-USD"), unbooked)).toMatchObject({ sellerId: "S-USD", reason: "unbooked_intent" });
    expect(skipBeforeBalance("S-USD", destination("S-USD"), new Set(["S-other"]))).toBeNull();
  });

  it("skips a seller without a ledger account, or below the minimum (which itself is due)", () => {
    expect(skipForBalance(USD_SELLER, null, 100n)).toEqual({ sellerId: "S-USD", reason: "no_account" });
    expect(skipForBalance(USD_SELLER, 99n, 100n)).toEqual({ sellerId: "S-USD", reason: "below_minimum", detail: "99 < 100 USD" });
    expect(skipForBalance(CNY_SELLER, -5n, 100n)).toEqual({ sellerId: "S-CNY", reason: "below_minimum", detail: "-5 < 100 CNY" });
    expect(skipForBalance(USD_SELLER, 100n, 100n)).toBeNull();
  });
});

describe("a due seller's payout", () => {
  it("takes the whole available balance; cents become base units of the stablecoin", () => {
    const c = candidate(USD_SELLER, ADDRESSES[1]!, 12_345n, { usdAmount: 12_345n, fx: null }, PER_CENT);
    expect(c).toEqual({ sellerId: "S-USD", address: ADDRESSES[1], currency: "USD", amount: 12_345n, usdAmount: 12_345n, tokenAmount: 123_450_000n, fx: null });
  });

  it("keeps the FX evidence of a converted balance", () => {
    const fx = { quoteId: "fxq_1", rate: "0.138226", rounding: "down", evidence: { path: "CNY->USD" } };
    const c = candidate(CNY_SELLER, ADDRESSES[2]!, 100_000n, { usdAmount: 13_822n, fx }, PER_CENT);
    expect(isCandidate(c)).toBe(true);
    expect(c).toMatchObject({ currency: "CNY", amount: 100_000n, usdAmount: 13_822n, tokenAmount: 138_220_000n, fx });
  });

  it("skips a balance that converts to no cent at all", () => {
    const c = candidate(CNY_SELLER, ADDRESSES[2]!, 100n, { usdAmount: 0n, fx: null }, PER_CENT);
    expect(isCandidate(c)).toBe(false);
    expect(c).toEqual({ sellerId: "S-CNY", reason: "zero_after_conversion" });
  });
});

describe("what fits in the vault", () => {
  it("takes payouts in order while the budget lasts; a later, smaller one may still fit", () => {
    const { fitting, skipped } = fitVault([payout("a", 60n), payout("b", 50n), payout("c", 40n)], 100n, 10);
    expect(fitting.map((c) => c.sellerId)).toEqual(["a", "c"]);
    expect(skipped).toEqual([{ sellerId: "b", reason: "vault_capacity", detail: "needs 50 base units; vault budget 40" }]);
  });

  it("fits a payout equal to the budget, and names a negative budget as 0", () => {
    expect(fitVault([payout("a", 100n)], 100n, 10).fitting).toHaveLength(1);
    expect(fitVault([payout("a", 1n)], -7n, 10).skipped).toEqual([{ sellerId: "a", reason: "vault_capacity", detail: "needs 1 base units; vault budget 0" }]);
  });

  it("takes no more than the run's cap, however large the budget", () => {
    const { fitting, skipped } = fitVault([payout("a", 1n), payout("b", 1n), payout("c", 1n)], 1_000n, 2);
    expect(fitting.map((c) => c.sellerId)).toEqual(["a", "b"]);
    expect(skipped.map((s) => [s.sellerId, s.reason])).toEqual([["c", "vault_capacity"]]);
  });
});

describe("batches", () => {
  it("cuts consecutive chunks of at most maxPerBatch, each with the hash the vault will emit and its total", () => {
    const payouts = ADDRESSES.slice(0, 5).map((a, i) => payout(`s${i}`, BigInt(i + 1) * 1_000n, a));
    const drafts = draftBatches(payouts, 2);
    expect(drafts.map((d) => d.payouts.map((p) => p.sellerId))).toEqual([["s0", "s1"], ["s2", "s3"], ["s4"]]);
    expect(drafts.map((d) => d.total)).toEqual([3_000n, 7_000n, 5_000n]);
    for (const d of drafts) {
      expect(d.payoutsHash).toBe(payoutsHash(d.payouts.map((p) => packPayout(p.address, p.tokenAmount))).toLowerCase());
    }
    expect(draftBatches([], 2)).toEqual([]);
  });

  it("refuses a batch size that is not a positive integer", () => {
    expect(() => draftBatches([payout("a", 1n)], 0)).toThrow(RangeError);
    expect(() => draftBatches([payout("a", 1n)], 1.5)).toThrow(RangeError);
  });

  it("never commits more than the vault's budget, and plans each fitting payout exactly once, in order", () => {
    let split = 0;
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: 1_000n }), { maxLength: 40 }),
        fc.bigInt({ min: -100n, max: 20_000n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 6 }),
        (amounts, budget, maxPerBatch, maxBatches) => {
          const candidates = amounts.map((a, i) => payout(`s${String(i).padStart(2, "0")}`, a, ADDRESSES[i % ADDRESSES.length]));
          const { fitting, skipped } = fitVault(candidates, budget, maxPerBatch * maxBatches);
          const drafts = draftBatches(fitting, maxPerBatch);
          const planned = drafts.flatMap((d) => d.payouts);
          // Every candidate is either planned or skipped for capacity, never both, in the original order.
          expect(planned).toEqual(fitting);
          expect([...fitting, ...skipped].map((x) => x.sellerId).sort()).toEqual(candidates.map((c) => c.sellerId));
          expect(fitting.map((c) => c.sellerId)).toEqual(candidates.filter((c) => fitting.includes(c)).map((c) => c.sellerId));
          const total = drafts.reduce((t, d) => t + d.total, 0n);
          expect(total).toBe(fitting.reduce((t, c) => t + c.tokenAmount, 0n));
          expect(total <= (budget < 0n ? 0n : budget)).toBe(true);
          expect(planned.length).toBeLessThanOrEqual(maxPerBatch * maxBatches);
          expect(drafts.every((d) => d.payouts.length >= 1 && d.payouts.length <= maxPerBatch)).toBe(true);
          if (drafts.length > 1) split++;
        },
      ),
    );
    expect(split).toBeGreaterThan(0); // the runs really cut several batches
  });
});
