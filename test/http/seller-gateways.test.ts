/**
 * The trust boundary between gateways and sellers: a seller accepts settlement events from its own
 * gateways only (`gateways`, set with POST /v1/sellers and PUT /v1/sellers/:id/gateways). A gateway
 * key holding a valid signing secret could credit any seller with "captured" money before; a capture
 * from a gateway the seller does not accept now books nothing (in a batch, that item alone; from an
 * admin key posting as the gateway too): 403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED to an admin,
 * and to a gateway key exactly the answer of an unknown seller (404 ENT_SETTLEMENT_UNKNOWN_SELLER),
 * so a gateway cannot probe which seller ids exist. A set
 * changed through one instance holds at once on another on the same database (nothing cached), and
 * the follow-ups of a capture already booked stay with its gateway. PostgreSQL, two instances.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { openDatabase, type Database } from "../../service/db/index.js";
import { signedHeaders } from "../../service/http/auth/signature.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { createServices } from "../../service/services.js";
import { postgresReachable, TEST_DATABASE_URL } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const reachable = await postgresReachable();
if (!reachable) console.warn(`[seller gateways] PostgreSQL unreachable at ${TEST_DATABASE_URL}: two-instance suite SKIPPED (CI runs it)`);

interface Changes {
  sellerId: string;
  gateways: string[];
  setAt: string | null;
  setBy: string | null;
  changes: Array<{ id: string; gateways: string[]; previousGateways: string[] | null; setAt: string; setBy: string }>;
}

describe.runIf(reachable)("the gateways a seller accepts events from", () => {
  let h: Harness;
  let second: Database;
  /** A second instance: its own pool and services on the same database. */
  let b: FastifyInstance;
  let stripe: IssuedKey;

  beforeAll(async () => {
    h = await openHarness({ kind: "postgres" });
    await publishDayRates(h);
    second = await openDatabase({ url: h.db.url! });
    b = await buildApp({ services: createServices(second, h.config), config: h.config, logger: false });
    stripe = await h.services.apiKeys.create({ name: "stripe gateway", scopes: ["gateway:write"], gateway: "stripe" });
    for (const [id, gateways] of [["S-GW-ADY", ["adyen"]], ["S-GW-STR", ["stripe"]], ["S-GW-MOVE", ["adyen"]]] as const) {
      const r = await h.post("/v1/sellers", { id, name: `Seller ${id}`, program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways }, h.keys.admin);
      expect(r.statusCode, r.body).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await second?.close();
    await h?.close();
  });

  /** A signed POST to `app` (either instance) with `key`. */
  const signed = (app: FastifyInstance, key: IssuedKey, url: string, body: unknown): Promise<LightMyRequestResponse> => {
    const payload = JSON.stringify(body);
    return app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", authorization: `Bearer ${key.key}`, ...signedHeaders(key.signingSecret, payload, new Date(), { method: "POST", target: url }) } });
  };
  const put = (app: FastifyInstance, id: string, gateways: unknown, key: IssuedKey = h.keys.admin) =>
    app.inject({ method: "PUT", url: `/v1/sellers/${id}/gateways`, payload: JSON.stringify({ gateways }), headers: { "content-type": "application/json", authorization: `Bearer ${key.key}` } });
  const read = (app: FastifyInstance, url: string, key: IssuedKey = h.keys.finance) => app.inject({ method: "GET", url, headers: { authorization: `Bearer ${key.key}` } });
  /** The journal transactions that touch the seller's accounts. */
  const booked = async (sellerId: string) => json<{ items: unknown[] }>(await h.get(`/v1/transactions?sellerId=${sellerId}`)).items.length;
  const refusal = (r: LightMyRequestResponse) => [r.statusCode, problemCode(r), json<{ errors?: Array<{ field: string }> }>(r).errors?.map((f) => f.field)];

  it("refuses a capture from a gateway the seller does not accept, naming sellerId, nothing booked: to the gateway as an unknown seller, to an admin key posting as that gateway 403", async () => {
    const event = capture({ gateway: "stripe", gatewayEventId: "sg-1", settlementId: "ORD-SG-1", sellerId: "S-GW-ADY" });
    expect(refusal(await signed(h.app, stripe, "/v1/settlements/events", event))).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER", ["sellerId"]]);
    expect(refusal(await signed(b, stripe, "/v1/settlements/events", event))).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER", ["sellerId"]]);
    expect(refusal(await signed(h.app, h.keys.admin, "/v1/settlements/events", event))).toEqual([403, "ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED", ["sellerId"]]);
    expect(await booked("S-GW-ADY")).toBe(0);
    expect(json<{ items: unknown[] }>(await h.get("/v1/settlements?gateway=stripe&sellerId=S-GW-ADY")).items).toEqual([]);
    // Its own gateway books it.
    const own = await signed(h.app, h.keys.gateway, "/v1/settlements/events", capture({ gatewayEventId: "sg-own", settlementId: "ORD-SG-OWN", sellerId: "S-GW-ADY" }));
    expect(own.statusCode, own.body).toBe(201);
    expect(await booked("S-GW-ADY")).toBe(1);
  });

  it("answers a gateway key for a seller that does not accept it exactly as for an unknown seller, alone and in a batch; an admin key precisely", async () => {
    /** The answer with the seller's id and the request's own id and path taken out: what tells one seller from another. */
    const seen = (r: LightMyRequestResponse, sellerId: string) => {
      const { requestId: _id, instance: _path, ...rest } = json<Record<string, unknown>>(r);
      return [r.statusCode, JSON.stringify(rest).replaceAll(sellerId, "<seller>")];
    };
    const event = (sellerId: string, n: string) => capture({ gateway: "stripe", gatewayEventId: `sg-probe-${n}`, settlementId: `ORD-SG-P${n}`, sellerId });
    const notAccepting = await signed(h.app, stripe, "/v1/settlements/events", event("S-GW-ADY", "1"));
    const unknown = await signed(h.app, stripe, "/v1/settlements/events", event("S-GW-NOBODY", "2"));
    expect(seen(notAccepting, "S-GW-ADY")).toEqual(seen(unknown, "S-GW-NOBODY"));
    expect(refusal(notAccepting)).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER", ["sellerId"]]);
    expect(json<{ details?: unknown }>(notAccepting).details).toBeUndefined(); // no gateway, no seller named apart from the request's own

    const batch = json<{ results: unknown[] }>(await signed(h.app, stripe, "/v1/settlements/events/batch", { events: [event("S-GW-ADY", "3"), event("S-GW-NOBODY", "4")] })).results;
    const item = (x: unknown, sellerId: string) => JSON.stringify(x).replaceAll(sellerId, "<seller>").replace(/"index":\d+/, "").replace(/events\.\d+\./g, "events.<i>.");
    expect(item(batch[0], "S-GW-ADY")).toBe(item(batch[1], "S-GW-NOBODY"));
    expect(batch[0]).toEqual({ index: 0, status: "error", error: { code: "ENT_SETTLEMENT_UNKNOWN_SELLER", status: 404, message: "unknown seller S-GW-ADY", errors: [{ field: "events.0.sellerId", message: "no such seller" }] } });

    // An operator (admin, even posting as the gateway) is told which it is.
    expect(refusal(await signed(h.app, h.keys.admin, "/v1/settlements/events", event("S-GW-ADY", "5")))).toEqual([403, "ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED", ["sellerId"]]);
    expect(refusal(await signed(h.app, h.keys.admin, "/v1/settlements/events", event("S-GW-NOBODY", "6")))).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER", ["sellerId"]]);
    const adminBatch = json<{ results: Array<{ error?: { code: string } }> }>(await signed(h.app, h.keys.admin, "/v1/settlements/events/batch", { events: [event("S-GW-ADY", "7")] })).results;
    expect(adminBatch.map((x) => x.error?.code)).toEqual(["ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED"]);
    expect(json<{ items: unknown[] }>(await h.get("/v1/settlements?gateway=stripe&sellerId=S-GW-ADY")).items).toEqual([]);
  });

  it("fails only that item of a batch: its good neighbour is booked", async () => {
    const r = await signed(h.app, stripe, "/v1/settlements/events/batch", {
      events: [
        capture({ gateway: "stripe", gatewayEventId: "sg-b1", settlementId: "ORD-SG-B1", sellerId: "S-GW-STR" }),
        capture({ gateway: "stripe", gatewayEventId: "sg-b2", settlementId: "ORD-SG-B2", sellerId: "S-GW-ADY" }),
      ],
    });
    expect(r.statusCode, r.body).toBe(200);
    const results = json<{ results: Array<{ index: number; status: string; error?: { code: string } }> }>(r).results;
    expect(results.map((x) => [x.index, x.status, x.error?.code])).toEqual([
      [0, "created", undefined],
      [1, "error", "ENT_SETTLEMENT_UNKNOWN_SELLER"],
    ]);
    expect(await booked("S-GW-STR")).toBe(1);
    expect(json<{ items: unknown[] }>(await h.get("/v1/settlements?gateway=stripe&sellerId=S-GW-ADY")).items).toEqual([]);
  });

  it("applies a set changed through one instance at once on the other, keeps a capture's follow-ups with its gateway, and keeps every set in the trail", async () => {
    // Instance B books and refuses for the seller first (anything it could cache, it has).
    const first = await signed(b, h.keys.gateway, "/v1/settlements/events", capture({ gatewayEventId: "sg-m1", settlementId: "ORD-SG-M1", sellerId: "S-GW-MOVE" }));
    expect(first.statusCode, first.body).toBe(201);
    const moved = capture({ gateway: "stripe", gatewayEventId: "sg-m2", settlementId: "ORD-SG-M2", sellerId: "S-GW-MOVE" });
    expect(refusal(await signed(b, h.keys.admin, "/v1/settlements/events", moved))[1]).toBe("ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED");

    // Through instance A: stripe added; B books stripe's capture at once.
    const added = await put(h.app, "S-GW-MOVE", ["stripe", "adyen", "stripe"]);
    expect(added.statusCode, added.body).toBe(200);
    expect(json<Changes>(added).gateways).toEqual(["adyen", "stripe"]);
    const now = await signed(b, stripe, "/v1/settlements/events", moved);
    expect(now.statusCode, now.body).toBe(201);

    // Through A again: adyen removed; B refuses adyen's next capture at once, but adyen still
    // refunds the order it booked (the money goes back to the buyer through its gateway).
    expect((await put(h.app, "S-GW-MOVE", ["stripe"])).statusCode).toBe(200);
    const late = await signed(b, h.keys.gateway, "/v1/settlements/events", capture({ gatewayEventId: "sg-m3", settlementId: "ORD-SG-M3", sellerId: "S-GW-MOVE" }));
    expect(refusal(late)).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER", ["sellerId"]]);
    const refund = await signed(b, h.keys.gateway, "/v1/settlements/events", capture({ type: "refund", gatewayEventId: "sg-m1-r", originalEventId: "sg-m1", settlementId: "ORD-SG-M1", sellerId: "S-GW-MOVE", amount: "1000", gatewayFee: "0" }));
    expect(refund.statusCode, refund.body).toBe(201);

    // The same set again changes nothing; the trail holds every set, newest first, with who and when.
    expect((await put(b, "S-GW-MOVE", ["stripe"])).statusCode).toBe(200);
    const trail = json<Changes>(await read(b, "/v1/sellers/S-GW-MOVE/gateways"));
    const by = `api-key:${h.keys.admin.id}`;
    expect(trail).toMatchObject({ sellerId: "S-GW-MOVE", gateways: ["stripe"], setBy: by });
    expect(trail.changes.map((c) => [c.gateways, c.previousGateways, c.setBy])).toEqual([
      [["stripe"], ["adyen", "stripe"], by],
      [["adyen", "stripe"], ["adyen"], by],
      [["adyen"], null, by],
    ]);
    expect(Date.parse(trail.setAt ?? "")).toBe(Date.parse(trail.changes[0]!.setAt));
    expect(json<{ items: Array<{ id: string; gateways: string[] }> }>(await read(b, "/v1/sellers")).items.find((s) => s.id === "S-GW-MOVE")?.gateways).toEqual(["stripe"]);
  });

  it("lets admins set and finance read the set; refuses others, an unknown seller and a bad gateway name", async () => {
    expect((await put(h.app, "S-GW-ADY", ["adyen"], h.keys.finance)).statusCode).toBe(403);
    expect((await read(h.app, "/v1/sellers/S-GW-ADY/gateways", h.keys.gateway)).statusCode).toBe(403);
    expect([(await put(h.app, "S-NOBODY", ["adyen"])).statusCode, problemCode(await read(h.app, "/v1/sellers/S-NOBODY/gateways"))]).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_SELLER"]);
    const bad = await put(h.app, "S-GW-ADY", ["adyen", "stripe:x"]);
    expect([bad.statusCode, problemCode(bad)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    expect((await h.post("/v1/sellers", { id: "S-GW-BAD", name: "Bad", program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways: [""] }, h.keys.admin)).statusCode).toBe(400);
    // A seller onboarded without gateways accepts none until set.
    expect((await h.post("/v1/sellers", { id: "S-GW-NONE", name: "None yet", program: "pop", payoutCurrency: "CNY", homeCountry: "CN" }, h.keys.admin)).statusCode).toBe(201);
    expect(json<Changes>(await read(h.app, "/v1/sellers/S-GW-NONE/gateways")).gateways).toEqual([]);
    const none = await signed(h.app, h.keys.gateway, "/v1/settlements/events", capture({ gatewayEventId: "sg-n1", settlementId: "ORD-SG-N1", sellerId: "S-GW-NONE" }));
    expect(refusal(none)[1]).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
    // Onboarding again: the same body (without gateways) is the same seller whatever its set; one
    // naming another set than the seller's is a conflict (the set changes through PUT).
    expect((await put(h.app, "S-GW-NONE", ["adyen"])).statusCode).toBe(200);
    expect((await h.post("/v1/sellers", { id: "S-GW-NONE", name: "None yet", program: "pop", payoutCurrency: "CNY", homeCountry: "CN" }, h.keys.admin)).statusCode).toBe(200);
    expect((await h.post("/v1/sellers", { id: "S-GW-NONE", name: "None yet", program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways: ["adyen"] }, h.keys.admin)).statusCode).toBe(200);
    expect(problemCode(await h.post("/v1/sellers", { id: "S-GW-NONE", name: "None yet", program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways: ["stripe"] }, h.keys.admin))).toBe("ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT");
  });
});
