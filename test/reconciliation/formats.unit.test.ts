/**
 * Report files as they are really downloaded and re-saved: amounts without a leading zero, Adyen's
 * newer columns after Reserved10, a spreadsheet's semicolons or tabs; each read exactly as the
 * original file, and the problems that remain named (a decimal comma, a delimiter we did not find).
 */
import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { CsvReader, ReportReader } from "../../service/reconciliation/index.js";
import type { ImportError, ReportFormat, ReportRow } from "../../service/reconciliation/types.js";
import { fixture } from "./harness.js";

const ADYEN = fixture("adyen_settlement_detail_report_batch_42.csv");
const STRIPE = fixture("stripe_balance_change_from_activity.itemized.csv");

function read(format: ReportFormat, text: string): { rows: ReportRow[]; errors: ImportError[] } {
  const rows: ReportRow[] = [];
  const errors: ImportError[] = [];
  const r = new ReportReader(format, 0, { row: (x) => rows.push(x), error: (e) => errors.push(e) });
  r.pushBytes(Buffer.from(text, "utf8"));
  r.end();
  return { rows, errors };
}

const lines = (text: string) => text.split(/\r?\n/).filter((l) => l !== "");
/** A fixture line's fields, as the CSV reader splits them (quoted fields included). */
function fields(line: string): string[] {
  let out: string[] = [];
  const csv = new CsvReader({ record: (r) => (out = r.fields), problem: (p) => { throw new Error(p.message); } });
  csv.pushText(line);
  csv.end();
  return out;
}
/** A line as a spreadsheet saves it with delimiter `d`: a field holding `d` or a quote is quoted. */
const saved = (line: string, d: string) => fields(line).map((f) => (f.includes(d) || f.includes('"') ? `"${f.replace(/"/g, '""')}"` : f)).join(d);

