/**
 * Webhook delivery against a real HTTP receiver, on both engines: events written by the database
 * in the booking's own transaction reach the receiver signed, at least once, through outages,
 * hangs, redirects and a crashed worker; one subject's events arrive in order; a dead endpoint
 * does not hold back a live one; rotation signs with both secrets (and a second rotation waits for
 * the first); a redelivery jumps its line alone and never runs beside an attempt in flight.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebhookDispatcher } from "../../service/webhooks/dispatcher.js";
import { createPoster } from "../../service/webhooks/post.js";
import { verifyWebhookSignature, type WebhookEventBody } from "../../service/webhooks/index.js";
import { SecretBox } from "../../service/http/auth/secret-box.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";
import { startReceiver, type Receiver } from "./receiver.js";

const kinds = await testDatabaseKinds();
// 2.5 s for a request to a local receiver: 300 ms, then 1 s, were outlived by a first request on a
// loaded two-core machine (load 10-13), a timeout the tests that count attempts did not expect.
const ENV = { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "2500", WEBHOOK_RETRY_SCHEDULE_SECONDS: "0.05,0.05,0.05,0.05,0.05,0.05" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function subscribe(h: Harness, body: Record<string, unknown>, key = h.keys.admin): Promise<{ id: string; secret: string }> {
  // A gateway key signs its writes, its webhook endpoints' too.
  const r = key.scopes.includes("gateway:write") ? await h.signedPost("/v1/webhooks/endpoints", body, key) : await h.post("/v1/webhooks/endpoints", body, key);
  if (r.statusCode !== 201) throw new Error(`subscribe failed: ${r.statusCode} ${r.body}`);
  const j = json<{ endpoint: { id: string }; secret: string }>(r);
  return { id: j.endpoint.id, secret: j.secret };
}

async function book(h: Harness, events: Array<Record<string, unknown>>): Promise<void> {
  for (const e of events) {
    const r = await h.signedPost("/v1/settlements/events", capture(e), e.gateway === "stripe" ? h.keys.admin : h.keys.gateway);
    if (r.statusCode !== 201) throw new Error(`booking failed: ${r.statusCode} ${r.body}`);
  }
}

/** Ticks the dispatcher until `done` holds (or fails after `ms`). */
async function pump(h: Harness, done: () => boolean | Promise<boolean>, ms = 15_000, dispatcher: WebhookDispatcher = h.services.webhooks.dispatcher): Promise<void> {
  const until = Date.now() + ms;
  try {
    while (!(await done())) {
      if (Date.now() > until) throw new Error("webhook deliveries did not complete in time");
      await dispatcher.tick();
      await sleep(10);
    }
  } finally {
    await dispatcher.drain();
  }
}

const bodies = (rx: Receiver) => rx.received.map((r) => JSON.parse(r.body) as WebhookEventBody);
const delivered = (rx: Receiver) => new Set(rx.received.filter((r) => r.answered >= 200 && r.answered < 300).map((r) => (JSON.parse(r.body) as WebhookEventBody).id));

