/** The console's money and time formatting: minor units placed by the currency's exponent, never through floating point. */
import { describe, expect, it } from "vitest";
import {
  closingAt,
  exponentOf,
  formatAmount,
  formatBps,
  formatLocal,
  formatMoney,
  instantInWords,
  isoToLocalInput,
  isUtcMonthStart,
  localInputToIso,
  localZoneLabel,
  monthBounds,
  nearestUtcMonthStart,
  parseMonth,
  rateAsOf,
  reconItemReference,
  skipReason,
  sumMinor,
  text,
  utcMonthStart,
  utcOffset,
  utcTitle,
  withLocalInstants,
  withMajorAmounts,
} from "../../console/src/format.js";

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

  it("shows a tax rate's basis points as a percentage, exactly", () => {
    expect([2100, 725, 1750, 6000, 5, 0].map(formatBps)).toEqual(["21%", "7.25%", "17.5%", "60%", "0.05%", "0%"]);
    expect(formatBps(-1)).toBe("-1 bps");
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

  it("names a zone's offset in whole minutes, or with its seconds for a local mean time, never as a fraction", () => {
    // São Paulo kept its local mean time (UTC-03:06:28) until 1914: Chromium's getTimezoneOffset says 186.47 minutes.
    expect(utcOffset(new Date("1904-12-01T03:06:28Z"), "America/Sao_Paulo")).toBe("UTC-03:06:28");
    expect(localZoneLabel(new Date("2024-12-01T03:00:00Z"), "America/Sao_Paulo")).toBe("America/Sao_Paulo, UTC-03:00");
    expect(localZoneLabel(new Date("2024-12-01T00:00:00Z"), "Asia/Shanghai")).toBe("Asia/Shanghai, UTC+08:00");
    expect(utcOffset(new Date("2024-12-01T00:00:00Z"), "UTC")).toBe("UTC+00:00");
    expect(utcOffset(new Date("2024-12-01T00:00:00Z"), "Asia/Kolkata")).toBe("UTC+05:30");
  });

  it("takes a month only with a year of four digits, and computes its bounds without Date's two-digit years", () => {
    // A month field reports year 0002 after the year's first digit: not a month yet (Date would make it 1902).
    expect([parseMonth("0002-12"), parseMonth("202411-12"), parseMonth("2024-13"), parseMonth(""), parseMonth("2024-12")]).toEqual([null, null, null, null, [2024, 12]]);
    expect(monthBounds("2024-12", "local")).toEqual({ from: "2024-12-01T00:00", to: "2025-01-01T00:00" });
    expect(monthBounds("0002-12", "local")).toBeNull();
    const utc = monthBounds("2024-12", "utc");
    expect([localInputToIso(utc?.from ?? ""), localInputToIso(utc?.to ?? "")]).toEqual(["2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"]);
    // A year the browser allows and no ledger has (typed on without leaving the year): not an instant.
    expect(localInputToIso("202411-12-01T00:00")).toBeNull();
  });

  it("knows the ledger's UTC month boundaries", () => {
    expect([isUtcMonthStart("2025-01-01T00:00:00.000Z"), isUtcMonthStart("2024-12-31T16:00:00.000Z"), isUtcMonthStart("2025-01-01T00:00:00.001Z")]).toEqual([true, false, false]);
    expect(utcMonthStart("2024-12-31T23:59:59.999Z", 1)).toBe("2025-01-01T00:00:00.000Z");
    expect(nearestUtcMonthStart("2024-12-31T16:00:00.000Z")).toBe("2025-01-01T00:00:00.000Z");
    expect(nearestUtcMonthStart("2025-01-01T03:00:00.000Z")).toBe("2025-01-01T00:00:00.000Z");
    // A period's end is exclusive, a balance's instant inclusive: the closing is a millisecond before.
    expect(closingAt("2025-01-01T00:00:00.000Z")).toBe("2024-12-31T23:59:59.999Z");
  });

  it("shows the instants of a service's message in the reader's zone too, the UTC instant kept", () => {
    expect(instantInWords("2024-12-31T16:00:00.000Z", "Asia/Shanghai")).toBe("2025-01-01 00:00 (Asia/Shanghai, UTC+08:00; 2024-12-31T16:00:00.000Z)");
    expect(withLocalInstants("must be at or after 2025-01-01T03:00:00.000Z", "America/Sao_Paulo")).toBe("must be at or after 2025-01-01 00:00 (America/Sao_Paulo, UTC-03:00; 2025-01-01T03:00:00.000Z)");
    expect(withLocalInstants("no instant here", "Asia/Shanghai")).toBe("no instant here");
  });

  it("says why a revaluation skipped a currency in words, the code apart", () => {
    const stale = skipReason({ code: "ENT_FX_RATE_STALE", reason: "no valid BRL->USD rate at 2025-01-05T04:00:00.000Z: rate 109 (USD/BRL) was valid until 2025-01-03T00:00:00.000Z" }, "Asia/Shanghai");
    expect(stale).toEqual({ code: "ENT_FX_RATE_STALE", words: "no fresh rate was published for this instant: the last USD/BRL rate was valid until 2025-01-03 08:00 (Asia/Shanghai, UTC+08:00; 2025-01-03T00:00:00.000Z)" });
    expect(skipReason({ code: "ENT_FX_RATE_NOT_FOUND", reason: "no BRL->USD rate at 2025-01-05T04:00:00.000Z (direct, inverse or through USD)" })).toEqual({ code: "ENT_FX_RATE_NOT_FOUND", words: "no rate against USD has been published for it" });
    expect(skipReason({ code: "not_iso_4217", reason: "not an ISO 4217 currency: no published mid rate applies" })).toEqual({ code: null, words: "not an ISO 4217 currency: no published mid rate applies" });
  });

  it("places a service sentence's minor-unit amounts by their currency, leaving major amounts, bare numbers and unknown codes as written", () => {
    expect(withMajorAmounts("debited 700 USD without the instructed CNY amount (AmtDtls/InstdAmt)")).toBe("debited 7.00 USD without the instructed CNY amount (AmtDtls/InstdAmt)");
    expect(withMajorAmounts("instructed 1234500 CNY, the bank reports 1234400 CNY")).toBe("instructed 12,345.00 CNY, the bank reports 12,344.00 CNY");
    expect(withMajorAmounts("debited 500 KRW; -150 EUR back")).toBe("debited 500 KRW; -1.50 EUR back");
    // A reconciliation's gateway cost says its unit: placed, the note goes.
    expect(withMajorAmounts("DepositCorrection: the gateway deducted 500 EUR (minor units) that no event of ours carries")).toBe("DepositCorrection: the gateway deducted 5.00 EUR that no event of ours carries");
    expect(withMajorAmounts("refused (12.50 USD over), 10% from the 9000 it was booked at, 7 XYZ, ENT-BP-7 USD")).toBe("refused (12.50 USD over), 10% from the 9000 it was booked at, 7 XYZ, ENT-BP-7 USD");
  });

  it("dates a daily rate by its UTC day, wherever the reader is; any other instant in the reader's zone with UTC beside", () => {
    // FRED's figure for 20 December is asOf 00:00 UTC: not "19 December, 21:00" in São Paulo.
    expect(rateAsOf("2024-12-20T00:00:00.000Z", "America/Sao_Paulo")).toEqual({ text: "2024-12-20 (UTC day)", day: true });
    expect(rateAsOf("2024-12-20T09:30:00.000Z", "America/Sao_Paulo")).toEqual({ text: "2024-12-20 06:30 (2024-12-20 09:30 UTC)", day: false });
  });

  it("names a reconciliation item by the gateway's reference, else its report lines, else (found only in the ledger) its event and settlement", () => {
    expect(reconItemReference({ gatewayReference: "8835611234567890", lines: [3], gatewayEventId: "evt_1", settlementId: "12" })).toBe("8835611234567890");
    expect(reconItemReference({ gatewayReference: null, lines: [3, 4], gatewayEventId: null, settlementId: null })).toBe("line 3, 4");
    expect(reconItemReference({ gatewayReference: null, lines: [], gatewayEventId: "adyen-evt-42", settlementId: "17" })).toBe("event adyen-evt-42 · settlement 17 (ledger only)");
    expect(reconItemReference({ gatewayReference: null, lines: [], gatewayEventId: null, settlementId: "17" })).toBe("settlement 17 (ledger only)");
    expect(reconItemReference({ gatewayReference: null, lines: [], gatewayEventId: null, settlementId: null })).toBe("–");
  });
});
