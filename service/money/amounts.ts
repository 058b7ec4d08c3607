/**
 * Amounts are bigint minor units in code and decimal strings in JSON. These helpers sit at the
 * edges: parsing what HTTP clients and CSV files send, formatting for display and reports. Nothing
 * here goes through floating point; a major-unit string is converted by moving the decimal point,
 * and refused when that would drop a non-zero digit.
 */
import { currency } from "./currencies.js";
import { MoneyErrors } from "./errors.js";

/**
 * Amounts are stored as NUMERIC(38,0): 38 digits is the cap at every edge so a value accepted
 * here can always be stored, and the product with an 18-decimal rate stays far below the
 * precision of the private Decimal used for conversions (see rounding.ts).
 */
export const MAX_AMOUNT_DIGITS = 38;
/** The largest magnitude of an amount in minor units: 38 nines. */
export const MAX_ABS_AMOUNT = 10n ** BigInt(MAX_AMOUNT_DIGITS) - 1n;

export interface ParseMinorOptions {
  /** Name of the field in errors (JSON pointer or dotted path), e.g. `amount` or `/postings/1/amount`. */
  field?: string;
  /** Accept a leading "-" (refunds/adjustments expressed as signed amounts). Default false. */
  allowNegative?: boolean;
  /** Accept "0". Default true. */
  allowZero?: boolean;
}

function invalid(field: string, value: unknown, message: string) {
  return MoneyErrors.invalidAmount(`${field}: ${message}`, {
    fields: [{ field, message }],
    details: { value: typeof value === "string" ? value.slice(0, 64) : typeof value },
  });
}

/**
 * Parse an amount in minor units sent as a string ("12345", "-500"). No decimals, no exponent,
 * no leading "+", no leading zeros, no whitespace: one canonical spelling per value, so that
 * idempotency-key body comparison and signatures see the same bytes for the same amount.
 */
export function parseMinor(value: unknown, options: ParseMinorOptions = {}): bigint {
  const field = options.field ?? "amount";
  if (typeof value !== "string") throw invalid(field, value, "must be a string of digits in minor units");
  if (!/^-?(0|[1-9]\d*)$/.test(value)) {
    throw invalid(field, value, "must be an integer in minor units without decimals, e.g. \"12345\"");
  }
  if (value === "-0") throw invalid(field, value, "must not be negative zero");
  const amount = BigInt(value);
  if (amount < 0n && options.allowNegative !== true) throw invalid(field, value, "must not be negative");
  if (amount === 0n && options.allowZero === false) throw invalid(field, value, "must not be zero");
  if (amount > MAX_ABS_AMOUNT || amount < -MAX_ABS_AMOUNT) throw invalid(field, value, `must have at most ${MAX_AMOUNT_DIGITS} digits`);
  return amount;
}

/** A positive amount in minor units (> 0), the shape of ledger postings. */
export function parsePositiveMinor(value: unknown, field = "amount"): bigint {
  return parseMinor(value, { field, allowNegative: false, allowZero: false });
}

/** The JSON spelling of an amount: a decimal string of minor units. */
export function minorToString(amount: bigint): string {
  return amount.toString();
}

/** Minor units -> major-unit decimal string: (12345n, "USD") -> "123.45"; (-5n, "USD") -> "-0.05"; (500n, "JPY") -> "500". */
export function formatMinor(amount: bigint, code: string): string {
  return formatUnits(amount, currency(code).exponent);
}

/**
 * What the ledger knows of an asset's minor-unit exponent: ISO 4217's for a currency, the token's
 * decimals for a ledger token (USDC) once read from its contract; null when it does not know.
 */
export type ExponentOf = (code: string) => number | null;

/** Minor units -> major units with the asset's exponent, or null when `exponentOf` does not know it. */
export function formatMajorOrNull(amount: bigint, code: string, exponentOf: ExponentOf): string | null {
  const exponent = exponentOf(code);
  return exponent === null ? null : formatUnits(amount, exponent);
}

/** Base units -> a decimal string with `exponent` places: (1500000n, 6) -> "1.500000". */
function formatUnits(amount: bigint, exponent: number): string {
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString();
  if (exponent === 0) return (negative ? "-" : "") + digits;
  const padded = digits.padStart(exponent + 1, "0");
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  return `${negative ? "-" : ""}${whole}.${fraction}`;
}

export interface ParseMajorOptions {
  field?: string;
  allowNegative?: boolean;
}

/** Why a major-unit string was refused by `parseMajorExact`. */
export type MajorUnitsProblem = "format" | "precision" | "size";