describe.each(kinds)("webhooks on %s", (kind) => {
  let h: Harness;
  let rx: Receiver;
  beforeEach(async () => {
    h = await openHarness({ kind, env: ENV });
    await publishDayRates(h);
    rx = await startReceiver();
  });
  afterEach(async () => {
    await rx.close();
    h.services.webhooks.close();
    await h.close();
  });

  it("delivers every booked settlement, signed, through a receiver that is down for its first 15 requests", async () => {
    const { id, secret } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    rx.behave((n) => ({ status: n <= 15 ? 503 : 200 }));
    await book(h, [1, 2, 3, 4, 5].map((i) => ({ gatewayEventId: `evt-down-${i}`, settlementId: `ORD-DOWN-${i}` })));
    await pump(h, () => delivered(rx).size === 5);

    expect(rx.received.filter((r) => r.answered === 503)).toHaveLength(15);
    for (const r of rx.received) {
      expect(verifyWebhookSignature({ body: r.body, header: r.headers["entrepot-signature"] as string, secret })).toMatchObject({ ok: true });
      const b = JSON.parse(r.body) as WebhookEventBody;
      expect(r.headers["entrepot-event-id"]).toBe(b.id);
      expect(b.type).toBe("settlement.booked");
      expect(b.data).toMatchObject({ gateway: "adyen", market: "BR", eventType: "capture" });
      // Instants as the REST API writes them: UTC, milliseconds, Z.
      for (const k of ["bookedAt", "effectiveAt"]) expect(b.data[k], k).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(b.subject).toBe(`order:adyen:${String(b.data.orderId)}`);
    }
    expect(new Set(bodies(rx).map((b) => b.data.gatewayEventId))).toEqual(new Set([1, 2, 3, 4, 5].map((i) => `evt-down-${i}`)));

    // The delivery log: every attempt with its answer, in the API.
    const list = json<{ items: Array<{ eventId: string; status: string; attempts: number }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries`, h.keys.admin));
    expect(list.items).toHaveLength(5);
    const page = json<{ items: Array<{ eventId: string }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries?limit=2&before=${list.items[1]?.eventId}`, h.keys.admin));
    expect(page.items.map((d) => d.eventId)).toEqual(list.items.slice(2, 4).map((d) => d.eventId));
    expect(list.items.every((d) => d.status === "delivered")).toBe(true);
    expect(list.items.reduce((n, d) => n + d.attempts, 0)).toBe(20);
    const one = json<{ attempts: Array<{ statusCode: number | null; durationMs: number }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries/${list.items[0]?.eventId}`, h.keys.admin));
    expect(one.attempts.at(-1)?.statusCode).toBe(200);
    expect(one.attempts.slice(0, -1).every((a) => a.statusCode === 503), JSON.stringify(one.attempts)).toBe(true);
  });

  it("queues one settlement.booked per settlement of a batch, in journal order, in the booking's commit; nothing for other journal writes or without a subscriber", async () => {
    const outbox = () =>
      h.db.sql.q<Array<{ tx: string; gev: string }>>(
        `SELECT data->>'journalTransactionId' AS tx, data->>'gatewayEventId' AS gev FROM webhook_events WHERE type = 'settlement.booked' ORDER BY id`,
      );
    await book(h, [{ gatewayEventId: "evt-unwatched", settlementId: "ORD-UNWATCHED" }]);
    expect(await outbox()).toEqual([]);

    await subscribe(h, { url: rx.url, eventTypes: ["*"] });
    const batch = [1, 2, 3, 4].map((i) => capture({ gatewayEventId: `evt-batch-${i}`, settlementId: `ORD-BATCH-${i}` }));
    const r = await h.signedPost("/v1/settlements/events/batch", { events: batch }, h.keys.gateway);
    expect(r.statusCode).toBe(200);
    const items = json<{ results: Array<{ status: string; transaction: { id: string } }> }>(r).results;
    expect(items.map((i) => i.status)).toEqual(["created", "created", "created", "created"]);
    // A journal write that is not a settlement queues nothing, in the same flush machinery.
    await h.services.ledger.ensureAccounts([
      { code: "platform:webhook-a:test", currency: "USD", ownerType: "platform", ownerId: "a", normalBalance: "credit", allowNegative: true },
      { code: "platform:webhook-b:test", currency: "USD", ownerType: "platform", ownerId: "b", normalBalance: "credit", allowNegative: true },
    ]);
    const plain = await h.services.ledger.post({
      idempotencyKey: "webhook-plain-transfer",
      postings: [
        { account: "platform:webhook-a:test", currency: "USD", direction: "debit", amount: 5n },
        { account: "platform:webhook-b:test", currency: "USD", direction: "credit", amount: 5n },
      ],
    });
    expect(plain.status).toBe("created");

    const queued = await outbox();
    expect(queued.map((e) => e.gev)).toEqual(batch.map((e) => e["gatewayEventId"]));
    expect(queued.map((e) => e.tx)).toEqual(items.map((i) => i.transaction.id));
    expect(queued.map((e) => BigInt(e.tx))).toEqual(queued.map((e) => BigInt(e.tx)).sort((a, b) => (a < b ? -1 : 1)));
  });

  it("times out a receiver that hangs and delivers on the next attempt; a redirect is a failed attempt, never followed", async () => {
    const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const target = await startReceiver();
    rx.behave((n) => (n === 1 ? { hang: true } : n === 2 ? { redirect: target.url } : { status: 204 }));
    await book(h, [{ gatewayEventId: "evt-hang", settlementId: "ORD-HANG" }]);
    await pump(h, () => delivered(rx).size === 1);
    await target.close();
    expect(target.received).toHaveLength(0);
    const list = json<{ items: Array<{ eventId: string }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries`, h.keys.admin));
    const d = json<{ delivery: { status: string; attempts: number }; attempts: Array<{ statusCode: number | null; error: string | null; durationMs: number }> }>(
      await h.get(`/v1/webhooks/endpoints/${id}/deliveries/${list.items[0]?.eventId}`, h.keys.admin),
    );
    expect(d.delivery).toMatchObject({ status: "delivered", attempts: 3 });
    expect(d.attempts[0]).toMatchObject({ statusCode: null, error: "timed out after 2500 ms" });
    expect(d.attempts[0]?.durationMs).toBeGreaterThanOrEqual(990);
    expect(d.attempts[1]?.statusCode).toBe(302);
    expect(d.attempts[1]?.error).toMatch(/^redirect not followed/);
    expect(d.attempts[2]?.statusCode).toBe(204);
  });

  it("loses nothing when the worker dies after the state change, or in the middle of a request", async () => {
    const { secret } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    // Committed, announced in the same transaction, never fanned out: the process "died" here.
    await book(h, [{ gatewayEventId: "evt-crash-1", settlementId: "ORD-CRASH-1" }, { gatewayEventId: "evt-crash-2", settlementId: "ORD-CRASH-2" }]);
    const [outbox] = await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_events WHERE type = 'settlement.booked' AND dispatched_at IS NULL`);
    expect(outbox?.n).toBe(2);
    // A worker claims both and dies mid-request (its requests never come back, nothing is recorded).
    const dying = new WebhookDispatcher({
      store: h.services.webhooks.store,
      box: new SecretBox(Buffer.alloc(32)),
      poster: { post: () => new Promise(() => {}), close() {} },
      leaseMs: 400,
    });
    await dying.tick().catch(() => {});
    const [claimed] = await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE next_attempt_at > now() AND attempts = 1`);
    expect(claimed?.n).toBe(2);
    // The next worker delivers both once the claims lapse.
    await pump(h, () => delivered(rx).size === 2);
    for (const r of rx.received) expect(verifyWebhookSignature({ body: r.body, header: r.headers["entrepot-signature"] as string, secret }).ok).toBe(true);
    // The dead worker's attempts were numbered 1 (sent or not, their outcome is unknown): these are 2.
    expect(rx.received.map((r) => r.headers["entrepot-delivery-attempt"])).toEqual(["2", "2"]);
  });

  it("delivers one order's events in order through random failures, while other orders go on", async () => {
    await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    let seed = 7;
    rx.behave(() => {
      seed = (seed * 48271) % 2147483647;
      return { status: seed % 2 === 0 ? 500 : 200 };
    });
    await book(h, [
      { gatewayEventId: "evt-o-cap", settlementId: "ORD-ORDERED", amount: "30000" },
      { gatewayEventId: "evt-x-cap", settlementId: "ORD-OTHER" },
    ]);
    for (const [i, amount] of [["1", "1000"], ["2", "2000"], ["3", "3000"]] as const) {
      const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "refund", gatewayEventId: `evt-o-ref-${i}`, settlementId: "ORD-ORDERED", amount }), originalEventId: "evt-o-cap", gatewayFee: "0" });
      expect(r.statusCode, r.body).toBe(201);
    }
    await pump(h, () => delivered(rx).size === 5);
    // For the order: the first request of each event comes after the successful one of the event before.
    const ordered = rx.received.map((r) => ({ ...r, b: JSON.parse(r.body) as WebhookEventBody })).filter((r) => r.b.subject === "order:adyen:ORD-ORDERED");
    const ids = [...new Set(ordered.map((r) => r.b.id))];
    expect(ids).toEqual([...ids].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))));
    expect(ordered.map((r) => r.b.data.gatewayEventId).filter((v, i, a) => a.indexOf(v) === i)).toEqual(["evt-o-cap", "evt-o-ref-1", "evt-o-ref-2", "evt-o-ref-3"]);
    for (let k = 1; k < ids.length; k++) {
      const firstOfNext = ordered.findIndex((r) => r.b.id === ids[k]);
      const okOfPrevious = ordered.findIndex((r) => r.b.id === ids[k - 1] && r.answered === 200);
      expect(okOfPrevious).toBeGreaterThanOrEqual(0);
      expect(firstOfNext).toBeGreaterThan(okOfPrevious);
    }
  });

  it("a dead endpoint does not hold back a live one, and its deliveries end dead and can be redelivered", async () => {
    const dead = await startReceiver(() => ({ status: 500 }));
    try {
      const gone = await subscribe(h, { url: dead.url, eventTypes: ["settlement.booked"] });
      await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
      await book(h, [1, 2, 3].map((i) => ({ gatewayEventId: `evt-dead-${i}`, settlementId: `ORD-DEAD-${i}` })));
      await pump(h, () => delivered(rx).size === 3);
      // 7 attempts each (1 + the 6 retries of the test schedule), then dead.
      await pump(h, async () => json<{ items: unknown[] }>(await h.get(`/v1/webhooks/endpoints/${gone.id}/deliveries?status=dead`, h.keys.admin)).items.length === 3);
      expect(dead.received).toHaveLength(21);
      const deadList = json<{ items: Array<{ eventId: string; attempts: number; lastStatusCode: number }> }>(await h.get(`/v1/webhooks/endpoints/${gone.id}/deliveries?status=dead`, h.keys.admin));
      expect(deadList.items.every((d) => d.attempts === 7 && d.lastStatusCode === 500)).toBe(true);
      // The receiver is fixed; an operator redelivers one from the dead-letter list.
      dead.behave(() => ({ status: 200 }));
      const again = await h.post(`/v1/webhooks/endpoints/${gone.id}/deliveries/${deadList.items[0]?.eventId}/redeliver`, {}, h.keys.admin);
      expect(again.statusCode, again.body).toBe(202);
      await pump(h, () => dead.received.some((r) => r.answered === 200));
      const after = json<{ delivery: { status: string; attempts: number } }>(await h.get(`/v1/webhooks/endpoints/${gone.id}/deliveries/${deadList.items[0]?.eventId}`, h.keys.admin));
      expect(after.delivery).toMatchObject({ status: "delivered", attempts: 8 });
    } finally {
      await dead.close();
    }
  });

  it("keeps events for the retention period, and an event with an open delivery beyond it", async () => {
    await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const paused = await subscribe(h, { url: `${rx.url}/paused`, eventTypes: ["settlement.booked"] });
    await book(h, [{ gatewayEventId: "evt-old-1", settlementId: "ORD-OLD-1" }]);
    await h.services.webhooks.store.fanOut(1_000); // a delivery to each endpoint
    await h.post(`/v1/webhooks/endpoints/${paused.id}/disable`, {}, h.keys.admin); // its delivery stays open
    await book(h, [{ gatewayEventId: "evt-old-2", settlementId: "ORD-OLD-2" }]);
    await pump(h, () => delivered(rx).size === 2);
    await h.db.sql.q(`UPDATE webhook_events SET created_at = now() - interval '31 days'`);
    expect(await h.services.webhooks.store.prune(30, 5_000)).toBe(1); // the second event only
    const left = await h.db.sql.q<Array<{ data: { gatewayEventId: string } }>>(`SELECT data FROM webhook_events`);
    expect(left.map((e) => e.data.gatewayEventId)).toEqual(["evt-old-1"]);
    expect(await h.services.webhooks.store.prune(30, 5_000)).toBe(0);
    // Events inside the retention period bound the scan: an old event before them goes, they stay.
    await book(h, [{ gatewayEventId: "evt-old-3", settlementId: "ORD-OLD-3" }]);
    await book(h, [{ gatewayEventId: "evt-new-1", settlementId: "ORD-NEW-1" }]);
    await pump(h, () => delivered(rx).size === 4);
    await h.db.sql.q(`UPDATE webhook_events SET created_at = now() - interval '31 days' WHERE data->>'gatewayEventId' = 'evt-old-3'`);
    expect(await h.services.webhooks.store.prune(30, 5_000)).toBe(1);
    const kept = await h.db.sql.q<Array<{ data: { gatewayEventId: string } }>>(`SELECT data FROM webhook_events ORDER BY id`);
    expect(kept.map((e) => e.data.gatewayEventId)).toEqual(["evt-old-1", "evt-new-1"]);
    const [orphans] = await h.db.sql.q<Array<{ n: number }>>(
      `SELECT (SELECT count(*) FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = a.event_id))
            + (SELECT count(*) FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = d.event_id)) AS n`,
    );
    expect(Number(orphans?.n)).toBe(0);
  });

  it("signs with both secrets during a rotation, and a test event reaches only its endpoint", async () => {
    const { id, secret: old } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const other = await startReceiver();
    try {
      await subscribe(h, { url: other.url, eventTypes: ["*"] });
      const rot = await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, {}, h.keys.admin);
      expect(rot.statusCode, rot.body).toBe(200);
      const { secret: fresh, endpoint } = json<{ secret: string; endpoint: { previousSecretValidUntil: string } }>(rot);
      expect(fresh).not.toBe(old);
      expect(Date.parse(endpoint.previousSecretValidUntil)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
      const t = await h.post(`/v1/webhooks/endpoints/${id}/test`, {}, h.keys.admin);
      expect(t.statusCode).toBe(202);
      await pump(h, () => delivered(rx).size === 1);
      const r = rx.received[0];
      expect(JSON.parse(r?.body ?? "{}")).toMatchObject({ type: "webhook.test", id: json<{ eventId: string }>(t).eventId });
      const header = r?.headers["entrepot-signature"] as string;
      expect(header.match(/v1=/g)).toHaveLength(2);
      expect(verifyWebhookSignature({ body: r?.body ?? "", header, secret: fresh }).ok).toBe(true);
      expect(verifyWebhookSignature({ body: r?.body ?? "", header, secret: old }).ok).toBe(true);
      expect(verifyWebhookSignature({ body: `${r?.body} `, header, secret: fresh })).toEqual({ ok: false, reason: "mismatch" });
      expect(other.received).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it("a gateway key subscribes to its own gateway's settlement events only and sees only its own endpoints", async () => {
    const gw = h.keys.gateway;
    expect(problemCode(await h.signedPost("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["payout.final"] }, gw))).toBe("ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN");
    expect(problemCode(await h.signedPost("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["settlement.booked"], filter: { gateway: "stripe" } }, gw))).toBe("ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN");
    // Its bearer key alone could send its settlement events to another URL: unsigned, nothing is created.
    const unsigned = await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["settlement.booked"] }, gw);
    expect([unsigned.statusCode, problemCode(unsigned)]).toEqual([401, "ENT_AUTH_SIGNATURE_MISSING"]);
    expect((await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["settlement.booked"] }, h.keys.finance)).statusCode).toBe(403);
    const mine = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] }, gw);
    const ops = await subscribe(h, { url: `${rx.url}/ops`, eventTypes: ["settlement.booked"] });
    const listed = json<{ items: Array<{ id: string; filter: { gateway: string } }> }>(await h.get("/v1/webhooks/endpoints", gw));
    expect(listed.items.map((e) => e.id)).toEqual([mine.id]);
    expect(listed.items[0]?.filter.gateway).toBe("adyen");
    expect((await h.get(`/v1/webhooks/endpoints/${ops.id}`, gw)).statusCode).toBe(404);
    expect((await h.signedPost(`/v1/webhooks/endpoints/${ops.id}/disable`, {}, gw)).statusCode).toBe(404);
    for (const action of ["disable", "rotate-secret", "test"]) {
      const r = await h.post(`/v1/webhooks/endpoints/${mine.id}/${action}`, {}, gw);
      expect([r.statusCode, problemCode(r)], action).toEqual([401, "ENT_AUTH_SIGNATURE_MISSING"]);
    }
    expect(json<{ items: Array<{ id: string; status: string }> }>(await h.get("/v1/webhooks/endpoints", gw)).items.map((e) => e.status)).toEqual(["active"]);
    await book(h, [{ gatewayEventId: "evt-gw-a", settlementId: "ORD-GW-A" }, { gateway: "stripe", gatewayEventId: "evt-gw-s", settlementId: "ORD-GW-S" }]);
    await pump(h, () => rx.received.filter((r) => r.answered === 200).length === 3);
    const gatewaysAt = (path: string) => rx.received.filter((r) => r.path === path).map((r) => (JSON.parse(r.body) as WebhookEventBody).data.gateway).sort();
    expect(gatewaysAt("/hooks")).toEqual(["adyen"]);
    expect(gatewaysAt("/hooks/ops")).toEqual(["adyen", "stripe"]);
    const gwDeliveries = json<{ items: Array<{ subject: string }> }>(await h.get(`/v1/webhooks/endpoints/${mine.id}/deliveries`, gw));
    expect(gwDeliveries.items.map((d) => d.subject)).toEqual(["order:adyen:ORD-GW-A"]);
  });

  describe("when an event is redelivered", () => {
    /** Deliveries of one subject to the endpoint, oldest first. */
    const line = async (id: string, subject: string) =>
      json<{ items: Array<{ eventId: string; status: string; subject: string }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries`, h.keys.admin)).items.filter((d) => d.subject === subject).reverse();
    const idOf = (r: { body: string }) => (JSON.parse(r.body) as WebhookEventBody).id;

    it("a redelivered, already delivered event does not release a later one while an earlier one is retried", async () => {
      const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
      const subject = "order:adyen:ORD-O-1";
      await book(h, [{ gatewayEventId: "evt-o1-cap", settlementId: "ORD-O-1", amount: "30000" }]);
      await pump(h, () => delivered(rx).size === 1);
      // The second event fails (and then waits an hour for its retry); the third waits behind it.
      let failing = true;
      rx.behave((_n, body) => ({ status: failing && (JSON.parse(body) as WebhookEventBody).data.gatewayEventId === "evt-o1-ref-1" ? 500 : 200 }));
      for (const i of ["1", "2"]) {
        const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "refund", gatewayEventId: `evt-o1-ref-${i}`, settlementId: "ORD-O-1", amount: "1000" }), originalEventId: "evt-o1-cap", gatewayFee: "0" });
        expect(r.statusCode, r.body).toBe(201);
      }
      await pump(h, () => rx.received.some((r) => r.answered === 500));
      const [first, second, third] = (await line(id, subject)).map((d) => d.eventId);
      await h.db.sql.q(`UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE endpoint_id = $1 AND event_id = $2`, id, BigInt(String(second).slice(4)));
      expect((await line(id, subject)).map((d) => d.status)).toEqual(["delivered", "pending", "waiting"]);

      const again = await h.post(`/v1/webhooks/endpoints/${id}/deliveries/${first}/redeliver`, {}, h.keys.admin);
      expect(again.statusCode, again.body).toBe(202);
      await pump(h, () => rx.received.filter((r) => idOf(r) === first).length === 2);
      for (let i = 0; i < 5; i++) await h.services.webhooks.dispatcher.tick();
      await h.services.webhooks.dispatcher.drain();
      expect(rx.received.filter((r) => idOf(r) === third)).toHaveLength(0);
      expect((await line(id, subject)).map((d) => d.status)).toEqual(["delivered", "pending", "waiting"]);

      // The second goes through: the third follows it.
      failing = false;
      await h.db.sql.q(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE endpoint_id = $1 AND event_id = $2`, id, BigInt(String(second).slice(4)));
      await pump(h, () => delivered(rx).has(String(third)));
      const okOfSecond = rx.received.findIndex((r) => idOf(r) === second && r.answered === 200);
      expect(okOfSecond).toBeGreaterThanOrEqual(0);
      expect(rx.received.findIndex((r) => idOf(r) === third)).toBeGreaterThan(okOfSecond);
    });

    it("refuses to redeliver a delivery whose attempt is in flight, and numbers every request sent as its own attempt", async () => {
      const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
      rx.behave((n) => (n === 1 ? { hang: true } : { status: 200 }));
      await book(h, [{ gatewayEventId: "evt-flight", settlementId: "ORD-FLIGHT" }]);
      const ticking = h.services.webhooks.dispatcher.tick();
      for (let i = 0; i < 500 && rx.received.length === 0; i++) await sleep(10);
      expect(rx.received).toHaveLength(1);
      const eventId = idOf(rx.received[0] as { body: string });
      for (let i = 0; i < 3; i++) {
        const busy = await h.post(`/v1/webhooks/endpoints/${id}/deliveries/${eventId}/redeliver`, {}, h.keys.admin);
        expect(busy.statusCode, busy.body).toBe(409);
        expect(problemCode(busy)).toBe("ENT_WEBHOOK_DELIVERY_IN_FLIGHT");
      }
      await ticking;
      await h.services.webhooks.dispatcher.drain();
      // The attempt timed out and is recorded: redelivery is accepted again, and delivers.
      const again = await h.post(`/v1/webhooks/endpoints/${id}/deliveries/${eventId}/redeliver`, {}, h.keys.admin);
      expect(again.statusCode, again.body).toBe(202);
      // Until the delivery is recorded delivered, not only answered: on a loaded machine an outcome's
      // write can miss its lease, and the delivery is then sent again (as its own attempt) and recorded.
      const read = async () => json<{ delivery: { status: string; attempts: number }; attempts: Array<{ attempt: number }> }>(await h.get(`/v1/webhooks/endpoints/${id}/deliveries/${eventId}`, h.keys.admin));
      await pump(h, async () => delivered(rx).has(eventId) && (await read()).delivery.status === "delivered", 30_000);
      const sent = rx.received.map((r) => Number(r.headers["entrepot-delivery-attempt"]));
      const d = await read();
      expect(d.delivery.status).toBe("delivered");
      expect(sent).toEqual(d.attempts.map((a) => a.attempt));
      expect(sent).toEqual(sent.map((_, i) => i + 1));
    });
  });

  it("hands a line on when two of its deliveries end in concurrent writes", async () => {
    const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const orders = [1, 2, 3, 4, 5, 6].map((i) => `ORD-RACE-${i}`);
    for (const o of orders) {
      await book(h, [{ gatewayEventId: `${o}-cap`, settlementId: o, amount: "30000" }]);
      for (const i of ["1", "2"]) {
        const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "refund", gatewayEventId: `${o}-ref-${i}`, settlementId: o, amount: "1000" }), originalEventId: `${o}-cap`, gatewayFee: "0" });
        expect(r.statusCode, r.body).toBe(201);
      }
    }
    const store = h.services.webhooks.store;
    await store.fanOut(1_000);
    // Per order: the first two pending (as when the second was redelivered, jumping the line), the third waiting.
    const rows = await h.db.sql.q<Array<{ event_id: bigint; subject: string }>>(`SELECT event_id, subject FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY event_id`, id);
    type Row = { event_id: bigint; subject: string };
    const bySubject = new Map<string, Row[]>();
    for (const r of rows) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
    expect(bySubject.size).toBe(orders.length);
    const seconds = [...bySubject.values()].map((l) => l[1]?.event_id as bigint);
    await h.db.sql.q(`UPDATE webhook_deliveries SET status = 'pending' WHERE endpoint_id = $1 AND event_id = ANY($2::bigint[])`, id, seconds);
    expect((await h.db.sql.q<Array<{ status: string }>>(`SELECT status FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY subject, event_id`, id)).map((r) => r.status)).toEqual(orders.flatMap(() => ["pending", "pending", "waiting"]));
    const ended = (r: Row) => ({ endpointId: id, eventId: r.event_id, subject: r.subject, attempt: 1, startedAtMs: Date.now(), durationMs: 1, statusCode: 200, error: null, result: "delivered" as const, delayMs: 0 });
    // Each pending one's first attempt claimed (numbered), as the dispatcher does.
    await h.db.sql.q(`UPDATE webhook_deliveries SET attempts = 1 WHERE endpoint_id = $1 AND status = 'pending'`, id);
    await Promise.all([...bySubject.values()].flatMap((l) => [store.record([ended(l[0] as Row)]), store.record([ended(l[1] as Row)])]));
    const after = await h.db.sql.q<Array<{ subject: string; status: string }>>(`SELECT subject, status FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY subject, event_id`, id);
    expect(after.map((r) => `${r.subject} ${r.status}`)).toEqual(orders.flatMap((o) => ["delivered", "delivered", "pending"].map((st) => `order:adyen:${o} ${st}`)));
  });

  it("never leaves a new event waiting behind a delivery that ended while it was fanned out", async () => {
    const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const store = h.services.webhooks.store;
    type Row = { event_id: bigint; subject: string };
    const ended = (r: Row) => ({ endpointId: id, eventId: r.event_id, subject: r.subject, attempt: 1, startedAtMs: Date.now(), durationMs: 1, statusCode: 200, error: null, result: "delivered" as const, delayMs: 0 });
    for (let round = 0; round < 5; round++) {
      const orders = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `ORD-FAN-${round}-${i}`);
      for (const o of orders) await book(h, [{ gatewayEventId: `${o}-cap`, settlementId: o, amount: "30000" }]);
      await store.fanOut(1_000);
      const heads = await h.db.sql.q<Row[]>(`SELECT event_id, subject FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'`, id);
      expect(heads).toHaveLength(orders.length);
      // A second event per order, fanned out while each line's head ends.
      for (const o of orders) {
        const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "refund", gatewayEventId: `${o}-ref`, settlementId: o, amount: "1000" }), originalEventId: `${o}-cap`, gatewayFee: "0" });
        expect(r.statusCode, r.body).toBe(201);
      }
      await h.db.sql.q(`UPDATE webhook_deliveries SET attempts = 1 WHERE endpoint_id = $1 AND event_id = ANY($2::bigint[])`, id, heads.map((r) => r.event_id));
      await Promise.all([store.fanOut(1_000), ...heads.map((r) => store.record([ended(r)]))]);
      const stuck = await h.db.sql.q<Row[]>(
        `SELECT w.event_id, w.subject FROM webhook_deliveries w WHERE w.endpoint_id = $1 AND w.status = 'waiting'
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = w.endpoint_id AND p.subject = w.subject AND p.status = 'pending')`,
        id,
      );
      expect(stuck, `round ${round}`).toEqual([]);
      await h.db.sql.q(`UPDATE webhook_deliveries SET status = 'delivered' WHERE endpoint_id = $1 AND status = 'pending'`, id);
    }
  });

  it("refuses a second secret rotation while the first one's previous secret still signs, and says until when", async () => {
    const { id, secret: s0 } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    const first = await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, {}, h.keys.admin);
    expect(first.statusCode, first.body).toBe(200);
    const until = json<{ endpoint: { previousSecretValidUntil: string } }>(first).endpoint.previousSecretValidUntil;
    const second = await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, {}, h.keys.admin);
    expect(second.statusCode, second.body).toBe(409);
    expect(problemCode(second)).toBe("ENT_WEBHOOK_ROTATION_IN_PROGRESS");
    const problem = json<{ detail: string; details: { previousSecretValidUntil: string } }>(second);
    expect(problem.detail).toContain(until);
    expect(problem.details).toEqual({ previousSecretValidUntil: until });
    // S0 still signs beside S1.
    await h.post(`/v1/webhooks/endpoints/${id}/test`, {}, h.keys.admin);
    await pump(h, () => delivered(rx).size === 1);
    const r = rx.received[0] as { body: string; headers: Record<string, unknown> };
    expect(verifyWebhookSignature({ body: r.body, header: r.headers["entrepot-signature"] as string, secret: s0 }).ok).toBe(true);
    // Once that secret has expired, the next rotation goes ahead.
    await h.db.sql.q(`UPDATE webhook_endpoints SET previous_secret_valid_until = now() - interval '1 second' WHERE id = $1`, id);
    expect((await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, {}, h.keys.admin)).statusCode).toBe(200);
    // A rotation with previousValidUntil "now", as the caller wrote it (passed on arrival): no overlap,
    // so the next one may follow at once. Further back than the signature window is refused.
    await h.db.sql.q(`UPDATE webhook_endpoints SET previous_secret_valid_until = now() - interval '1 second' WHERE id = $1`, id);
    const now = await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, { previousValidUntil: new Date(Date.now() - 2_000).toISOString() }, h.keys.admin);
    expect(now.statusCode, now.body).toBe(200);
    expect(Date.parse(json<{ endpoint: { previousSecretValidUntil: string } }>(now).endpoint.previousSecretValidUntil)).toBeGreaterThan(Date.now() - 60_000);
    expect((await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, {}, h.keys.admin)).statusCode).toBe(200);
    await h.db.sql.q(`UPDATE webhook_endpoints SET previous_secret_valid_until = now() - interval '1 second' WHERE id = $1`, id);
    const past = await h.post(`/v1/webhooks/endpoints/${id}/rotate-secret`, { previousValidUntil: new Date(Date.now() - 600_000).toISOString() }, h.keys.admin);
    expect([past.statusCode, json<{ errors: Array<{ field: string }> }>(past).errors[0]?.field]).toEqual([400, "previousValidUntil"]);
  });

  it("refuses a test event for a disabled endpoint", async () => {
    const { id } = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] });
    expect((await h.post(`/v1/webhooks/endpoints/${id}/disable`, {}, h.keys.admin)).statusCode).toBe(200);
    const t = await h.post(`/v1/webhooks/endpoints/${id}/test`, {}, h.keys.admin);
    expect(t.statusCode, t.body).toBe(409);
    expect(problemCode(t)).toBe("ENT_WEBHOOK_ENDPOINT_DISABLED");
    const [n] = await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_events WHERE type = 'webhook.test'`);
    expect(n?.n).toBe(0);
    expect((await h.post(`/v1/webhooks/endpoints/${id}/enable`, {}, h.keys.admin)).statusCode).toBe(200);
    expect((await h.post(`/v1/webhooks/endpoints/${id}/test`, {}, h.keys.admin)).statusCode).toBe(202);
  });

  it("refuses URLs that point inward unless private addresses are allowed, and names the field", async () => {
    const strict = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    try {
      for (const url of ["http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x", "https://169.254.169.254/latest", "https://localhost/x", "https://user:pw@example.com/x", "ftp://example.com/x", "https://[::ffff:192.168.0.1]/x", "https://[::127.0.0.1]:3339/", "https://[2002:7f00:1::]/", "https://localhost./", "https://metadata.google.internal./"]) {
        const r = await strict.post("/v1/webhooks/endpoints", { url, eventTypes: ["settlement.booked"] }, strict.keys.admin);
        expect(r.statusCode, url).toBe(400);
        expect(problemCode(r)).toBe("ENT_WEBHOOK_URL_REFUSED");
        expect(json<{ errors?: Array<{ field: string }>; fields?: Array<{ field: string }> }>(r)).toSatisfy((p: { errors?: Array<{ field: string }>; fields?: Array<{ field: string }> }) => JSON.stringify(p).includes('"url"'));
      }
      expect((await strict.post("/v1/webhooks/endpoints", { url: "https://hooks.example.com/entrepot", eventTypes: ["settlement.booked"] }, strict.keys.admin)).statusCode).toBe(201);
      // At delivery time too: a name that resolves inward, and a literal address, are refused before connecting.
      const poster = createPoster({ timeoutMs: 1_000, allowPrivate: false });
      try {
        for (const url of [`http://localhost:${rx.port}/hooks`, `http://127.0.0.1:${rx.port}/hooks`]) {
          const r = await poster.post(url, "{}", {});
          expect(r, url).toMatchObject({ statusCode: null });
          expect(r.error, url).toMatch(/^address refused/);
        }
      } finally {
        poster.close();
      }
      expect(rx.received).toHaveLength(0);
    } finally {
      strict.services.webhooks.close();
      await strict.close();
    }
  });
});
