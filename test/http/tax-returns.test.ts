/**
 * The monthly IOSS return of one member state, as a finance team files it: every tax posting of the
 * period with its order, collected and given back, equal to the tax-payable account's movement.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, csvRows, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

interface ReturnBody {
  currency: string;
  opening: string;
  collected: string;
  refunded: string;
  closing: string;
  lines: Array<{ what: string; settlementId: string; gross: string | null; tax: string }>;
}

describe("tax returns", () => {
  let h: Harness;
  const period = `market=ES&scheme=EU_IOSS&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`;
  beforeAll(async () => {
    h = await openHarness();
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
    const account = json<{ posted: string }>(await h.get("/v1/accounts/tax:ES:EU_IOSS:payable/EUR/balance"));
    expect(account.posted).toBe(body.closing);
    const customs = json<ReturnBody>(await h.get(`/v1/tax/returns?${period.replace("EU_IOSS", "EU_IMPORT_CUSTOMS")}`));
    expect(customs.lines).toEqual([]);
  });

  it("exports it as CSV with the opening, the lines, collected, given back, total and closing, and refuses an unknown market or an empty period", async () => {
    const r = await h.get(`/v1/tax/returns?${period}&format=csv`);
    expect(r.headers["content-type"]).toContain("text/csv");
    const rows = csvRows(r.body);
    expect(rows[0]).toEqual(["market", "scheme", "currency", "effective_at", "what", "settlement_id", "gateway_event_id", "transaction_id", "gross_minor", "gross", "tax_minor", "tax"]);
    // Opening first; then the lines; then collected, given back, their net and the closing, as the JSON.
    expect(rows[1]?.slice(4)).toEqual(["opening", "", "", "", "", "", "0", "0.00"]);
    expect(rows.slice(2, -4).map((row) => [row[4], row[10]])).toEqual([["capture", "866"], ["capture", "2100"], ["capture", "434"], ["refund", "-2100"]]);
    expect(rows.slice(-4).map((row) => row.slice(4))).toEqual([
      ["collected", "", "", "", "", "", "3400", "34.00"],
      ["given_back", "", "", "", "", "", "-2100", "-21.00"],
      ["total", "", "", "", "", "", "1300", "13.00"],
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
    expect(record.settlement.breakdown.stateTax).toEqual({ ruleId: "tax-US-CA-sales-2019", scheme: "US_SALES_TAX", rateBps: 725, region: "US-CA" });
    expect(record.settlement.breakdown.lines.stateTax).toBe("838");
    // Without a state, or to a state no rule covers, the order cannot be taxed: refused, naming the field.
    for (const over of [{ shipToRegion: undefined }, { shipToRegion: "US-ZZ" }]) {
      const r = await h.signedPost("/v1/settlements/events", us({ gatewayEventId: `us-${String(over.shipToRegion)}`, amount: "1000", ...over }));
      expect([r.statusCode, problemCode(r), json<{ errors: Array<{ field: string }> }>(r).errors[0]?.field]).toEqual([422, "ENT_SETTLEMENT_NO_TAX_RULE", "shipToRegion"]);
    }
    const wrong = await h.signedPost("/v1/settlements/events", us({ gatewayEventId: "us-br", amount: "1000", shipToRegion: "BR-SP" }));
    expect([wrong.statusCode, json<{ errors: Array<{ field: string }> }>(wrong).errors[0]?.field]).toEqual([400, "shipToRegion"]);
    const outside = await h.get(`/v1/tax/returns?market=US&region=BR-SP&scheme=US_SALES_TAX&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`);
    expect([outside.statusCode, problemCode(outside)]).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_MARKET"]);
  });
});
