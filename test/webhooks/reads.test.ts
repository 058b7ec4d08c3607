/**
 * Reading webhook endpoints and their deliveries over HTTP, on both engines: the deliveries list
 * pages like the API's other lists (`nextCursor`, null on the last page, so a full last page is not
 * followed by an empty one; `before` still pages for earlier clients), and finance keys read every
 * endpoint, delivery and attempt, never a secret, while every webhook write stays an operator's or
 * the owning gateway's.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
// Never called: the dispatcher is not ticked here, so the deliveries stay as fanned out.
const URL = "http://127.0.0.1:9/hooks";

interface DeliveryPage {
  items: Array<{ eventId: string }>;
  nextCursor: string | null;
}

describe.each(kinds)("reading webhooks on %s", (kind) => {
  let h: Harness;
  let endpointId: string;
  let secret: string;
  /** The test events sent to the endpoint, newest first (as the list answers). */
  let events: string[];

  beforeEach(async () => {
    h = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
    const created = await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["webhook.test"] }, h.keys.admin);
    expect(created.statusCode, created.body).toBe(201);
    ({ endpoint: { id: endpointId }, secret } = json<{ endpoint: { id: string }; secret: string }>(created));
    events = [];
    for (let i = 0; i < 6; i++) {
      const r = await h.post(`/v1/webhooks/endpoints/${endpointId}/test`, {}, h.keys.admin);
      expect(r.statusCode, r.body).toBe(202);
      events.unshift(json<{ eventId: string }>(r).eventId);
    }
    await h.services.webhooks.store.fanOut(100);
  });
  afterEach(async () => {
    h.services.webhooks.close();
    await h.close();
  });

  const page = async (query: string, key: IssuedKey = h.keys.admin) => {
    const r = await h.get(`/v1/webhooks/endpoints/${endpointId}/deliveries?${query}`, key);
    expect(r.statusCode, r.body).toBe(200);
    return json<DeliveryPage>(r);
  };
  /** Every page from the first, following nextCursor as `param`. */
  const walk = async (limit: number, param: "cursor" | "before") => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const p: DeliveryPage = await page(`limit=${limit}${cursor === null ? "" : `&${param}=${cursor}`}`);
      pages.push(p.items.map((d) => d.eventId));
      cursor = p.nextCursor;
      if (pages.length > 10) throw new Error("the cursor does not end");
    } while (cursor !== null);
    return pages;
  };

  describe("when the deliveries are paged", () => {
    it("answers nextCursor, the last eventId of a page with more behind it, and null on the last page", async () => {
      expect(await walk(4, "cursor")).toEqual([events.slice(0, 4), events.slice(4)]);
      const first = await page("limit=4");
      expect(first.nextCursor).toBe(events[3]);
    });

    it("ends on a full last page with no empty page after it", async () => {
      expect(await walk(3, "cursor")).toEqual([events.slice(0, 3), events.slice(3)]);
      expect(await walk(6, "cursor")).toEqual([events]);
      expect((await page("limit=3&cursor=" + events[2])).nextCursor).toBeNull();
    });

    it("still pages with before=<eventId>, as cursor does", async () => {
      expect(await walk(4, "before")).toEqual(await walk(4, "cursor"));
      expect(await page(`before=${events[1]}&limit=2`)).toEqual(await page(`cursor=${events[1]}&limit=2`));
    });

    it("keeps a status filter across pages", async () => {
      // One subject (the endpoint's test events): the oldest is pending, the five after it wait.
      const p = await page("status=waiting&limit=3");
      expect([p.items.map((d) => d.eventId), p.nextCursor]).toEqual([events.slice(0, 3), events[2]]);
      const last = await page(`status=waiting&limit=3&cursor=${p.nextCursor}`);
      expect([last.items.map((d) => d.eventId), last.nextCursor]).toEqual([events.slice(3, 5), null]);
      expect((await page("status=pending&limit=1")).items.map((d) => d.eventId)).toEqual([events[5]]);
      expect(await page("status=dead&limit=5")).toEqual({ items: [], nextCursor: null });
    });

    it("refuses cursor and before together, naming before, and a cursor that is not an event id, naming cursor", async () => {
      const both = await h.get(`/v1/webhooks/endpoints/${endpointId}/deliveries?cursor=${events[0]}&before=${events[0]}`, h.keys.admin);
      expect([both.statusCode, problemCode(both)]).toEqual([400, "ENT_WEBHOOK_INVALID_REQUEST"]);
      expect(json<{ errors: Array<{ field: string }> }>(both).errors.map((e) => e.field)).toEqual(["before"]);
      const bad = await h.get(`/v1/webhooks/endpoints/${endpointId}/deliveries?cursor=abc`, h.keys.admin);
      expect(bad.statusCode, bad.body).toBe(400);
      expect(bad.body).toContain("cursor");
    });

    it("documents the cursor in /openapi.json", async () => {
      const doc = json<{ paths: Record<string, { get: { parameters: Array<{ name: string }>; responses: { 200: { content: { "application/json": { schema: { properties: Record<string, unknown> } } } } } } }> }>(
        await h.app.inject({ url: "/openapi.json" }),
      );
      const route = doc.paths["/v1/webhooks/endpoints/{id}/deliveries"]?.get;
      expect(route?.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(["cursor", "before", "limit", "status"]));
      expect(Object.keys(route?.responses[200].content["application/json"].schema.properties ?? {})).toEqual(["items", "nextCursor"]);
    });
  });

  describe("when a finance key reads them", () => {
    let financeWrite: IssuedKey;
    beforeEach(async () => {
      financeWrite = await h.services.apiKeys.create({ name: "test finance team", scopes: ["finance:write"] });
    });

    it("lists every endpoint, an operator's and a gateway's, and reads one, its deliveries and a delivery's attempts, never a secret", async () => {
      const gw = await h.signedPost("/v1/webhooks/endpoints", { url: `${URL}/gw`, eventTypes: ["settlement.booked"] });
      expect(gw.statusCode, gw.body).toBe(201);
      const gatewayEndpoint = json<{ endpoint: { id: string }; secret: string }>(gw);
      for (const key of [h.keys.finance, financeWrite]) {
        const reads = [
          await h.get("/v1/webhooks/endpoints", key),
          await h.get(`/v1/webhooks/endpoints/${endpointId}`, key),
          await h.get(`/v1/webhooks/endpoints/${gatewayEndpoint.endpoint.id}`, key),
          await h.get(`/v1/webhooks/endpoints/${endpointId}/deliveries`, key),
          await h.get(`/v1/webhooks/endpoints/${endpointId}/deliveries/${events[0]}`, key),
        ];
        expect(reads.map((r) => r.statusCode), key.name).toEqual([200, 200, 200, 200, 200]);
        expect(json<{ items: Array<{ id: string }> }>(reads[0]!).items.map((e) => e.id).sort()).toEqual([endpointId, gatewayEndpoint.endpoint.id].sort());
        expect(json<DeliveryPage>(reads[3]!).items.map((d) => d.eventId)).toEqual(events);
        expect(json<{ delivery: { eventId: string }; attempts: unknown[] }>(reads[4]!)).toMatchObject({ delivery: { eventId: events[0] }, attempts: [] });
        for (const r of reads) {
          expect(r.body).not.toContain(secret);
          expect(r.body).not.toContain(gatewayEndpoint.secret);
          expect(r.body).not.toContain("whsec_");
        }
      }
    });

    it("refuses every webhook write with 403 ENT_AUTH_INSUFFICIENT_SCOPE and changes nothing", async () => {
      for (const key of [h.keys.finance, financeWrite]) {
        const writes = [
          await h.post("/v1/webhooks/endpoints", { url: URL, eventTypes: ["webhook.test"] }, key),
          ...(await Promise.all(["disable", "enable", "test", "rotate-secret"].map((a) => h.post(`/v1/webhooks/endpoints/${endpointId}/${a}`, {}, key)))),
          await h.post(`/v1/webhooks/endpoints/${endpointId}/deliveries/${events[0]}/redeliver`, {}, key),
        ];
        expect(writes.map((r) => [r.statusCode, problemCode(r)]), key.name).toEqual(writes.map(() => [403, "ENT_AUTH_INSUFFICIENT_SCOPE"]));
      }
      const listed = json<{ items: Array<{ id: string; status: string; previousSecretValidUntil: string | null }> }>(await h.get("/v1/webhooks/endpoints", h.keys.admin));
      expect(listed.items).toMatchObject([{ id: endpointId, status: "active", previousSecretValidUntil: null }]);
      expect((await page("limit=100")).items.map((d) => d.eventId)).toEqual(events);
    });

    it("leaves a gateway key reading its own gateway's endpoints only", async () => {
      const gw = await h.signedPost("/v1/webhooks/endpoints", { url: `${URL}/gw`, eventTypes: ["settlement.booked"] });
      const mine = json<{ endpoint: { id: string } }>(gw).endpoint.id;
      expect(json<{ items: Array<{ id: string }> }>(await h.get("/v1/webhooks/endpoints", h.keys.gateway)).items.map((e) => e.id)).toEqual([mine]);
      for (const path of [`/v1/webhooks/endpoints/${endpointId}`, `/v1/webhooks/endpoints/${endpointId}/deliveries`, `/v1/webhooks/endpoints/${endpointId}/deliveries/${events[0]}`]) {
        const r = await h.get(path, h.keys.gateway);
        expect([r.statusCode, problemCode(r)], path).toEqual([404, "ENT_WEBHOOK_ENDPOINT_NOT_FOUND"]);
      }
    });
  });
});
