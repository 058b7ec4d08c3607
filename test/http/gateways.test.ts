/**
 * Gateway principals: a gateway:write key belongs to one gateway. It posts events and quotes only
 * as that gateway, its event ids, refunds' originals and quotes reach nothing of another gateway's,
 * and it reads only its own gateway's settlements and quotes (another's answers 404 exactly like
 * a missing one). Finance and admin keys keep their reach. On PGlite and PostgreSQL.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Problem {
  code: string;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

/** A 404 with the id that was asked for blanked out: two such answers must be indistinguishable. */
function notFoundShape(r: LightMyRequestResponse, id: string): unknown {
  const p = json<Problem & { requestId: string; instance: string }>(r);
  return { status: r.statusCode, code: p.code, detail: p.detail.replaceAll(JSON.stringify(id), "<id>"), errors: p.errors, instance: p.instance.slice(0, p.instance.lastIndexOf("/")) };
}

describe.each(kinds)("gateway principals on %s", (kind) => {
  let h: Harness;
  let stripe: IssuedKey;
  let adyenCapture: { id: string; eventKey: string };
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const created = await h.post("/v1/admin/api-keys", { name: "stripe gateway", scopes: ["gateway:write"], gateway: "stripe" }, h.keys.admin);
    expect(created.statusCode, created.body).toBe(201);
    stripe = { ...json<IssuedKey>(created), createdAt: new Date() };
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "gw-1", settlementId: "ORD-GW-1" }));
    expect(r.statusCode, r.body).toBe(201);
    adyenCapture = json<{ settlement: { id: string; eventKey: string } }>(r).settlement;
  });
  afterAll(async () => h?.close());

  describe("issuing keys", () => {
    it("binds a gateway:write key to the gateway named at issue, and shows it in the list", async () => {
      expect(stripe.gateway).toBe("stripe");
      const list = json<{ items: Array<{ id: string; gateway: string | null; scopes: string[] }> }>(await h.get("/v1/admin/api-keys", h.keys.admin));
      expect(list.items.find((k) => k.id === stripe.id)?.gateway).toBe("stripe");
      expect(list.items.find((k) => k.id === h.keys.finance.id)?.gateway).toBeNull();
    });

    it("requires `gateway` for a gateway:write key and refuses it for other keys: 400 naming the field", async () => {
      const missing = await h.post("/v1/admin/api-keys", { name: "no gateway", scopes: ["gateway:write"] }, h.keys.admin);
      expect(missing.statusCode).toBe(400);
      expect(json<Problem>(missing).errors?.map((e) => e.field)).toEqual(["gateway"]);
      const extra = await h.post("/v1/admin/api-keys", { name: "reader", scopes: ["finance:read"], gateway: "stripe" }, h.keys.admin);
      expect(extra.statusCode).toBe(400);
      expect(json<Problem>(extra).errors?.map((e) => e.field)).toEqual(["gateway"]);
      const bad = await h.post("/v1/admin/api-keys", { name: "bad", scopes: ["gateway:write"], gateway: "two words" }, h.keys.admin);
      expect(bad.statusCode).toBe(400);
      expect(json<Problem>(bad).errors?.[0]?.field).toBe("gateway");
    });

    it("refuses a gateway name with a colon: its keys (settlement:<gateway>:<id>) would meet another gateway's", async () => {
      // `stripe:x`'s remittance RC and `stripe`'s x:RC were one key: each gateway read and blocked the other's.
      const colon = await h.post("/v1/admin/api-keys", { name: "colon", scopes: ["gateway:write"], gateway: "stripe:x" }, h.keys.admin);
      expect([colon.statusCode, json<Problem>(colon).errors?.[0]?.field]).toEqual([400, "gateway"]);
      await expect(h.services.apiKeys.create({ name: "colon", scopes: ["gateway:write"], gateway: "adyen:x" })).rejects.toMatchObject({ fields: [{ field: "gateway" }] });
      const read = await h.get("/v1/remittances/stripe:x/RC", stripe);
      expect([read.statusCode, problemCode(read)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    });

    it("refuses instants before 1970 or in year 0 in a query: 400 naming the parameter, not a 500 from the database", async () => {
      for (const url of ["/v1/settlements?from=0000-01-01T00:00:00Z", "/v1/settlements?to=1969-12-31T23:59:59Z"]) {
        const r = await h.get(url, stripe);
        expect([r.statusCode, problemCode(r)], url).toEqual([400, "ENT_REQUEST_VALIDATION"]);
        expect(json<Problem>(r).errors?.[0]?.message).toBe("must be an instant in the years 1970 to 9999");
      }
    });
  });

  describe("writes", () => {
    it("refuses an event naming another gateway: 403 ENT_AUTH_GATEWAY_MISMATCH naming the field, nothing written, the real gateway's id stays free", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "gw-2", settlementId: "ORD-GW-2" }), stripe);
      expect(r.statusCode).toBe(403);
      expect(problemCode(r)).toBe("ENT_AUTH_GATEWAY_MISMATCH");
      expect(json<Problem>(r).errors).toEqual([{ field: "gateway", message: "must be stripe, the gateway of this API key" }]);
      expect((await h.get("/v1/settlements/settlement:adyen:gw-2")).statusCode).toBe(404);
      expect(json<{ items: unknown[] }>(await h.get("/v1/orders/ORD-GW-2/settlements")).items).toEqual([]);
      // The real gateway's event with that id is then booked, not refused as a conflict.
      const real = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "gw-2", settlementId: "ORD-GW-2", amount: "20000" }));
      expect(real.statusCode, real.body).toBe(201);
    });

    it("answers a batch item naming another gateway with that error alone; the other items are booked", async () => {
      const events = [
        capture({ gateway: "stripe", gatewayEventId: "gw-b1", settlementId: "ORD-GW-B1" }),
        capture({ gateway: "adyen", gatewayEventId: "gw-b2", settlementId: "ORD-GW-B2" }),
        capture({ gateway: "stripe", gatewayEventId: "gw-b3", settlementId: "ORD-GW-B3" }),
      ];
      const r = await h.signedPost("/v1/settlements/events/batch", { events }, stripe);
      expect(r.statusCode, r.body).toBe(200);
      const results = json<{ results: Array<{ index: number; status: string; error?: { code: string; errors?: Array<{ field: string }> } }> }>(r).results;
      expect(results.map((x) => x.status)).toEqual(["created", "error", "created"]);
      expect(results[1]?.error?.code).toBe("ENT_AUTH_GATEWAY_MISMATCH");
      expect(results[1]?.error?.errors?.map((e) => e.field)).toEqual(["events.1.gateway"]);
      expect((await h.get("/v1/settlements/settlement:adyen:gw-b2")).statusCode).toBe(404);
      expect((await h.get("/v1/settlements/settlement:stripe:gw-b3")).statusCode).toBe(200);
    });

    it("cannot refund another gateway's capture: its own namespace has no such capture, and naming the other gateway is 403", async () => {
      const refund = (gateway: string) =>
        capture({ type: "refund", gateway, gatewayEventId: `gw-refund-${gateway}`, originalEventId: "gw-1", settlementId: "ORD-GW-1", gatewayFee: "0", occurredAt: `${DAY}T10:00:00.000Z` });
      const own = await h.signedPost("/v1/settlements/events", refund("stripe"), stripe);
      expect(own.statusCode).toBe(404);
      expect(problemCode(own)).toBe("ENT_SETTLEMENT_UNKNOWN_CAPTURE");
      const other = await h.signedPost("/v1/settlements/events", refund("adyen"), stripe);
      expect(problemCode(other)).toBe("ENT_AUTH_GATEWAY_MISMATCH");
      const chain = json<{ items: Array<{ event: { type: string } }> }>(await h.get("/v1/orders/ORD-GW-1/settlements"));
      expect(chain.items.map((i) => i.event.type)).toEqual(["capture"]);
    });

    it("lets an admin key (no gateway) post for any gateway: operators keep their reach", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gateway: "stripe", gatewayEventId: "gw-admin", settlementId: "ORD-GW-ADMIN" }), h.keys.admin);
      expect(r.statusCode, r.body).toBe(201);
    });
  });

  describe("reads", () => {
    it("reads its own settlement; another gateway's answers 404 exactly like a missing one (by id and by event key)", async () => {
      const own = await h.get("/v1/settlements/settlement:stripe:gw-b1", stripe);
      expect(own.statusCode).toBe(200);
      for (const id of [adyenCapture.id, adyenCapture.eventKey]) {
        const other = await h.get(`/v1/settlements/${id}`, stripe);
        const missing = await h.get(`/v1/settlements/${id === adyenCapture.id ? "987654321" : "settlement:adyen:no-such-event"}`, stripe);
        expect(other.statusCode).toBe(404);
        expect(notFoundShape(other, id)).toEqual(notFoundShape(missing, id === adyenCapture.id ? "987654321" : "settlement:adyen:no-such-event"));
        expect(other.body).not.toContain("S-POP-SZ-01");
      }
      // Its own gateway's key and finance read it.
      expect((await h.get(`/v1/settlements/${adyenCapture.id}`, h.keys.gateway)).statusCode).toBe(200);
      expect((await h.get(`/v1/settlements/${adyenCapture.id}`, h.keys.finance)).statusCode).toBe(200);
    });

    it("lists only its own gateway's records of an order", async () => {
      await h.signedPost("/v1/settlements/events", capture({ gateway: "stripe", gatewayEventId: "gw-shared", settlementId: "ORD-GW-1" }), stripe);
      const gateways = async (key: IssuedKey) => json<{ items: Array<{ event: { gateway: string } }> }>(await h.get("/v1/orders/ORD-GW-1/settlements", key)).items.map((i) => i.event.gateway).sort();
      expect(await gateways(stripe)).toEqual(["stripe"]);
      expect(await gateways(h.keys.gateway)).toEqual(["adyen"]);
      expect(await gateways(h.keys.finance)).toEqual(["adyen", "stripe"]);
    });

    it("still has no finance reach: the journal is 403 for a gateway key", async () => {
      expect(problemCode(await h.get("/v1/transactions", stripe))).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
    });
  });

  describe("FX quotes", () => {
    it("records the taker's gateway; another gateway can neither read nor use the quote (answered as unknown)", async () => {
      const taken = await h.signedPost("/v1/fx/quotes", { base: "BRL", quote: "USD", at: `${DAY}T09:00:00.000Z` });
      expect(taken.statusCode, taken.body).toBe(201);
      const quote = json<{ id: string; gateway: string | null }>(taken);
      expect(quote.gateway).toBe("adyen");

      expect((await h.get(`/v1/fx/quotes/${quote.id}`, h.keys.gateway)).statusCode).toBe(200);
      expect((await h.get(`/v1/fx/quotes/${quote.id}`, h.keys.finance)).statusCode).toBe(200);
      const other = await h.get(`/v1/fx/quotes/${quote.id}`, stripe);
      const missing = await h.get("/v1/fx/quotes/fxq_00000000000000000000000000000000", stripe);
      expect(notFoundShape(other, quote.id)).toEqual(notFoundShape(missing, "fxq_00000000000000000000000000000000"));

      const use = (gatewayEventId: string, fxQuoteId: string) =>
        h.signedPost("/v1/settlements/events", capture({ gateway: "stripe", gatewayEventId, settlementId: `ORD-${gatewayEventId}`, fxQuoteId }), stripe);
      const stolen = await use("gw-q1", quote.id);
      const unknown = await use("gw-q2", "fxq_00000000000000000000000000000000");
      expect([stolen.statusCode, problemCode(stolen)]).toEqual([404, "ENT_FX_QUOTE_NOT_FOUND"]);
      expect([problemCode(stolen), json<Problem>(stolen).errors]).toEqual([problemCode(unknown), json<Problem>(unknown).errors]);
      expect(json<Problem>(stolen).detail.replace(quote.id, "<id>")).toBe(json<Problem>(unknown).detail.replace("fxq_00000000000000000000000000000000", "<id>"));

      // The quote's own gateway uses it.
      const own = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "gw-q3", settlementId: "ORD-GW-Q3", fxQuoteId: quote.id }));
      expect(own.statusCode, own.body).toBe(201);

      // A USD capture converts nothing: any quote id, another gateway's included, was stored as its evidence.
      const usd = capture({ gateway: "stripe", gatewayEventId: "gw-q4", settlementId: "ORD-GW-Q4", market: "US", currency: "USD", sellerId: "S-SEMI-HZ-01", category: "home", amount: "2999", gatewayFee: "87", fxQuoteId: quote.id });
      const unused = await h.signedPost("/v1/settlements/events", usd, stripe);
      expect([unused.statusCode, problemCode(unused), json<Problem>(unused).errors?.map((e) => e.field)]).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", ["fxQuoteId"]]);
      const { fxQuoteId: _q, ...withoutQuote } = usd;
      expect((await h.signedPost("/v1/settlements/events", withoutQuote, stripe)).statusCode).toBe(201);
    });
  });

  describe("keys issued before gateways were bound", () => {
    let legacy: IssuedKey;
    beforeAll(async () => {
      // What the migration leaves an existing gateway:write key with: no gateway.
      legacy = await h.services.apiKeys.create({ name: "legacy gateway", scopes: ["gateway:write"], gateway: "legacy" });
      await h.db.prisma.apiKey.update({ where: { id: legacy.id }, data: { gateway: null } });
      h.services.apiKeys.forget(legacy.id);
    });

    it("are refused on gateway routes (403 ENT_AUTH_GATEWAY_UNBOUND) until an admin binds them", async () => {
      const post = await h.signedPost("/v1/settlements/events", capture({ gateway: "legacy", gatewayEventId: "gw-l1", settlementId: "ORD-GW-L1" }), legacy);
      expect(post.statusCode).toBe(403);
      expect(problemCode(post)).toBe("ENT_AUTH_GATEWAY_UNBOUND");
      expect(problemCode(await h.get(`/v1/settlements/${adyenCapture.id}`, legacy))).toBe("ENT_AUTH_GATEWAY_UNBOUND");
      expect(problemCode(await h.signedPost("/v1/fx/quotes", { base: "BRL", quote: "USD", at: `${DAY}T09:00:00.000Z` }, legacy))).toBe("ENT_AUTH_GATEWAY_UNBOUND");
      expect(problemCode(await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gateway: "legacy", gatewayEventId: "gw-l2" })] }, legacy))).toBe("ENT_AUTH_GATEWAY_UNBOUND");

      const bound = await h.post(`/v1/admin/api-keys/${legacy.id}/gateway`, { gateway: "legacy" }, h.keys.admin);
      expect(bound.statusCode, bound.body).toBe(200);
      expect(json<{ gateway: string }>(bound).gateway).toBe("legacy");
      // The seller the capture names accepts the newly bound gateway too.
      expect((await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-SZ-01/gateways", payload: { gateways: ["adyen", "legacy", "stripe"] }, headers: { authorization: `Bearer ${h.keys.admin.key}` } })).statusCode).toBe(200);
      const after = await h.signedPost("/v1/settlements/events", capture({ gateway: "legacy", gatewayEventId: "gw-l1", settlementId: "ORD-GW-L1" }), legacy);
      expect(after.statusCode, after.body).toBe(201);
      expect((await h.get(`/v1/settlements/${adyenCapture.id}`, legacy)).statusCode).toBe(404);
    });

    it("binds once: the same gateway again is a no-op, another is 409; a key without gateway:write is 409", async () => {
      expect((await h.post(`/v1/admin/api-keys/${legacy.id}/gateway`, { gateway: "legacy" }, h.keys.admin)).statusCode).toBe(200);
      expect(problemCode(await h.post(`/v1/admin/api-keys/${legacy.id}/gateway`, { gateway: "adyen" }, h.keys.admin))).toBe("ENT_AUTH_KEY_ALREADY_BOUND");
      expect(problemCode(await h.post(`/v1/admin/api-keys/${stripe.id}/gateway`, { gateway: "adyen" }, h.keys.admin))).toBe("ENT_AUTH_KEY_ALREADY_BOUND");
      expect(problemCode(await h.post(`/v1/admin/api-keys/${h.keys.finance.id}/gateway`, { gateway: "adyen" }, h.keys.admin))).toBe("ENT_AUTH_KEY_NOT_GATEWAY");
      expect(problemCode(await h.post("/v1/admin/api-keys/0123456789ab/gateway", { gateway: "adyen" }, h.keys.admin))).toBe("ENT_AUTH_KEY_NOT_FOUND");
      expect(problemCode(await h.post(`/v1/admin/api-keys/${legacy.id}/gateway`, { gateway: "adyen" }, h.keys.finance))).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
    });
  });
});
