/**
 * decimal.js is the authority: the bigint rounding (`divideRounded`) and conversion of minor units
 * at an exact-fraction rate must give what decimal.js gives for the same exact quotient, in every
 * named mode, and `convertMinor` must not depend on how its rate was written.
 */
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBps, convertMinor, divideRounded, multiply, parseRateFraction, percentOf, ROUNDING_MODES, type RateFraction, type RoundingMode } from "../../service/money/index.js";
import { decimalText, errorCode, Exact, modeArb, oracleDivide as oracle } from "./oracle.js";

const oracleDivide = (n: bigint, d: bigint, mode: RoundingMode) => BigInt(oracle(n, d, mode));

// Small operands make ties (x.5) and exact quotients common; large ones exercise bigint sizes.
const numeratorArb = fc.oneof(fc.bigInt({ min: -200n, max: 200n }), fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }));
const denominatorArb = fc.oneof(fc.bigInt({ min: 1n, max: 12n }), fc.bigInt({ min: -12n, max: -1n }), fc.bigInt({ min: 1n, max: 10n ** 30n }));

describe("divideRounded agrees with decimal.js", () => {
  it("property: every mode, any signs", () => {
    fc.assert(
      fc.property(numeratorArb, denominatorArb, modeArb, (n, d, mode) => {
        expect(divideRounded(n, d, mode)).toBe(oracleDivide(n, d, mode));
      }),
      { numRuns: 5000 },
    );
  });

  it("examples of ties", () => {
    expect([5n, 15n, 25n, -5n, -15n].map((n) => divideRounded(n, 10n, "half-even"))).toEqual([0n, 2n, 2n, 0n, -2n]);
    expect([5n, -5n].map((n) => divideRounded(n, 10n, "half-up"))).toEqual([1n, -1n]);
    expect([5n, -5n].map((n) => divideRounded(n, 10n, "half-ceil"))).toEqual([1n, 0n]);
    expect([5n, -5n].map((n) => divideRounded(n, 10n, "half-floor"))).toEqual([0n, -1n]);
    expect(divideRounded(-7n, 2n, "floor")).toBe(-4n);
    expect(divideRounded(-7n, 2n, "down")).toBe(-3n);
  });

  it("refuses a rounding name that is not a mode, and a zero denominator", () => {
    expect(errorCode(() => divideRounded(1n, 2n, "bankers" as RoundingMode))).toBe("ENT_MONEY_INVALID_ROUNDING");
    expect(() => divideRounded(1n, 0n, "half-even")).toThrow(RangeError);
  });
});

// Exponents 0 (JPY, KRW), 2 (USD, BRL, EUR), 3 (KWD, BHD), 4 (CLF).
const CURRENCIES = { JPY: 0, KRW: 0, USD: 2, BRL: 2, EUR: 2, KWD: 3, BHD: 3, CLF: 4 } as const;
type Code = keyof typeof CURRENCIES;
const codeArb = fc.constantFrom(...(Object.keys(CURRENCIES) as Code[]));
const amountArb = fc.oneof(fc.bigInt({ min: -100_000n, max: 100_000n }), fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }));
const fractionArb: fc.Arbitrary<RateFraction> = fc.record({ num: fc.bigInt({ min: 0n, max: 10n ** 20n }), den: fc.bigInt({ min: 1n, max: 10n ** 20n }) });

describe("convertMinor between currencies of different exponents", () => {
  it("property: at a RateFraction, equals decimal.js's amount x num / den x 10^(e(to) - e(from)), rounded once", () => {
    fc.assert(
      fc.property(amountArb, codeArb, codeArb, fractionArb, modeArb, (amount, from, to, rate, mode) => {
        const shift = CURRENCIES[to] - CURRENCIES[from];
        const n = amount * rate.num * (shift > 0 ? 10n ** BigInt(shift) : 1n);
        const d = rate.den * (shift < 0 ? 10n ** BigInt(-shift) : 1n);
        expect(convertMinor(amount, from, to, rate, mode)).toBe(oracleDivide(n, d, mode));
      }),
      { numRuns: 3000 },
    );
  });

  it("property: a decimal rate gives the same result as a string, a Decimal or a RateFraction", () => {
    fc.assert(
      fc.property(amountArb, codeArb, codeArb, decimalText(12, 18).filter((t) => parseRateFraction(t) !== null), modeArb, (amount, from, to, text, mode) => {
        const viaString = convertMinor(amount, from, to, text, mode);
        expect(convertMinor(amount, from, to, new Decimal(text), mode)).toBe(viaString);
        expect(convertMinor(amount, from, to, parseRateFraction(text)!, mode)).toBe(viaString);
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a malformed fraction and an amount beyond 38 digits, as with any rate", () => {
    expect(errorCode(() => convertMinor(100n, "USD", "EUR", { num: 1n, den: 0n }, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => convertMinor(100n, "USD", "EUR", { num: -1n, den: 1n }, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => convertMinor(10n ** 38n, "USD", "EUR", { num: 1n, den: 1n }, "half-even"))).toBe("ENT_MONEY_INVALID_AMOUNT");
    expect(errorCode(() => convertMinor(10n ** 38n, "USD", "EUR", "1", "half-even"))).toBe("ENT_MONEY_INVALID_AMOUNT");
    expect(errorCode(() => convertMinor(1n, "USD", "XAU", { num: 1n, den: 1n }, "half-even"))).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
  });
});

describe("multiply, applyBps and percentOf (bigint arithmetic for plain decimals and integers)", () => {
  const factorArb = fc.oneof(decimalText(6, 8), fc.integer({ min: 0, max: 1_000_000 }));
  const exactOf = (amount: bigint, factor: string | number, power: number, mode: RoundingMode) =>
    BigInt(new Exact(amount.toString()).times(new Exact(String(factor))).times(new Exact(10).pow(power)).toDecimalPlaces(0, ROUNDING_MODES[mode]).toFixed(0));

  it("property: equal decimal.js's amount x factor (x 10^-4 for bps, x 10^-2 for percent), rounded once", () => {
    fc.assert(
      fc.property(amountArb, factorArb, modeArb, (amount, factor, mode) => {
        expect(multiply(amount, factor, mode)).toBe(exactOf(amount, factor, 0, mode));
        expect(applyBps(amount, factor, mode)).toBe(exactOf(amount, factor, -4, mode));
        expect(percentOf(amount, factor, mode)).toBe(exactOf(amount, factor, -2, mode));
      }),
      { numRuns: 3000 },
    );
  });

  it("still refuses what parseRate refuses, naming the problem", () => {
    expect(errorCode(() => applyBps(100n, "-1", "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => applyBps(100n, -1, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => multiply(100n, "1e3", "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => multiply(100n, "1.5", "bankers" as RoundingMode))).toBe("ENT_MONEY_INVALID_ROUNDING");
    expect(errorCode(() => convertMinor(100n, "USD", "EUR", `0.${"1".repeat(60)}`, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
  });
});
