/**
 * The one CSV writer every export uses (journal export, seller statements, tax returns,
 * reconciliation runs): RFC 4180 quoting, and text a spreadsheet would run as a formula neutralised.
 */
import { describe, expect, it } from "vitest";
import { csvField, csvLine } from "../service/csv.js";

describe("csvLine", () => {
  it("quotes a field holding a quote, a comma or a line break, and ends lines in CRLF", () => {
    expect(csvLine(["a", 'b"c', "d,e", "f\ng", null, 3, 4n])).toBe('a,"b""c","d,e","f\ng",,3,4\r\n');
  });

  it("neutralises a cell starting with = + - @ TAB or CR, and leaves decimal numbers as they are", () => {
    for (const v of ["=HYPERLINK(1)", "+cmd", "-2+3", "@SUM(A1)", "\tx", "-", "=1"]) expect(csvField(v)).toBe(`'${v}`);
    expect(csvField("\rx")).toBe(`"'\rx"`);
    expect(csvField('=A1,"x"')).toBe(`"'=A1,""x"""`);
    for (const v of ["-12.00", "-1500", "0", "12.5", "ORD-1", "seller:S-1:available", "2024-12-20T00:00:00.000Z"]) expect(csvField(v)).toBe(v);
    expect(csvLine([-1500n, -12])).toBe("-1500,-12\r\n");
  });
});
