/**
 * A report's content identity (service/reconciliation/content-hash.ts): the same up to byte order
 * mark, line endings and trailing blank lines, whatever the chunking; different for any other change.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ContentHash } from "../../service/reconciliation/content-hash.js";

function digest(text: string | Buffer, cuts: number[] = []): string {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const h = new ContentHash();
  let at = 0;
  for (const p of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    h.update(bytes.subarray(at, p));
    at = p;
  }
  h.update(bytes.subarray(at));
  return h.digest();
}

describe("ContentHash", () => {
  it("gives a report re-saved with LF, without its byte order mark, or with blank lines at its end the hash of the original", () => {
    const original = "\uFEFFh1,h2\r\na,\"x\r\ny\"\r\nb,2\r\n";
    const same = digest(original);
    expect(digest("h1,h2\na,\"x\r\ny\"\nb,2\n")).toBe(same);
    expect(digest("h1,h2\ra,\"x\r\ny\"\rb,2")).toBe(same);
    expect(digest("h1,h2\na,\"x\r\ny\"\nb,2\n\n\r\n\n")).toBe(same);
    expect(digest(original, [1, 2, 9, 10, 14, 15, 22])).toBe(same);
  });

  it("keeps a line end inside a quoted cell as the cell's text: \"a\\rb\" is not \"a\\nb\", whatever the chunking", () => {
    const cr = digest("h1,h2\r\nx,\"a\rb\"\r\n");
    expect(digest("h1,h2\r\nx,\"a\nb\"\r\n")).not.toBe(cr);
    expect(digest("h1,h2\r\nx,\"a\r\nb\"\r\n")).not.toBe(cr);
    // A doubled quote inside a cell leaves it quoted.
    expect(digest('h1\nx,"say ""hi""\ra"\n')).not.toBe(digest('h1\nx,"say ""hi""\na"\n'));
    for (const cuts of [[9], [10], [11], [3, 10, 12]]) expect(digest("h1,h2\r\nx,\"a\rb\"\r\n", cuts)).toBe(cr);
  });

  it("tells any other change apart: a cell, a blank line inside, a delimiter, a BOM-like text that is not one", () => {
    const same = digest("h1,h2\na,1\nb,2\n");
    for (const other of ["h1,h2\na,1\nb,3\n", "h1,h2\n\na,1\nb,2\n", "h1;h2\na;1\nb;2\n", "h1,h2\na,1\n", "\uFEFF\uFEFFh1,h2\na,1\nb,2\n", " h1,h2\na,1\nb,2\n"]) {
      expect(digest(other), JSON.stringify(other)).not.toBe(same);
    }
  });

  it("is the same whatever the chunking and the line ends (property)", () => {
    // Cells with and without quotes, each quote closed on its line (a line end between records).
    const part = fc.stringMatching(/^[a-z0-9,]{0,4}$/);
    const line = fc.tuple(part, part, fc.boolean()).map(([a, b, quoted]) => (quoted ? `${a}"${b}"` : a + b));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 10 }), fc.constantFrom("\n", "\r\n", "\r"), fc.boolean(), fc.nat(3), fc.array(fc.nat(120), { maxLength: 6 }), (lines, eol, bom, trailing, cuts) => {
        const canonical = lines.join("\n");
        const text = (bom ? "\uFEFF" : "") + lines.join(eol) + eol.repeat(trailing);
        expect(digest(text, cuts)).toBe(digest(canonical));
      }),
      { numRuns: 300 },
    );
  });
});
