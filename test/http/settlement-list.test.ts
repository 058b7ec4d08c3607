/**
 * GET /v1/settlements, the settlement explorer, on both engines: newest first, every filter,
 * cursor pages, the same view as GET /v1/settlements/:id, a gateway key limited to its gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Item {
  id: string;
  eventKey: string;
  event: { type: string; gateway: string; gatewayEventId: string; settlementId: string; sellerId: string; occurredAt: string };
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

describe.each(kinds)("settlement list on %s", (kind) => {
  let h: Harness;
  let stripe: IssuedKey;
  const ids: string[] = [];
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    stripe = await h.services.apiKeys.create({ name: "stripe gateway", scopes: ["gateway:write"], gateway: "stripe" });
    const posts: Array<[Record<string, unknown>, IssuedKey]> = [
      [capture({ gatewayEventId: "l-1", settlementId: "ORD-L-1", occurredAt: `${DAY}T08:00:00.000Z` }), h.keys.gateway],
      [capture({ gatewayEventId: "l-2", settlementId: "ORD-L-2", sellerId: "S-POP-HK-02", occurredAt: `${DAY}T09:00:00.000Z` }), h.keys.gateway],
      [capture({ gateway: "stripe", gatewayEventId: "l-1", settlementId: "ORD-L-3", occurredAt: `${DAY}T10:00:00.000Z` }), stripe],
      [capture({ type: "refund", gatewayEventId: "l-1-r", originalEventId: "l-1", settlementId: "ORD-L-1", amount: "1000", gatewayFee: "0", occurredAt: `${DAY}T11:00:00.000Z` }), h.keys.gateway],
    ];
    for (const [e, key] of posts) {
      const r = await h.signedPost("/v1/settlements/events", e, key);
      if (r.statusCode !== 201) throw new Error(r.body);
      ids.push(json<{ settlement: { id: string } }>(r).settlement.id);
    }
  });
  afterAll(async () => h.close());

  const list = async (query: string, key = h.keys.finance) => {
    const r = await h.get(`/v1/settlements${query}`, key);
    if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${r.body}`);
    return json<Page>(r);
  };

  it("lists newest first with the view of GET /v1/settlements/:id", async () => {
    const p = await list("");
    expect(p.items.map((i) => i.id)).toEqual([...ids].reverse());
    expect(p.nextCursor).toBeNull();
    const one = json<Item>(await h.get(`/v1/settlements/${ids[0]}`));
    expect(p.items.at(-1)).toEqual(one);
  });

  it("pages with nextCursor", async () => {
    const p1 = await list("?limit=3");
    expect(p1.items.map((i) => i.id)).toEqual([ids[3], ids[2], ids[1]]);
    const p2 = await list(`?limit=3&cursor=${p1.nextCursor}`);
    expect(p2.items.map((i) => i.id)).toEqual([ids[0]]);
    expect(p2.nextCursor).toBeNull();
  });

  it("filters by order, seller, gateway, gateway event id, market, currency, type and occurredAt", async () => {
    const idsOf = async (q: string) => (await list(q)).items.map((i) => i.id);
    expect(await idsOf("?settlementId=ORD-L-1")).toEqual([ids[3], ids[0]]);
    expect(await idsOf("?sellerId=S-POP-HK-02")).toEqual([ids[1]]);
    expect(await idsOf("?gateway=stripe")).toEqual([ids[2]]);
    expect(await idsOf("?gatewayEventId=l-1")).toEqual([ids[2], ids[0]]);
    expect(await idsOf("?gateway=adyen&gatewayEventId=l-1")).toEqual([ids[0]]);
    expect(await idsOf("?market=BR&currency=BRL&type=capture")).toEqual([ids[2], ids[1], ids[0]]);
    expect(await idsOf("?market=DE")).toEqual([]);
    expect(await idsOf("?currency=EUR")).toEqual([]);
    expect(await idsOf("?type=refund")).toEqual([ids[3]]);
    expect(await idsOf(`?from=${DAY}T09:00:00Z&to=${DAY}T11:00:00Z`)).toEqual([ids[2], ids[1]]);
  });

  it("limits a gateway key to its own gateway's records", async () => {
    expect((await list("", stripe)).items.map((i) => i.id)).toEqual([ids[2]]);
    expect((await list("?gateway=adyen", stripe)).items).toEqual([]);
    expect((await list("", h.keys.gateway)).items.map((i) => i.event.gateway)).toEqual(["adyen", "adyen", "adyen"]);
  });

  it("refuses bad input naming the field: 400", async () => {
    for (const [q, field] of [
      ["?limit=0", "limit"],
      ["?limit=501", "limit"],
      ["?market=br", "market"],
      ["?type=nope", "type"],
      ["?from=yesterday", "from"],
      ["?other=1", "other"],
    ] as const) {
      const r = await h.get(`/v1/settlements${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.body, q).toContain(field);
    }
    const cursor = await h.get(`/v1/settlements?cursor=${Buffer.from("s1:99999999999999999999").toString("base64url")}`);
    expect([cursor.statusCode, problemCode(cursor)]).toEqual([400, "ENT_SETTLEMENT_INVALID_CURSOR"]);
    const order = await h.get(`/v1/settlements?from=${DAY}T11:00:00Z&to=${DAY}T09:00:00Z`);
    expect([order.statusCode, problemCode(order)]).toEqual([400, "ENT_SETTLEMENT_INVALID_FILTER"]);
  });
});
