/**
 * The identity of a report's content, not of its bytes: sha256 of the file without a UTF-8 byte
 * order mark, with every line end between records written as LF (CRLF and a lone CR alike) and
 * without the line ends at its end (a last line end or none, trailing blank lines). A report
 * downloaded again, or opened and saved by an editor that changed these, is the same report: its
 * import answers `exists` like identical bytes (as a bank statement does in service/cash). Anything
 * else (a delimiter, a cell, the order of the lines) makes another report, and so does a line end
 * inside a quoted cell: that is the cell's text ("a\rb" is not "a\nb").
 *
 * Streamed with the import, chunk by chunk (line ends split across chunks included, and whether the
 * chunk starts inside a quoted cell: a quote toggles it, a doubled quote twice). A chunk without a
 * CR is hashed as it is (its quotes counted by Buffer.indexOf); one with CRs is copied once.
 */
import { createHash } from "node:crypto";

const CR = 13;
const LF = 10;
const QUOTE = 34;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export class ContentHash {
  private readonly hash = createHash("sha256");
  /** The first bytes, until there are enough to tell a byte order mark (null once decided). */
  private head: Buffer | null = Buffer.alloc(0);
  /** The previous chunk ended with a CR: an LF first in this one is its CRLF. */
  private afterCr = false;
  /** Line ends held back: they count only if content follows them. */
  private pendingLf = 0;
  /** Inside a quoted cell, where a line end is the cell's text. */
  private quoted = false;

  update(chunk: Uint8Array): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.head !== null) {
      this.head = Buffer.concat([this.head, data]);
      if (this.head.length < BOM.length) return;
      data = this.head.subarray(0, BOM.length).equals(BOM) ? this.head.subarray(BOM.length) : this.head;
      this.head = null;
    }
    this.normalised(data);
  }

  digest(): string {
    if (this.head !== null) this.normalised(this.head);
    this.head = null;
    return this.hash.digest("hex");
  }

  private normalised(data: Buffer): void {
    if (this.afterCr && data.length > 0) {
      if (data[0] === LF) data = data.subarray(1);
      this.afterCr = false;
    }
    if (data.indexOf(CR) < 0) {
      for (let q = data.indexOf(QUOTE); q >= 0; q = data.indexOf(QUOTE, q + 1)) this.quoted = !this.quoted;
    } else {
      // A CRLF file has a CR on every line: one pass, one copy.
      const out = Buffer.allocUnsafe(data.length);
      let w = 0;
      for (let i = 0; i < data.length; i++) {
        const b = data[i]!;
        if (b === QUOTE) this.quoted = !this.quoted;
        if (b === CR && !this.quoted) {
          out[w++] = LF;
          if (i + 1 === data.length) this.afterCr = true;
          else if (data[i + 1] === LF) i++;
        } else {
          out[w++] = b;
        }
      }
      data = out.subarray(0, w);
    }
    let end = data.length;
    while (end > 0 && data[end - 1] === LF) end--;
    if (end > 0) {
      if (this.pendingLf > 0) this.hash.update(Buffer.alloc(this.pendingLf, LF));
      this.hash.update(data.subarray(0, end));
      this.pendingLf = 0;
    }
    this.pendingLf += data.length - end;
  }
}
