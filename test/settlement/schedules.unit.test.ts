import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/data.js";
import { deductionIn, selectSchedule, selectTaxRule, supplyOf, validateSchedule, validateTaxRule, type TaxedGoods } from "../../service/settlement/schedules.js";
import { inclusiveTax } from "../../service/settlement/plan.js";
import { parseEvent, validateEvent } from "../../service/settlement/validate.js";
import { capture, followUp } from "./fixtures.js";

const at = (iso: string) => new Date(iso);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isAppError(e)) return e.code + (e.fields?.[0] ? ` ${e.fields[0].field}` : "");
    throw e;
  }
  throw new Error("expected an error");
}

describe("fee schedule selection", () => {
  it("picks the version in force at the event's instant", () => {
    expect(selectSchedule(FEE_SCHEDULES, "pop", "FR", "home", at("2025-06-30T23:59:59Z"))?.id).toBe("pop-any-2024");
    expect(selectSchedule(FEE_SCHEDULES, "pop", "FR", "home", at("2025-07-01T00:00:00Z"))?.id).toBe("pop-any-2025h2");
    expect(selectSchedule(FEE_SCHEDULES, "pop", "FR", "home", at("2023-12-31T00:00:00Z"))).toBeNull();
  });
  it("prefers the most specific match over a newer generic one", () => {
    expect(selectSchedule(FEE_SCHEDULES, "pop", "FR", "electronics", at("2025-08-01T00:00:00Z"))?.id).toBe("pop-electronics-2024");
    expect(selectSchedule(FEE_SCHEDULES, "semi_hosting", "BR", "home", at("2025-08-01T00:00:00Z"))?.id).toBe("semi-BR-2024");
    expect(selectSchedule(FEE_SCHEDULES, "semi_hosting", "US", "home", at("2025-08-01T00:00:00Z"))?.id).toBe("semi-any-2024");
  });
  it("has a schedule for every program in every market", () => {
    for (const program of ["pop", "full_hosting", "semi_hosting", "overseas_hosting"] as const) {
      for (const m of MARKETS) expect(selectSchedule(FEE_SCHEDULES, program, m.code, "home", at("2025-09-01T00:00:00Z")), `${program} ${m.code}`).not.toBeNull();
    }
  });
  it("rejects bad schedule data with the offending field", () => {
    const base = FEE_SCHEDULES[0];
    if (base === undefined) throw new Error("data");
    expect(codeOf(() => validateSchedule({ ...base, commissionBps: 10_001 }))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE commissionBps");
    expect(codeOf(() => validateSchedule({ ...base, fixedFees: { ...base.fixedFees, logistics: -1n } }))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE fixedFees.logistics");
    expect(codeOf(() => validateSchedule({ ...base, program: "full_hosting", commissionBps: 100 }))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE commissionBps");
    for (const s of FEE_SCHEDULES) expect(validateSchedule(s)).toBe(s);
  });
});

describe("tax tables", () => {
  it("holds the EU IOSS rates and the other markets' rules as data", () => {
    const rate = (m: string) => selectTaxRule(TAX_RULES, m, at("2025-09-01T00:00:00Z"));
    expect([rate("ES")?.rateBps, rate("FR")?.rateBps, rate("DE")?.rateBps, rate("PL")?.rateBps]).toEqual([2100, 2000, 1900, 2300]);
    expect(rate("US")?.collectedBy).toBe("none");
    expect(rate("BR")?.scheme).toBe("BR_REMESSA_CONFORME");
    expect(rate("KR")?.kind).toBe("none");
    expect(rate("SA")?.rateBps).toBe(1500);
    expect(selectTaxRule(TAX_RULES, "BR", at("2024-07-31T00:00:00Z"))).toBeNull();
    for (const r of TAX_RULES) expect(validateTaxRule(r, MARKETS)).toBe(r);
  });
});

describe("event validation", () => {
  it("names the offending field", () => {
    expect(codeOf(() => validateEvent(capture({ amount: 0n })))).toBe("ENT_SETTLEMENT_INVALID_EVENT amount");
    expect(codeOf(() => validateEvent(capture({ currency: "usd" })))).toBe("ENT_SETTLEMENT_INVALID_EVENT currency");
    expect(codeOf(() => validateEvent(capture({ gatewayFee: 20_000n })))).toBe("ENT_SETTLEMENT_INVALID_EVENT gatewayFee");
    expect(codeOf(() => validateEvent({ ...followUp("refund", "r1", { amount: 5n }), originalEventId: undefined }))).toBe("ENT_SETTLEMENT_INVALID_EVENT originalEventId");
    expect(codeOf(() => validateEvent(followUp("fee_adjustment", "f1", { gatewayFee: 0n })))).toBe("ENT_SETTLEMENT_INVALID_EVENT gatewayFee");
    expect(codeOf(() => validateEvent(capture({ occurredAt: new Date("nope") }), "events.3"))).toBe("ENT_SETTLEMENT_INVALID_EVENT events.3.occurredAt");
    expect(validateEvent(capture()).type).toBe("capture");
  });

  it("parses JSON with string amounts and refuses numbers that could lose precision", () => {
    const json = { type: "capture", gateway: "adyen", gatewayEventId: "e-1", settlementId: "O-1", sellerId: "S-1", market: "BR", category: "home", currency: "BRL", amount: "123456789012345678901234", gatewayFee: "350", occurredAt: "2025-03-01T10:00:00Z" };
    const e = parseEvent(json);
    expect(e.amount).toBe(123456789012345678901234n);
    expect(e.occurredAt.toISOString()).toBe("2025-03-01T10:00:00.000Z");
    expect(codeOf(() => parseEvent({ ...json, amount: 1999 }, "events.0"))).toBe("ENT_SETTLEMENT_INVALID_EVENT events.0.amount");
    expect(codeOf(() => parseEvent({ ...json, occurredAt: "yesterday" }))).toBe("ENT_SETTLEMENT_INVALID_EVENT occurredAt");
    expect(codeOf(() => parseEvent({ ...json, type: "refund" }))).toBe("ENT_SETTLEMENT_INVALID_EVENT originalEventId");
    expect(codeOf(() => parseEvent("nope"))).toBe("ENT_SETTLEMENT_INVALID_EVENT /");
  });
});

describe("tax by where the goods ship from and what they are worth", () => {
  const when = at("2025-03-01T10:00:00Z");
  const goods = (supply: TaxedGoods["supply"], gross: bigint, currency: string, rates: Record<string, string> = {}): TaxedGoods => ({
    supply,
    gross,
    currency,
    rateTo: (to) => (to === currency ? "1" : (rates[to] ?? null)),
  });
  const scheme = (market: string, g: TaxedGoods) => selectTaxRule(TAX_RULES, market, when, g)?.scheme;

  it("tells a domestic supply from an import by the ship-from country (the EU is one territory)", () => {
    expect(supplyOf("ES", undefined)).toBe("import");
    expect(supplyOf("ES", "CN")).toBe("import");
    expect(supplyOf("ES", "ES")).toBe("domestic");
    expect(supplyOf("PL", "DE")).toBe("domestic");
    expect(supplyOf("KR", "KR")).toBe("domestic");
    expect(supplyOf("KR", "CN")).toBe("import");
  });

  it("EU: IOSS up to EUR 150 of goods (net of the VAT), customs above it, the deemed supplier's VAT from an EU warehouse", () => {
    // 181.50 EUR with 21% VAT inside is 150.00 of goods: still IOSS; a cent more is not.
    expect(scheme("ES", goods("import", 18_150n, "EUR"))).toBe("EU_IOSS");
    expect(scheme("ES", goods("import", 18_152n, "EUR"))).toBe("EU_IMPORT_CUSTOMS");
    expect(selectTaxRule(TAX_RULES, "ES", when, goods("import", 24_200n, "EUR"))?.collectedBy).toBe("none");
    expect(scheme("ES", goods("domestic", 24_200n, "EUR"))).toBe("EU_DEEMED_SUPPLIER");
    // Poland's band is in EUR: 600.00 PLN is 487.80 net of 23% VAT, 117.07 EUR at 0.24; 1000.00 PLN is not.
    expect(scheme("PL", goods("import", 60_000n, "PLN", { EUR: "0.24" }))).toBe("EU_IOSS");
    expect(scheme("PL", goods("import", 100_000n, "PLN", { EUR: "0.24" }))).toBe("EU_IMPORT_CUSTOMS");
    // Without a PLN->EUR rate the band cannot be checked: the event is refused, never guessed.
    expect(codeOf(() => selectTaxRule(TAX_RULES, "PL", when, goods("import", 60_000n, "PLN")))).toBe("ENT_SETTLEMENT_FX_UNAVAILABLE occurredAt");
  });

  it("Korea: de minimis up to USD 150 for imports, customs above, 10% VAT from a Korean warehouse", () => {
    const usd = { USD: "0.00072" };
    expect(scheme("KR", goods("import", 100_000n, "KRW", usd))).toBe("KR_DE_MINIMIS"); // 72 USD
    expect(scheme("KR", goods("import", 300_000n, "KRW", usd))).toBe("KR_IMPORT_CUSTOMS"); // 216 USD
    const vat = selectTaxRule(TAX_RULES, "KR", when, goods("domestic", 300_000n, "KRW", usd));
    expect([vat?.scheme, vat?.rateBps, vat?.collectedBy]).toEqual(["KR_VAT", 1000, "marketplace"]);
  });

  it("Brazil: 20% up to USD 50 of goods, above it 60% less USD 20 (the band and the deduction at the mid rate)", () => {
    const usd = { USD: "0.2" }; // 5 BRL to the dollar, to keep the arithmetic readable
    // 300.00 BRL with 20% inside is 250.00 BRL = USD 50.00 of goods: still the 20% band.
    const low = selectTaxRule(TAX_RULES, "BR", when, goods("import", 30_000n, "BRL", usd))!;
    expect([low.id, low.rateBps]).toEqual(["tax-BR-remessa-2024", 2000]);
    expect(inclusiveTax(30_000n, low.rateBps, deductionIn(low, goods("import", 30_000n, "BRL", usd))!)).toBe(5_000n);
    // 500.00 BRL: the 60% band. The deduction is USD 20 = 100.00 BRL; with T = 0.6 V - 100 and
    // V + T = 500: V = 375.00, T = 125.00 (not the 187.50 of 60% inside the gross).
    const g = goods("import", 50_000n, "BRL", usd);
    const high = selectTaxRule(TAX_RULES, "BR", when, g)!;
    expect([high.id, high.rateBps, high.scheme]).toEqual(["tax-BR-remessa-60-2024", 6000, "BR_REMESSA_CONFORME"]);
    expect(deductionIn(high, g)).toBe(10_000n);
    expect(inclusiveTax(50_000n, high.rateBps, 10_000n)).toBe(12_500n);
    expect(inclusiveTax(50_000n, high.rateBps, 0n)).toBe(18_750n);
    // Never below zero, and a deduction in a currency without a published rate is refused, not guessed.
    expect(inclusiveTax(1_000n, 6000, 10_000n)).toBe(0n);
    expect(deductionIn(high, goods("import", 50_000n, "BRL"))).toBeNull();
    expect(codeOf(() => validateTaxRule({ ...high, deduction: { currency: "usd", amount: 2_000n } }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE deduction");
  });

  it("validates the supply and the band of a published rule", () => {
    const rule = TAX_RULES.find((r) => r.scheme === "KR_VAT")!;
    expect(codeOf(() => validateTaxRule({ ...rule, supply: "export" as never }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE supply");
    expect(codeOf(() => validateTaxRule({ ...rule, maxValue: { currency: "USD", amount: 0n } }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE maxValue");
    expect(codeOf(() => validateEvent(capture({ shipFrom: "korea" })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipFrom");
    expect(codeOf(() => validateEvent(followUp("refund", "r", { amount: 1n, shipFrom: "KR" })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipFrom");
  });
});
