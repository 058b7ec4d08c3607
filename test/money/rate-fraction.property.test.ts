/**
 * Rates as exact bigint fractions, against decimal.js: parsing accepts exactly what `parseRate`
 * accepts (minus zero) with the same value; implied rates reproduce their amounts; comparisons and
 * displays in basis points equal decimal.js's exact arithmetic rounded with the named mode.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_RATE_DIGITS,
  ROUNDING_MODES,
  convertMinor,
  differsByMoreThanBps,
  impliedRate,
  invertRate,
  parseRate,
  parseRateFraction,
  rateFraction,
  rateFractionToString,
  relativeDifferenceBps,
  type RateFraction,
} from "../../service/money/index.js";
import { decimalText, errorCode, Exact, modeArb } from "./oracle.js";

const valueOf = (f: RateFraction) => new Exact(f.num.toString()).div(f.den.toString());
const isPowerOfTen = (v: bigint) => /^10*$/.test(v.toString());

/** "refused", "zero", or the accepted value's plain spelling. */
function parseRateOutcome(text: string): string {
  const code = errorCode(() => parseRate(text));
  if (code !== "ok") return code === "ENT_MONEY_INVALID_RATE" ? "refused" : code;
  const d = parseRate(text);
  return d.isZero() ? "zero" : d.toFixed();
}

const rateTextArb = fc.oneof(decimalText(30, 30), decimalText(3, 60), fc.stringMatching(/^[-+0-9.,e ]{0,10}$/));
const positiveRateTextArb = decimalText(8, 12).filter((t) => parseRateFraction(t) !== null);

describe("parseRateFraction", () => {
  it("property: accepts exactly the positive rates parseRate accepts, with the same exact value", () => {
    fc.assert(
      fc.property(rateTextArb, (text) => {
        const f = parseRateFraction(text);
        const expected = parseRateOutcome(text);
        if (expected === "refused" || expected === "zero") {
          expect(f).toBeNull();
          return;
        }
        expect(f).not.toBeNull();
        expect(isPowerOfTen(f!.den)).toBe(true); // a decimal's value, not an approximation
        expect(valueOf(f!).toFixed()).toBe(expected);
      }),
      { numRuns: 10_000 },
    );
  });

  it("refuses zero, signs, exponents, separators and more than MAX_RATE_DIGITS significant digits", () => {
    for (const text of ["0", "0.000", "-1", "+1", "1e3", "1,5", ".5", "5.", "", " 1"]) expect(parseRateFraction(text)).toBeNull();
    expect(parseRateFraction("1".repeat(MAX_RATE_DIGITS))).not.toBeNull();
    expect(parseRateFraction("1".repeat(MAX_RATE_DIGITS + 1))).toBeNull();
    expect(parseRateFraction(`0.${"0".repeat(60)}1`)).toEqual({ num: 1n, den: 10n ** 61n });
    expect(parseRateFraction("0.1700")).toEqual({ num: 1700n, den: 10_000n });
  });
});

describe("rateFraction", () => {
  it("property: a finite non-negative number is taken by its shortest spelling, as parseRate does", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(valueOf(rateFraction(x)).toFixed()).toBe(parseRate(x).toFixed());
      }),
      { numRuns: 3000 },
    );
  });

  it("property: a string gives parseRateFraction's value; zero is a rate here", () => {
    fc.assert(
      fc.property(positiveRateTextArb, (text) => {
        expect(valueOf(rateFraction(text)).eq(valueOf(parseRateFraction(text)!))).toBe(true);
      }),
    );
    expect(rateFraction(0)).toEqual({ num: 0n, den: 1n });
    expect(rateFraction("12.5")).toEqual({ num: 125n, den: 10n });
  });
});

// Exponents 0, 2, 3 and 4.
const codeArb = fc.constantFrom("JPY", "USD", "EUR", "BRL", "KWD", "CLF");
const nonZeroAmountArb = fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }).filter((v) => v !== 0n);

