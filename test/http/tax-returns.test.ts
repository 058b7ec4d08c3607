/**
 * The monthly IOSS return of one member state, as a finance team files it: every tax posting of the
 * period with its order, collected and given back, equal to the tax-payable account's movement.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountSpec } from "../../service/settlement/accounts.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, csvRows, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface ReturnBody {
  currency: string;
  opening: string;
  collected: string;
  refunded: string;
  closing: string;
  lines: Array<{ what: string; settlementId: string; gross: string | null; tax: string; collectedBy: string | null }>;
}

describe.each(kinds)("tax returns on %s", (kind) => {
  let h: Harness;
  const period = `market=ES&scheme=EU_IOSS&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`;
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const es = (over: Record<string, unknown>) => capture({ market: "ES", currency: "EUR", sellerId: "S-SEMI-HZ-01", category: "home", ...over });
    for (const [id, amount] of [["es-1", "4990"], ["es-2", "12100"], ["es-3", "2500"]] as const) {
      const r = await h.signedPost("/v1/settlements/events", es({ gatewayEventId: id, settlementId: `ORD-${id}`, amount, gatewayFee: "100" }));
      expect(r.statusCode, r.body).toBe(201);
    }
    // 250.00 EUR of goods: above IOSS's EUR 150, so customs collects and it is not on this return.
    expect((await h.signedPost("/v1/settlements/events", es({ gatewayEventId: "es-big", settlementId: "ORD-es-big", amount: "30250", gatewayFee: "100" }))).statusCode).toBe(201);
    const refund = await h.signedPost("/v1/settlements/events", es({ type: "refund", gatewayEventId: "es-2-r", settlementId: "ORD-es-2", originalEventId: "es-2", amount: "12100", gatewayFee: "0", occurredAt: `${DAY}T15:00:00.000Z` }));
    expect(refund.statusCode, refund.body).toBe(201);
  });
  afterAll(async () => h.close());

  it("lists every IOSS posting of the period with its order, and equals the tax-payable account", async () => {
    const r = await h.get(`/v1/tax/returns?${period}`);
    expect(r.statusCode, r.body).toBe(200);
    const body = json<ReturnBody>(r);
    // 21% inside each gross: 4990 -> 866, 12100 -> 2100, 2500 -> 434; the refund gives 2100 back.
    expect(body.lines.map((l) => [l.what, l.settlementId, l.tax])).toEqual([
      ["capture", "ORD-es-1", "866"],
      ["capture", "ORD-es-2", "2100"],
      ["capture", "ORD-es-3", "434"],
      ["refund", "ORD-es-2", "-2100"],
    ]);
    expect([body.currency, body.opening, body.collected, body.refunded, body.closing]).toEqual(["EUR", "0", "3400", "2100", "1300"]);
    // Each line names its rule and rate; one rate, so one group, adding up to the return.
    const rated = json<{ lines: Array<{ ruleId: string | null; rateBps: number | null }>; byRate: Array<Record<string, unknown>> }>(r);
    expect(rated.lines.map((l) => [l.ruleId, l.rateBps])).toEqual(Array(4).fill(["tax-ES-ioss-2021", 2100]));
    expect(rated.byRate).toMatchObject([{ rateBps: 2100, ruleIds: ["tax-ES-ioss-2021"], lines: 4, collected: "3400", refunded: "2100" }]);
    const account = json<{ posted: string }>(await h.get("/v1/accounts/tax:ES:EU_IOSS:payable/EUR/balance"));
    expect(account.posted).toBe(body.closing);
    // The order above IOSS's band is levied at customs: listed on its scheme's return, nothing collected.
    const customs = json<ReturnBody>(await h.get(`/v1/tax/returns?${period.replace("EU_IOSS", "EU_IMPORT_CUSTOMS")}`));
    expect(customs.lines.map((l) => [l.what, l.settlementId, l.tax, l.collectedBy])).toEqual([["capture", "ORD-es-big", "0", "none"]]);
    expect([customs.collected, customs.closing]).toEqual(["0", "0"]);
  });

  it("exports it as CSV with the opening, the lines, collected, given back, total and closing, and refuses an unknown market or an empty period", async () => {
    const r = await h.get(`/v1/tax/returns?${period}&format=csv`);
    expect(r.headers["content-type"]).toContain("text/csv");
    const rows = csvRows(r.body);
    expect(rows[0]?.slice(0, 12)).toEqual(["market", "scheme", "currency", "effective_at", "what", "settlement_id", "gateway_event_id", "transaction_id", "gross_minor", "gross", "tax_minor", "tax"]);
    // Opening first; then the lines; then collected, given back, their net and the closing, as the JSON.
    expect(rows[1]?.slice(4, 12)).toEqual(["opening", "", "", "", "", "", "0", "0.00"]);
    expect(rows.slice(2, -5).map((row) => [row[4], row[10]])).toEqual([["capture", "866"], ["capture", "2100"], ["capture", "434"], ["refund", "-2100"]]);
    expect(rows.slice(-5).map((row) => row.slice(4, 12))).toEqual([
      ["collected", "", "", "", "", "", "3400", "34.00"],
      ["given_back", "", "", "", "", "", "-2100", "-21.00"],
      ["total", "", "", "", "", "", "1300", "13.00"],
      ["rate", "", "", "", "", "", "1300", "13.00"],
      ["closing", "", "", "", "", "", "1300", "13.00"],
    ]);
    const unknown = await h.get(`/v1/tax/returns?${period.replace("market=ES", "market=XX")}`);
    expect([unknown.statusCode, problemCode(unknown)]).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_MARKET"]);
    expect((await h.get(`/v1/tax/returns?market=ES&scheme=EU_IOSS&from=${DAY}T10:00:00Z&to=${DAY}T10:00:00Z`)).statusCode).toBe(400);
    expect((await h.get(`/v1/tax/returns?${period}`, h.keys.gateway)).statusCode).toBe(403);
  });

  it("files a state's sales tax return by region: California's, with the shipping it leaves untaxed; a US capture without a state is refused", async () => {
    const us = (over: Record<string, unknown>) => capture({ market: "US", currency: "USD", sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", ...over });
    // 129.99 with 5.99 shipping to California: 7.25% inside the other 124.00 = 8.38. 50.00 with no
    // shipping: 3.38. To New York, 129.99 carries 4% inside the whole: 5.00, on New York's return only.
    for (const [id, over] of [
      ["ca-1", { shipToRegion: "US-CA", amount: "12999", shipping: "599" }],
      ["ca-2", { shipToRegion: "US-CA", amount: "5000" }],
      ["ny-1", { shipToRegion: "US-NY", amount: "12999", shipping: "599" }],
    ] as const) {
      const r = await h.signedPost("/v1/settlements/events", us({ gatewayEventId: id, settlementId: `ORD-${id}`, ...over }));
      expect(r.statusCode, r.body).toBe(201);
    }
    const refund = await h.signedPost("/v1/settlements/events", us({ type: "refund", gatewayEventId: "ca-2-r", settlementId: "ORD-ca-2", originalEventId: "ca-2", amount: "5000", gatewayFee: "0", occurredAt: `${DAY}T15:00:00.000Z` }));
    expect(refund.statusCode, refund.body).toBe(201);
    const ca = json<ReturnBody & { region: string }>(await h.get(`/v1/tax/returns?market=US&region=US-CA&scheme=US_SALES_TAX&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`));
    expect(ca.region).toBe("US-CA");
    expect(ca.lines.map((l) => [l.what, l.settlementId, l.tax])).toEqual([
      ["capture", "ORD-ca-1", "838"],
      ["capture", "ORD-ca-2", "338"],
      ["refund", "ORD-ca-2", "-338"],
    ]);
    expect([ca.collected, ca.refunded, ca.closing]).toEqual(["1176", "338", "838"]);
    expect(json<{ posted: string }>(await h.get("/v1/accounts/tax:US-CA:US_SALES_TAX:payable/USD/balance")).posted).toBe("838");
    const ny = json<ReturnBody>(await h.get(`/v1/tax/returns?market=US&region=US-NY&scheme=US_SALES_TAX&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`));
    expect(ny.lines.map((l) => [l.settlementId, l.tax])).toEqual([["ORD-ny-1", "500"]]);
    // The seller's record carries the state tax's rule and rate; its journal metadata commits to them.
    const record = json<{ settlement: { breakdown: { stateTax: unknown; lines: { stateTax: string } } } }>(
      await h.signedPost("/v1/settlements/events", us({ gatewayEventId: "ca-1", settlementId: "ORD-ca-1", shipToRegion: "US-CA", amount: "12999", shipping: "599" })),
    );
    expect(record.settlement.breakdown.stateTax).toEqual({ ruleId: "tax-US-CA-sales-2019", scheme: "US_SALES_TAX", rateBps: 725, region: "US-CA", collectedBy: "marketplace" });
    expect(record.settlement.breakdown.lines.stateTax).toBe("838");
    // Without a state, or to a state no rule covers (Arizona), the order cannot be taxed: refused, naming the field.
    for (const over of [{ shipToRegion: undefined }, { shipToRegion: "US-AZ" }]) {
      const r = await h.signedPost("/v1/settlements/events", us({ gatewayEventId: `us-${String(over.shipToRegion)}`, amount: "1000", ...over }));
      expect([r.statusCode, problemCode(r), json<{ errors: Array<{ field: string }> }>(r).errors[0]?.field]).toEqual([422, "ENT_SETTLEMENT_NO_TAX_RULE", "shipToRegion"]);
    }
    const wrong = await h.signedPost("/v1/settlements/events", us({ gatewayEventId: "us-br", amount: "1000", shipToRegion: "BR-SP" }));
    expect([wrong.statusCode, json<{ errors: Array<{ field: string }> }>(wrong).errors[0]?.field]).toEqual([400, "shipToRegion"]);
    const outside = await h.get(`/v1/tax/returns?market=US&region=BR-SP&scheme=US_SALES_TAX&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`);
    expect([outside.statusCode, problemCode(outside)]).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_MARKET"]);
  });

  it("refuses a return of a scheme or region no rule of the market has, never a nil return that looks filed", async () => {
    const ask = async (q: string) => {
      const r = await h.get(`/v1/tax/returns?${q}&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`);
      return [r.statusCode, problemCode(r), json<{ errors?: Array<{ field: string }> }>(r).errors?.[0]?.field];
    };
    // A mistyped scheme (the attacker's ICMS for BR_ICMS), one of another market, a state tax
    // without its region or with a region no rule covers, a national tax with a region.
    expect(await ask("market=BR&region=BR-SP&scheme=ICMS")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "scheme"]);
    expect(await ask("market=ES&scheme=TOTALLY_FAKE")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "scheme"]);
    expect(await ask("market=ES&scheme=US_SALES_TAX")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "scheme"]);
    expect(await ask("market=US&scheme=US_SALES_TAX")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "region"]);
    expect(await ask("market=US&region=US-ZZ&scheme=US_SALES_TAX")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "region"]);
    expect(await ask("market=ES&region=ES-M&scheme=EU_IOSS")).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", "region"]);
    // A scheme the market has, with nothing booked in the period: an empty return, as filed.
    const filed = await h.get(`/v1/tax/returns?market=BR&region=BR-SP&scheme=BR_ICMS&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`);
    expect([filed.statusCode, json<{ collected: string; lines: unknown[] }>(filed).lines]).toEqual([200, []]);
  });
});

/**
 * What a controller files beside the tax: per line the taxable base (what the rate applied to), what
 * the gross holds outside it, and a refund giving both back in the same share; read from the
 * evidence booked with each event, and said to be missing where an old booking has none.
 */
