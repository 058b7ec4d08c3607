/**
 * Fairness between owners, on both engines: one gateway whose endpoints answer slowly and have a
 * backlog takes at most its share of the in-flight slots, and another gateway's event goes out at
 * once, not behind that backlog. The claim hands free slots round the owners (the fewest in flight
 * first) and round an owner's endpoints.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startLoop } from "../../service/loop.js";
import { WebhookStore, ownerKey } from "../../service/webhooks/store.js";
import type { WebhookEventBody } from "../../service/webhooks/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { capture, json, openHarness, publishDayRates, type Harness } from "../http/harness.js";
import { startReceiver, type Receiver } from "./receiver.js";

const kinds = await testDatabaseKinds();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

describe.each(kinds)("webhook fairness between owners on %s", (kind) => {
  describe("when one gateway's endpoints hold their requests open behind a backlog", () => {
    let h: Harness;
    let slow: Receiver;
    let fast: Receiver;
    beforeEach(async () => {
      // The production slots (64 in all, 16 per endpoint, a quarter per owner) and a 10 s deadline:
      // a request held open keeps its slot for 10 s.
      h = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "10000" } });
      await publishDayRates(h);
      slow = await startReceiver(() => ({ hang: true }));
      fast = await startReceiver();
    });
    afterEach(async () => {
      await slow.close();
      await fast.close();
      await h.services.webhooks.dispatcher.drain();
      h.services.webhooks.close();
      await h.close();
    });

    it("delivers another gateway's event within 2 s, and the slow gateway never holds more than its share", async () => {
      const stripeKey = await h.services.apiKeys.create({ name: "test stripe gateway", scopes: ["gateway:write"], gateway: "stripe" });
      for (let i = 0; i < 5; i++) {
        const r = await h.signedPost("/v1/webhooks/endpoints", { url: `${slow.url}/${i}`, eventTypes: ["settlement.booked"] }, h.keys.gateway);
        expect(r.statusCode, r.body).toBe(201);
      }
      const mine = await h.signedPost("/v1/webhooks/endpoints", { url: fast.url, eventTypes: ["settlement.booked"] }, stripeKey);
      expect(mine.statusCode, mine.body).toBe(201);
      // adyen's backlog: 60 captures, 5 deliveries each, every one held open by its receiver.
      const batch = Array.from({ length: 60 }, (_, i) => capture({ gatewayEventId: `evt-flood-${i}`, settlementId: `ORD-FLOOD-${i}` }));
      const booked = await h.signedPost("/v1/settlements/events/batch", { events: batch }, h.keys.gateway);
      expect(booked.statusCode, booked.body).toBe(200);

      const dispatcher = h.services.webhooks.dispatcher;
      const loop = startLoop("webhooks", 250, () => dispatcher.tick(), { error: (obj, msg) => console.error(msg, obj) });
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, dispatcher.inFlight)), 5);
      try {
        await until("adyen's first requests", () => slow.received.length >= 16, 10_000);
        await sleep(300); // the claims that follow, were adyen to get more slots
        const r = await h.signedPost("/v1/settlements/events", capture({ gateway: "stripe", gatewayEventId: "evt-stripe-1", settlementId: "ORD-STRIPE-1" }), stripeKey);
        expect(r.statusCode, r.body).toBe(201);
        const postedAt = Date.now();
        await until("stripe's event at its receiver", () => fast.received.length > 0, 9_000).catch(() => {});
        const arrived = fast.received[0];
        expect(arrived, "stripe's event never arrived while adyen's requests were held").toBeDefined();
        expect((JSON.parse(arrived?.body ?? "{}") as WebhookEventBody).data).toMatchObject({ gateway: "stripe", gatewayEventId: "evt-stripe-1" });
        expect((arrived?.at ?? Infinity) - postedAt).toBeLessThan(2_000);
        // adyen holds its share of the 64 slots (16), however many endpoints it spreads its backlog over.
        expect(peak).toBeLessThanOrEqual(17); // its 16, and stripe's one
      } finally {
        clearInterval(watch);
        await loop.stop();
      }
      // Nothing of adyen's was lost: its held requests end (timed out when its receiver closes) and are retried later.
      await slow.close();
      await dispatcher.drain();
      const rows = await h.db.sql.q<Array<{ status: string; n: number }>>(
        `SELECT d.status, count(*)::int AS n FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.owner_gateway = 'adyen' GROUP BY d.status ORDER BY d.status`,
      );
      expect(rows).toEqual([{ status: "pending", n: 300 }]);
      const stripe = json<{ items: Array<{ status: string }> }>(await h.get(`/v1/webhooks/endpoints/${json<{ endpoint: { id: string } }>(mine).endpoint.id}/deliveries`, stripeKey));
      expect(stripe.items.map((d) => d.status)).toEqual(["delivered"]);
    }, 60_000);
  });

  describe("when claiming", () => {
    let db: TestDatabase;
    let store: WebhookStore;
    beforeEach(async () => {
      db = await freshDatabase(kind);
      store = new WebhookStore(db.sql);
    });
    afterEach(async () => {
      await db.close();
    });

    /** An endpoint of `owner` (null: the operators') with `due` pending deliveries, due `ageS` seconds ago and earlier. */
    async function endpointWith(id: string, owner: string | null, due: number, ageS: number): Promise<void> {
      await db.sql.q(
        `INSERT INTO webhook_endpoints (id, url, event_types, owner_gateway, secret_ciphertext, secret_key_id, status)
         VALUES ($1::text, 'https://hooks.example.com/' || $1::text, ARRAY['settlement.booked']::varchar[], $2::text, 'x', 'x', 'active')`,
        id, owner,
      );
      await db.sql.q(
        `WITH ev AS (
           INSERT INTO webhook_events (type, subject, data, dispatched_at) SELECT 'settlement.booked', $1::text || ':' || g, '{}'::jsonb, now() FROM generate_series(1, $2::int) g RETURNING id, subject
         )
         INSERT INTO webhook_deliveries (endpoint_id, event_id, subject, status, attempts, next_attempt_at)
         SELECT $1::text, id, subject, 'pending', 0, now() - ($3::int * interval '1 second') - id * interval '1 millisecond' FROM ev`,
        id, due, ageS,
      );
    }
    const claim = (limit: number, owners: Record<string, number> = {}, endpoints: Record<string, number> = {}) =>
      store.claim(limit, { perEndpoint: 16, perOwner: 16 }, { endpoints, owners }, 60_000);
    const count = (xs: readonly string[]) => Object.fromEntries([...new Set(xs)].sort().map((x) => [x, xs.filter((y) => y === x).length]));

    it("hands the free slots round the owners, the fewest in flight first, not the oldest backlog first", async () => {
      // adyen: three endpoints with an hour-old backlog; stripe two newer deliveries, the operators one.
      for (const e of ["we_a1", "we_a2", "we_a3"]) await endpointWith(e, "adyen", 40, 3_600);
      await endpointWith("we_s1", "stripe", 2, 1);
      await endpointWith("we_o1", null, 1, 1);
      const first = await claim(5);
      expect(count(first.map((c) => c.owner))).toEqual({ [ownerKey("adyen")]: 2, [ownerKey(null)]: 1, [ownerKey("stripe")]: 2 });
      // adyen at its cap: nothing more of its backlog, while its endpoints have slots of their own.
      const capped = await claim(10, { [ownerKey("adyen")]: 16 });
      expect(capped).toEqual([]);
      // Two slots short of its cap: two more, on two different endpoints (round its endpoints).
      const two = await claim(10, { [ownerKey("adyen")]: 14 });
      expect(two).toHaveLength(2);
      expect(new Set(two.map((c) => c.endpointId)).size).toBe(2);
    });

    it("goes round one owner's endpoints, the fewest in flight first", async () => {
      for (const e of ["we_a1", "we_a2", "we_a3"]) await endpointWith(e, "adyen", 10, 60);
      const claimed = await claim(6, { [ownerKey("adyen")]: 3 }, { we_a1: 3 });
      // we_a1 has 3 in flight: the 6 slots go to the other two, until they have as many.
      expect(count(claimed.map((c) => c.endpointId))).toEqual({ we_a2: 3, we_a3: 3 });
    });
  });
});
