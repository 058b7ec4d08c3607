/**
 * What the money property tests share: decimal.js as the exact oracle, generators of the inputs
 * (rounding modes, plain decimal strings), and the error code a call throws.
 */
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { isAppError } from "../../service/errors.js";
import { ROUNDING_MODES, type RoundingMode } from "../../service/money/index.js";

// The tests' quotients have at most ~100 integer digits and denominators below 10^40: 1,000
// digits resolve every one of them closely enough that the oracle's own division cannot make a tie.
export const Exact = Decimal.clone({ precision: 1000, rounding: Decimal.ROUND_DOWN, toExpNeg: -9e15, toExpPos: 9e15 });

export const MODES = Object.keys(ROUNDING_MODES) as RoundingMode[];
export const modeArb = fc.constantFrom(...MODES);

/** n / d rounded to an integer by decimal.js with the named mode. */
export function oracleDivide(n: bigint, d: bigint, mode: RoundingMode, places = 0): string {
  return new Exact(n.toString()).div(d.toString()).toDecimalPlaces(places, ROUNDING_MODES[mode]).toFixed(places);
}

/** Plain decimal strings: 1..maxWhole digits, optionally "." and 1..maxFraction digits (leading and trailing zeros included). */
export function decimalText(maxWhole: number, maxFraction: number): fc.Arbitrary<string> {
  const digits = (max: number) => fc.oneof(fc.stringMatching(new RegExp(`^[0-9]{1,${max}}$`)), fc.stringMatching(new RegExp(`^0{0,3}[1-9]?0{0,3}$`)).filter((s) => s.length > 0 && s.length <= max));
  return fc
    .tuple(digits(maxWhole), fc.option(digits(maxFraction), { nil: undefined }))
    .map(([whole, fraction]) => (fraction === undefined ? whole : `${whole}.${fraction}`));
}

/** The AppError code `f` throws, "ok" when it returns; anything else is rethrown. */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
  return "ok";
}
