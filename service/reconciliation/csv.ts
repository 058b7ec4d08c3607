/**
 * A streaming RFC 4180 CSV reader, written for gateway settlement reports of millions of lines:
 * text is pushed in chunks of any size (a record may span chunks), records come out with the
 * physical line they START on (1-based, the header is line 1), so every problem can be reported
 * by line. Handles quoted fields (with `""` escapes and embedded line breaks), CRLF, LF and lone CR
 * line ends, a UTF-8 byte order mark, and blank lines (skipped, still counted). The delimiter is
 * read from the header line: a comma, or a semicolon or tab where the header has more of those
 * than commas (a report re-saved by a spreadsheet in a locale that writes "a;b;c").
 *
 * Malformed input never throws and is never skipped silently: a stray quote inside an unquoted
 * field or text after a closing quote makes the RECORD malformed (reported with its line, parsing
 * goes on at the next line end). A malformed record that ran on over several physical lines (a
 * quoted field opened by a stray quote, closed lines later by the next quote, or never closed, or
 * not closed within the record cap) is reported on the line it started, and reading resumes at the
 * NEXT PHYSICAL LINE: one stray quote must not swallow the rows after it. (Those lines hold no quote
 * up to the one that closed the field, so each of them is read as a record of its own; a legitimate
 * multi-line field fails only with its record, whose continuation lines then fail or are read as
 * what they are.) A physical line longer than the cap is refused and dropped up to its line end.
 *
 * Why hand-written: no CSV dependency is installed, and the hot loop here (charCodeAt scanning,
 * slices of the chunk) parses a 150 MB report in about a second.
 */
import { StringDecoder } from "node:string_decoder";

export interface CsvRecord {
  /** Physical line the record starts on (1-based). */
  line: number;
  fields: string[];
}

export interface CsvProblem {
  line: number;
  /** "quote": a quote where RFC 4180 allows none; "unterminated_quote": a quoted field never closed; "too_long". */
  code: "quote" | "unterminated_quote" | "too_long";
  message: string;
}

export interface CsvSink {
  record(r: CsvRecord): void;
  problem(p: CsvProblem): void;
}

const QUOTE = 34;
const COMMA = 44;
const SEMICOLON = 59;
const TAB = 9;
const LF = 10;
const CR = 13;

/** Default cap on one record (characters): a longer one is an unterminated quote in practice. */
export const MAX_RECORD_CHARS = 1 << 20;

export class CsvReader {
  private readonly decoder = new StringDecoder("utf8");
  private carry = "";
  /** Line the carried (incomplete) record starts on. */
  private line = 1;
  private started = false;
  /** Set while the rest of a physical line longer than the cap is dropped (it was reported). */
  private skipping = false;
  /** The skipped line ended with a CR last in a chunk: an LF first in the next one is its CRLF. */
  private dropLf = false;
  private empty = true;
  private endsWithLineEnd = false;
  private delim = COMMA;
  /** The field delimiter, as read from the header line. */
  delimiter = ",";

  constructor(
    private readonly sink: CsvSink,
    private readonly maxRecordChars = MAX_RECORD_CHARS,
  ) {}

  /** Physical lines of the text read (after `end()`: of the whole file; a final line end opens no new line). */
  get lineCount(): number {
    const ends = this.line - 1;
    return this.empty ? 0 : ends + (this.endsWithLineEnd ? 0 : 1);
  }

  pushBytes(chunk: Uint8Array): void {
    this.pushText(this.decoder.write(chunk));
  }