describe("impliedRate and invertRate", () => {
  it("property: converting the one amount at the rate the two imply gives the other, in any mode", () => {
    fc.assert(
      fc.property(nonZeroAmountArb, codeArb, nonZeroAmountArb, codeArb, modeArb, (from, fromCode, to, toCode, mode) => {
        const rate = impliedRate(from, fromCode, to, toCode);
        const abs = (v: bigint) => (v < 0n ? -v : v);
        expect(convertMinor(abs(from), fromCode, toCode, rate, mode)).toBe(abs(to));
        expect(convertMinor(abs(to), toCode, fromCode, invertRate(rate), mode)).toBe(abs(from));
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses zero amounts and the inverse of zero", () => {
    expect(errorCode(() => impliedRate(0n, "BRL", 100n, "USD"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => invertRate({ num: 0n, den: 1n }))).toBe("ENT_MONEY_INVALID_RATE");
    // 149.90 BRL for 25.48 USD: 0.16998 USD per BRL.
    expect(rateFractionToString(impliedRate(14_990n, "BRL", 2_548n, "USD"), 10, "half-up")).toBe("0.1699799867");
  });
});

describe("relative differences in basis points", () => {
  const toleranceArb = decimalText(4, 4);

  it("property: differsByMoreThanBps is decimal.js's |a - b| x 10 000 > tolerance x b", () => {
    fc.assert(
      fc.property(positiveRateTextArb, positiveRateTextArb, toleranceArb, (a, b, tol) => {
        const expected = new Exact(a).minus(b).abs().times(10_000).greaterThan(new Exact(tol).times(b));
        expect(differsByMoreThanBps(parseRateFraction(a)!, parseRateFraction(b)!, rateFraction(tol))).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it("property: near the tolerance, exactly", () => {
    // b x (1 +- t / 10 000) and one unit of the last decimal either side of it.
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 8n }), fc.bigInt({ min: 0n, max: 10_000n }), fc.constantFrom(-1n, 0n, 1n), fc.boolean(), (b, t, nudge, above) => {
        const ref = { num: b * 10_000n, den: 10n ** 8n };
        const edge = above ? b * (10_000n + t) + nudge : b * (10_000n - t) + nudge;
        if (edge <= 0n) return;
        const a = { num: edge, den: 10n ** 8n };
        // In units of 10^-8 x 10^-4: |a - b| = |edge - 10 000 b| against the tolerance b x t.
        const apart = edge - 10_000n * b;
        expect(differsByMoreThanBps(a, ref, { num: t, den: 1n })).toBe((apart < 0n ? -apart : apart) > b * t);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: relativeDifferenceBps is decimal.js's |a - b| / b x 10 000, rounded with the named mode", () => {
    fc.assert(
      fc.property(positiveRateTextArb, positiveRateTextArb, fc.integer({ min: 0, max: 6 }), modeArb, (a, b, places, mode) => {
        const exact = new Exact(a).minus(b).abs().times(10_000).div(b);
        expect(relativeDifferenceBps(parseRateFraction(a)!, parseRateFraction(b)!, places, mode)).toBe(exact.toDecimalPlaces(places, ROUNDING_MODES[mode]).toFixed(places));
      }),
      { numRuns: 5000 },
    );
    expect(relativeDifferenceBps(parseRateFraction("0.1709")!, parseRateFraction("0.17")!, 3, "half-up")).toBe("52.941");
  });

  it("property: rateFractionToString is decimal.js's value to `places` decimals in the named mode, without trailing zeros", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: 0, max: 20 }), modeArb, (num, den, places, mode) => {
        const expected = valueOf({ num, den }).toDecimalPlaces(places, ROUNDING_MODES[mode]).toFixed();
        expect(rateFractionToString({ num, den }, places, mode)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
    expect(rateFractionToString({ num: 17n, den: 100n }, 10, "half-up")).toBe("0.17");
    expect(rateFractionToString({ num: 3n, den: 1n }, 10, "half-up")).toBe("3");
  });
});
