/**
 * What every report format provides: its documented columns (those a file must have), the
 * reference names a row can be matched by, and a decoder from a CSV record to a validated
 * `ReportRow` (or errors naming line and column).
 */
import { convertMinor, exponentOrNull, invertRate, parseMajorExact, type MajorUnitsProblem, type RateFraction } from "../../money/index.js";
import { ReconErrors } from "../errors.js";
import type { ImportError, ReportFormat, ReportRow } from "../types.js";

export type RowDecoder = (fields: string[], line: number, source: number, error: (e: ImportError) => void) => ReportRow | null;

/** How a file is read beyond its own bytes: the zone of local times where a report has no UTC column. */
export interface DecoderOptions {
  /** IANA time zone of the report's local date-times (Stripe's default "created" column). */
  timeZone?: string;
}

export interface FormatDefinition {
  format: ReportFormat;
  /** Human name of the report (for messages). */
  title: string;
  /** Columns a file must have (by name; order and extra columns are free). */
  required: readonly string[];
  /** Reference names, in the order the exact-reference rule tries them by default. */
  references: readonly string[];
  decoder(header: readonly string[], opts?: DecoderOptions): RowDecoder;
}

/** Column name -> index; refuses duplicate names and missing required columns, naming them. */
export function columnIndex(def: FormatDefinition, header: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  const duplicates: string[] = [];
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (index.has(name)) duplicates.push(name);
    else index.set(name, i);
  });
  const missing = def.required.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw ReconErrors.reportFormat(
      `not a ${def.title}: the header lacks ${missing.length} required column${missing.length === 1 ? "" : "s"}: ${missing.join(", ")}`,
      { fields: missing.map((c) => ({ field: `header.${c}`, message: "required column missing" })), details: { format: def.format, missing, found: header.slice(0, 60) } },
    );
  }
  if (duplicates.length > 0) {
    throw ReconErrors.reportFormat(`not a ${def.title}: duplicate column${duplicates.length === 1 ? "" : "s"} ${duplicates.join(", ")}`, {
      fields: duplicates.map((c) => ({ field: `header.${c}`, message: "column appears twice" })),
      details: { format: def.format, duplicates },
    });
  }
  return index;
}

/**
 * The largest |amount| a report row may carry, in minor units: 2^63 - 1. The ledger holds
 * NUMERIC(38,0), but a run keeps the ledger side and its sums in int64 columns (ledger-window.ts),
 * and no settlement event comes near it (validate.ts caps events at 10^15 by default): a row beyond
 * it is a broken file, refused at import rather than wrapped around in a run. Applies to every
 * amount column and to what a row derives from them (net = credit - debit, the sum of cost columns,
 * a fee converted back). Sums of many rows are kept exactly (BigColumn), never in int64.
 */
export const MAX_REPORT_MINOR = 2n ** 63n - 1n;

/** Per-row helper: reads columns by index and reports problems with line and column. */
export class RowReader {
  failed = false;
  constructor(
    private readonly fields: string[],
    private readonly line: number,
    private readonly header: readonly string[],
    private readonly error: (e: ImportError) => void,
  ) {}

  text(i: number | undefined): string {
    if (i === undefined) return "";
    const v = this.fields[i] ?? "";
    // trim() only when there is something to trim (the common case allocates nothing).
    return v.length === 0 || (v.charCodeAt(0) > 32 && v.charCodeAt(v.length - 1) > 32) ? v : v.trim();
  }

  fail(i: number | undefined, code: string, message: string): void {
    this.failed = true;
    this.error({ line: this.line, column: i === undefined ? null : (this.header[i] ?? null), code, message });
  }

  /** A required ISO 4217 code (upper-cased when `upper`), or null after reporting. */
  currency(i: number | undefined, upper = false): string | null {
    const raw = this.text(i);
    if (raw === "") {
      this.fail(i, "required", "a currency is required");
      return null;
    }
    const code = upper ? raw.toUpperCase() : raw;
    if (exponentOrNull(code) === null) {
      this.fail(i, "currency", `${JSON.stringify(raw.slice(0, 16))} is not an ISO 4217 currency with minor units`);
      return null;
    }
    return code;
  }

  /** A major-unit amount in `currency` -> minor units; empty -> `empty`; problems reported -> null. */
  amount(i: number | undefined, currency: string, empty: bigint | null = null): bigint | null {
    const raw = this.text(i);
    if (raw === "") return empty;
    const v = parseMajorExact(withLeadingZero(raw), exponentOrNull(currency) ?? 0);
    if (typeof v === "bigint") return this.bounded(i, v, JSON.stringify(raw.slice(0, 40)));
    this.fail(i, v === "precision" ? "precision" : "amount", amountMessage(raw, currency, v));
    return null;
  }

  /** `v` when |v| <= MAX_REPORT_MINOR; otherwise an `amount` error of column `i` and null. */
  bounded(i: number | undefined, v: bigint, shown: string): bigint | null {
    if (v <= MAX_REPORT_MINOR && v >= -MAX_REPORT_MINOR) return v;
    this.fail(i, "amount", `${shown} is too large: at most ${MAX_REPORT_MINOR} minor units (2^63 - 1)`);
    return null;
  }
}

/** Reports exported through spreadsheets write ".91" and "-.91" for 0.91 and -0.91. */
export function withLeadingZero(raw: string): string {
  if (raw.charCodeAt(0) === 46) return `0${raw}`;
  if (raw.charCodeAt(0) === 45 && raw.charCodeAt(1) === 46) return `-0${raw.slice(1)}`;
  return raw;
}

function amountMessage(raw: string, currency: string, problem: MajorUnitsProblem): string {
  const shown = JSON.stringify(raw.slice(0, 40));
  if (problem === "precision") return `${shown} has more decimals than ${currency} has (${exponentOrNull(currency)})`;
  if (problem === "size") return `${shown} is too large`;
  // "39,000" in KRW or "1,500" in USD cannot be a decimal comma (more decimals than the currency
  // has): digits grouped by a spreadsheet's number format. Only in a currency of three decimals is
  // "1,500" ambiguous; it is then named as a decimal comma, as before.
  const exponent = exponentOrNull(currency) ?? 0;
  if (/^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$/.test(raw) && (exponent < 3 || raw.includes(".") || raw.split(",").length > 2)) {
    return `${shown} looks like a number with a thousands separator: the report must not group digits (${JSON.stringify(raw.replaceAll(",", ""))}; export it again without the spreadsheet's number format)`;
  }
  if (/^-?[0-9]*,[0-9]+$/.test(raw)) return `${shown} has a decimal comma: the report must use "." decimals (export it again without the spreadsheet's locale)`;
  return `${shown} is not a decimal amount in major units (digits, optional "-" and "." decimals)`;
}

/**
 * A fee the report states in `feeCurrency`, converted back into the row's buyer currency at the
 * inverse of the row's rate (buyer -> fee currency), rounded half-up; and how far that can be off
 * from our booked fee: the gateway rounded the fee to a minor unit of its currency (half a unit of
 * it, in minor units of the buyer currency, rounded up) plus our own rounding (half a unit, counted
 * as one). The matcher widens the fee tolerance by that slack.
 */
export function feeInBuyerCurrency(fee: bigint, feeCurrency: string, buyerCurrency: string, rate: RateFraction): { fee: bigint; slack: bigint } {
  const back = invertRate(rate);
  return {
    fee: convertMinor(fee, feeCurrency, buyerCurrency, back, "half-up"),
    slack: convertMinor(1n, feeCurrency, buyerCurrency, { num: back.num, den: back.den * 2n }, "ceil") + 1n,
  };
}