/**
 * Major-unit decimal string -> minor units of a currency of `exponent`, exactly (never rounds),
 * without throwing: the form for files read by the million (a report row's problem is reported
 * with its line and column, not thrown). The grammar is the one real reports use: an optional
 * leading "-", digits, optionally "." and digits ("27.90", "-10.00", "0.5", "39000"). Refused as
 * "format": ".91", "5.", "+1", "1e3", "1,234.56", spaces. More decimals than `exponent` is
 * "precision" unless the extra ones are zeros ("15000.00" KRW is 15000); more than 38 digits in
 * minor units is "size". Hand-written (no regex, no Decimal) because an import parses two or three
 * amounts per row; property-tested against decimal.js in test/money/amounts.property.test.ts.
 */
export function parseMajorExact(text: string, exponent: number): bigint | MajorUnitsProblem {
  const n = text.length;
  let i = 0;
  const negative = n > 0 && text.charCodeAt(0) === 45; // "-"
  if (negative) i = 1;
  const wholeStart = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const whole = text.slice(wholeStart, i);
  if (whole.length === 0) return "format";
  let fraction = "";
  if (i < n) {
    if (text.charCodeAt(i) !== 46) return "format"; // "."
    const fractionStart = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i < n) return "format";
    fraction = text.slice(fractionStart, i);
    if (fraction.length === 0) return "format";
  }
  if (fraction.length > exponent) {
    // Zeros beyond the minor unit carry no value; anything else would have to be rounded away.
    for (let k = exponent; k < fraction.length; k++) if (fraction.charCodeAt(k) !== 48) return "precision";
    fraction = fraction.slice(0, exponent);
  }
  const digits = whole + fraction.padEnd(exponent, "0");
  let minor: bigint;
  // Up to 15 digits fit a double exactly, and BigInt(number) is much faster than BigInt(string).
  if (digits.length <= 15) minor = BigInt(Number(digits));
  else {
    // Counted before BigInt so that a field of a million digits costs no big-number parse.
    let zeros = 0;
    while (zeros < digits.length - 1 && digits.charCodeAt(zeros) === 48) zeros++;
    if (digits.length - zeros > MAX_AMOUNT_DIGITS) return "size";
    minor = BigInt(digits);
  }
  return negative ? -minor : minor;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Major-unit decimal string -> minor units, exactly: ("123.45", "USD") -> 12345n,
 * ("12.3", "USD") -> 1230n, ("1.5", "JPY") -> ENT_MONEY_INEXACT_AMOUNT, ("2.500", "USD") -> 250n
 * (trailing zeros beyond the exponent carry no value, so they are not an inexactness).
 * `parseMajorExact` with its problems thrown as errors naming the field; never rounds.
 */
export function parseMajor(value: unknown, code: string, options: ParseMajorOptions = {}): bigint {
  const field = options.field ?? "amount";
  const { exponent } = currency(code);
  if (typeof value !== "string") throw invalid(field, value, "must be a decimal string in major units");
  const amount = parseMajorExact(value, exponent);
  if (amount === "format") throw invalid(field, value, "must be a decimal number in major units, e.g. \"123.45\"");
  if (amount === "precision") {
    throw MoneyErrors.inexactAmount(`${field}: ${value} has more than ${exponent} decimal(s), the minor unit of ${code}`, {
      fields: [{ field, message: `must have at most ${exponent} decimal(s) for ${code}` }],
      details: { value: value.slice(0, 64), currency: code, exponent },
    });
  }
  const negative = amount === "size" ? value.startsWith("-") : amount < 0n;
  if (negative && options.allowNegative !== true) throw invalid(field, value, "must not be negative");
  if (amount === "size") throw invalid(field, value, `must have at most ${MAX_AMOUNT_DIGITS} digits in minor units`);
  return amount;
}

/** An amount with its currency; the JSON form carries the amount as a string. */
export interface Money {
  readonly amount: bigint;
  readonly currency: string;
}

export interface MoneyJson {
  amount: string;
  currency: string;
}

export function money(amount: bigint, code: string): Money {
  currency(code);
  return { amount, currency: code };
}

export function toJson(m: Money): MoneyJson {
  return { amount: m.amount.toString(), currency: m.currency };
}

export function fromJson(json: { amount: unknown; currency: unknown }, field = "amount", options: ParseMinorOptions = {}): Money {
  const code = currency(typeof json.currency === "string" ? json.currency : String(json.currency), `${field}.currency`).code;
  return { amount: parseMinor(json.amount, { ...options, field: `${field}.amount` }), currency: code };
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw MoneyErrors.currencyMismatch(`cannot combine ${a.currency} with ${b.currency}`, { details: { left: a.currency, right: b.currency } });
  }
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { amount: a.amount + b.amount, currency: a.currency };
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { amount: a.amount - b.amount, currency: a.currency };
}

/** Sum of amounts in one currency; an empty list sums to zero of `code`. */
export function sum(items: readonly Money[], code: string): Money {
  let total = 0n;
  for (const m of items) {
    sameCurrency(m, { amount: 0n, currency: code });
    total += m.amount;
  }
  return { amount: total, currency: code };
}
