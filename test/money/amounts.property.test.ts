/**
 * Major-unit strings -> minor units against decimal.js: `parseMajorExact` (the per-row form that
 * returns its problem) and `parseMajor` (the throwing form) accept exactly the grammar real report
 * files use and give decimal.js's value x 10^exponent, never rounded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ABS_AMOUNT, formatMinor, parseMajor, parseMajorExact, type MajorUnitsProblem } from "../../service/money/index.js";
import { isAppError } from "../../service/errors.js";
import { Exact, decimalText } from "./oracle.js";

const GRAMMAR = /^-?\d+(\.\d+)?$/;

function oracle(text: string, exponent: number): bigint | MajorUnitsProblem {
  if (!GRAMMAR.test(text)) return "format";
  const minor = new Exact(text).times(new Exact(10).pow(exponent));
  if (!minor.isInteger()) return "precision";
  if (minor.abs().greaterThan(MAX_ABS_AMOUNT.toString())) return "size";
  return BigInt(minor.toFixed(0));
}

const exponentArb = fc.constantFrom(0, 2, 3, 4);
const signedArb = fc.tuple(fc.boolean(), decimalText(44, 8)).map(([neg, t]) => (neg ? `-${t}` : t));
// Near-misses of the grammar: what a hand-written scanner could get wrong.
const noiseArb = fc.stringMatching(/^[-+0-9.,e ]{0,12}$/);

describe("parseMajorExact", () => {
  it("property: equals decimal.js's value x 10^exponent, else names the problem", () => {
    fc.assert(
      fc.property(fc.oneof(signedArb, noiseArb), exponentArb, (text, exponent) => {
        expect(parseMajorExact(text, exponent)).toBe(oracle(text, exponent));
      }),
      { numRuns: 10_000 },
    );
  });

  it("reads the forms Adyen and Stripe reports use", () => {
    expect(parseMajorExact("27.90", 2)).toBe(2790n); // Adyen gross credit
    expect(parseMajorExact("-10.00", 2)).toBe(-1000n); // Stripe refund gross
    expect(parseMajorExact("-0.5", 2)).toBe(-50n);
    expect(parseMajorExact("0.00", 2)).toBe(0n);
    expect(parseMajorExact("39000", 0)).toBe(39000n); // KRW without a minor unit
    expect(parseMajorExact("15000.00", 0)).toBe(15000n); // zeros beyond the minor unit carry no value
    expect(parseMajorExact("1.234", 3)).toBe(1234n); // KWD
  });

  it("refuses what those reports never write: no leading dot, no thousands separator, no exponent", () => {
    for (const text of [".91", "-.5", "5.", "+1", "1,234.56", "1e3", " 1", "1 ", "", "-", "1.2.3", "0x10"]) {
      expect(parseMajorExact(text, 2)).toBe("format");
    }
    expect(parseMajorExact("1.005", 2)).toBe("precision");
    expect(parseMajorExact("1".repeat(39), 0)).toBe("size");
    expect(parseMajorExact("0".repeat(100) + "1", 2)).toBe(100n);
  });
});

describe("parseMajor", () => {
  const CODES: Record<number, string> = { 0: "JPY", 2: "USD", 3: "KWD", 4: "CLF" };
  const outcome = (text: string, code: string): string => {
    try {
      return parseMajor(text, code, { allowNegative: true }).toString();
    } catch (e) {
      if (isAppError(e)) return e.code;
      throw e;
    }
  };

  it("property: agrees with parseMajorExact, problems thrown as errors", () => {
    const expected: Record<MajorUnitsProblem, string> = { format: "ENT_MONEY_INVALID_AMOUNT", precision: "ENT_MONEY_INEXACT_AMOUNT", size: "ENT_MONEY_INVALID_AMOUNT" };
    fc.assert(
      fc.property(fc.oneof(signedArb, noiseArb), exponentArb, (text, exponent) => {
        const exact = parseMajorExact(text, exponent);
        expect(outcome(text, CODES[exponent]!)).toBe(typeof exact === "bigint" ? exact.toString() : expected[exact]);
      }),
      { numRuns: 5000 },
    );
  });

  it("property: is the inverse of formatMinor", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_ABS_AMOUNT, max: MAX_ABS_AMOUNT }), exponentArb, (amount, exponent) => {
        const code = CODES[exponent]!;
        expect(parseMajor(formatMinor(amount, code), code, { allowNegative: true })).toBe(amount);
      }),
      { numRuns: 2000 },
    );
  });

  it("says a too large negative amount is negative when negatives are not allowed", () => {
    let message = "";
    try {
      parseMajor(`-${"9".repeat(40)}`, "USD");
    } catch (e) {
      message = e instanceof Error ? e.message : String(e);
    }
    expect(message).toBe("amount: must not be negative");
  });
});
