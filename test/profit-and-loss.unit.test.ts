/**
 * The P&L's grouping and its check, over a ledger read given as data: a row naming only its seller
 * takes that seller's program on file (an unknown seller is unallocated), revenue and expenses by
 * normal side, and `reconciles` false when the groups do not add up to the trial balance's figures.
 */
import { describe, expect, it } from "vitest";
import type { MetadataMovements } from "../service/ledger/types.js";
import { pnlDimensions, profitAndLoss } from "../service/profit-and-loss.js";

const period = { from: new Date("2024-12-01T00:00:00Z"), to: new Date("2025-01-01T00:00:00Z") };
type Row = MetadataMovements["rows"][number];
const row = (account: string, normalBalance: "debit" | "credit", program: [string | null, string | null], debits: bigint, credits: bigint): Row => ({
  account,
  currency: "USD",
  normalBalance,
  groups: [{ key: program[0], value: program[1] }],
  debits,
  credits,
});

function sources(rows: Row[], trialBalance: MetadataMovements["trialBalance"]) {
  return {
    ledger: { movementsByMetadata: async () => ({ ...period, rows, trialBalance }) },
    settlement: { sellerPrograms: async (ids: readonly string[]) => new Map(ids.filter((id) => id === "S-OVS").map((id) => [id, "overseas_hosting" as const])) },
  };
}

describe("profitAndLoss", () => {
  const rows = [
    row("platform:expense:payment_fees", "debit", ["program", "pop"], 40n, 0n),
    row("platform:revenue:commission", "credit", ["program", "pop"], 10n, 300n),
    row("platform:revenue:storage", "credit", ["sellerId", "S-OVS"], 0n, 500n),
    row("platform:revenue:storage", "credit", ["sellerId", "S-GONE"], 0n, 70n),
    row("platform:fx:unrealised_gain_loss", "credit", [null, null], 25n, 0n),
  ];
  const tb = [
    { account: "platform:expense:payment_fees", currency: "USD", normalBalance: "debit" as const, debits: 40n, credits: 0n },
    { account: "platform:fx:unrealised_gain_loss", currency: "USD", normalBalance: "credit" as const, debits: 25n, credits: 0n },
    { account: "platform:revenue:commission", currency: "USD", normalBalance: "credit" as const, debits: 10n, credits: 300n },
    { account: "platform:revenue:storage", currency: "USD", normalBalance: "credit" as const, debits: 0n, credits: 570n },
  ];

  it("takes a seller's program for a transaction naming only its seller, leaves an unknown one unallocated, and reconciles", async () => {
    const r = await profitAndLoss(sources(rows, tb), period, ["program"]);
    expect(r.groups.map((g) => [g.program, g.unallocated, g.revenue, g.expenses, g.netResult])).toEqual([
      ["overseas_hosting", false, 500n, 0n, 500n],
      ["pop", false, 290n, 40n, 250n],
      [null, true, 45n, 0n, 45n],
    ]);
    expect(r.groups[2]!.lines.map((l) => [l.account, l.net])).toEqual([
      ["platform:fx:unrealised_gain_loss", -25n],
      ["platform:revenue:storage", 70n],
    ]);
    // Of the revenue, the exchange differences: the revaluation's -25 (an unrealised loss) alone.
    expect(r.totals).toEqual({ debits: 75n, credits: 870n, revenue: 835n, expenses: 40n, netResult: 795n, exchangeDifferences: -25n });
    expect(r.groups.map((g) => g.exchangeDifferences)).toEqual([0n, 0n, -25n]);
    expect([r.reconciliation.reconciles, r.reconciliation.netResult]).toEqual([true, 795n]);
  });

  it("states the exchange differences (IAS 21.52(a)) apart from a listing's checkout difference and the acquirer's spread", async () => {
    // A POP order listed in CNY: 250 of checkout difference (revenue, a price), a refund's 25 of
    // exchange difference; the remittance: 48 of acquirer's spread (an expense) and 12 of realised
    // loss; a revaluation: 31 of unrealised gain. Exchange differences: 25 - 12 + 31 = 44.
    const fx = [
      row("platform:revenue:checkout_fx", "credit", ["program", "pop"], 75n, 250n),
      row("platform:fx_gain_loss", "credit", ["program", "pop"], 0n, 25n),
      row("platform:expense:fx_conversion", "debit", [null, null], 48n, 0n),
      row("platform:fx:realised_gain_loss", "credit", [null, null], 12n, 0n),
      row("platform:fx:unrealised_gain_loss", "credit", [null, null], 0n, 31n),
    ];
    const fxTb = fx.map((x) => ({ account: x.account, currency: "USD", normalBalance: x.normalBalance, debits: x.debits, credits: x.credits }));
    const r = await profitAndLoss(sources(fx, fxTb), period, ["program"]);
    expect(r.groups.map((g) => [g.program, g.revenue, g.expenses, g.exchangeDifferences])).toEqual([
      ["pop", 200n, 0n, 25n],
      [null, 19n, 48n, 19n],
    ]);
    expect([r.totals.revenue, r.totals.expenses, r.totals.netResult, r.totals.exchangeDifferences]).toEqual([219n, 48n, 171n, 44n]);
  });

  it("says it does not reconcile when an account's figures differ from the trial balance's, or the trial balance lacks one", async () => {
    const off = tb.map((a) => (a.account === "platform:revenue:storage" ? { ...a, credits: 571n } : a));
    const r = await profitAndLoss(sources(rows, off), period, ["program"]);
    expect([r.reconciliation.reconciles, r.reconciliation.netResult, r.totals.netResult]).toEqual([false, 796n, 795n]);
    expect(r.reconciliation.accounts.filter((a) => !a.reconciles).map((a) => a.account)).toEqual(["platform:revenue:storage"]);
    const missing = await profitAndLoss(sources(rows, tb.slice(1)), period, ["program"]);
    expect(missing.reconciliation.reconciles).toBe(false);
  });

  it("refuses a period over 366 days naming to", async () => {
    await expect(profitAndLoss(sources([], []), { from: period.from, to: new Date("2026-01-01T00:00:00Z") }, ["program"])).rejects.toMatchObject({ fields: [{ field: "to" }] });
  });
});

describe("pnlDimensions", () => {
  it("reads program, market and both in either order; anything else is 400 naming query.by", () => {
    expect([pnlDimensions(undefined), pnlDimensions("market"), pnlDimensions("market,program")]).toEqual([["program"], ["market"], ["program", "market"]]);
    for (const bad of ["", "seller", "program,program", "program,"]) expect(() => pnlDimensions(bad)).toThrow(expect.objectContaining({ fields: [{ field: "query.by", message: "program, market or program,market" }] }));
  });
});