describe("report formats as downloaded", () => {
  const original = read("adyen_settlement_details", ADYEN);

  it("the fixtures read cleanly (the baseline of the comparisons below)", () => {
    expect(original.errors).toEqual([]);
    expect(original.rows).toHaveLength(19);
  });

  it("reads Adyen amounts written without a leading zero (.91, -.91) as the same amounts", () => {
    const edited = lines(ADYEN).map((l, i) => (i === 0 ? l : l.split(",").map((f) => (/^0\.\d+$/.test(f) ? f.slice(1) : f)).join(","))).join("\r\n");
    expect(edited).toContain(",.10,"); // the fixture has such amounts (and rates: .1800) to rewrite
    expect(edited).toContain(",.1800,");
    const r = read("adyen_settlement_details", edited);
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual(original.rows);
    const stripe = read("stripe_itemized_balance", STRIPE);
    const negative = read("stripe_itemized_balance", STRIPE.replace(/,(-?)0\.(\d+)/g, ",$1.$2"));
    expect(STRIPE).toMatch(/,0\.\d+/);
    expect(negative.errors).toEqual([]);
    expect(negative.rows).toEqual(stripe.rows);
  });

  it("reads Adyen files with the columns newer exports add after Reserved10 (Booking Date, Booking Date TimeZone, Metadata)", () => {
    const edited = lines(ADYEN)
      .map((l, i) => (i === 0 ? `${l},Booking Date,Booking Date TimeZone,Metadata` : `${l},2025-03-05 00:00:00,CET,"{""channel"":""web"",""risk"":""low""}"`))
      .join("\r\n");
    const r = read("adyen_settlement_details", edited);
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual(original.rows);
  });

  it("reads a file a spreadsheet saved with semicolons or tabs as the same rows", () => {
    for (const d of [";", "\t"]) {
      const r = read("adyen_settlement_details", lines(ADYEN).map((l) => saved(l, d)).join("\r\n"));
      expect(r.errors, JSON.stringify(d)).toEqual([]);
      expect(r.rows).toEqual(original.rows);
    }
  });

  it("names a decimal comma, and says how a header without the format's columns was split", () => {
    const semi = lines(ADYEN).map((l) => saved(l, ";"));
    semi[1] = semi[1]!.replace(";27.90;", ";27,90;");
    const r = read("adyen_settlement_details", semi.join("\r\n"));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ line: 2, column: "Gross Credit (GC)" });
    expect(r.errors[0]!.message).toMatch(/decimal comma/);
    try {
      read("adyen_settlement_details", lines(ADYEN).map((l) => saved(l, "|")).join("\r\n"));
      throw new Error("expected a refusal");
    } catch (e) {
      if (!isAppError(e)) throw e;
      expect(e.code).toBe("ENT_RECON_REPORT_FORMAT");
      expect(e.message).toMatch(/split at ","/);
      expect(e.details).toMatchObject({ delimiter: "," });
    }
  });

  it("names digits grouped by a thousands separator as such (zero-decimal KRW, JPY; USD), not as a decimal comma, and counts refused records, not cells", () => {
    const adyen = lines(ADYEN).map((l) => (l.includes("8825000000000010") ? l.replace(",39000,", ',"39,000",').replace(",37869,", ',"37,869",') : l));
    const krwLine = adyen.findIndex((l) => l.includes("8825000000000010")) + 1;
    const reader = new ReportReader("adyen_settlement_details", 0, { row: () => undefined, error: () => undefined });
    const a = read("adyen_settlement_details", adyen.join("\r\n"));
    reader.pushBytes(Buffer.from(adyen.join("\r\n")));
    reader.end();
    expect(a.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [krwLine, "Net Credit (NC)", "amount"],
      [krwLine, "Gross Credit (GC)", "amount"],
    ]);
    expect(a.errors[1]!.message).toBe('"39,000" looks like a number with a thousands separator: the report must not group digits ("39000"; export it again without the spreadsheet\'s number format)');
    expect(reader.refusedCount).toBe(1);

    const [head, ok] = lines(STRIPE);
    const jpy = ok!.replace(",usd,29.99,1.17,28.82,", ',jpy,"1,500",0,1500,');
    const usd = ok!.replace(",29.99,1.17,28.82,", ',"1,029.99",1.17,"1,028.82",');
    const s = read("stripe_itemized_balance", [head, jpy, usd].join("\n"));
    expect(s.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [2, "gross", "amount"],
      [3, "gross", "amount"],
      [3, "net", "amount"],
    ]);
    for (const e of s.errors) expect(e.message).toMatch(/looks like a number with a thousands separator: the report must not group digits/);
    // A comma that can only be decimals is still named a decimal comma.
    expect(read("stripe_itemized_balance", [head, ok!.replace(",29.99,1.17,28.82,", ',"29,99",1.17,28.82,')].join("\n")).errors[0]!.message).toMatch(/has a decimal comma/);
  });

  it("reads Stripe's default time-zone variant (created, no created_utc) in the zone named at import, and refuses to guess it", () => {
    const header = fields(lines(STRIPE)[0]!);
    const at = header.indexOf("created_utc");
    // The same report run in Asia/Tokyo (UTC+9, no daylight saving): every created is 9 hours later.
    const tokyo = lines(STRIPE)
      .map((l, i) => {
        const f = fields(l);
        if (i === 0) f[at] = "created";
        else f[at] = new Date(Date.parse(`${f[at]!.replace(" ", "T")}Z`) + 9 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
        return f.map((x) => (x.includes(",") || x.includes('"') ? `"${x.replace(/"/g, '""')}"` : x)).join(",");
      })
      .join("\n");
    const rows: ReportRow[] = [];
    const errors: ImportError[] = [];
    const reader = new ReportReader("stripe_itemized_balance", 0, { row: (x) => rows.push(x), error: (e) => errors.push(e) }, { timeZone: "Asia/Tokyo" });
    reader.pushBytes(Buffer.from(tokyo));
    reader.end();
    expect(errors).toEqual([]);
    expect(rows).toEqual(read("stripe_itemized_balance", STRIPE).rows);
    try {
      read("stripe_itemized_balance", tokyo);
      throw new Error("expected a refusal");
    } catch (e) {
      if (!isAppError(e)) throw e;
      expect(e.code).toBe("ENT_RECON_REPORT_FORMAT");
      expect(e.fields).toEqual([expect.objectContaining({ field: "query.timezone" })]);
    }
  });

  describe("when a row's own figures disagree or exceed what the ledger can hold", () => {
    const stripeHead = lines(STRIPE)[0]!;
    const adyenHead = lines(ADYEN)[0]!;
    const adyen = (...rows: string[]) => read("adyen_settlement_details", [adyenHead, ...rows].join("\r\n"));
    const adyenRow = (gross: string, net: string, commission = "", rest = "") =>
      `Ent,EntEU,P2,ORD-ES-pop,visa,2024-12-03 09:00:00,UTC,Settled,demo-ES-pop${rest},EUR,,${gross},1,EUR,,${net},${commission},,,,visaclassic,,104,,,,,,,`;

    it("refuses a Stripe row whose net is not gross - fee, naming net", () => {
      const r = read("stripe_itemized_balance", [stripeHead, "txn_H1A,2024-12-10 09:00:00,2024-12-17 00:00:00,usd,29.99,1.17,99.99,charge,ch_H1A,Order X,,,po_H1,2024-12-17 00:00:00,ORD-H1-A"].join("\n"));
      expect(r.rows).toEqual([]);
      expect(r.errors).toEqual([{ line: 2, column: "net", code: "net", message: "net 99.99 is not gross - fee: 29.99 - 1.17 = 28.82 usd" }]);
    });

    it("refuses an Adyen row whose Net is not its gross less its costs (same currency), naming the Net column", () => {
      const r = adyen(adyenRow("27.90", "27.19", "0.81"), adyenRow("27.90", "27.09", "0.81", "-2"));
      expect(r.rows.map((x) => x.rowId)).toEqual(["demo-ES-pop-2"]);
      expect(r.errors).toEqual([{ line: 2, column: "Net Credit (NC)", code: "net", message: "Net 27.19 EUR is not the gross less the costs: 27.90 - 0.81 = 27.09 EUR" }]);
    });

    it("refuses amounts beyond the ledger's bound (|amount| < 2^63 minor units), naming the column", () => {
      // The tester's row: 99999999999999999999.99 EUR, 10^22 minor units.
      const r = adyen(adyenRow("99999999999999999999.99", "99999999999999999999.19", "0.80"));
      expect(r.rows).toEqual([]);
      expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([
        [2, "Net Credit (NC)", "amount"],
        [2, "Gross Credit (GC)", "amount"],
      ]);
      expect(r.errors[1]!.message).toBe('"99999999999999999999.99" is too large: at most 9223372036854775807 minor units (2^63 - 1)');
      // The largest amount that fits is read; one more minor unit is refused.
      expect(adyen(adyenRow("92233720368547758.07", "92233720368547758.07", "0")).rows[0]?.amount).toBe(2n ** 63n - 1n);
      expect(adyen(adyenRow("92233720368547758.08", "92233720368547758.08", "0")).errors[0]).toMatchObject({ column: "Net Credit (NC)", code: "amount" });
      // Each column fits, what the row derives from them does not: Net Credit - Net Debit.
      const derived = adyen(
        `Ent,EntEU,,,visa,2024-12-11 04:00:00,UTC,DepositCorrection,dc-1,,,,,EUR,-0.01,92233720368547758.07,,,,,visaclassic,,104,,,,,,,`,
      );
      expect(derived.errors.map((e) => [e.column, e.code])).toEqual([["Net Credit (NC)", "amount"]]);
      const stripe = read("stripe_itemized_balance", [stripeHead, "txn_H1A,2024-12-10 09:00:00,2024-12-17 00:00:00,usd,99999999999999999999.99,0,99999999999999999999.99,charge,ch_H1A,Order X,,,po_H1,2024-12-17 00:00:00,ORD-H1-A"].join("\n"));
      expect(stripe.errors.map((e) => [e.column, e.code])).toEqual([
        ["gross", "amount"],
        ["net", "amount"],
      ]);
    });
  });
});

