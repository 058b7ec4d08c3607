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
});
