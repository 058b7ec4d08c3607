/**
 * The only place where a rate multiplies an amount. Every entry point takes the rounding mode as
 * a required, named argument (`"half-even"`, `"down"`, ...) so the choice is visible at the call
 * and configurable per rule (fees, FX, taxes); there is no implicit default rounding.
 *
 * Exactness proof: amounts have at most 38 digits (MAX_AMOUNT_DIGITS) and rates at most
 * MAX_RATE_DIGITS = 50 significant digits, so a product has at most 88 significant digits and the
 * scaling by 10^k (k = exponent difference or the /100, /10000 of percentages and basis points)
 * is exact. The private Decimal below carries 100 digits, so the product is exact and the named
 * rounding to an integer is the ONLY rounding that happens. The global Decimal config is never
 * touched: other code (or a library) changing it cannot change our results.
 *
 * A rate may also be an exact fraction of bigints (`RateFraction`, rate-fraction.ts): then the
 * product is computed in bigints and `divideRounded` applies the same named modes (tested equal to
 * decimal.js's in test/money/rounding.property.test.ts).
 */
import { Decimal } from "decimal.js";
import { MAX_ABS_AMOUNT, MAX_AMOUNT_DIGITS } from "./amounts.js";
import { currency } from "./currencies.js";
import { MoneyErrors } from "./errors.js";
import type { RateFraction } from "./rate-fraction.js";

export const MoneyDecimal = Decimal.clone({
  precision: 100,
  rounding: Decimal.ROUND_HALF_EVEN,
  // toString never switches to exponent notation: rates and amounts are stored as plain decimals.
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type MoneyDecimal = Decimal;

export const MAX_RATE_DIGITS = 50;

/**
 * Rounding modes, named after what they do to the exact value:
 * - `up` / `down`: away from / towards zero (so `down` truncates, for both signs);
 * - `ceil` / `floor`: towards +infinity / -infinity;
 * - `half-*`: to the nearest integer, ties broken `even` (banker's), `up` (away from zero),
 *   `down` (towards zero), `ceil` or `floor`.
 */
export const ROUNDING_MODES = {
  "half-even": Decimal.ROUND_HALF_EVEN,
  "half-up": Decimal.ROUND_HALF_UP,
  "half-down": Decimal.ROUND_HALF_DOWN,
  "half-ceil": Decimal.ROUND_HALF_CEIL,
  "half-floor": Decimal.ROUND_HALF_FLOOR,
  up: Decimal.ROUND_UP,
  down: Decimal.ROUND_DOWN,
  ceil: Decimal.ROUND_CEIL,
  floor: Decimal.ROUND_FLOOR,
} as const satisfies Record<string, Decimal.Rounding>;

export type RoundingMode = keyof typeof ROUNDING_MODES;

/** The default for configuration (not an implicit argument): banker's rounding has no drift. */
export const DEFAULT_ROUNDING: RoundingMode = "half-even";

export function isRoundingMode(value: unknown): value is RoundingMode {
  return typeof value === "string" && Object.hasOwn(ROUNDING_MODES, value);
}

/** Validate a rounding mode coming from configuration or a request. */
export function parseRounding(value: unknown, field = "rounding"): RoundingMode {
  if (isRoundingMode(value)) return value;
  throw MoneyErrors.invalidRounding(`${field}: ${JSON.stringify(value)} is not a rounding mode`, {
    fields: [{ field, message: `must be one of ${Object.keys(ROUNDING_MODES).join(", ")}` }],
  });
}

function modeOf(rounding: RoundingMode): Decimal.Rounding {
  // Checked at run time too: a mode read from JSON or config reaches here typed as a string.
  // parseRounding throws the field-named error for anything that is not a mode.
  return ROUNDING_MODES[parseRounding(rounding)];
}

export function invalidRate(field: string, value: unknown, message: string) {
  return MoneyErrors.invalidRate(`${field}: ${message}`, {
    fields: [{ field, message }],
    details: { value: typeof value === "string" ? value.slice(0, 80) : String(value) },
  });
}

/**
 * A rate or factor as an exact decimal: a plain decimal string ("5.4321", "0.000123"), a finite
 * number (taken by its shortest round-trip spelling, so 0.1 is 0.1), a bigint or a Decimal.
 * Must be >= 0 and have at most MAX_RATE_DIGITS significant digits.
 */
export function parseRate(value: string | number | bigint | Decimal, field = "rate"): Decimal {
  let d: Decimal;
  if (typeof value === "string") {
    if (!/^\d+(\.\d+)?$/.test(value)) throw invalidRate(field, value, "must be a non-negative decimal string, e.g. \"5.4321\"");
    d = new MoneyDecimal(value);
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalidRate(field, value, "must be finite");
    d = new MoneyDecimal(value);
  } else if (typeof value === "bigint") {
    d = new MoneyDecimal(value.toString());
  } else if (Decimal.isDecimal(value)) {
    if (!value.isFinite()) throw invalidRate(field, value.toString(), "must be finite");
    // Re-read through the string so a Decimal of another clone gets our configuration.
    d = new MoneyDecimal(value.toFixed());
  } else {
    throw invalidRate(field, value, "must be a decimal string or number");
  }
  if (d.isNegative()) throw invalidRate(field, value, "must not be negative");
  if (d.precision(false) > MAX_RATE_DIGITS) throw invalidRate(field, value, `must have at most ${MAX_RATE_DIGITS} significant digits`);
  return d;
}

/**
 * A plain decimal string ("5.4321", "0", "12") of at most MAX_RATE_DIGITS significant digits as
 * an exact fraction of bigints (zero included), else null. Never throws. `parseRateFraction`
 * (rate-fraction.ts) is this less zero.
 */
export function plainDecimalFraction(text: string): RateFraction | null {
  const n = text.length;
  // Significant digits run from the first non-zero digit to the last one, across the ".".
  let dot = -1;
  let first = -1;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && dot < 0 && i > 0 && i < n - 1) dot = i; // "." with digits on both sides
    else if (c < 48 || c > 57) return null;
    else if (c !== 48) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (n === 0) return null;
  if (first >= 0 && last - first + 1 - (dot > first && dot < last ? 1 : 0) > MAX_RATE_DIGITS) return null;
  if (dot < 0) return { num: BigInt(text), den: 1n };
  return { num: BigInt(text.slice(0, dot) + text.slice(dot + 1)), den: pow10(n - dot - 1) };
}

/**
 * A rate or factor that `parseRate` would accept exactly as written (a plain decimal string, or a
 * non-negative safe integer) as an exact fraction; null for anything else, which then takes the
 * Decimal path (and its errors). The hot paths below convert in bigints with it: the same result
 * as decimal.js (property-tested), at a fraction of the cost and allocations.
 */
function exactFraction(value: string | number | bigint | Decimal): RateFraction | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? { num: BigInt(value), den: 1n } : null;
  return typeof value === "string" ? plainDecimalFraction(value) : null;
}

