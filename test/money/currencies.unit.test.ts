import { describe, expect, it } from "vitest";
import { currency, exponentOf, isCurrency, listCurrencies } from "../../service/money/index.js";
import { isAppError } from "../../service/errors.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${String(e)}`;
  }
  return undefined;
}

describe("currency", () => {
  it.each([
    ["JPY", 0],
    ["KRW", 0],
    ["CLP", 0],
    ["USD", 2],
    ["EUR", 2],
    ["BRL", 2],
    ["CNY", 2],
    ["KWD", 3],
    ["BHD", 3],
    ["CLF", 4],
  ])("%s has exponent %i", (code, exponent) => {
    expect(currency(code)).toMatchObject({ code, exponent });
    expect(exponentOf(code)).toBe(exponent);
  });

  it("flags fund codes that have minor units", () => {
    expect(currency("USN")).toMatchObject({ exponent: 2, fund: true });
    expect(currency("USD").fund).toBe(false);
  });

  describe("when the code has no minor units (N.A. in ISO 4217)", () => {
    it.each(["XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XTS", "XXX", "XSU", "XUA"])("rejects %s", (code) => {
      expect(isCurrency(code)).toBe(false);
      expect(codeOf(() => currency(code))).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
    });

    it("still accepts the CFA francs, whose exponent really is 0", () => {
      expect(currency("XOF").exponent).toBe(0);
      expect(currency("XAF").exponent).toBe(0);
    });
  });

  it.each(["usd", "US", "USDT", "ABC", "", "BTC"])("rejects %j with a field-named error", (code) => {
    try {
      currency(code, "payout.currency");
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e) && e.code).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
      expect(isAppError(e) && e.status).toBe(400);
      expect(isAppError(e) && e.fields?.[0]?.field).toBe("payout.currency");
    }
  });

  it("lists the ISO table (well over 150 codes, sorted, none without minor units)", () => {
    const all = listCurrencies();
    expect(all.length).toBeGreaterThan(150);
    expect(all.map((c) => c.code)).toEqual([...all.map((c) => c.code)].sort());
    expect(all.some((c) => c.code === "XAU")).toBe(false);
  });
});
