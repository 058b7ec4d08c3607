/**
 * The run report as CSV (service/reconciliation/report.ts): each amount's major form in its own
 * currency, the report amount's currency stated, and text cells a spreadsheet would run as a
 * formula neutralised (OWASP "CSV injection") while amounts stay numbers.
 */
import { describe, expect, it } from "vitest";
import { CsvReader } from "../../service/reconciliation/index.js";
import { ITEM_COLUMNS, itemCsvLine, itemsCsvHeader } from "../../service/reconciliation/report.js";
import type { ReconItem } from "../../service/reconciliation/types.js";

function item(over: Partial<ReconItem>): ReconItem {
  return {
    seq: 1,
    category: "amount_mismatch",
    rule: "exact_reference",
    gateway: "adyen",
    market: "ES",
    sellerId: "S-1",
    currency: "EUR",
    settlementId: "ORD-1",
    gatewayReference: "ref-1",
    gatewayEventId: "ev-1",
    journalTransactionId: "12",
    lines: [2],
    reportAmount: 1000n,
    ledgerAmount: 1200n,
    difference: -200n,
    evidence: {},
    ...over,
  };
}

/** The cells of a CSV document, as our own RFC 4180 reader reads them. */
function cells(text: string): string[][] {
  const out: string[][] = [];
  const csv = new CsvReader({ record: (r) => out.push(r.fields), problem: (p) => { throw new Error(p.message); } });
  csv.pushText(text);
  csv.end();
  return out;
}

function row(i: ReconItem): Record<string, string> {
  const [header, values] = cells(itemsCsvHeader() + itemCsvLine(i));
  return Object.fromEntries(header!.map((h, k) => [h, values![k]!]));
}

describe("run report CSV", () => {
  it("keeps the existing columns in place and adds report_currency at the end", () => {
    expect(ITEM_COLUMNS.slice(0, 19)).toEqual([
      "seq", "category", "rule", "gateway", "market", "seller_id", "currency", "settlement_id", "gateway_reference", "gateway_event_id",
      "journal_transaction_id", "lines", "report_amount", "ledger_amount", "difference", "report_amount_major", "ledger_amount_major", "difference_major", "evidence",
    ]);
    expect(ITEM_COLUMNS[19]).toBe("report_currency");
    expect(ITEM_COLUMNS).toHaveLength(20);
  });

  it("writes a currency mismatch's report amount in the report's currency and exponent (BHD 27.905 against an EUR capture)", () => {
    const r = row(item({ category: "currency_mismatch", reportAmount: 27_905n, ledgerAmount: 2790n, difference: null, evidence: { reportCurrency: "BHD", ledgerCurrency: "EUR" } }));
    expect(r).toMatchObject({ currency: "EUR", report_amount: "27905", report_amount_major: "27.905", report_currency: "BHD", ledger_amount: "2790", ledger_amount_major: "27.90", difference_major: "" });
    // Same currency on both sides: report_currency is the item's currency.
    expect(row(item({}))).toMatchObject({ report_currency: "EUR", report_amount_major: "10.00", difference_major: "-2.00" });
  });

  it("neutralises text cells that would start a formula, and leaves negative amounts numbers", () => {
    const r = row(
      item({
        settlementId: "=1+2",
        gatewayReference: "=HYPERLINK(1)",
        gatewayEventId: "+cmd",
        sellerId: "-2+3",
        market: "@SUM(A1)",
        journalTransactionId: "\tx",
        currency: "EUR",
        reportAmount: -1200n,
        ledgerAmount: 0n,
        difference: -1200n,
      }),
    );
    expect(r).toMatchObject({
      settlement_id: "'=1+2",
      gateway_reference: "'=HYPERLINK(1)",
      gateway_event_id: "'+cmd",
      seller_id: "'-2+3",
      market: "'@SUM(A1)",
      journal_transaction_id: "'\tx",
      report_amount: "-1200",
      difference: "-1200",
      report_amount_major: "-12.00",
      difference_major: "-12.00",
    });
    expect(row(item({ gatewayReference: "\rx" })).gateway_reference).toBe("'\rx");
    // Ordinary text is untouched.
    expect(row(item({})).gateway_reference).toBe("ref-1");
  });
});
