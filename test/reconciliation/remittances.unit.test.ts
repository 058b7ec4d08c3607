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

  it("books every payout of a batch paid in several currencies, each under its own id; the first keeps the batch id it always had", () => {
    // Adyen batch 88: one MerchantPayout per net currency, each equal to its rows.
    const head = fixture("adyen_settlement_detail_report_batch_42.csv").split("\r\n")[0]!;
    const text = [
      head,
      "Ent,EntEU,Q1,ORD-H1-ES-1,visa,2024-12-10 09:00:00,UTC,Settled,h1-ES-1,EUR,,50.00,1,EUR,,48.50,1.50,,,,visaclassic,,88,,,,,,,",
      "Ent,EntEU,Q2,ORD-H1-KR-1,visa,2024-12-10 09:00:00,UTC,Settled,h1-KR-1,KRW,,50000,1,KRW,,48500,1500,,,,visaclassic,,88,,,,,,,",
      "Ent,EntEU,,,visa,2024-12-11 04:00:00,UTC,MerchantPayout,batch 88,,,,,EUR,48.50,,,,,,visaclassic,,88,,,,,,,",
      "Ent,EntEU,,,visa,2024-12-11 04:00:00,UTC,MerchantPayout,batch 88,,,,,KRW,48500,,,,,,visaclassic,,88,,,,,,,",
    ].join("\r\n");
    const { remittances, skipped } = derive("adyen_settlement_details", text);
    expect(skipped).toEqual([]);
    // "88" is what the EUR payout was booked as before: a replay of the import must still find it.
    expect(remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledCurrency, r.settledAmount])).toEqual([
      ["88", "EUR", 4_850n, "EUR", 4_850n],
      ["88-KRW", "KRW", 48_500n, "KRW", 48_500n],
    ]);
    // Ids are a function of the file: the same file derives the same ids.
    expect(derive("adyen_settlement_details", text).remittances.map((r) => r.remittanceId)).toEqual(["88", "88-KRW"]);
  });

  it("never gives two different remittances of a batch the same id; the same payout line twice keeps its id (booked once)", () => {
    // A USD payout of converted BRL rows (B1-BRL under the old naming would be B1 alone) beside a BRL payout of unconverted rows.
    const converted = row({ rowId: "c1", amount: 10_000n, fee: 350n, net: 1_640n });
    const local = row({ rowId: "l1", currency: "BRL", amount: 5_000n, fee: 150n, netCurrency: "BRL", net: 4_850n });
    const usd = payout(-1_640n);
    const brl = payout(-4_850n, { currency: "BRL", netCurrency: "BRL" });
    const { remittances } = fromRows([converted, local, usd, brl, { ...usd, line: 400 }]);
    expect(remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledCurrency, r.settledAmount])).toEqual([
      ["B1", "BRL", 9_650n, "USD", 1_640n],
      ["B1-BRL", "BRL", 4_850n, "BRL", 4_850n],
      ["B1", "BRL", 9_650n, "USD", 1_640n],
    ]);
  });

  it("clears what the ledger booked for a matched converted row, so no rounding residue stays on the receivable", () => {
    // Capture 14990 BRL, fee 434 booked (receivable 14556). The report: rate 0.1650, commission
    // 0.72 USD (436 BRL back at the row's rate), net 24.01 USD.
    const capture = row({ rowId: "8825000000000006", refs: { modification_reference: "8825000000000006" }, amount: 14_990n, fee: 436n, feeSlack: 5n, net: 2_401n });
    const rows = [capture, payout(-2_401n)];
    expect(fromRows(rows).remittances.map((r) => r.amount)).toEqual([14_554n]);
    const p = new PayoutRemittances();
    for (const r of rows) p.row(r);
    const booked = (r: ReportRow) => (r.rowId === "8825000000000006" ? { currency: "BRL", amount: 14_990n, fee: 434n } : null);
    const { remittances } = p.finish(booked);
    expect(remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledAmount])).toEqual([["B1", "BRL", 14_556n, 2_401n]]);
    // A booked side that differs beyond the rounding (an amount_mismatch of the run) is not silently taken.
    const q = new PayoutRemittances();
    for (const r of rows) q.row(r);
    expect(q.finish(() => ({ currency: "BRL", amount: 15_990n, fee: 434n })).remittances.map((r) => r.amount)).toEqual([14_554n]);
  });
});

