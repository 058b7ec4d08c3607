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

  it("exports it as CSV with a total line, and refuses an unknown market or an empty period", async () => {
    const r = await h.get(`/v1/tax/returns?${period}&format=csv`);
    expect(r.headers["content-type"]).toContain("text/csv");
    const rows = csvRows(r.body);
    expect(rows[0]).toEqual(["market", "scheme", "currency", "effective_at", "what", "settlement_id", "gateway_event_id", "transaction_id", "gross_minor", "gross", "tax_minor", "tax"]);
    expect(rows.at(-1)?.slice(4)).toEqual(["total", "", "", "", "", "", "1300", "13.00"]);
    const unknown = await h.get(`/v1/tax/returns?${period.replace("market=ES", "market=XX")}`);
    expect([unknown.statusCode, problemCode(unknown)]).toEqual([400, "ENT_SETTLEMENT_UNKNOWN_MARKET"]);
    expect((await h.get(`/v1/tax/returns?market=ES&scheme=EU_IOSS&from=${DAY}T10:00:00Z&to=${DAY}T10:00:00Z`)).statusCode).toBe(400);
    expect((await h.get(`/v1/tax/returns?${period}`, h.keys.gateway)).statusCode).toBe(403);
  });
});
