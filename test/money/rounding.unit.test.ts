import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import {
  ROUNDING_MODES,
  applyBps,
  convertMinor,
  multiply,
  parseRate,
  parseRounding,
  percentOf,
  rateToString,
  roundRate,
  type RoundingMode,
} from "../../service/money/index.js";
import { isAppError } from "../../service/errors.js";

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isAppError(e) ? e.code : String(e);
  }
  return undefined;
}

describe("multiply with a named rounding mode", () => {
  // 25 x 0.5 = 12.5 (tie), 35 x 0.5 = 17.5 (tie), 26 x 0.5 = 13 (exact), 12.6 and 12.4 (no tie).
  const cases: Array<[RoundingMode, bigint, bigint, bigint, bigint, bigint, bigint]> = [
    // mode        12.5  17.5  -12.5 -17.5 12.6  -12.4
    ["half-even", 12n, 18n, -12n, -18n, 13n, -12n],
    ["half-up", 13n, 18n, -13n, -18n, 13n, -12n],
    ["half-down", 12n, 17n, -12n, -17n, 13n, -12n],
    ["half-ceil", 13n, 18n, -12n, -17n, 13n, -12n],
    ["half-floor", 12n, 17n, -13n, -18n, 13n, -12n],
    ["up", 13n, 18n, -13n, -18n, 13n, -13n],
    ["down", 12n, 17n, -12n, -17n, 12n, -12n],
    ["ceil", 13n, 18n, -12n, -17n, 13n, -12n],
    ["floor", 12n, 17n, -13n, -18n, 12n, -13n],
  ];

  it.each(cases)("%s", (mode, t1, t2, t3, t4, n1, n2) => {
    expect(multiply(25n, "0.5", mode)).toBe(t1);
    expect(multiply(35n, "0.5", mode)).toBe(t2);
    expect(multiply(-25n, "0.5", mode)).toBe(t3);
    expect(multiply(-35n, "0.5", mode)).toBe(t4);
    expect(multiply(126n, "0.1", mode)).toBe(n1);
    expect(multiply(-124n, "0.1", mode)).toBe(n2);
    expect(multiply(26n, "0.5", mode)).toBe(13n);
  });

  it("covers every mode it exports", () => {
    expect(cases.map((c) => c[0]).sort()).toEqual(Object.keys(ROUNDING_MODES).sort());
  });

  it("is exact for 38-digit amounts and 18-decimal rates (no hidden intermediate rounding)", () => {
    const amount = 10n ** 37n + 1n;
    // (10^37 + 1) x 1.000000000000000001 = 10^37 + 10^19 + 1 + 10^-18: only an exact product rounds up here.
    expect(multiply(amount, "1.000000000000000001", "ceil")).toBe(10n ** 37n + 10n ** 19n + 2n);
    expect(multiply(amount, "1.000000000000000001", "floor")).toBe(10n ** 37n + 10n ** 19n + 1n);
  });

  it("ignores the global Decimal configuration", () => {
    const saved = { precision: Decimal.precision, rounding: Decimal.rounding };
    Decimal.set({ precision: 3, rounding: Decimal.ROUND_DOWN });
    try {
      expect(multiply(123456789n, "1.5", "half-even")).toBe(185185184n);
      expect(multiply(123456789n, new Decimal("1.5"), "half-even")).toBe(185185184n);
    } finally {
      Decimal.set(saved);
    }
  });

  it("rejects an unknown rounding name coming from config or JSON", () => {
    expect(errorCode(() => multiply(1n, "1", "bankers" as RoundingMode))).toBe("ENT_MONEY_INVALID_ROUNDING");
    expect(errorCode(() => parseRounding("HALF_EVEN"))).toBe("ENT_MONEY_INVALID_ROUNDING");
    expect(parseRounding("half-up")).toBe("half-up");
  });

  it.each(["-1", "1e5", "abc", "", "0x10", "1.2.3"])("rejects rate %j", (rate) => {
    expect(errorCode(() => multiply(1n, rate, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
  });

  it("rejects non-finite numbers and rates with too many digits", () => {
    expect(errorCode(() => multiply(1n, Number.NaN, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => multiply(1n, Number.POSITIVE_INFINITY, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
    expect(errorCode(() => multiply(1n, "1." + "1".repeat(60), "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
  });
});

describe("basis points and percentages", () => {
  it("applyBps", () => {
    expect(applyBps(10_000n, 25, "half-even")).toBe(25n);
    expect(applyBps(1_999n, 250, "half-even")).toBe(50n); // 49.975
    expect(applyBps(1_999n, 250, "down")).toBe(49n);
    expect(applyBps(1_999n, "2.5", "up")).toBe(1n); // 0.49975
    expect(applyBps(-1_999n, 250, "floor")).toBe(-50n);
    expect(errorCode(() => applyBps(1n, -1, "half-even"))).toBe("ENT_MONEY_INVALID_RATE");
  });

  it("percentOf", () => {
    expect(percentOf(10_000n, "8.25", "half-even")).toBe(825n);
    expect(percentOf(1_001n, "8.25", "half-up")).toBe(83n); // 82.5825
    expect(percentOf(200n, 0.25, "half-even")).toBe(0n); // 0.5 -> even 0
    expect(percentOf(200n, 0.25, "half-up")).toBe(1n);
  });
});

describe("convertMinor scales by the difference of exponents", () => {
  it("BRL (2) -> KRW (0) -> KWD (3)", () => {
    // 100.00 BRL at 250.5 KRW per BRL = 25 050 KRW.
    expect(convertMinor(10_000n, "BRL", "KRW", "250.5", "half-even")).toBe(25_050n);
    // 25 050 KRW at 0.000226 KWD per KRW = 5.6613 KWD -> 5 661 fils (half-even), 5 662 (up).
    expect(convertMinor(25_050n, "KRW", "KWD", "0.000226", "half-even")).toBe(5_661n);
    expect(convertMinor(25_050n, "KRW", "KWD", "0.000226", "up")).toBe(5_662n);
    // 1.000 KWD -> JPY at 486.123 = 486.123 JPY -> 486 JPY.
    expect(convertMinor(1_000n, "KWD", "JPY", "486.123", "half-even")).toBe(486n);
    // 1 JPY -> USD at 0.0067 = 0.0067 USD -> 0.01 (half-up), 0.00 (down).
    expect(convertMinor(1n, "JPY", "USD", "0.0067", "half-up")).toBe(1n);
    expect(convertMinor(1n, "JPY", "USD", "0.0067", "down")).toBe(0n);
  });

  it("same exponent is plain multiplication", () => {
    expect(convertMinor(12_345n, "USD", "EUR", "0.9181", "half-even")).toBe(multiply(12_345n, "0.9181", "half-even"));
  });

  it("rejects unknown currencies naming from/to", () => {
    expect(errorCode(() => convertMinor(1n, "USD", "XAU", "1", "half-even"))).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
  });
});

describe("rates", () => {
  it("parseRate/rateToString never use exponent notation", () => {
    expect(rateToString(parseRate("0.000000001"))).toBe("0.000000001");
    expect(rateToString(parseRate(1e-9))).toBe("0.000000001");
    expect(rateToString(parseRate("123456789012345678901234567890"))).toBe("123456789012345678901234567890");
  });

  it("roundRate fixes a derived rate to N significant digits with a named mode", () => {
    const third = parseRate("1").div(3);
    expect(rateToString(roundRate(third, 20, "half-even"))).toBe("0.33333333333333333333");
    expect(rateToString(roundRate(parseRate("2").div(3), 5, "down"))).toBe("0.66666");
    expect(rateToString(roundRate(parseRate("2").div(3), 5, "up"))).toBe("0.66667");
  });
});
