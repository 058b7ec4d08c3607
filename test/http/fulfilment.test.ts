/**
 * Delivery evidence over HTTP: `PUT /v1/orders/:settlementId/fulfilment` signed by the order's
 * gateway (or an admin naming it), read back by finance and the own gateway, returned with the
 * order's settlements, and the overdue listing `GET /v1/orders?fulfilment=overdue`. Another
 * gateway's key finds the order missing (404), as for settlement records.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedHeaders } from "../../service/http/auth/signature.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { FEE_SCHEDULES, type FeeSchedule } from "../../service/settlement/index.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const popAny = FEE_SCHEDULES.find((s) => s.id === "pop-any-2024") as FeeSchedule;

describe("order delivery evidence over HTTP", () => {
  let h: Harness;
  let stripe: IssuedKey;

  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
    await h.services.settlement.saveProgramData({
      schedules: [{ ...popAny, id: "pop-books-delivery", category: "books", effectiveFrom: new Date("2024-01-01T00:00:00Z"), autoConfirmFrom: "delivery", deliveryDeadlineDays: 7 }],
    });
    stripe = await h.services.apiKeys.create({ name: "stripe gateway", scopes: ["gateway:write"], gateway: "stripe" });
    for (const id of ["ORD-F-1", "ORD-F-2"]) {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `evt-${id}`, settlementId: id, category: "books" }));
      expect(r.statusCode, r.body).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const put = (settlementId: string, body: unknown, key: IssuedKey = h.keys.gateway): Promise<LightMyRequestResponse> => {
    const url = `/v1/orders/${settlementId}/fulfilment`;
    const payload = JSON.stringify(body);
    return h.app.inject({ method: "PUT", url, payload, headers: { "content-type": "application/json", authorization: `Bearer ${key.key}`, ...signedHeaders(key.signingSecret, payload, new Date(), { method: "PUT", target: url }) } });
  };
  const delivered = { status: "delivered", carrier: "Cainiao", trackingNumber: "LP00123456789CN", shippedAt: `${DAY}T12:00:00Z`, deliveredAt: "2024-12-05T08:00:00Z" };
  /** The fields a problem names, each once (a union of literals is reported once per branch). */
  const fields = (r: LightMyRequestResponse) => [...new Set((json<{ errors?: Array<{ field: string }> }>(r).errors ?? []).map((f) => f.field))];

  it("records the order's gateway's evidence (201), answers the same body again (200 exists) and appends a correction", async () => {
    const first = await put("ORD-F-1", { ...delivered, status: "shipped", deliveredAt: undefined });
    expect(first.statusCode, first.body).toBe(201);
    expect(json(first)).toMatchObject({ status: "created", fulfilment: { gateway: "adyen", settlementId: "ORD-F-1", sequence: 1, current: true, status: "shipped", deliveredAt: null, recordedBy: `api-key:${h.keys.gateway.id}` } });
    const again = await put("ORD-F-1", { ...delivered, status: "shipped", deliveredAt: undefined });
    expect([again.statusCode, json(again).status]).toEqual([200, "exists"]);
    const second = await put("ORD-F-1", delivered);
    expect([second.statusCode, json<{ fulfilment: { sequence: number } }>(second).fulfilment.sequence]).toEqual([201, 2]);

    const history = await h.get("/v1/orders/ORD-F-1/fulfilment");
    expect(history.statusCode, history.body).toBe(200);
    expect(json<{ items: Array<{ sequence: number; current: boolean; status: string }> }>(history).items.map((f) => [f.sequence, f.current, f.status])).toEqual([[1, false, "shipped"], [2, true, "delivered"]]);
    expect((await h.get("/v1/orders/ORD-F-1/fulfilment", h.keys.gateway)).statusCode).toBe(200);
    // Returned with the order, so a statement or a dispute can cite it.
    const order = json<{ items: unknown[]; fulfilment: Array<{ sequence: number }> }>(await h.get("/v1/orders/ORD-F-1/settlements"));
    expect([order.items.length, order.fulfilment.map((f) => f.sequence)]).toEqual([1, [1, 2]]);
  });

  it("answers another gateway's key 404 ENT_FULFILMENT_ORDER_NOT_FOUND, as for a missing order, and 403 for a write naming another gateway", async () => {
    const write = await put("ORD-F-1", delivered, stripe);
    expect([write.statusCode, problemCode(write), fields(write)]).toEqual([404, "ENT_FULFILMENT_ORDER_NOT_FOUND", ["settlementId"]]);
    const read = await h.get("/v1/orders/ORD-F-1/fulfilment", stripe);
    expect([read.statusCode, problemCode(read)]).toEqual([404, "ENT_FULFILMENT_ORDER_NOT_FOUND"]);
    const missing = await h.get("/v1/orders/ORD-NONE/fulfilment", stripe);
    expect(json<{ detail: string }>(read).detail.replace("ORD-F-1", "X")).toBe(json<{ detail: string }>(missing).detail.replace("ORD-NONE", "X"));
    expect(json<{ fulfilment: unknown[] }>(await h.get("/v1/orders/ORD-F-1/settlements", stripe)).fulfilment).toEqual([]);
    const mismatch = await put("ORD-F-1", { ...delivered, gateway: "adyen" }, stripe);
    expect([mismatch.statusCode, problemCode(mismatch), fields(mismatch)]).toEqual([403, "ENT_AUTH_GATEWAY_MISMATCH", ["gateway"]]);
  });

  it("takes an admin's evidence naming the gateway, and refuses one naming none: 400 naming gateway", async () => {
    const none = await put("ORD-F-2", delivered, h.keys.admin);
    expect([none.statusCode, problemCode(none), fields(none)]).toEqual([400, "ENT_FULFILMENT_INVALID", ["gateway"]]);
    const named = await put("ORD-F-2", { ...delivered, gateway: "adyen" }, h.keys.admin);
    expect([named.statusCode, json<{ fulfilment: { recordedBy: string } }>(named).fulfilment.recordedBy]).toEqual([201, `api-key:${h.keys.admin.id}`]);
  });

  it("refuses evidence that cannot be true with 400s naming the field", async () => {
    const cases: Array<[object, string, string[]]> = [
      [{ trackingNumber: "LP 0012" }, "ENT_REQUEST_VALIDATION", ["trackingNumber"]],
      [{ status: "lost" }, "ENT_REQUEST_VALIDATION", ["status"]],
      [{ deliveredAt: `${DAY}T11:00:00Z` }, "ENT_FULFILMENT_INVALID", ["deliveredAt"]],
      [{ shippedAt: "2099-01-01T00:00:00Z", deliveredAt: "2099-01-02T00:00:00Z" }, "ENT_FULFILMENT_INVALID", ["shippedAt", "deliveredAt"]],
      [{ deliveredAt: undefined }, "ENT_FULFILMENT_INVALID", ["deliveredAt"]],
    ];
    for (const [over, code, named] of cases) {
      const r = await put("ORD-F-2", { ...delivered, ...over });
      expect([r.statusCode, problemCode(r), fields(r)], JSON.stringify(over)).toEqual([400, code, named]);
    }
  });

  it("lists the orders past their delivery deadline without a delivery to finance, not to a gateway", async () => {
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-ORD-F-3", settlementId: "ORD-F-3", category: "books" }));
    expect(r.statusCode, r.body).toBe(201);
    const overdue = await h.get("/v1/orders?fulfilment=overdue&asOf=2024-12-09T09:00:00Z");
    expect(overdue.statusCode, overdue.body).toBe(200);
    expect(json<{ items: Array<{ settlementId: string; deliveryDeadline: string; latest: unknown }>; nextCursor: null }>(overdue)).toEqual({
      items: [expect.objectContaining({ settlementId: "ORD-F-3", gateway: "adyen", sellerId: "S-POP-SZ-01", capturedAt: `${DAY}T09:00:00.000Z`, deliveryDeadline: "2024-12-09T09:00:00.000Z", latest: null })],
      nextCursor: null,
    });
    expect(json<{ items: unknown[] }>(await h.get("/v1/orders?fulfilment=overdue&asOf=2024-12-09T08:59:59Z")).items).toEqual([]);
    expect((await h.get("/v1/orders?fulfilment=overdue", h.keys.gateway)).statusCode).toBe(403);
    expect(fields(await h.get("/v1/orders?fulfilment=late"))).toEqual(["query.fulfilment"]);
  });

  it("publishes and reads back a delivery-based fee schedule version", async () => {
    const body = { ...json<{ items: Array<Record<string, unknown>> }>(await h.get("/v1/fee-schedules?program=pop")).items[0], id: "pop-delivery-2099", effectiveFrom: "2099-01-01T00:00:00.000Z", autoConfirmFrom: "delivery", deliveryDeadlineDays: 12 };
    const r = await h.post("/v1/fee-schedules", body, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    expect(json(r)).toMatchObject({ autoConfirmFrom: "delivery", deliveryDeadlineDays: 12 });
    const bad = await h.post("/v1/fee-schedules", { ...body, id: "pop-deadline-2099", autoConfirmFrom: "capture" }, h.keys.admin);
    expect([bad.statusCode, problemCode(bad), fields(bad)]).toEqual([400, "ENT_SETTLEMENT_INVALID_SCHEDULE", ["deliveryDeadlineDays"]]);
  });
});