/** amount x f x 10^powerOfTen, rounded once with the named mode, in bigints. */
function scaledExact(amount: bigint, f: RateFraction, powerOfTen: number, rounding: RoundingMode): bigint {
  checkAmount(amount);
  const num = amount * f.num * (powerOfTen > 0 ? pow10(powerOfTen) : 1n);
  return divideRounded(num, powerOfTen < 0 ? f.den * pow10(-powerOfTen) : f.den, rounding);
}

/** Canonical plain-decimal spelling of a rate: no exponent, no trailing zeros ("5.43", "0.0001"). */
export function rateToString(rate: Decimal): string {
  return rate.toFixed();
}

/** Round an exact decimal to an integer with the named mode. */
export function roundToInteger(value: Decimal, rounding: RoundingMode): bigint {
  return BigInt(value.toDecimalPlaces(0, modeOf(rounding)).toFixed(0));
}

/**
 * numerator / denominator rounded to an integer with the named mode, in bigint arithmetic: the
 * exact-fraction counterpart of `roundToInteger`, for paths that run once per row of a large file.
 */
export function divideRounded(numerator: bigint, denominator: bigint, rounding: RoundingMode): bigint {
  if (denominator === 0n) throw new RangeError("divideRounded: the denominator is zero");
  const n = denominator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = n / d; // truncated towards zero
  const r = n - q * d; // same sign as n
  if (r === 0n) return q;
  const negative = n < 0n;
  const twice = (negative ? -r : r) * 2n;
  // Where the remainder lies against half a unit: below, exactly at (a tie), above.
  const half = twice < d ? -1 : twice === d ? 0 : 1;
  let away: boolean; // away from zero, i.e. to the next integer of larger magnitude
  switch (rounding) {
    case "up":
      away = true;
      break;
    case "down":
      away = false;
      break;
    case "ceil":
      away = !negative;
      break;
    case "floor":
      away = negative;
      break;
    case "half-up":
      away = half >= 0;
      break;
    case "half-down":
      away = half > 0;
      break;
    case "half-even":
      away = half > 0 || (half === 0 && (q & 1n) === 1n);
      break;
    case "half-ceil":
      away = half > 0 || (half === 0 && !negative);
      break;
    case "half-floor":
      away = half > 0 || (half === 0 && negative);
      break;
    default:
      // A mode read from JSON or config reaches here typed as a mode: refused, naming it.
      parseRounding(rounding);
      throw new Error(`divideRounded: unhandled rounding mode ${String(rounding)}`);
  }
  return away ? (negative ? q - 1n : q + 1n) : q;
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

/** 10^n as a bigint (the common exponents from a table). */
export function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/**
 * Round a rate to `significantDigits` significant digits with the named mode: used to fix a
 * derived rate (an inverse, a cross rate, an all-in rate) to the exact value that is recorded as
 * evidence, so that re-running `multiply(amount, recordedRate, mode)` reproduces the amount.
 */
export function roundRate(rate: Decimal, significantDigits: number, rounding: RoundingMode): Decimal {
  if (!Number.isInteger(significantDigits) || significantDigits < 1 || significantDigits > MAX_RATE_DIGITS) {
    throw new RangeError(`significantDigits must be an integer in 1..${MAX_RATE_DIGITS}`);
  }
  return new MoneyDecimal(rate.toSignificantDigits(significantDigits, modeOf(rounding)));
}

function checkAmount(amount: bigint): void {
  if (typeof amount !== "bigint") throw new TypeError("amount must be a bigint of minor units");
  if (amount > MAX_ABS_AMOUNT || amount < -MAX_ABS_AMOUNT) {
    const digits = (amount < 0n ? -amount : amount).toString().length;
    throw MoneyErrors.invalidAmount(`amount has ${digits} digits; at most ${MAX_AMOUNT_DIGITS} are supported`);
  }
}

function scaled(amount: bigint, factor: Decimal, powerOfTen: number): Decimal {
  checkAmount(amount);
  const product = new MoneyDecimal(amount.toString()).times(factor);
  return powerOfTen === 0 ? product : product.times(new MoneyDecimal(10).pow(powerOfTen));
}

/** amount x rate, rounded to an integer number of the same minor units with the named mode. */
export function multiply(amount: bigint, rate: string | number | bigint | Decimal, rounding: RoundingMode): bigint {
  const f = exactFraction(rate);
  if (f !== null) return scaledExact(amount, f, 0, parseRounding(rounding));
  return roundToInteger(scaled(amount, parseRate(rate), 0), rounding);
}

/**
 * amount x bps / 10 000: a fee or markup in basis points (25 bps = 0.25 %). Fractional basis
 * points ("2.5") are allowed; negative ones are not (a discount is a separate, explicit rule).
 */
export function applyBps(amount: bigint, bps: string | number | bigint, rounding: RoundingMode): bigint {
  const f = exactFraction(bps);
  if (f !== null) return scaledExact(amount, f, -4, parseRounding(rounding));
  return roundToInteger(scaled(amount, parseRate(bps, "bps"), -4), rounding);
}

/** amount x percent / 100: e.g. a tax rate of "8.25" percent. */
export function percentOf(amount: bigint, percent: string | number | bigint, rounding: RoundingMode): bigint {
  const f = exactFraction(percent);
  if (f !== null) return scaledExact(amount, f, -2, parseRounding(rounding));
  return roundToInteger(scaled(amount, parseRate(percent, "percent"), -2), rounding);
}

/**
 * Convert minor units of `from` into minor units of `to` at `rate`, where `rate` is the price of
 * ONE MAJOR unit of `from` in major units of `to` (the way rates are quoted: USD/BRL 5.43).
 * minor_to = minor_from x rate x 10^(exponent(to) - exponent(from)), rounded once with the named
 * mode: 10 000 BRL-centavos (100.00 BRL) at BRL/KRW 250.5 -> 25 050 KRW; at BRL/KWD 0.0567 ->
 * 5 670 fils (5.670 KWD). A `RateFraction` rate is computed in bigints, exactly as well.
 */
export function convertMinor(amount: bigint, from: string, to: string, rate: string | number | bigint | Decimal | RateFraction, rounding: RoundingMode): bigint {
  const shift = currency(to, "to").exponent - currency(from, "from").exponent;
  if (typeof rate === "object" && !Decimal.isDecimal(rate)) {
    if (typeof rate.num !== "bigint" || typeof rate.den !== "bigint" || rate.num < 0n || rate.den <= 0n) {
      throw invalidRate("rate", `${String(rate.num)}/${String(rate.den)}`, "must be a fraction of bigints, numerator >= 0, denominator > 0");
    }
    return scaledExact(amount, rate, shift, rounding);
  }
  const f = exactFraction(rate);
  if (f !== null) return scaledExact(amount, f, shift, parseRounding(rounding));
  return roundToInteger(scaled(amount, parseRate(rate), shift), rounding);
}
