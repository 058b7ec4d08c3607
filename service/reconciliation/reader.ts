/**
 * A gateway report, streamed: bytes in (any chunking), validated rows and per-line errors out.
 * The first record is the header (checked against the format: a file without the format's columns
 * is refused as a whole, naming what is missing); every later record becomes a `ReportRow` or one
 * or more `ImportError`s with its line. Used by the import (to validate and count) and by runs (to
 * read the stored file again), so both see exactly the same rows.
 */
import { CsvReader, type CsvProblem, type CsvRecord } from "./csv.js";
import { isAppError } from "../errors.js";
import { ReconErrors } from "./errors.js";
import { FORMATS, type DecoderOptions, type RowDecoder } from "./formats/index.js";
import type { ImportError, ReportFormat, ReportRow } from "./types.js";

export interface ReportHandlers {
  row(r: ReportRow): void;
  error(e: ImportError): void;
}

export class ReportReader {
  private readonly csv: CsvReader;
  private decoder: RowDecoder | null = null;
  header: string[] | null = null;
  /** Records refused (malformed, or not a valid row): each has one or more errors, one per cell at fault. */
  refusedCount = 0;
  private recordFailed = false;
  private readonly onError = (e: ImportError): void => {
    this.recordFailed = true;
    this.handlers.error(e);
  };

  constructor(
    readonly format: ReportFormat,
    private readonly source: number,
    private readonly handlers: ReportHandlers,
    private readonly options: DecoderOptions = {},
  ) {
    this.csv = new CsvReader({
      record: (r) => this.record(r),
      problem: (p) => this.problem(p),
    });
  }

  get lineCount(): number {
    return this.csv.lineCount;
  }

  pushBytes(chunk: Uint8Array): void {
    this.csv.pushBytes(chunk);
  }

  end(): void {
    this.csv.end();
    if (this.header === null) throw ReconErrors.reportFormat(`not a ${FORMATS[this.format].title}: the file is empty (no header line)`, { fields: [{ field: "body", message: "empty report" }] });
  }

  private record(r: CsvRecord): void {
    if (this.decoder === null) {
      this.header = r.fields.map((f) => f.trim());
      try {
        this.decoder = FORMATS[this.format].decoder(this.header, this.options);
      } catch (e) {
        // Say how the header was split: a file saved with another delimiter shows as missing columns.
        if (!isAppError(e)) throw e;
        const shown = this.csv.delimiter === "\t" ? "tab" : `"${this.csv.delimiter}"`;
        throw ReconErrors.reportFormat(`${e.message} (the header was split at ${shown}, its most frequent delimiter)`, {
          ...(e.fields === undefined ? {} : { fields: e.fields }),
          details: { ...e.details, delimiter: this.csv.delimiter },
        });
      }
      return;
    }
    this.recordFailed = false;
    // A NUL is no character of a report's text, and PostgreSQL cannot store it in text or JSON: the
    // record is refused at its cell, never carried into a run's evidence (where it failed the run).
    const nul = r.fields.findIndex((f) => f.includes("\u0000"));
    if (nul >= 0) {
      const column = this.header?.[nul] ?? null;
      this.refusedCount++;
      this.handlers.error({ line: r.line, column, code: "nul", message: `${column === null ? `field ${nul + 1}` : column} holds a NUL character (\\0): the record is refused` });
      return;
    }
    const row = this.decoder(r.fields, r.line, this.source, this.onError);
    if (this.recordFailed) this.refusedCount++;
    if (row !== null) this.handlers.row(row);
  }

  private problem(p: CsvProblem): void {
    if (this.decoder === null) {
      throw ReconErrors.reportFormat(`not a ${FORMATS[this.format].title}: the header (line ${p.line}) is malformed: ${p.message}`, {
        fields: [{ field: "header", message: p.message }],
        details: { line: p.line },
      });
    }
    this.refusedCount++;
    this.handlers.error({ line: p.line, column: null, code: p.code, message: p.message });
  }
}
