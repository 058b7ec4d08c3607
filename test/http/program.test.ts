/**
 * Program data over HTTP: an admin onboards a seller and publishes fee schedule and tax rule
 * versions (immutable, never in the past, the acting key recorded); finance reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, openHarness, problemCode, type Harness } from "./harness.js";

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
    expect(json(first)).toEqual(seller);
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
});
