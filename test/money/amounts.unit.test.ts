import { describe, expect, it } from "vitest";
import { add, exponentOrNull, formatMajorOrNull, formatMinor, fromJson, money, parseMajor, parseMinor, parsePositiveMinor, sum, toJson } from "../../service/money/index.js";
import { caught } from "../support/app-errors.js";

describe("parseMinor", () => {
  it("parses canonical integer strings", () => {
    expect(parseMinor("12345")).toBe(12345n);
    expect(parseMinor("0")).toBe(0n);
    expect(parseMinor("-500", { allowNegative: true })).toBe(-500n);
    expect(parseMinor("9".repeat(38))).toBe(10n ** 38n - 1n);
  });

  it.each([
    ["12.34", "decimals"],
    ["1e5", "exponent"],
    ["+5", "plus sign"],
    ["007", "leading zeros"],
    [" 5", "whitespace"],
    ["", "empty"],
    ["-0", "negative zero"],
    ["abc", "letters"],
  ])("rejects %j (%s) naming the field", (value) => {
    const e = caught(() => parseMinor(value, { field: "/postings/1/amount", allowNegative: true }));
    expect(e.code).toBe("ENT_MONEY_INVALID_AMOUNT");
    expect(e.status).toBe(400);
    expect(e.fields?.[0]?.field).toBe("/postings/1/amount");
  });

  it("rejects non-strings (numbers lose precision above 2^53)", () => {
    expect(caught(() => parseMinor(12345)).code).toBe("ENT_MONEY_INVALID_AMOUNT");
    expect(caught(() => parseMinor(12345n)).code).toBe("ENT_MONEY_INVALID_AMOUNT");
  });

  it("enforces sign and zero options", () => {
    expect(caught(() => parseMinor("-1")).message).toMatch(/negative/);
    expect(caught(() => parsePositiveMinor("0", "fee")).fields?.[0]).toEqual({ field: "fee", message: "must not be zero" });
  });

  it("caps at 38 digits (NUMERIC(38,0))", () => {
    expect(caught(() => parseMinor("1" + "0".repeat(38))).code).toBe("ENT_MONEY_INVALID_AMOUNT");
  });
});

describe("formatMinor", () => {
  it.each([
    [12345n, "USD", "123.45"],
    [5n, "USD", "0.05"],
    [-5n, "USD", "-0.05"],
    [0n, "USD", "0.00"],
    [500n, "JPY", "500"],
    [-500n, "KRW", "-500"],
    [1234567n, "KWD", "1234.567"],
    [1n, "BHD", "0.001"],
    [12345n, "CLF", "1.2345"],
  ])("%s %s -> %s", (amount, code, expected) => {
    expect(formatMinor(amount, code)).toBe(expected);
  });
});

describe("formatMajorOrNull", () => {
  const withToken = (code: string) => (code === "USDC" ? 6 : exponentOrNull(code));
  it("uses the exponent it is given: ISO 4217's, a token's decimals, or none", () => {
    expect(formatMajorOrNull(1_500_000n, "USDC", withToken)).toBe("1.500000");
    expect(formatMajorOrNull(-7n, "USDC", withToken)).toBe("-0.000007");
    expect(formatMajorOrNull(12345n, "USD", withToken)).toBe("123.45");
    expect(formatMajorOrNull(1_500_000n, "USDC", exponentOrNull)).toBeNull();
  });
});

describe("parseMajor", () => {
  it.each([
    ["123.45", "USD", 12345n],
    ["12.3", "USD", 1230n],
    ["12", "USD", 1200n],
    ["2.500", "USD", 250n],
    ["0.001", "KWD", 1n],
    ["1500", "JPY", 1500n],
    ["1500.00", "JPY", 1500n],
  ])("%s %s -> %s", (value, code, expected) => {
    expect(parseMajor(value, code)).toBe(expected);
  });

  it("is the inverse of formatMinor", () => {
    for (const [amount, code] of [[-123456789n, "USD"], [7n, "KWD"], [99n, "JPY"], [10n ** 30n, "BRL"]] as const) {
      expect(parseMajor(formatMinor(amount, code), code, { allowNegative: true })).toBe(amount);
    }
  });

  it("refuses to round: more decimals than the exponent is ENT_MONEY_INEXACT_AMOUNT", () => {
    const e = caught(() => parseMajor("1.5", "JPY", { field: "gross" }));
    expect(e.code).toBe("ENT_MONEY_INEXACT_AMOUNT");
    expect(e.fields?.[0]?.field).toBe("gross");
    expect(caught(() => parseMajor("0.001", "USD")).code).toBe("ENT_MONEY_INEXACT_AMOUNT");
    expect(caught(() => parseMajor("0.0001", "KWD")).code).toBe("ENT_MONEY_INEXACT_AMOUNT");
  });

  it("rejects malformed input", () => {
    for (const v of ["1,000.00", ".5", "5.", "1e3", "-1.00", "abc"]) {
      expect(caught(() => parseMajor(v, "USD")).code).toBe("ENT_MONEY_INVALID_AMOUNT");
    }
    expect(parseMajor("-1.00", "USD", { allowNegative: true })).toBe(-100n);
  });
});

describe("Money helpers", () => {
  it("add, sum and JSON round trip within one currency", () => {
    const a = money(150n, "USD");
    expect(add(a, money(50n, "USD"))).toEqual({ amount: 200n, currency: "USD" });
    expect(sum([a, a, a], "USD").amount).toBe(450n);
    expect(toJson(a)).toEqual({ amount: "150", currency: "USD" });
    expect(fromJson({ amount: "150", currency: "USD" })).toEqual(a);
  });

  it("refuses to mix currencies", () => {
    expect(caught(() => add(money(1n, "USD"), money(1n, "EUR"))).code).toBe("ENT_MONEY_CURRENCY_MISMATCH");
  });

  it("names nested fields from JSON", () => {
    expect(caught(() => fromJson({ amount: "1.5", currency: "USD" }, "fee")).fields?.[0]?.field).toBe("fee.amount");
    expect(caught(() => fromJson({ amount: "1", currency: "usd" }, "fee")).fields?.[0]?.field).toBe("fee.currency");
  });
});
