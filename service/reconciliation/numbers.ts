/**
 * Exact number handling for report fields, fast enough for millions of rows: major-unit decimal
 * strings -> bigint minor units (never rounded: a value with more decimals than the currency's
 * minor unit is an error of the row), rates as exact fractions of bigints, and the two rounded
 * operations the matcher needs, each naming its rounding (half-up, on magnitudes).
 */
import { exponentOf, isCurrency } from "../money/index.js";

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

export function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/** Exponents of the currencies seen, cached (the money module's lookup validates each code once). */
const exponents = new Map<string, number>();
let lastCode = "";
let lastExponent = 0;

/** The minor-unit exponent of an ISO 4217 code, or null when it is not a currency with minor units. */
export function exponentOrNull(code: string): number | null {
  if (code === lastCode) return lastExponent;
  const hit = exponents.get(code);
  if (hit !== undefined) {
    lastCode = code;
    lastExponent = hit;
  }
  if (hit !== undefined) return hit;
  if (!isCurrency(code)) return null;
  const e = exponentOf(code);
  exponents.set(code, e);
  return e;
}

/** Why a decimal string was refused (null = fine). */
export type DecimalProblem = "format" | "precision" | "size";

const MAX_DIGITS = 38;

/**
 * "1234.50" in a currency of exponent 2 -> 123450n. Accepts an optional leading "-", digits, an
 * optional "." and digits. Trailing zeros beyond the exponent carry no value and are accepted
 * ("15000.00" KRW); other extra decimals are a "precision" problem. Returns the problem instead
 * of throwing (the caller reports it with the line and column).
 */
export function parseMajorUnits(s: string, exponent: number): bigint | DecimalProblem {
  const n = s.length;
  if (n === 0) return "format";
  let i = 0;
  let negative = false;
  if (s.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  const wholeStart = i;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  const whole = s.slice(wholeStart, i);
  if (whole.length === 0) return "format";
  let fraction = "";
  if (i < n) {
    if (s.charCodeAt(i) !== 46) return "format";
    const fStart = ++i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return "format";
      i++;
    }
    fraction = s.slice(fStart, i);
    if (fraction.length === 0) return "format";
  }
  if (fraction.length > exponent) {
    for (let k = exponent; k < fraction.length; k++) if (fraction.charCodeAt(k) !== 48) return "precision";
    fraction = fraction.slice(0, exponent);
  }
  const digits = whole + fraction.padEnd(exponent, "0");
  // Up to 15 digits fit a double exactly: BigInt(number) is much faster than BigInt(string).
  const v = digits.length <= 15 ? BigInt(Number(digits)) : digits.length - countLeadingZeros(digits) > MAX_DIGITS ? null : BigInt(digits);
  if (v === null) return "size";
  return negative ? -v : v;
}

function countLeadingZeros(s: string): number {
  let k = 0;
  while (k < s.length - 1 && s.charCodeAt(k) === 48) k++;
  return k;
}

/** An exact positive rate: num / den. */
export interface Fraction {
  num: bigint;
  den: bigint;
}

/** "5.1234" -> 51234/10000; null when not a positive decimal. */
export function parseRate(s: string): Fraction | null {
  if (!/^\d{1,20}(?:\.\d{1,20})?$/.test(s)) return null;
  const dot = s.indexOf(".");
  const num = BigInt(dot < 0 ? s : s.slice(0, dot) + s.slice(dot + 1));
  if (num === 0n) return null;
  return { num, den: dot < 0 ? 1n : pow10(s.length - dot - 1) };
}

/**
 * The rate implied by two amounts, units of B per unit of A: (bMinor / 10^eb) / (aMinor / 10^ea).
 * Both magnitudes must be non-zero.
 */
export function impliedRate(aMinor: bigint, ea: number, bMinor: bigint, eb: number): Fraction {
  const a = aMinor < 0n ? -aMinor : aMinor;
  const b = bMinor < 0n ? -bMinor : bMinor;
  return { num: b * pow10(ea), den: a * pow10(eb) };
}

/** |a - b| / b in basis points, rounded half-up (for evidence); exact comparison uses `exceedsBps`. */
export function differenceBps(a: Fraction, b: Fraction): number {
  const diff = abs(a.num * b.den - b.num * a.den);
  const base = b.num * a.den;
  return Number(divRoundHalfUp(diff * 10_000_000n, base)) / 1000;
}

/** True when |a - b| / b > bps / 10,000, exactly. */
export function exceedsBps(a: Fraction, b: Fraction, bps: number): boolean {
  const diff = abs(a.num * b.den - b.num * a.den);
  // diff / (b.num * a.den) > bps / 10_000  <=>  diff * 10_000 * 100 > round(bps * 100) * base
  return diff * 1_000_000n > BigInt(Math.round(bps * 100)) * (b.num * a.den);
}

/**
 * Converts `minor` (exponent `from`) at `rate` (units of target per unit of source) to the target's
 * minor units (exponent `to`), rounding half-up on the magnitude.
 */
export function convertMinor(minor: bigint, from: number, rate: Fraction, to: number): bigint {
  const negative = minor < 0n;
  const m = negative ? -minor : minor;
  const v = divRoundHalfUp(m * rate.num * pow10(to), rate.den * pow10(from));
  return negative ? -v : v;
}

/**
 * The most a fee can be off after a gateway rounded it in currency B (exponent `eb`) and we
 * converted it back to A (exponent `ea`) at `rate` (B per A): half a minor unit of B, in minor
 * units of A, rounded up, plus our own half-up rounding.
 */
export function conversionSlack(rate: Fraction, ea: number, eb: number): bigint {
  const num = rate.den * pow10(ea);
  const den = 2n * rate.num * pow10(eb);
  return (num + den - 1n) / den + 1n;
}

/** Inverse of a fraction. */
export function invert(f: Fraction): Fraction {
  return { num: f.den, den: f.num };
}

/** A fraction as a decimal string with `places` decimals, rounded half-up (evidence only). */
export function fractionToString(f: Fraction, places = 10): string {
  const scaled = divRoundHalfUp(f.num * pow10(places), f.den);
  const digits = scaled.toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const frac = digits.slice(digits.length - places).replace(/0+$/, "");
  return frac === "" ? whole : `${whole}.${frac}`;
}

function divRoundHalfUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n - q * d;
  return r * 2n >= d ? q + 1n : q;
}

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}
