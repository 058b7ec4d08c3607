/**
 * The identity of a report's content, not of its bytes: sha256 of the file without a UTF-8 byte
 * order mark, with every line end written as LF (CRLF and a lone CR alike) and without the line
 * ends at its end (a last line end or none, trailing blank lines). A report downloaded again, or
 * opened and saved by an editor that changed these, is the same report: its import answers
 * `exists` like identical bytes (as a bank statement does in service/cash). Anything else (a
 * delimiter, a cell, the order of the lines) makes another report.
 *
 * Streamed with the import, chunk by chunk (line ends split across chunks included); the chunks
 * are scanned by Buffer.indexOf; only a chunk with CRs is copied (once, segment by segment).
 */
import { createHash } from "node:crypto";

const CR = 13;
const LF = 10;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export class ContentHash {
  private readonly hash = createHash("sha256");
  /** The first bytes, until there are enough to tell a byte order mark (null once decided). */
  private head: Buffer | null = Buffer.alloc(0);
  /** The previous chunk ended with a CR: an LF first in this one is its CRLF. */
  private afterCr = false;
  /** Line ends held back: they count only if content follows them. */
  private pendingLf = 0;

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
    let k = data.indexOf(CR);
    if (k >= 0) {
      // Copied segment by segment into one buffer (a CRLF file has a CR on every line).
      const out = Buffer.allocUnsafe(data.length);
      let w = 0;
      let from = 0;
      for (; k >= 0; k = data.indexOf(CR, from)) {
        w += data.copy(out, w, from, k);
        out[w++] = LF;
        from = k + 1;
        if (from === data.length) this.afterCr = true;
        else if (data[from] === LF) from++;
      }
      w += data.copy(out, w, from);
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
