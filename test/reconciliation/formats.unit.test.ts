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
});
