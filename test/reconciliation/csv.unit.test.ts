/**
 * The streaming CSV reader: RFC 4180 quoting, line ends, BOM, line numbers, malformed input
 * reported (never thrown, never dropped), and the same records whatever the chunking.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CsvReader, type CsvProblem, type CsvRecord } from "../../service/reconciliation/index.js";

function parse(chunks: Array<string | Uint8Array>, max?: number): { records: CsvRecord[]; problems: CsvProblem[]; lines: number } {
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  const r = new CsvReader({ record: (x) => records.push(x), problem: (p) => problems.push(p) }, max);
  for (const c of chunks) {
    if (typeof c === "string") r.pushText(c);
    else r.pushBytes(c);
  }
  r.end();
  return { records, problems, lines: r.lineCount };
}

describe("CsvReader", () => {
  it("reads quoted fields with escaped quotes, commas and line breaks, and numbers records by their first line", () => {
    const text = 'a,b,c\r\n1,"x, ""y""",3\r\n2,"multi\nline",4\n5,,\n';
    const { records, problems, lines } = parse([text]);
    expect(problems).toEqual([]);
    expect(records).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", 'x, "y"', "3"] },
      { line: 3, fields: ["2", "multi\nline", "4"] },
      { line: 5, fields: ["5", "", ""] },
    ]);
    expect(lines).toBe(5);
  });

  it("strips a UTF-8 byte order mark, accepts a last line without line end, skips blank lines but counts them", () => {
    const bytes = Buffer.from("\uFEFFh1,h2\n\n\nv1,v2", "utf8");
    const { records, lines } = parse([bytes.subarray(0, 2), bytes.subarray(2)]);
    expect(records).toEqual([
      { line: 1, fields: ["h1", "h2"] },
      { line: 4, fields: ["v1", "v2"] },
    ]);
    expect(lines).toBe(4);
  });

  it("decodes multi-byte characters split across chunks", () => {
    const bytes = Buffer.from("name\nSão Paulo €\n", "utf8");
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(parse(chunks).records[1]!.fields).toEqual(["São Paulo €"]);
  });

  it("treats a lone CR as a line end and a CRLF split across chunks as one", () => {
    expect(parse(["a\rb\r", "\nc"]).records.map((r) => [r.line, r.fields[0]])).toEqual([
      [1, "a"],
      [2, "b"],
      [3, "c"],
    ]);
  });

  it("reports a quote inside an unquoted field and text after a closing quote, and goes on", () => {
    const { records, problems } = parse(['h\nab"c\n"x"y\nok\n']);
    expect(problems).toEqual([
      { line: 2, code: "quote", message: "quote inside unquoted field 1" },
      { line: 3, code: "quote", message: "text after the closing quote of field 1" },
    ]);
    expect(records.map((r) => r.fields[0])).toEqual(["h", "ok"]);
  });

  it("refuses only the first line of a record whose quoted field is never closed, and reads the lines after it", () => {
    const { records, problems, lines } = parse(['h,i\n1,2\n3,"never closed\n4,5\n6,7\n']);
    expect(records.map((r) => [r.line, r.fields])).toEqual([
      [1, ["h", "i"]],
      [2, ["1", "2"]],
      [4, ["4", "5"]],
      [5, ["6", "7"]],
    ]);
    expect(problems).toEqual([{ line: 3, code: "unterminated_quote", message: "a quoted field opened on line 3 is never closed: line 3 is refused, reading resumes at line 4" }]);
    expect(lines).toBe(5);
    // On the last line, there is nothing after it to read.
    expect(parse(['h\n1\n"open']).problems).toEqual([{ line: 3, code: "unterminated_quote", message: "a quoted field opened on line 3 is never closed" }]);
  });

  it("refuses only the line of a stray quote that a later line's quote closes, and reads the lines between", () => {
    // An analyst's Adyen file: line 2 ends with a free-text field holding a stray quote; the next
    // quote of the file (line 6) closed it, and every line between was swallowed into one record.
    const text = ["h1,h2,h3", 'a,visaclassic,"buyer said ""hi"" , ok,200', "b,x,1", "c,y,2", "d,z,3", 'e,"quoted, fine",4', "f,w,5", ""].join("\r\n");
    for (const chunks of [[text], Array.from(text)]) {
      const { records, problems, lines } = parse(chunks);
      expect(records.map((r) => r.line)).toEqual([1, 3, 4, 5, 6, 7]);
      expect(records[4]!.fields).toEqual(["e", "quoted, fine", "4"]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ line: 2, code: "quote" });
      expect(problems[0]!.message).toContain("text after the closing quote of field 3 on line 6");
      expect(problems[0]!.message).toContain("line 2 is refused, reading resumes at line 3");
      expect(lines).toBe(7);
    }
  });

  it("keeps a legitimate quoted field over several lines, and refuses such a record alone when it is malformed", () => {
    const { records, problems } = parse(['h,i\n1,"two\nlines"\n2,"two\nlines"x\n3,ok\n']);
    expect(records.map((r) => [r.line, r.fields])).toEqual([
      [1, ["h", "i"]],
      [2, ["1", "two\nlines"]],
      [6, ["3", "ok"]],
    ]);
    // Line 5 (the continuation, `lines"x`) is read as a record of its own and refused for its quote.
    expect(problems.map((p) => [p.line, p.code])).toEqual([
      [4, "quote"],
      [5, "quote"],
    ]);
  });

  it("refuses the first line of a record longer than the cap (a quote never closed mid-file) and reads on, without holding the rest", () => {
    const body = ['h\n"open\n', "ab\n".repeat(20), "more\n"];
    const { records, problems } = parse(body, 40);
    expect(records.map((r) => [r.line, r.fields])).toEqual([[1, ["h"]], ...Array.from({ length: 20 }, (_, k) => [k + 3, ["ab"]]), [23, ["more"]]]);
    expect(problems).toEqual([expect.objectContaining({ line: 2, code: "unterminated_quote" })]);
    expect(problems[0]!.message).toContain("line 2 is refused, reading resumes at line 3");
  });

  it("refuses a single physical line longer than the cap and drops the rest of it as it comes", () => {
    for (const eol of ["\n", "\r\n", "\r"]) {
      const { records, problems, lines } = parse(["h" + eol, "x".repeat(50), "y".repeat(50), eol.slice(0, 1), eol.slice(1) + "more" + eol], 40);
      expect(records.map((r) => [r.line, r.fields])).toEqual([
        [1, ["h"]],
        [3, ["more"]],
      ]);
      expect(problems).toEqual([{ line: 2, code: "too_long", message: "line 2 is longer than 40 characters: it is refused, reading resumes at the next line" }]);
      expect(lines).toBe(3);
    }
  });

  it("yields the same records and problems however a file with stray quotes is chunked (property)", () => {
    const field = fc.oneof(
      fc.stringMatching(/^[a-z0-9 .-]{0,6}$/),
      fc.string({ maxLength: 6 }).map((s) => `"${s.replaceAll('"', '""')}"`),
      fc.constantFrom('"', 'a"b', '"x"y', '"open', 'say ""hi"" ,'),
    );
    const record = fc.array(field, { minLength: 1, maxLength: 4 }).map((fs) => fs.join(","));
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), fc.constantFrom("\n", "\r\n", "\r"), fc.array(fc.nat(60), { maxLength: 6 }), (recs, eol, cuts) => {
        // A header of commas: the delimiter is read from the first line (a line of quotes and
        // semicolons cut in its first chunk would be sniffed otherwise).
        const text = ["h1,h2", ...recs].join(eol) + eol;
        const whole = parse([text]);
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let at = 0;
        for (const p of points) {
          pieces.push(text.slice(at, p));
          at = p;
        }
        pieces.push(text.slice(at));
        expect(parse(pieces)).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it("yields the same records and problems however the text is chunked (property)", () => {
    const field = fc.oneof(
      fc.stringMatching(/^[a-z0-9 .-]{0,6}$/),
      fc.string({ maxLength: 6 }).map((s) => `"${s.replaceAll('"', '""')}"`),
    );
    const record = fc.array(field, { minLength: 1, maxLength: 4 }).map((fs) => fs.join(","));
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), fc.constantFrom("\n", "\r\n"), fc.array(fc.nat(40), { maxLength: 6 }), (recs, eol, cuts) => {
        const text = recs.join(eol) + eol;
        const whole = parse([text]);
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let at = 0;
        for (const p of points) {
          pieces.push(text.slice(at, p));
          at = p;
        }
        pieces.push(text.slice(at));
        expect(parse(pieces)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });
});