  pushText(text: string): void {
    if (text.length === 0) return;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length === 0) return;
      this.sniff(text);
    }
    this.empty = false;
    const last = text.charCodeAt(text.length - 1);
    this.endsWithLineEnd = last === LF || last === CR;
    if (this.dropLf) {
      this.dropLf = false;
      if (text.charCodeAt(0) === LF) text = text.slice(1);
    }
    if (this.skipping) {
      const next = afterLineEnd(text, 0);
      if (next < 0) return;
      this.skipping = false;
      this.dropLf = next === text.length && text.charCodeAt(next - 1) === CR;
      this.line++;
      text = text.slice(next);
    }
    if (text.length === 0) return;
    const buf = this.carry.length === 0 ? text : this.carry + text;
    this.carry = buf.slice(this.scan(buf, false));
    if (this.carry.length > this.maxRecordChars) this.tooLong();
  }

  end(): void {
    const rest = this.decoder.end();
    if (rest.length > 0) this.pushText(rest);
    if (this.carry.length > 0) {
      const buf = this.carry;
      this.carry = "";
      this.scan(buf, true);
    }
  }

  /** Picks the delimiter from the first line: the most frequent of , ; and tab outside quotes (comma on a tie). */
  private sniff(text: string): void {
    const counts = new Map<number, number>([[COMMA, 0], [SEMICOLON, 0], [TAB, 0]]);
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) quoted = !quoted;
      else if (!quoted && (c === LF || c === CR)) break;
      else if (!quoted && counts.has(c)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    let best = COMMA;
    for (const [c, n] of counts) if (n > (counts.get(best) ?? 0)) best = c;
    this.delim = best;
    this.delimiter = String.fromCharCode(best);
  }

  private tooLong(): void {
    // The carried record never ended within the cap: a quoted field that is never closed (or
    // closed megabytes later). Refuse its first line and read on from the next physical line.
    while (this.carry.length > this.maxRecordChars) {
      const next = afterLineEnd(this.carry, 0);
      if (next === this.carry.length) return; // a CR last may be half a CRLF: decide with the next chunk
      if (next < 0) {
        // One physical line longer than the cap: refused; what is left of it is dropped as it comes.
        this.sink.problem({ line: this.line, code: "too_long", message: `line ${this.line} is longer than ${this.maxRecordChars} characters: it is refused, reading resumes at the next line` });
        this.skipping = true;
        this.carry = "";
        return;
      }
      this.sink.problem({
        line: this.line,
        code: "unterminated_quote",
        message: `a quoted field opened on line ${this.line} is not closed within ${this.maxRecordChars} characters: line ${this.line} is refused, reading resumes at line ${this.line + 1}`,
      });
      this.line++;
      const rest = this.carry.slice(next);
      this.carry = rest.slice(this.scan(rest, false));
    }
  }

  /**
   * Parses complete records of `buf` from 0; returns the index where the first incomplete record
   * starts (buf.length when none). With `final`, the end of the buffer ends the last record.
   */
  private scan(buf: string, final: boolean): number {
    const n = buf.length;
    let i = 0;
    let line = this.line;
    // Next quote / CR at or after i (-1: none left), kept across records: the fast path below must
    // not rescan the rest of the buffer for every record.
    let nextQuote = -2;
    let nextCr = -2;
    while (i < n) {
      const start = i;
      const startLine = line;
      // Fast path: a whole line without quotes or lone CRs is split natively.
      const lf = buf.indexOf("\n", i);
      if (lf >= 0) {
        if (nextQuote !== -1 && nextQuote < i) nextQuote = buf.indexOf('"', i);
        if (nextCr !== -1 && nextCr < i) nextCr = buf.indexOf("\r", i);
        const end = lf > i && buf.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
        if ((nextQuote < 0 || nextQuote >= lf) && (nextCr < 0 || nextCr >= end)) {
          i = lf + 1;
          line++;
          if (end > start) this.sink.record({ line: startLine, fields: buf.slice(start, end).split(this.delimiter) });
          continue;
        }
      }
      const fields: string[] = [];
      let bad: CsvProblem | null = null;
      // Set when a quoted field of the record holds a line end: a malformed record then refuses
      // only its first line, and reading resumes at the next physical line (see the header).
      let spanned = false;
      let resume = false;
      // One record.
      for (;;) {
        if (i < n && buf.charCodeAt(i) === QUOTE) {
          // Quoted field: find the closing quote (a `""` pair is an escaped quote).
          const openLine = line;
          let value = "";
          let j = i + 1;
          let closed = -1;
          for (;;) {
            const k = buf.indexOf('"', j);
            if (k < 0) break;
            const ends = countLineEnds(buf, j, k);
            if (ends > 0) {
              line += ends;
              spanned = true;
            }
            if (k + 1 < n && buf.charCodeAt(k + 1) === QUOTE) {
              value += buf.slice(j, k + 1);
              j = k + 2;
              continue;
            }
            if (k + 1 >= n && !final) break; // the next chunk may start with the escaping quote
            value += buf.slice(j, k);
            closed = k;
            break;
          }
          if (closed < 0) {
            if (!final) {
              this.line = startLine;
              return start;
            }
            // End of file inside a quoted field: its record's first line is refused, the lines
            // after it are read again as records of their own.
            const next = afterLineEnd(buf, start);
            if (next < 0 || next >= n) {
              this.line = startLine + countLineEnds(buf, start, n);
              this.sink.problem({ line: startLine, code: "unterminated_quote", message: `a quoted field opened on line ${openLine} is never closed` });
              return n;
            }
            this.sink.problem({
              line: startLine,
              code: "unterminated_quote",
              message: `a quoted field opened on line ${openLine} is never closed: line ${startLine} is refused, reading resumes at line ${startLine + 1}`,
            });
            bad = null;
            resume = true;
            break;
          }
          fields.push(value);
          i = closed + 1;
          // After a closing quote: a delimiter, a line end or the end of the data.
          if (i < n) {
            const c = buf.charCodeAt(i);
            if (c !== this.delim && c !== LF && c !== CR) {
              bad ??= { line: startLine, code: "quote", message: `text after the closing quote of field ${fields.length}${spanned ? ` on line ${line}` : ""}` };
              // Resynchronise at the next delimiter or line end.
              while (i < n) {
                const d = buf.charCodeAt(i);
                if (d === this.delim || d === LF || d === CR) break;
                i++;
              }
            }
          }
        } else {
          // Unquoted field: up to the next comma or line end; a quote inside is malformed.
          let j = i;
          while (j < n) {
            const c = buf.charCodeAt(j);
            if (c === this.delim || c === LF || c === CR) break;
            if (c === QUOTE) bad ??= { line: startLine, code: "quote", message: `quote inside unquoted field ${fields.length + 1}` };
            j++;
          }
          fields.push(buf.slice(i, j));
          i = j;
        }
        if (i >= n) {
          if (!final) {
            this.line = startLine;
            return start;
          }
          break;
        }
        const d = buf.charCodeAt(i);
        if (d === this.delim) {
          i++;
          if (i >= n && final) {
            fields.push("");
            break;
          }
          continue;
        }
        // Line end: CRLF, LF or a lone CR.
        if (d === CR) {
          if (i + 1 >= n && !final) {
            this.line = startLine;
            return start; // could be the CR of a CRLF split across chunks
          }
          i += i + 1 < n && buf.charCodeAt(i + 1) === LF ? 2 : 1;
        } else {
          i++;
        }
        line++;
        break;
      }
      if (resume || (bad !== null && spanned)) {
        // A malformed record over several lines refuses only its first line (see the header).
        if (bad !== null) {
          this.sink.problem({ ...bad, message: `${bad.message} (a quoted field ran on from line ${startLine} over line ends, opened by a stray quote or never closed as it should): line ${startLine} is refused, reading resumes at line ${startLine + 1}` });
        }
        i = afterLineEnd(buf, start);
        line = startLine + 1;
        nextQuote = -2;
        nextCr = -2;
        continue;
      }
      if (bad !== null) this.sink.problem(bad);
      else if (!(fields.length === 1 && fields[0] === "")) this.sink.record({ line: startLine, fields });
    }
    this.line = line;
    return n;
  }
}

/** The index just after the first line end (CRLF, LF or a lone CR) at or after `from`; -1 when none. */
function afterLineEnd(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) return i + 1;
    if (c === CR) return i + 1 < s.length && s.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
  }
  return -1;
}

function countLineEnds(s: string, from: number, to: number): number {
  // CRLF counts once, a lone CR or LF once each.
  let count = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) count++;
    else if (c === CR && (i + 1 >= s.length || s.charCodeAt(i + 1) !== LF)) count++;
  }
  return count;
}
