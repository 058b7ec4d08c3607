import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { caught } from "../support/app-errors.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/data.js";
import {
  deductionIn,
  selectOrderTaxes,
  selectSchedule,
  selectTaxRule,
  supplyOf,
  validateSchedule,
  validateTaxRule,
  valuationInstant,
  type TaxedGoods,
} from "../../service/settlement/schedules.js";
import { inclusiveTax, orderTaxes } from "../../service/settlement/plan.js";
import { parseEvent, validateEvent } from "../../service/settlement/validate.js";
import { capture, followUp } from "./fixtures.js";

const at = (iso: string) => new Date(iso);

/** An order's goods for tax selection, with mid rates from its currency (none: only its own); a seller established in China. */
const goods = (supply: TaxedGoods["supply"], gross: bigint, currency: string, rates: Record<string, string> = {}, shipping = 0n): TaxedGoods => ({
  supply,
  sellerCountry: "CN",
  gross,
  shipping,
  currency,
  rateTo: (to) => (to === currency ? "1" : (rates[to] ?? null)),
});

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

  it("Korea: de minimis up to USD 150 for imports, customs above, 10% VAT from a Korean warehouse: the seller's, the platform's for its own stock", () => {
    const usd = { USD: "0.00072" };
    expect(scheme("KR", goods("import", 100_000n, "KRW", usd))).toBe("KR_DE_MINIMIS"); // 72 USD
    expect(scheme("KR", goods("import", 300_000n, "KRW", usd))).toBe("KR_IMPORT_CUSTOMS"); // 216 USD
    // No marketplace deemed-supplier rule for goods in Korea: the seller declares its domestic VAT.
    const vat = selectTaxRule(TAX_RULES, "KR", when, goods("domestic", 300_000n, "KRW", usd));
    expect([vat?.scheme, vat?.rateBps, vat?.collectedBy]).toEqual(["KR_VAT", 1000, "seller"]);
    const own = selectTaxRule(TAX_RULES, "KR", when, { ...goods("domestic", 300_000n, "KRW", usd), program: "full_hosting" });
    expect([own?.scheme, own?.rateBps, own?.collectedBy]).toEqual(["KR_PRINCIPAL_VAT", 1000, "marketplace"]);
    // A seller-liable tax is nobody's to collect here: no tax in the gross.
    expect(orderTaxes(110_000n, 0n, vat!, 0n, null).tax).toBe(0n);
  });

  it("EU: the deemed supplier is for sellers established outside the EU (art. 14a(2)); one established inside declares its own VAT; Northern Ireland is in the EU VAT area for goods", () => {
    const domestic = (sellerCountry: string) => ({ ...goods("domestic", 10_000n, "EUR"), sellerCountry });
    expect([selectTaxRule(TAX_RULES, "ES", when, domestic("CN"))?.scheme, selectTaxRule(TAX_RULES, "ES", when, domestic("CN"))?.collectedBy]).toEqual(["EU_DEEMED_SUPPLIER", "marketplace"]);
    for (const established of ["DE", "ES", "XI"]) {
      const r = selectTaxRule(TAX_RULES, "ES", when, domestic(established));
      expect([r?.id, r?.scheme, r?.collectedBy], established).toEqual(["tax-ES-seller-vat-2021", "EU_SELLER_VAT", "seller"]);
    }
    // The platform's own stock is its own supply wherever the supplier is established.
    expect(selectTaxRule(TAX_RULES, "ES", when, { ...domestic("DE"), program: "full_hosting" })?.scheme).toBe("EU_PRINCIPAL_VAT");
    // Goods in Northern Ireland ship within the EU VAT area (Windsor Framework): not an import.
    expect([supplyOf("ES", "XI"), supplyOf("ES", "GB"), supplyOf("KR", "XI")]).toEqual(["domestic", "import", "import"]);
    const rule = TAX_RULES.find((r) => r.id === "tax-ES-deemed-supplier-2021")!;
    expect(codeOf(() => validateTaxRule({ ...rule, sellerEstablished: "abroad" as never }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE sellerEstablished");
    expect(codeOf(() => validateTaxRule({ ...rule, collectedBy: "buyer" as never }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE collectedBy");
  });

  it("Spain: a territory outside the EU VAT area (Canary Islands, Ceuta, Melilla) has its own rule, which wins over every other", () => {
    const to = (g: TaxedGoods, shipToRegion: string) => selectTaxRule(TAX_RULES, "ES", when, { ...g, shipToRegion });
    for (const region of ["ES-CN", "ES-CE", "ES-ML"]) {
      for (const g of [goods("import", 10_000n, "EUR"), goods("domestic", 10_000n, "EUR"), { ...goods("domestic", 10_000n, "EUR"), program: "full_hosting" as const }]) {
        const r = to(g, region);
        expect([r?.id, r?.scheme, r?.collectedBy], `${region} ${g.supply} ${g.program ?? ""}`).toEqual([`tax-${region}-outside-vat-2021`, "EU_OUTSIDE_VAT_TERRITORY", "none"]);
      }
    }
    // The mainland and the Balearic Islands are inside: IOSS as ever.
    expect(to(goods("import", 10_000n, "EUR"), "ES-PM")?.scheme).toBe("EU_IOSS");
    const rule = TAX_RULES.find((r) => r.id === "tax-ES-CN-outside-vat-2021")!;
    expect(codeOf(() => validateTaxRule({ ...rule, territory: "FR-971" }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE territory");
    const icms = TAX_RULES.find((r) => r.id === "tax-BR-SP-icms-2023-08")!;
    expect(codeOf(() => validateTaxRule({ ...icms, territory: "BR-SP" }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE territory");
  });

  it("Saudi Arabia: imports at customs, a seller's goods in the kingdom its own VAT, the platform's own stock its VAT", () => {
    const sar = (supply: TaxedGoods["supply"], program?: TaxedGoods["program"]) => selectTaxRule(TAX_RULES, "SA", when, { ...goods(supply, 10_000n, "SAR"), ...(program === undefined ? {} : { program }) });
    expect([sar("import")?.scheme, sar("import")?.collectedBy]).toEqual(["SA_IMPORT_CUSTOMS", "none"]);
    expect([sar("import", "full_hosting")?.scheme, sar("domestic", "pop")?.scheme, sar("domestic", "pop")?.collectedBy]).toEqual(["SA_IMPORT_CUSTOMS", "SA_VAT", "seller"]);
    expect([sar("domestic", "full_hosting")?.scheme, sar("domestic", "full_hosting")?.collectedBy]).toEqual(["SA_PRINCIPAL_VAT", "marketplace"]);
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

describe("state taxes on top of the national one, and each scheme's basis", () => {
  const taxesOf = (market: string, when: string, g: TaxedGoods, region?: string) => {
    const r = selectOrderTaxes(TAX_RULES, market, at(when), g, region);
    return { ...r, ...orderTaxes(g.gross, g.shipping, r.national, r.deduction, r.state) };
  };

  it("Brazil, Sao Paulo: ICMS 17% 'por dentro' on the whole gross, then the federal 20% on what is left", () => {
    // 149.90 BRL to Sao Paulo, 6 BRL to the dollar. ICMS = 17% x 149.90 = 25.48 (its base contains
    // goods, shipping, import tax and ICMS itself). The rest, 124.42, holds goods V and import tax
    // 20% x V: V = 103.68, import tax 20.74. V is USD 17.28: the 20% band.
    const t = taxesOf("BR", "2024-12-10T09:00:00Z", goods("import", 14_990n, "BRL", { USD: "0.1666667" }), "BR-SP");
    expect([t.state?.id, t.state?.scheme, t.national.id]).toEqual(["tax-BR-SP-icms-2023-08", "BR_ICMS", "tax-BR-remessa-2024"]);
    expect([t.stateTax, t.tax]).toEqual([2_548n, 2_074n]);
    // Check: ICMS is 17% of the whole, and the import tax 20% of the goods left after both taxes.
    expect(14_990n - 2_548n - 2_074n).toBe(10_368n);
    // The band is measured after the ICMS: 420.00 BRL to SP at 5 BRL/USD leaves 348.60, whose goods
    // are 290.50 = USD 58.10, above USD 50: the 60% band less USD 20 (= 100.00 BRL).
    const high = taxesOf("BR", "2024-12-10T09:00:00Z", goods("import", 42_000n, "BRL", { USD: "0.2" }), "BR-SP");
    expect([high.national.id, high.deduction, high.deductionRate, high.stateTax]).toEqual(["tax-BR-remessa-60-2024", 10_000n, "0.2", 7_140n]);
    expect(high.tax).toBe(inclusiveTax(42_000n - 7_140n, 6000, 10_000n));
  });

  it("Brazil: above Remessa Conforme's USD 3,000 ceiling neither the import tax nor the ICMS is collected: a formal import at customs", () => {
    // 20,000.00 BRL to Sao Paulo at 5 BRL/USD: ICMS 3,400.00 would leave 16,600.00, whose goods V with
    // T = 0.6 V - 100.00 are (16,600.00 + 100.00) / 1.6 = 10,437.50 = USD 2,087.50: inside the regime.
    const inside = taxesOf("BR", "2024-12-10T09:00:00Z", goods("import", 2_000_000n, "BRL", { USD: "0.2" }), "BR-SP");
    expect([inside.national.id, inside.state?.id, inside.stateTax]).toEqual(["tax-BR-remessa-60-2024", "tax-BR-SP-icms-2023-08", 340_000n]);
    // 30,000.00 BRL: (24,900.00 + 100.00) / 1.6 = 15,625.00 = USD 3,125.00, above USD 3,000.
    const above = taxesOf("BR", "2024-12-10T09:00:00Z", goods("import", 3_000_000n, "BRL", { USD: "0.2" }), "BR-SP");
    expect([above.national.id, above.national.collectedBy, above.state, above.tax, above.stateTax]).toEqual(["tax-BR-import-customs-2024", "none", null, 0n, 0n]);
  });

  it("Brazil: Minas Gerais' ICMS is 20% from April 2025, 17% before; an order without a state is refused", () => {
    const g = goods("import", 10_000n, "BRL", { USD: "0.2" });
    expect(taxesOf("BR", "2025-03-31T23:00:00Z", g, "BR-MG").stateTax).toBe(1_700n);
    expect(taxesOf("BR", "2025-04-01T00:00:00Z", g, "BR-MG").stateTax).toBe(2_000n);
    expect(codeOf(() => selectOrderTaxes(TAX_RULES, "BR", at("2025-04-01T00:00:00Z"), g, undefined))).toBe("ENT_SETTLEMENT_NO_TAX_RULE shipToRegion");
    expect(codeOf(() => selectOrderTaxes(TAX_RULES, "BR", at("2025-04-01T00:00:00Z"), g, "BR-AM"))).toBe("ENT_SETTLEMENT_NO_TAX_RULE shipToRegion");
  });

  it("Brazil: goods shipped from inside Brazil are refused as a domestic supply no rule covers, naming shipFrom", () => {
    const e = caught(() => selectOrderTaxes(TAX_RULES, "BR", at("2025-04-01T00:00:00Z"), { ...goods("domestic", 10_000n, "BRL", { USD: "0.2" }), shipFrom: "BR" }, "BR-SP"));
    expect(e.code).toBe("ENT_SETTLEMENT_NO_TAX_RULE");
    expect(e.message).toBe("no domestic tax rule for BR at 2025-04-01T00:00:00.000Z: the goods ship from BR, inside BR, and its rules in force tax imports only");
    expect(e.fields?.map((f) => f.field)).toEqual(["market", "shipFrom"]);
  });

  it("US: the state's sales tax on the price before it; California leaves separately stated shipping untaxed, New York taxes it", () => {
    // 129.99 USD with 5.99 shipping. California leaves the shipping out: the tax is inside the other
    // 124.00, 124.00 x 0.0725 / 1.0725 = 8.38 (goods 115.62).
    const ca = taxesOf("US", "2024-12-10T09:00:00Z", goods("import", 12_999n, "USD", {}, 599n), "US-CA");
    expect([ca.national.scheme, ca.tax, ca.state?.scheme, ca.state?.region, ca.stateTax]).toEqual(["US_NONE", 0n, "US_SALES_TAX", "US-CA", 838n]);
    // New York taxes the whole 129.99: 4% inside it is 5.00.
    const ny = taxesOf("US", "2024-12-10T09:00:00Z", goods("import", 12_999n, "USD", {}, 599n), "US-NY");
    expect(ny.stateTax).toBe(500n);
    // Oregon has no sales tax; Florida's facilitator law starts on 2021-07-01.
    expect(taxesOf("US", "2024-12-10T09:00:00Z", goods("import", 12_999n, "USD"), "US-OR").stateTax).toBe(0n);
    expect(codeOf(() => selectOrderTaxes(TAX_RULES, "US", at("2021-06-30T00:00:00Z"), goods("import", 100n, "USD"), "US-FL"))).toBe("ENT_SETTLEMENT_NO_TAX_RULE shipToRegion");
    expect(codeOf(() => selectOrderTaxes(TAX_RULES, "US", at("2024-12-10T09:00:00Z"), goods("import", 100n, "USD"), undefined))).toBe("ENT_SETTLEMENT_NO_TAX_RULE shipToRegion");
  });

  it("EU: the IOSS band is on the intrinsic value, without shipping; the VAT is on everything", () => {
    // 190.00 EUR to Spain with 12.00 shipping: goods 178.00 with VAT inside = 147.11 of intrinsic
    // value: IOSS, although the whole order net of VAT (157.02) is above EUR 150.
    const g = goods("import", 19_000n, "EUR", {}, 1_200n);
    const t = taxesOf("ES", "2025-03-01T10:00:00Z", g);
    expect([t.national.scheme, t.tax]).toEqual(["EU_IOSS", inclusiveTax(19_000n, 2100)]);
    expect(t.tax).toBe(3_298n);
    // Without the shipping stated, the same 190.00 is above the band: import VAT at customs.
    expect(taxesOf("ES", "2025-03-01T10:00:00Z", goods("import", 19_000n, "EUR")).national.scheme).toBe("EU_IMPORT_CUSTOMS");
  });

  it("customs_month values goods at the rate of the penultimate Wednesday of the previous month", () => {
    // November 2024 ends on a Saturday: its last Wednesday is the 27th, the penultimate the 20th.
    expect(valuationInstant(at("2024-12-10T09:00:00Z"), "customs_month").toISOString()).toBe("2024-11-20T23:59:59.999Z");
    // July 2025 ends on a Thursday: Wednesdays 30th and 23rd.
    expect(valuationInstant(at("2025-08-01T00:00:00Z"), "customs_month").toISOString()).toBe("2025-07-23T23:59:59.999Z");
    // April 2025 ends on a Wednesday (the 30th): the penultimate is the 23rd.
    expect(valuationInstant(at("2025-05-15T00:00:00Z"), "customs_month").toISOString()).toBe("2025-04-23T23:59:59.999Z");
    expect(valuationInstant(at("2024-12-10T09:00:00Z"), undefined).toISOString()).toBe("2024-12-10T09:00:00.000Z");
    // A rule valued that way asks for the rate at that instant.
    const rule = { ...TAX_RULES.find((r) => r.id === "tax-ES-ioss-2021")!, basis: { valuedAt: "customs_month" as const } };
    const asked: Array<string | undefined> = [];
    const g: TaxedGoods = { ...goods("import", 10_000n, "EUR"), currency: "PLN", rateTo: (_to, v) => (asked.push(v), "0.24") };
    selectTaxRule([rule], "ES", at("2025-03-01T00:00:00Z"), g);
    expect(asked).toEqual(["customs_month"]);
  });

  it("a program's own rule wins: full hosting from an EU warehouse is the platform's own supply, not the deemed supplier's", () => {
    const g = (program: TaxedGoods["program"]) => ({ ...goods("domestic", 10_000n, "EUR"), ...(program === undefined ? {} : { program }) });
    expect(selectTaxRule(TAX_RULES, "ES", at("2025-03-01T10:00:00Z"), g("full_hosting"))?.scheme).toBe("EU_PRINCIPAL_VAT");
    expect(selectTaxRule(TAX_RULES, "ES", at("2025-03-01T10:00:00Z"), g("semi_hosting"))?.scheme).toBe("EU_DEEMED_SUPPLIER");
    expect(selectTaxRule(TAX_RULES, "ES", at("2025-03-01T10:00:00Z"), g(undefined))?.scheme).toBe("EU_DEEMED_SUPPLIER");
    // Imports stay IOSS for every program, the platform's own included.
    expect(selectTaxRule(TAX_RULES, "ES", at("2025-03-01T10:00:00Z"), { ...goods("import", 10_000n, "EUR"), program: "full_hosting" })?.scheme).toBe("EU_IOSS");
    const rule = TAX_RULES.find((r) => r.id === "tax-ES-principal-2021")!;
    expect(codeOf(() => validateTaxRule({ ...rule, program: "agency" as never }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE program");
  });

  it("validates a state rule, its computation and its basis; a capture's region and shipping", () => {
    const icms = TAX_RULES.find((r) => r.id === "tax-BR-SP-icms-2023-08")!;
    expect(validateTaxRule(icms, MARKETS)).toBe(icms);
    expect(codeOf(() => validateTaxRule({ ...icms, region: "US-CA" }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE region");
    expect(codeOf(() => validateTaxRule({ ...icms, region: undefined }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE region");
    expect(codeOf(() => validateTaxRule({ ...icms, level: undefined }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE region");
    expect(codeOf(() => validateTaxRule({ ...icms, maxValue: { currency: "USD", amount: 5_000n } }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE level");
    expect(codeOf(() => validateTaxRule({ ...icms, computation: "outside" as never }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE computation");
    expect(codeOf(() => validateTaxRule({ ...icms, basis: { shipping: "free" as never } }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE basis.shipping");
    expect(codeOf(() => validateTaxRule({ ...icms, basis: { valuedAt: "yesterday" as never } }, MARKETS))).toBe("ENT_SETTLEMENT_INVALID_SCHEDULE basis.valuedAt");
    expect(codeOf(() => validateEvent(capture({ market: "US", currency: "USD", shipToRegion: "BR-SP" })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipToRegion");
    expect(codeOf(() => validateEvent(capture({ shipping: -1n })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipping");
    expect(codeOf(() => validateEvent(capture({ amount: 100n, gatewayFee: 1n, shipping: 101n })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipping");
    expect(codeOf(() => validateEvent(followUp("refund", "r", { amount: 1n, shipToRegion: "BR-SP" })))).toBe("ENT_SETTLEMENT_INVALID_EVENT shipToRegion");
    const parsed = parseEvent({ type: "capture", gateway: "g", gatewayEventId: "e", settlementId: "o", sellerId: "s", market: "US", category: "home", currency: "USD", amount: "12999", shipping: "599", shipToRegion: "US-CA", occurredAt: "2024-12-10T09:00:00Z" });
    expect([parsed.shipping, parsed.shipToRegion]).toEqual([599n, "US-CA"]);
  });
});
