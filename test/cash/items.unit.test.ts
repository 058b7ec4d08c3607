import { describe, expect, it } from "vitest";
import { checkAdjustment, itemsOf } from "../../service/cash/service.js";
import type { BankEntry } from "../../service/payouts/index.js";

const tx = (index: number, amount: bigint, own: boolean, over: Partial<BankEntry> = {}): BankEntry => ({
  endToEndId: null,
  currency: "USD",
  amount: own ? amount : 10_000n,
  side: "credit",
  status: "BOOK",
  reversal: false,
  returnReason: null,
  instructed: null,
  bookingDate: "2024-12-20",
  valueDate: null,
  bankReference: `R-${index}`,
  texts: [`R-${index}`, `TX ${amount}`],
  entry: { index, currency: "USD", amount: 10_000n },
  ownAmount: own,
  ...over,
});

describe("the items of a statement's entries", () => {
  it("are the transactions of a batch when their own amounts make the entry's", () => {
    expect(itemsOf([tx(1, 6_000n, true), tx(1, 4_000n, true)]).map((e) => e.amount)).toEqual([6_000n, 4_000n]);
  });

  it("are the entry as one item when a detail has no amount, the amounts do not add up, or one is in another currency", () => {
    for (const txs of [
      [tx(1, 6_000n, true), tx(1, 0n, false)],
      [tx(1, 6_000n, true), tx(1, 3_900n, true)],
      [tx(1, 6_000n, true), tx(1, 4_000n, true, { currency: "EUR" })],
    ]) {
      const items = itemsOf(txs);
      expect(items.map((e) => [e.amount, e.currency, e.ownAmount])).toEqual([[10_000n, "USD", false]]);
      // The entry's reference once, then each transaction's texts.
      expect(items[0]!.texts).toEqual(["R-1", txs[0]!.texts[1], txs[1]!.texts[1]]);
    }
    // Each entry counts once, however its neighbours are split.
    const items = itemsOf([tx(1, 6_000n, true), tx(1, 4_000n, true), tx(2, 0n, false), tx(2, 0n, false, { endToEndId: "E-1" })]);
    expect(items.map((e) => [e.entry.index, e.amount, e.endToEndId])).toEqual([
      [1, 6_000n, null],
      [1, 4_000n, null],
      [2, 10_000n, null],
    ]);
  });
});

describe("a resolution's adjusting entry", () => {
  const entry = { side: "debit" as const, currency: "CHF", amount: "7770" };
  const p = (account: string, direction: "debit" | "credit", amount: bigint, currency = "CHF") => ({ account, currency, direction, amount });

  it("credits platform:cash:bank by a debit entry's amount, in its currency", () => {
    expect(() => checkAdjustment(entry, "entry 2", [p("platform:reconciliation:bank_charges", "debit", 7_770n), p("platform:cash:bank", "credit", 7_770n)])).not.toThrow();
    // Split over two lines, net: the same.
    expect(() => checkAdjustment(entry, "entry 2", [p("platform:reconciliation:x", "debit", 7_770n), p("platform:cash:bank", "credit", 7_000n), p("platform:cash:bank", "credit", 770n)])).not.toThrow();
  });

  it("is refused otherwise, naming what it does", () => {
    const refused = (postings: ReturnType<typeof p>[]) => {
      try {
        checkAdjustment(entry, "entry 2", postings);
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).message];
      }
      return null;
    };
    expect(refused([p("platform:cash:bank", "debit", 100n, "USD"), p("platform:reconciliation:x", "credit", 100n, "USD")])).toEqual([
      "ENT_CASH_ADJUSTMENT_INVALID",
      "entry 2 is a debit of 77.70 CHF (7770 minor units): its adjusting entry must credit platform:cash:bank by 77.70 CHF (7770 minor units); this one debits it by 1.00 USD (100 minor units)",
    ]);
    expect(refused([p("platform:reconciliation:x", "debit", 7_770n), p("platform:cash:bank", "credit", 7_770n), p("platform:cash:bank", "credit", 1n, "USD"), p("platform:reconciliation:x", "debit", 1n, "USD")])![1]).toMatch(/credits it by 0\.01 USD \(1 minor unit\)/);
    expect(refused([p("seller:S-1:available", "debit", 7_770n), p("platform:cash:bank", "credit", 7_770n)])![1]).toMatch(/posts to seller:S-1:available/);
  });
});
