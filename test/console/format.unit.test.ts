/** The console's money and time formatting: minor units placed by the currency's exponent, never through floating point. */
import { describe, expect, it } from "vitest";
import { exponentOf, formatAmount, formatLocal, formatMoney, isoToLocalInput, localInputToIso, localZoneLabel, sumMinor, text, utcTitle } from "../../console/src/format.js";

describe("console formatting", () => {
  it("places the decimal point by the ISO 4217 exponent (the service's table), the stablecoin's by its 6 decimals", () => {
    expect([exponentOf("USD"), exponentOf("KRW"), exponentOf("BHD"), exponentOf("CLF"), exponentOf("USDC"), exponentOf("XYZ")]).toEqual([2, 0, 3, 4, 6, null]);
    expect(formatAmount("123456", "USD")).toBe("1,234.56");
    expect(formatAmount("-5", "USD")).toBe("-0.05");
    expect(formatAmount("-0", "USD")).toBe("0.00");
    expect(formatAmount("15000", "KRW")).toBe("15,000");
    expect(formatAmount("1234567", "BHD")).toBe("1,234.567");
    expect(formatAmount("44920000", "USDC")).toBe("44.920000");
    expect(formatAmount(12345678901234567890123n, "BRL")).toBe("123,456,789,012,345,678,901.23");
    expect(formatAmount("007", "USD")).toBe("0.07");
    expect(formatAmount("not a number", "USD")).toBe("not a number");
  });

  it("names the currency, and shows an unknown asset's base units as they are", () => {
    expect(formatMoney("2548", "BRL")).toBe("25.48 BRL");
    expect(formatMoney("77", "ZZZ")).toBe("77 ZZZ units");
  });

  it("sums minor units exactly past 2^53", () => {
    expect(sumMinor(["9007199254740993", "1", "-2"])).toBe("9007199254740992");
    expect(sumMinor([])).toBe("0");
  });

  it("shows an instant in the reader's zone and the UTC instant as its title", () => {
    expect(formatLocal("2024-12-10T09:00:00Z", "Asia/Shanghai")).toBe("2024-12-10 17:00");
    expect(formatLocal("2024-12-10T09:00:00Z", "America/Sao_Paulo")).toBe("2024-12-10 06:00");
    expect(formatLocal("nonsense")).toBe("nonsense");
    expect(utcTitle("2024-12-10T09:00:00Z")).toBe("2024-12-10T09:00:00.000Z UTC");
    expect(localInputToIso("")).toBeNull();
    expect(localInputToIso("garbage")).toBeNull();
  });

  it("shows a URL's instant in a local date input that submits the same instant (seconds kept), in the process's zone", () => {
    for (const iso of ["2024-12-08T03:00:00.000Z", "2024-12-08T03:00:30.000Z", "2024-12-08T03:00:30.250Z", "2024-03-10T07:30:00.000Z"]) {
      const local = isoToLocalInput(iso);
      expect(local).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{3})?)?$/);
      expect(localInputToIso(local)).toBe(iso);
    }
    expect(isoToLocalInput("2024-12-08T03:00:00.000Z")).toHaveLength(16);
    expect([isoToLocalInput(null), isoToLocalInput(""), isoToLocalInput("nonsense")]).toEqual(["", "", ""]);
    expect(localZoneLabel()).toMatch(/, UTC[+-]\d{2}:\d{2}$/);
  });

  it("shows JSON values as text only when they are text", () => {
    expect([text("a"), text(5), text(null), text({}), text(undefined, "")]).toEqual(["a", "5", "–", "–", ""]);
  });
});
