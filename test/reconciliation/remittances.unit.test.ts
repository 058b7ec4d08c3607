/**
 * Remittances from a report's payout lines (service/reconciliation/remittances.ts): the published
 * formats' fixtures, then rows built to show each rule.
 */
import { describe, expect, it } from "vitest";
import { ReportReader } from "../../service/reconciliation/index.js";
import { PayoutRemittances } from "../../service/reconciliation/remittances.js";
import type { ReportFormat, ReportRow } from "../../service/reconciliation/types.js";
import { fixture } from "./harness.js";

function derive(format: ReportFormat, text: string) {
  const payouts = new PayoutRemittances();
  const reader = new ReportReader(format, 0, { row: (r) => payouts.row(r), error: () => undefined });
  reader.pushBytes(Buffer.from(text, "utf8"));
  reader.end();
  return payouts.finish();
}

let line = 1;
function row(over: Partial<ReportRow>): ReportRow {
  line++;
  return {
    source: 0,
    line,
    recordType: "Settled",
    kind: "capture",
    rowId: `row-${line}`,
    refs: {},
    settlementRef: null,
    occurredAt: Date.parse("2025-03-05T06:00:00Z"),
    currency: "BRL",
    amount: 10_000n,
    fee: 350n,
    feeSlack: 0n,
    rate: null,
    netCurrency: "USD",
    net: 1_640n,
    batch: "B1",
    ...over,
  };
}

function payout(net: bigint, over: Partial<ReportRow> = {}): ReportRow {
  return row({ kind: "payout", recordType: "MerchantPayout", rowId: "", currency: "USD", amount: -net, fee: null, net, ...over });
}

function fromRows(rows: ReportRow[]) {
  const p = new PayoutRemittances();
  for (const r of rows) p.row(r);
  return p.finish();
}

describe("remittances from a report's payout lines", () => {
  it("Adyen batch 42: the EUR payout of 307.50 is one remittance, paid out unconverted (deposit correction and the duplicated line included once)", () => {
    const { remittances, skipped } = derive("adyen_settlement_details", fixture("adyen_settlement_detail_report_batch_42.csv"));
    expect(remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledCurrency, r.settledAmount])).toEqual([["42", "EUR", 30_750n, "EUR", 30_750n]]);
    expect(remittances[0]?.occurredAt.toISOString()).toBe("2025-03-07T03:00:00.000Z");
    expect(skipped).toEqual([]);
  });

  it("Stripe: a payout its rows do not add up to is skipped with the reason, never booked", () => {
    const { remittances, skipped } = derive("stripe_itemized_balance", fixture("stripe_balance_change_from_activity.itemized.csv"));
    expect(remittances).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ batch: "po_1NvEntrepot42", currency: "USD" });
    expect(skipped[0]?.reason).toContain("the payout is 16340 USD but the rows it pays out net 16240");
  });

  it("a converted batch clears the buyer side (gross less fee, signed) and settles the nets; several buyer currencies split the payout", () => {
    // Two BRL captures and a BRL refund converted to USD, plus a USD capture, in one USD payout.
    const rows = [
      row({ amount: 10_000n, fee: 350n, net: 1_640n }),
      row({ amount: 5_000n, fee: 175n, net: 820n }),
      row({ kind: "refund", amount: 2_000n, fee: 0n, net: -340n }),
      row({ currency: "USD", amount: 3_000n, fee: 117n, net: 2_883n }),
    ];
    const { remittances, skipped } = fromRows([...rows, payout(-(1_640n + 820n - 340n + 2_883n))]);
    expect(skipped).toEqual([]);
    expect(remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledCurrency, r.settledAmount])).toEqual([
      // 10000 - 350 + 5000 - 175 - 2000 = 12475 BRL cleared, 2120 USD received for them.
      ["B1-BRL", "BRL", 12_475n, "USD", 2_120n],
      ["B1-USD", "USD", 2_883n, "USD", 2_883n],
    ]);
  });

  it("counts a duplicated line once; skips a payout whose cash cannot be split by currency", () => {
    const capture = row({ rowId: "psp-1" });
    expect(fromRows([capture, { ...capture, line: 99 }, payout(-1_640n)]).remittances.map((r) => [r.remittanceId, r.amount, r.settledAmount])).toEqual([["B1", 10_000n - 350n, 1_640n]]);
    // A fee charged in USD beside converted BRL rows: the USD rows net negative.
    const fee = row({ kind: "fee", recordType: "Fee", rowId: "", currency: "USD", amount: 200n, fee: 200n, net: -200n });
    const split = fromRows([row({}), fee, payout(-1_440n)]);
    expect(split.remittances).toEqual([]);
    expect(split.skipped[0]?.reason).toContain("cannot be split by buyer currency");
    // A payout of nothing, and a batch name that cannot be a remittance id.
    expect(fromRows([payout(0n)]).skipped[0]?.reason).toBe("the payout moves nothing to the bank");
    expect(fromRows([row({ batch: "batch 7" }), payout(-1_640n, { batch: "batch 7" })]).skipped[0]?.reason).toContain("not a usable remittance id");
  });
});
