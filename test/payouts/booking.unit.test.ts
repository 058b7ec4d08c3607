/**
 * The vault payout's realised FX, pure: the position before the commit read back from the commit's
 * own postings (so a retry derives the same request), and the realisation the bank rail books the
 * same way (realised-fx.ts).
 */
import { describe, expect, it } from "vitest";
import type { Posting } from "../../service/ledger/types.js";
import { fxRealisationRequest, ledgerKeys, positionBeforeCommit } from "../../service/payouts/booking.js";
import { cashRequest, partialRequest } from "../../service/payouts/bank/booking.js";

const leg = (account: string, currency: string, direction: "debit" | "credit", amount: bigint, balanceAfter: bigint): Posting => ({ id: "1", account, currency, direction, amount, balanceAfter, phase: "commit" });
const payout = { payoutId: 7n, batchId: 3n, sellerId: "S-1", currency: "CNY", amount: 76_580n, usdAmount: 10_492n, fxQuoteId: "fxq_1" };

describe("vault payout realised FX", () => {
  it("reads the position before the commit from the commit's clearing legs", () => {
    const commit = {
      postings: [
        leg("seller:S-1:available", "CNY", "debit", 76_580n, 0n),
        leg("fx:CNY-USD", "CNY", "credit", 76_580n, 716_494n),
        leg("fx:CNY-USD", "USD", "debit", 10_492n, -98_605n),
        leg("fx:USDC-USD", "USD", "credit", 10_492n, -10_492n),
      ],
    };
    expect(positionBeforeCommit(commit, "CNY")).toEqual({ p: 793_074n, usd: -109_097n });
    expect(positionBeforeCommit(commit, "USD")).toBeNull();
  });

  it("moves the position's USD to the average booked value against platform:fx:realised_gain_loss", () => {
    const r = fxRealisationRequest(payout, { p: 793_074n, usd: -109_097n })!;
    expect(r.idempotencyKey).toBe(ledgerKeys.fx(7n));
    expect(r.postings).toEqual([
      { account: "fx:CNY-USD", currency: "USD", direction: "debit", amount: 43n },
      { account: "platform:fx:realised_gain_loss", currency: "USD", direction: "credit", amount: 43n },
    ]);
    expect(r.metadata).toMatchObject({ kind: "payout_fx_realised", bookedUsd: "10535", realised: "43", "position.before": "793074", "position.beforeUsd": "-109097" });
    expect(r.accounts?.find((a) => a.code === "platform:fx:realised_gain_loss")).toMatchObject({ ownerType: "platform", normalBalance: "credit", allowNegative: true });
    // A loss the other way round.
    expect(fxRealisationRequest({ ...payout, usdAmount: 10_600n }, { p: 793_074n, usd: -109_097n })!.postings).toEqual([
      { account: "fx:CNY-USD", currency: "USD", direction: "credit", amount: 65n },
      { account: "platform:fx:realised_gain_loss", currency: "USD", direction: "debit", amount: 65n },
    ]);
  });

  it("realises nothing for a USD payout, without a long position, or at the average itself", () => {
    expect(fxRealisationRequest({ ...payout, currency: "USD", amount: 10_492n }, null)).toBeNull();
    expect(fxRealisationRequest(payout, { p: 0n, usd: 0n })).toBeNull();
    expect(fxRealisationRequest(payout, { p: -76_580n, usd: 10_492n })).toBeNull();
    expect(fxRealisationRequest({ ...payout, usdAmount: 10_535n }, { p: 793_074n, usd: -109_097n })).toBeNull();
  });

  it("realises what the bank rail would for the same CNY paid at the same USD", () => {
    const position = { p: 793_074n, usd: -109_097n };
    const bank = cashRequest({ id: 1n, sellerId: "S-1", currency: "CNY", amount: 76_580n, endToEndId: "E", settledCurrency: "USD", settled: 10_492n, bookingDate: null }, position);
    const vault = fxRealisationRequest(payout, position)!;
    for (const k of ["appliedRate", "bookedUsd", "realised", "position.before", "position.beforeUsd"]) expect(vault.metadata?.[k], k).toBe(bank.metadata?.[k]);
    const realised = (t: typeof bank) => t.postings.filter((x) => x.account === "platform:fx:realised_gain_loss");
    expect(realised(vault)).toEqual(realised(bank));
  });

  describe("the bank's conversion, split at the mid rate of the booking instant (IAS 21.52(a): only the exchange difference is one)", () => {
    const position = { p: 793_074n, usd: -109_097n };
    const p = { id: 1n, sellerId: "S-1", currency: "CNY", amount: 76_580n, endToEndId: "E", settledCurrency: "USD", settled: 10_620n, bookingDate: null };
    const mid = { rate: "0.138", source: "test", asOf: "2025-03-01T00:00:00.000Z" };
    const platform = (t: { postings: Array<{ account: string; direction: string; amount: bigint }> }) =>
      t.postings.filter((x) => x.account !== "platform:payouts:in_transit").map((x) => `${x.direction} ${x.account} ${x.amount}`);

    it("realises the booked value against the mid value, and books the bank's debit beyond it as a conversion cost", () => {
      // 76580 CNY at the position's average 109097 / 793074 = 10534.51 -> 10535 USD booked; at the
      // mid rate 0.138, 10568.04 -> 10568: the CNY owed became dearer, a realised loss of 33. The bank
      // debited 10620: 52 more than the mid value, its spread (platform:expense:fx_conversion).
      // 10620 = 10535 + 33 + 52. (Before the split: 10535 - 10620 = -85, all of it "realised FX".)
      const r = cashRequest(p, position, mid);
      expect(platform(r)).toEqual([
        "credit platform:cash:bank 10620",
        "credit fx:CNY-USD 76580",
        "debit fx:CNY-USD 10535",
        "debit platform:fx:realised_gain_loss 33",
        "debit platform:expense:fx_conversion 52",
      ]);
      expect(r.metadata).toMatchObject({ bookedUsd: "10535", midUsd: "10568", realised: "-33", conversion: "-52", midRate: "0.138" });
      expect(r.accounts?.find((a) => a.code === "platform:expense:fx_conversion")).toMatchObject({ normalBalance: "debit", allowNegative: true });
      // A partial debit splits the part paid the same way: 38290 CNY (half) booked at 5267.26 -> 5267,
      // worth 5284.02 -> 5284 at mid (17 realised loss), the bank debiting 5310 (26 of spread).
      const half = partialRequest({ ...p, settled: 5_310n }, 38_290n, position, { exceptionId: 1n, note: "half" }, mid);
      expect(half.metadata).toMatchObject({ bookedUsd: "5267", midUsd: "5284", realised: "-17", conversion: "-26" });
    });

    it("without a long position the CNY leaves at its mid value: nothing realised, the spread a cost", () => {
      const r = cashRequest(p, { p: -76_580n, usd: 10_492n }, mid);
      expect(r.metadata).toMatchObject({ bookedUsd: "10568", realised: "0", conversion: "-52" });
    });

    it("without a mid rate for the instant books the whole difference as realised, as before, and says why", () => {
      const r = cashRequest(p, position, { missing: "ENT_FX_RATE_STALE: no CNY->USD mid rate in force at 2025-03-01T00:00:00.000Z" });
      expect(platform(r)).toEqual(["credit platform:cash:bank 10620", "credit fx:CNY-USD 76580", "debit fx:CNY-USD 10535", "debit platform:fx:realised_gain_loss 85"]);
      expect(r.metadata).toMatchObject({ realised: "-85", midMissing: "ENT_FX_RATE_STALE: no CNY->USD mid rate in force at 2025-03-01T00:00:00.000Z" });
      expect(r.metadata?.["conversion"]).toBeUndefined();
    });
  });
});
