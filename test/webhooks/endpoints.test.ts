/**
 * Saving a webhook endpoint's filter, on both engines: a filter on a seller or market that does not
 * exist is refused with the codes the rest of the API uses for them, naming the field (saved, the
 * endpoint would silently receive nothing); a gateway key filters on its own gateway only.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const URL = "http://127.0.0.1:9/hooks";

interface Problem {
  status: number;
  code: string;
  errors?: Array<{ field: string; message: string }>;
}

describe.each(kinds)("webhook endpoint filters on %s", (kind) => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
  });
  afterEach(async () => {
    h.services.webhooks.close();
    await h.close();
  });

  const endpoints = async () => json<{ items: unknown[] }>(await h.get("/v1/webhooks/endpoints", h.keys.admin)).items;

  describe("when the filter names a seller that does not exist", () => {
    it("refuses it for an operator with 404 ENT_SETTLEMENT_UNKNOWN_SELLER naming filter.sellerId, and saves nothing", async () => {
      const r = await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { sellerId: "S-NOBODY-01" } }, h.keys.admin);
      expect(r.statusCode, r.body).toBe(404);
      const p = json<Problem>(r);
      expect(p.code).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
      expect(p.errors?.map((e) => e.field)).toEqual(["filter.sellerId"]);
      expect(await endpoints()).toHaveLength(0);
    });

    it("refuses it for a gateway key the same way", async () => {
      const r = await h.signedPost("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { sellerId: "S-NOBODY-01" } });
      expect([r.statusCode, problemCode(r)]).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER"]);
      expect(json<Problem>(r).errors?.map((e) => e.field)).toEqual(["filter.sellerId"]);
    });

    it("refuses a gateway key a seller that does not accept its gateway exactly as one that does not exist (no probing seller ids); an operator may filter on it", async () => {
      expect((await h.post("/v1/sellers", { id: "S-STRIPE-ONLY", name: "Stripe only", program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways: ["stripe"] }, h.keys.admin)).statusCode).toBe(201);
      const seen = async (sellerId: string) => {
        const r = await h.signedPost("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { sellerId } });
        const { requestId: _id, ...rest } = json<Record<string, unknown>>(r);
        return [r.statusCode, JSON.stringify(rest).replaceAll(sellerId, "<seller>")];
      };
      expect(await seen("S-STRIPE-ONLY")).toEqual(await seen("S-NOBODY-02"));
      expect((await seen("S-STRIPE-ONLY"))[0]).toBe(404);
      expect(await endpoints()).toHaveLength(0);
      const operator = await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { sellerId: "S-STRIPE-ONLY" } }, h.keys.admin);
      expect(operator.statusCode, operator.body).toBe(201);
    });
  });

  it("refuses a market that does not exist with 400 ENT_SETTLEMENT_UNKNOWN_MARKET naming filter.market", async () => {
    const r = await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["*"], filter: { market: "ZZ" } }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(400);
    const p = json<Problem>(r);
    expect(p.code).toBe("ENT_SETTLEMENT_UNKNOWN_MARKET");
    expect(p.errors?.map((e) => e.field)).toEqual(["filter.market"]);
    expect(p.errors?.[0]?.message).toMatch(/must be one of .*\bBR\b/);
    expect(await endpoints()).toHaveLength(0);
  });

  it("saves a filter on a seller and market that exist", async () => {
    const r = await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { sellerId: "S-POP-SZ-01", market: "BR" } }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    expect(json<{ endpoint: { filter: unknown } }>(r).endpoint.filter).toEqual({ gateway: null, sellerId: "S-POP-SZ-01", market: "BR" });
  });

  it("lets a gateway key name its own gateway in the filter, never another", async () => {
    const own = await h.signedPost("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { gateway: "adyen", sellerId: "S-POP-SZ-01" } });
    expect(own.statusCode, own.body).toBe(201);
    expect(json<{ endpoint: { filter: unknown } }>(own).endpoint.filter).toEqual({ gateway: "adyen", sellerId: "S-POP-SZ-01", market: null });
    const other = await h.signedPost("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"], filter: { gateway: "stripe" } });
    expect([other.statusCode, problemCode(other)]).toEqual([403, "ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN"]);
    expect(json<Problem>(other).errors?.map((e) => e.field)).toEqual(["filter.gateway"]);
  });

  describe("when an owner has 20 active endpoints", () => {
    it("refuses the 21st, created at once with the others or enabled later, with 409 ENT_WEBHOOK_ENDPOINT_LIMIT naming the limit; other owners are not counted", async () => {
      const create = (i: number) => h.signedPost("/v1/webhooks/endpoints", { url: `${URL}/${i}`, eventTypes: ["settlement.booked"] });
      // 24 at once: the count and the insert of each are one step, so exactly 20 are saved.
      const all = await Promise.all(Array.from({ length: 24 }, (_, i) => create(i)));
      expect(all.map((r) => r.statusCode).sort()).toEqual([...Array<number>(20).fill(201), ...Array<number>(4).fill(409)]);
      const refused = all.find((r) => r.statusCode === 409);
      expect(refused && problemCode(refused)).toBe("ENT_WEBHOOK_ENDPOINT_LIMIT");
      expect(json<{ details: unknown; detail: string }>(refused!)).toMatchObject({ details: { limit: 20 }, detail: expect.stringContaining("at most 20 active endpoints") as unknown });
      const mine = json<{ items: Array<{ id: string }> }>(await h.get("/v1/webhooks/endpoints", h.keys.gateway)).items;
      expect(mine).toHaveLength(20);
      // The operators are an owner of their own.
      expect((await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["settlement.booked"] }, h.keys.admin)).statusCode).toBe(201);
      // One disabled makes room for one; enabling it again then counts against its gateway, whoever asks.
      const first = mine[0]!.id;
      expect((await h.signedPost(`/v1/webhooks/endpoints/${first}/disable`, {})).statusCode).toBe(200);
      expect((await create(99)).statusCode).toBe(201);
      for (const key of [h.keys.gateway, h.keys.admin]) {
        const again = key === h.keys.gateway ? await h.signedPost(`/v1/webhooks/endpoints/${first}/enable`, {}) : await h.post(`/v1/webhooks/endpoints/${first}/enable`, {}, key);
        expect([again.statusCode, problemCode(again)]).toEqual([409, "ENT_WEBHOOK_ENDPOINT_LIMIT"]);
      }
      // Enabling one that is active already is no change, not a 21st.
      expect((await h.signedPost(`/v1/webhooks/endpoints/${mine[1]!.id}/enable`, {})).statusCode).toBe(200);
    });
  });
});
