/**
 * Program data over HTTP: an admin onboards a seller and publishes fee schedule and tax rule
 * versions (immutable, never in the past, the acting key recorded); finance reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

describe("program data routes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h.close());

  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  const createdBy = async (table: string, id: string) =>
    (await h.db.sql.q<Array<{ created_by: string | null }>>(`SELECT "created_by" FROM "${table}" WHERE "id" = $1`, id))[0]?.created_by;

  it("onboards a seller: 201, the same again 200, other content 409, admin only, each field checked", async () => {
    const seller = { id: "S-SEMI-XM-09", name: "Xiamen Outdoor", program: "semi_hosting", payoutCurrency: "CNY", homeCountry: "CN" };
    expect((await h.post("/v1/sellers", seller, h.keys.finance)).statusCode).toBe(403);
    const first = await h.post("/v1/sellers", seller, h.keys.admin);
    expect(first.statusCode, first.body).toBe(201);
    expect(json(first)).toEqual({ ...seller, gateways: [] });
    expect((await h.post("/v1/sellers", seller, h.keys.admin)).statusCode).toBe(200);
    const changed = await h.post("/v1/sellers", { ...seller, program: "pop" }, h.keys.admin);
    expect([changed.statusCode, problemCode(changed)]).toEqual([409, "ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT"]);
    for (const bad of [{ homeCountry: "chn" }, { payoutCurrency: "yuan" }, { program: "agency" }, { id: "" }, { extra: 1 }]) {
      expect((await h.post("/v1/sellers", { ...seller, id: "S-BAD", ...bad }, h.keys.admin)).statusCode, JSON.stringify(bad)).toBe(400);
    }
    expect(await createdBy("settlement_sellers", seller.id)).toBe(h.keys.admin.id);
    expect(json<{ items: Array<{ id: string }> }>(await h.get("/v1/sellers?program=semi_hosting")).items.map((s) => s.id)).toContain(seller.id);
  });

  it("publishes a fee schedule version from tomorrow and a tax rule version; both listed, neither rewritable, none in the past", async () => {
    const schedule = {
      id: "pop-br-next",
      program: "pop",
      market: "BR",
      category: "*",
      effectiveFrom: tomorrow,
      commissionBps: 900,
      paymentFeeBorneBy: "seller",
      fixedFees: { logistics: "0", warehousing: "0", fulfilment: "0" },
      holdUntilConfirmation: true,
      autoConfirmDays: 14,
      reserve: null,
      referenceRates: {},
    };
    const created = await h.post("/v1/fee-schedules", schedule, h.keys.admin);
    expect(created.statusCode, created.body).toBe(201);
    // Service fees (logistics, warehousing, fulfilment) are not refunded with goods unless a schedule says so.
    expect(json(created)).toEqual({ ...schedule, serviceFeesRefundable: false });
    expect((await h.post("/v1/fee-schedules", schedule, h.keys.admin)).statusCode).toBe(200);
    const refunding = { ...schedule, id: "pop-br-next-refunding", serviceFeesRefundable: true };
    expect(json(await h.post("/v1/fee-schedules", refunding, h.keys.admin))).toMatchObject({ serviceFeesRefundable: true });
    expect((await h.post("/v1/fee-schedules", refunding, h.keys.admin)).statusCode).toBe(200);
    expect((await h.post("/v1/fee-schedules", { ...schedule, serviceFeesRefundable: false }, h.keys.admin)).statusCode).toBe(200);
    expect(problemCode(await h.post("/v1/fee-schedules", { ...schedule, commissionBps: 901 }, h.keys.admin))).toBe("ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT");
    const past = await h.post("/v1/fee-schedules", { ...schedule, id: "pop-br-past", effectiveFrom: "2024-01-01T00:00:00Z" }, h.keys.admin);
    expect([past.statusCode, json<{ errors: Array<{ field: string }> }>(past).errors[0]?.field]).toEqual([400, "effectiveFrom"]);
    expect((await h.post("/v1/fee-schedules", { ...schedule, id: "neg", fixedFees: { ...schedule.fixedFees, logistics: "-1" } }, h.keys.admin)).statusCode).toBe(400);
    expect(await createdBy("settlement_fee_schedules", schedule.id)).toBe(h.keys.admin.id);
    const listed = json<{ items: Array<{ id: string; market: string }> }>(await h.get("/v1/fee-schedules?program=pop&market=BR"));
    expect(listed.items.map((f) => f.id)).toContain(schedule.id);

    const rule = { id: "br-rc-next", market: "BR", effectiveFrom: tomorrow, kind: "import_duty", scheme: "BR_REMESSA_CONFORME", rateBps: 2000, collectedBy: "marketplace", authority: "BR-RFB", note: "next" };
    const r = await h.post("/v1/tax-rules", rule, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    expect((await h.post("/v1/tax-rules", { ...rule, id: "xx", market: "ZZ" }, h.keys.admin)).statusCode).toBe(400);
    expect(json<{ items: Array<{ id: string }> }>(await h.get("/v1/tax-rules?market=BR")).items.map((x) => x.id)).toContain(rule.id);
    expect(await createdBy("settlement_tax_rules", rule.id)).toBe(h.keys.admin.id);
  });

  it("publishes a state tax rule with its computation and basis; a malformed one names its field", async () => {
    const rule = { id: "br-am-icms-next", market: "BR", effectiveFrom: tomorrow, kind: "vat", scheme: "BR_ICMS", rateBps: 2000, collectedBy: "marketplace", authority: "BR-AM-SEFAZ", note: "Amazonas", supply: "import", level: "state", region: "BR-AM", computation: "included" };
    const r = await h.post("/v1/tax-rules", rule, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    expect(json(r)).toEqual(rule);
    expect((await h.post("/v1/tax-rules", rule, h.keys.admin)).statusCode).toBe(200);
    const basis = { ...rule, id: "us-ca-next", market: "US", kind: "sales_tax", scheme: "US_SALES_TAX", rateBps: 725, authority: "US-CA-CDTFA", region: "US-CA", supply: undefined, computation: undefined, basis: { shipping: "untaxed" } };
    expect(json(await h.post("/v1/tax-rules", basis, h.keys.admin))).toMatchObject({ basis: { shipping: "untaxed" }, region: "US-CA", level: "state" });
    const field = async (over: Record<string, unknown>) => {
      const bad = await h.post("/v1/tax-rules", { ...rule, id: "bad-state", ...over }, h.keys.admin);
      return [bad.statusCode, json<{ errors: Array<{ field: string }> }>(bad).errors[0]?.field];
    };
    expect(await field({ region: "US-CA" })).toEqual([400, "region"]);
    expect(await field({ region: undefined })).toEqual([400, "region"]);
    expect(await field({ maxValue: { currency: "USD", amount: "5000" } })).toEqual([400, "level"]);
    expect((await field({ basis: { shipping: "free" } }))[0]).toBe(400);
  });

  it("keeps a seller's warehouse and listing currency: a capture without shipFrom ships from the warehouse, a listing price without currency is in the seller's", async () => {
    await publishDayRates(h);
    const seller = { id: "S-OVS-WH-01", name: "Yiwu Homeware", program: "overseas_hosting", payoutCurrency: "CNY", homeCountry: "CN", warehouse: "DE", listingCurrency: "CNY", gateways: ["adyen"] };
    const created = await h.post("/v1/sellers", seller, h.keys.admin);
    expect(created.statusCode, created.body).toBe(201);
    expect(json(created)).toEqual(seller);
    expect(json<{ items: Array<{ id: string; warehouse?: string }> }>(await h.get("/v1/sellers?program=overseas_hosting")).items.find((s) => s.id === seller.id)?.warehouse).toBe("DE");
    for (const [bad, fieldName] of [[{ warehouse: "Germany" }, "warehouse"], [{ listingCurrency: "EUR" }, "listingCurrency"], [{ program: "full_hosting" }, "listingCurrency"]] as const) {
      const r = await h.post("/v1/sellers", { ...seller, id: "S-BAD-WH", ...bad }, h.keys.admin);
      expect([r.statusCode, json<{ errors: Array<{ field: string }> }>(r).errors[0]?.field], JSON.stringify(bad)).toEqual([400, fieldName]);
    }
    // 100.00 EUR to Spain, priced by the seller at 700.00 (CNY, its listing currency on file), shipped
    // from its German warehouse: a domestic EU supply, the deemed supplier's VAT, not IOSS.
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "wh-1", settlementId: "ORD-WH-1", sellerId: seller.id, market: "ES", currency: "EUR", category: "home", amount: "10000", gatewayFee: "290", listingPrice: "70000" }));
    expect(r.statusCode, r.body).toBe(201);
    const body = json<{ settlement: { breakdown: { taxScheme: string; shipFrom: string }; event: { listingCurrency?: string } }; transaction: { metadata: Record<string, string> } }>(r);
    expect([body.settlement.breakdown.taxScheme, body.settlement.breakdown.shipFrom]).toEqual(["EU_DEEMED_SUPPLIER", "DE"]);
    expect(body.settlement.event.listingCurrency).toBeUndefined();
    expect(body.transaction.metadata.listingCurrency).toBe("CNY");
    // The capture's own shipFrom still wins; a seller without a listing currency needs one on the event.
    const own = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "wh-2", settlementId: "ORD-WH-2", sellerId: seller.id, market: "ES", currency: "EUR", category: "home", amount: "10000", gatewayFee: "290", shipFrom: "CN" }));
    expect(json<{ settlement: { breakdown: { taxScheme: string } } }>(own).settlement.breakdown.taxScheme).toBe("EU_IOSS");
    const none = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "wh-3", settlementId: "ORD-WH-3", sellerId: "S-SEMI-HZ-01", market: "ES", currency: "EUR", category: "home", amount: "10000", gatewayFee: "290", listingPrice: "1000" }));
    expect([none.statusCode, json<{ errors: Array<{ field: string }> }>(none).errors[0]?.field]).toEqual([400, "listingCurrency"]);
  });
});