describe.each(kinds)("tax return bases on %s", (kind) => {
  let h: Harness;
  const on = (q: string) => `/v1/tax/returns?${q}&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`;
  interface Base {
    taxableBase: string | null;
    nonTaxable: string | null;
    otherTaxes: string | null;
    deduction: string | null;
  }
  type BasesBody = Omit<ReturnBody, "lines"> & {
    bases: { collected: Base; refunded: Base; net: Base };
    linesWithoutBase: number;
    lines: Array<{ what: string; settlementId: string; gross: string | null; tax: string; baseMissing: string | null } & Base>;
  };
  const figures = (l: { gross?: string | null; tax: string } & Base) => [l.gross, l.taxableBase, l.nonTaxable, l.otherTaxes, l.deduction, l.tax];
  const post = async (body: Record<string, unknown>) => {
    const r = await h.signedPost("/v1/settlements/events", body);
    expect(r.statusCode, r.body).toBe(201);
    return json<{ transaction: { metadata: Record<string, string> } }>(r);
  };
  let brDeduction: { buyer: string; rate: string };

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const order = (over: Record<string, unknown>) => capture({ sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", ...over });
    await post(order({ market: "US", currency: "USD", gatewayEventId: "b-ca", settlementId: "ORD-b-ca", shipToRegion: "US-CA", amount: "2999", shipping: "599" }));
    await post(order({ market: "US", currency: "USD", type: "refund", gatewayEventId: "b-ca-r", settlementId: "ORD-b-ca", originalEventId: "b-ca", amount: "1000", gatewayFee: "0", occurredAt: `${DAY}T15:00:00.000Z` }));
    await post(order({ market: "ES", currency: "EUR", gatewayEventId: "b-es", settlementId: "ORD-b-es", amount: "12100", shipping: "1000" }));
    const br = await post(order({ market: "BR", currency: "BRL", gatewayEventId: "b-br", settlementId: "ORD-b-br", shipToRegion: "BR-SP", amount: "100000" }));
    brDeduction = { buyer: br.transaction.metadata["tax.deduction.buyer"]!, rate: br.transaction.metadata["tax.deduction.rate"]! };
    await post(order({ market: "BR", currency: "BRL", type: "refund", gatewayEventId: "b-br-r", settlementId: "ORD-b-br", originalEventId: "b-br", amount: "50000", gatewayFee: "0", occurredAt: `${DAY}T16:00:00.000Z` }));
  });
  afterAll(async () => h.close());

  it("California: shipping outside the base, and a partial refund giving back base, untaxed shipping and tax in the refund's share", async () => {
    const r = json<BasesBody>(await h.get(on("market=US&region=US-CA&scheme=US_SALES_TAX")));
    // 29.99 with 5.99 shipping: California taxes the other 24.00, tax included, so tax = 2400 x 725 /
    // 10725 = 162.24 -> 162, the base 2400 - 162 = 2238 (2238 x 7.25% = 162.26), 599 untaxed; 2238 +
    // 162 + 599 = 2999. The refund of 1000 of 2999 gives back each by largest remainder: tax 162 x
    // 1000/2999 = 54.02 -> 54, base 2238 x 1000/2999 = 746.25 -> 746, shipping 599 x 1000/2999 = 199.73
    // -> 200 (its remainder .73 beats the kept part's .27); 746 + 54 + 200 = 1000.
    expect(r.lines.map(figures)).toEqual([
      ["2999", "2238", "599", "0", "0", "162"],
      ["-1000", "-746", "-200", "0", "0", "-54"],
    ]);
    expect(r.lines.map((l) => l.baseMissing)).toEqual([null, null]);
    expect(r.bases).toEqual({
      collected: { taxableBase: "2238", nonTaxable: "599", otherTaxes: "0", deduction: "0" },
      refunded: { taxableBase: "746", nonTaxable: "200", otherTaxes: "0", deduction: "0" },
      net: { taxableBase: "1492", nonTaxable: "399", otherTaxes: "0", deduction: "0" },
    });
    expect([r.collected, r.refunded, r.closing, r.linesWithoutBase]).toEqual(["162", "54", "108", 0]);
    // /openapi.json documents what the route answers.
    const doc = json<{ paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { items?: { properties: Record<string, unknown> } }> } }> }> } }> }>(await h.app.inject({ url: "/openapi.json" }));
    const schema = doc.paths["/v1/tax/returns"]!.get.responses["200"]!.content["application/json"]!.schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["bases", "linesWithoutBase", "byRate", "lines"]));
    expect(Object.keys(schema.properties["lines"]!.items!.properties)).toEqual(expect.arrayContaining(["taxableBase", "nonTaxable", "otherTaxes", "deduction", "baseMissing", "ruleId", "rateBps", "originalEffectiveAt"]));

    const rows = csvRows((await h.get(`${on("market=US&region=US-CA&scheme=US_SALES_TAX")}&format=csv`)).body);
    expect(rows[0]?.slice(10)).toEqual(["tax_minor", "tax", "taxable_base_minor", "taxable_base", "non_taxable_minor", "non_taxable", "other_taxes_minor", "other_taxes", "deduction_minor", "deduction", "base_missing", "rule_id", "rate_bps", "original_effective_at", "region", "collected_by", "seller_id", "ship_from", "ship_to"]);
    // The gross signed as the tax: the refund's negative.
    expect(rows.slice(2, 4).map((row) => row.slice(8, 10))).toEqual([["2999", "29.99"], ["-1000", "-10.00"]]);
    // The JSON's figures row by row: the opening and closing are balances of tax, with no base; the
    // state tax's rate as booked with each event, and one row for it.
    expect(rows.slice(1).map((row) => [row[4], ...row.slice(10, 25)])).toEqual([
      ["opening", "0", "0.00", "", "", "", "", "", "", "", "", "", "", "", "", "US-CA"],
      ["capture", "162", "1.62", "2238", "22.38", "599", "5.99", "0", "0.00", "0", "0.00", "", "tax-US-CA-sales-2019", "725", "", "US-CA"],
      ["refund", "-54", "-0.54", "-746", "-7.46", "-200", "-2.00", "0", "0.00", "0", "0.00", "", "tax-US-CA-sales-2019", "725", "", "US-CA"],
      ["collected", "162", "1.62", "2238", "22.38", "599", "5.99", "0", "0.00", "0", "0.00", "", "", "", "", "US-CA"],
      ["given_back", "-54", "-0.54", "-746", "-7.46", "-200", "-2.00", "0", "0.00", "0", "0.00", "", "", "", "", "US-CA"],
      ["total", "108", "1.08", "1492", "14.92", "399", "3.99", "0", "0.00", "0", "0.00", "", "", "", "", "US-CA"],
      ["rate", "108", "1.08", "1492", "14.92", "399", "3.99", "0", "0.00", "0", "0.00", "", "tax-US-CA-sales-2019", "725", "", "US-CA"],
      ["closing", "108", "1.08", "", "", "", "", "", "", "", "", "", "", "", "", "US-CA"],
    ]);
    // Then who is liable, the seller and the route, on the lines only.
    expect(rows.slice(1).map((row) => row.slice(25))).toEqual([
      ["", "", "", ""],
      ["marketplace", "S-SEMI-HZ-01", "", "US-CA"],
      ["marketplace", "S-SEMI-HZ-01", "", "US-CA"],
      ...Array<string[]>(5).fill(["", "", "", ""]),
    ]);
  });

  it("EU IOSS: the VAT base is the price net of VAT, shipping included", async () => {
    const r = json<BasesBody>(await h.get(on("market=ES&scheme=EU_IOSS")));
    // 121.00 with 10.00 of shipping, which VAT taxes: 21% inside the whole, 12100 x 2100 / 12100 = 2100,
    // on a base of 12100 - 2100 = 10000 (10000 x 21% = 2100); nothing outside it.
    expect(r.lines.map(figures)).toEqual([["12100", "10000", "0", "0", "0", "2100"]]);
    expect(r.bases.net).toEqual({ taxableBase: "10000", nonTaxable: "0", otherTaxes: "0", deduction: "0" });
    const rows = csvRows((await h.get(`${on("market=ES&scheme=EU_IOSS")}&format=csv`)).body);
    expect(rows[2]?.slice(10)).toEqual(["2100", "21.00", "10000", "100.00", "0", "0.00", "0", "0.00", "0", "0.00", "", "tax-ES-ioss-2021", "2100", "", "", "marketplace", "S-SEMI-HZ-01", "", "ES"]);
  });

  it("Brazil above USD 50: the import tax on the goods, the USD 20 off the tax and ICMS outside its base; ICMS on the whole gross; half refunded", async () => {
    // USD 20 at the day's mid rate (BRL -> USD), half-even: the booked deduction, never today's.
    const rate = Number(brDeduction.rate);
    expect(Math.abs(2000 / rate - Number(brDeduction.buyer))).toBeLessThanOrEqual(0.5);
    expect(brDeduction.buyer).toBe("12126");
    // 1,000.00 BRL to Sao Paulo. ICMS "por dentro", 17% of the whole gross: 100000 x 17% = 17000, on a
    // base of 100000 (the tax inside it). The import tax T on the goods V = 100000 - 17000 - T is
    // V x 60% - 12126: T = (83000 x 6000 - 12126 x 10000) / 16000 = 376740000 / 16000 = 23546.25 ->
    // 23546; V = 83000 - 23546 = 59454 (59454 x 60% - 12126 = 23546.4); 59454 + 23546 + 17000 = 100000.
    // The refund of half gives back exactly half of each (all even).
    const remessa = json<BasesBody>(await h.get(on("market=BR&scheme=BR_REMESSA_CONFORME")));
    expect(remessa.lines.map(figures)).toEqual([
      ["100000", "59454", "0", "17000", "12126", "23546"],
      ["-50000", "-29727", "0", "-8500", "-6063", "-11773"],
    ]);
    expect(remessa.bases.net).toEqual({ taxableBase: "29727", nonTaxable: "0", otherTaxes: "8500", deduction: "6063" });
    const icms = json<BasesBody>(await h.get(on("market=BR&region=BR-SP&scheme=BR_ICMS")));
    expect(icms.lines.map(figures)).toEqual([
      ["100000", "100000", "0", "0", "0", "17000"],
      ["-50000", "-50000", "0", "0", "0", "-8500"],
    ]);
    const rows = csvRows((await h.get(`${on("market=BR&scheme=BR_REMESSA_CONFORME")}&format=csv`)).body);
    expect(rows.slice(-5, -2).map((row) => [row[4], row[10], row[12], row[14], row[16], row[18]])).toEqual([
      ["collected", "23546", "59454", "0", "17000", "12126"],
      ["given_back", "-11773", "-29727", "0", "-8500", "-6063"],
      ["total", "11773", "29727", "0", "8500", "6063"],
    ]);
  });

  it("groups Brazil's import tax by its two rates: 20% up to USD 50, 60% above; the groups add up to the return", async () => {
    // 80.00 BRL to Sao Paulo: about USD 13, under Remessa Conforme's 20% band.
    await post(capture({ sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", market: "BR", currency: "BRL", gatewayEventId: "b-br-small", settlementId: "ORD-b-br-small", shipToRegion: "BR-SP", amount: "8000" }));
    type Rated = Omit<BasesBody, "lines"> & { lines: Array<BasesBody["lines"][number] & { ruleId: string | null; rateBps: number | null }>; byRate: Array<{ rateBps: number | null; ruleIds: string[]; lines: number; collected: string; refunded: string; bases: BasesBody["bases"] }> };
    const r = json<Rated>(await h.get(on("market=BR&scheme=BR_REMESSA_CONFORME")));
    expect(r.lines.map((l) => [l.settlementId, l.what, l.ruleId, l.rateBps])).toEqual([
      ["ORD-b-br", "capture", "tax-BR-remessa-60-2024", 6000],
      ["ORD-b-br-small", "capture", "tax-BR-remessa-2024", 2000],
      ["ORD-b-br", "refund", "tax-BR-remessa-60-2024", 6000],
    ]);
    expect(r.byRate.map((g) => [g.rateBps, g.ruleIds, g.lines, g.collected, g.refunded])).toEqual([
      [2000, ["tax-BR-remessa-2024"], 1, r.lines[1]!.tax, "0"],
      [6000, ["tax-BR-remessa-60-2024"], 2, "23546", "11773"],
    ]);
    expect(r.byRate[1]!.bases.net).toEqual({ taxableBase: "29727", nonTaxable: "0", otherTaxes: "8500", deduction: "6063" });
    const sum = (k: "collected" | "refunded") => r.byRate.reduce((t, g) => t + BigInt(g[k]), 0n).toString();
    expect([sum("collected"), sum("refunded")]).toEqual([r.collected, r.refunded]);
    const base = (k: "collected" | "refunded" | "net") => r.byRate.reduce((t, g) => t + BigInt(g.bases[k].taxableBase!), 0n).toString();
    expect([base("collected"), base("refunded"), base("net")]).toEqual([r.bases.collected.taxableBase, r.bases.refunded.taxableBase, r.bases.net.taxableBase]);
    // The CSV: one rate row each, between the total and the closing.
    const rows = csvRows((await h.get(`${on("market=BR&scheme=BR_REMESSA_CONFORME")}&format=csv`)).body);
    const [rule, rate] = [rows[0]!.indexOf("rule_id"), rows[0]!.indexOf("rate_bps")];
    expect(rows.slice(-3, -1).map((row) => [row[4], row[10], row[rule], row[rate]])).toEqual([
      ["rate", r.lines[1]!.tax, "tax-BR-remessa-2024", "2000"],
      ["rate", "11773", "tax-BR-remessa-60-2024", "6000"],
    ]);
  });

  it("shows a booking without recorded bases as null with the reason, and leaves its group's totals null rather than partial", async () => {
    // A capture as booked before bases were recorded: its tax rule and gross, no tax.taxableBase.
    const accounts = ["gateway:adyen:receivable", "tax:FR:EU_IOSS:payable"].map((code) => accountSpec(code, "EUR"));
    const old = await h.services.ledger.post({
      idempotencyKey: "settlement:adyen:old-fr",
      postings: [
        { account: "gateway:adyen:receivable", currency: "EUR", direction: "debit", amount: 1000n },
        { account: "tax:FR:EU_IOSS:payable", currency: "EUR", direction: "credit", amount: 1000n },
      ],
      accounts,
      metadata: { eventType: "capture", settlementId: "ORD-old-fr", gatewayEventId: "old-fr", "tax.ruleId": "tax-FR-ioss-2021", grossAmount: "6000" },
      effectiveAt: new Date(`${DAY}T08:00:00.000Z`),
    });
    expect(old.status).toBe("created");
    await post(capture({ sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", market: "FR", currency: "EUR", gatewayEventId: "b-fr", settlementId: "ORD-b-fr", amount: "6000" }));
    const r = json<BasesBody>(await h.get(on("market=FR&scheme=EU_IOSS")));
    // 60.00 at 20% inside: 1000 of tax on a base of 5000; the old booking's base is unknown.
    expect(r.lines.map(figures)).toEqual([
      ["6000", null, null, null, null, "1000"],
      ["6000", "5000", "0", "0", "0", "1000"],
    ]);
    expect(r.lines[0]?.baseMissing).toBe("booked before tax bases were recorded: the transaction has no tax.taxableBase");
    expect(r.lines[1]?.baseMissing).toBeNull();
    expect(r.linesWithoutBase).toBe(1);
    expect(r.bases.collected).toEqual({ taxableBase: null, nonTaxable: null, otherTaxes: null, deduction: null });
    // Nothing given back: that group is complete.
    expect(r.bases.refunded).toEqual({ taxableBase: "0", nonTaxable: "0", otherTaxes: "0", deduction: "0" });
    const rows = csvRows((await h.get(`${on("market=FR&scheme=EU_IOSS")}&format=csv`)).body);
    // Its rule (and so its rate) was recorded: the rate is known, the base is not.
    expect(rows[2]?.slice(12)).toEqual(["", "", "", "", "", "", "", "", "booked before tax bases were recorded: the transaction has no tax.taxableBase", "tax-FR-ioss-2021", "2000", "", "", "marketplace", "", "", ""]);
    expect(rows.find((row) => row[4] === "collected")?.slice(10)).toEqual(["2000", "20.00", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""]);
  });
});

/**
 * A Brazilian order carries two taxes, the state's ICMS and the national import tax; a refund or a
 * chargeback takes back its share of both TOGETHER with the rest of the gross, so each line of the
 * returns adds up to its gross, and the partial refunds' taxes add up to what the capture collected.
 */
describe.each(kinds)("Brazil's two taxes taken back together on %s", (kind) => {
  let h: Harness;
  const on = (q: string) => `/v1/tax/returns?${q}&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`;
  type Line = { what: string; settlementId: string; gross: string | null; tax: string; taxableBase: string | null; nonTaxable: string | null; otherTaxes: string | null };
  const order = (over: Record<string, unknown>) => capture({ sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", market: "BR", currency: "BRL", amount: "29980", ...over });
  const followUp = (type: string, id: string, of: string, hour: number, over: Record<string, unknown> = {}) =>
    order({ type, gatewayEventId: id, settlementId: `ORD-${of}`, originalEventId: of, amount: "14990", gatewayFee: "0", occurredAt: `${DAY}T${hour}:00:00.000Z`, ...over });

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    for (const body of [
      order({ gatewayEventId: "br-r", settlementId: "ORD-br-r" }),
      followUp("refund", "br-r-1", "br-r", 12),
      followUp("refund", "br-r-2", "br-r", 13),
      order({ gatewayEventId: "br-cb", settlementId: "ORD-br-cb" }),
      followUp("chargeback", "br-cb-1", "br-cb", 14),
      followUp("chargeback_reversal", "br-cb-won", "br-cb", 15, { originalEventId: "br-cb-1" }),
    ]) {
      const r = await h.signedPost("/v1/settlements/events", body);
      expect(r.statusCode, r.body).toBe(201);
    }
  });
  afterAll(async () => h.close());

  it("a refund of half, then of the rest: each line's base and taxes add up to its gross, and the refunds' taxes to the capture's", async () => {
    // 299.80 BRL to Sao Paulo. ICMS 17% of the whole gross: 5096.6 -> 5097. The import tax 20% inside
    // the 24883 ICMS leaves: 4147.17 -> 4147, on goods of 20736. Half of each is 2548.5 and 2073.5:
    // rounded each on its own, both go up and the first refund gives back 14991 of a 14990 gross.
    // Together: ICMS 2548.5 -> 2549 (the refund's half), the import tax of the 12441 it leaves of
    // 24883: 2073.41 -> 2073, the goods the rest, 10368; the second refund takes what is left.
    const remessa = json<{ lines: Line[]; collected: string; refunded: string; closing: string }>(await h.get(on("market=BR&scheme=BR_REMESSA_CONFORME")));
    const icms = json<{ lines: Line[]; collected: string; refunded: string; closing: string }>(await h.get(on("market=BR&region=BR-SP&scheme=BR_ICMS")));
    const ofOrder = (lines: Line[]) => lines.filter((l) => l.settlementId === "ORD-br-r").map((l) => [l.what, l.gross, l.taxableBase, l.nonTaxable, l.otherTaxes, l.tax]);
    expect(ofOrder(remessa.lines)).toEqual([
      ["capture", "29980", "20736", "0", "5097", "4147"],
      ["refund", "-14990", "-10368", "0", "-2549", "-2073"],
      ["refund", "-14990", "-10368", "0", "-2548", "-2074"],
    ]);
    expect(ofOrder(icms.lines)).toEqual([
      ["capture", "29980", "29980", "0", "0", "5097"],
      ["refund", "-14990", "-14990", "0", "0", "-2549"],
      ["refund", "-14990", "-14990", "0", "0", "-2548"],
    ]);
    // Per line of the import tax's return, the gross signed as the rest: gross = base + tax + other
    // taxes (the ICMS, which the ICMS return books as its tax on the same line); ICMS's base holds
    // its tax: gross = base.
    for (const [i, l] of remessa.lines.entries()) {
      expect(BigInt(l.gross!), `${l.what} ${l.settlementId}`).toBe(BigInt(l.taxableBase!) + BigInt(l.tax) + BigInt(l.nonTaxable!) + BigInt(l.otherTaxes!));
      expect(l.otherTaxes, `${l.what} ${l.settlementId}`).toBe(icms.lines[i]!.tax);
      expect(BigInt(l.gross!)).toBe(BigInt(icms.lines[i]!.taxableBase!) + BigInt(icms.lines[i]!.nonTaxable!));
    }
    // Both refunds give back what the capture collected, no unit more: nothing of the order is left owed.
    const net = (lines: Line[]) => lines.filter((l) => l.settlementId === "ORD-br-r").reduce((t, l) => t + BigInt(l.tax), 0n);
    expect([net(remessa.lines), net(icms.lines)]).toEqual([0n, 0n]);
    // As the CSV files it: the first refund's parts in minor and major units.
    const rows = csvRows((await h.get(`${on("market=BR&scheme=BR_REMESSA_CONFORME")}&format=csv`)).body);
    expect(rows.find((row) => row[6] === "br-r-1")?.slice(8, 20)).toEqual(["-14990", "-149.90", "-2073", "-20.73", "-10368", "-103.68", "0", "0.00", "-2549", "-25.49", "0", "0.00"]);
  });

  it("a chargeback takes back both taxes in the same share as a refund, and its reversal books them again", async () => {
    const remessa = json<{ lines: Line[] }>(await h.get(on("market=BR&scheme=BR_REMESSA_CONFORME")));
    const icms = json<{ lines: Line[] }>(await h.get(on("market=BR&region=BR-SP&scheme=BR_ICMS")));
    const ofOrder = (lines: Line[]) => lines.filter((l) => l.settlementId === "ORD-br-cb").map((l) => [l.what, l.gross, l.taxableBase, l.otherTaxes, l.tax]);
    expect(ofOrder(remessa.lines)).toEqual([
      ["capture", "29980", "20736", "5097", "4147"],
      ["chargeback", "-14990", "-10368", "-2549", "-2073"],
      ["chargeback_reversal", "14990", "10368", "2549", "2073"],
    ]);
    expect(ofOrder(icms.lines)).toEqual([
      ["capture", "29980", "29980", "0", "5097"],
      ["chargeback", "-14990", "-14990", "0", "-2549"],
      ["chargeback_reversal", "14990", "14990", "0", "2549"],
    ]);
  });
});
