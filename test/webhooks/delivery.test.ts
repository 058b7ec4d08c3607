/**
 * Webhook delivery against a real HTTP receiver, on both engines: events written by the database
 * in the booking's own transaction reach the receiver signed, at least once, through outages,
 * hangs, redirects and a crashed worker; one subject's events arrive in order; a dead endpoint
 * does not hold back a live one; rotation signs with both secrets.
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
const ENV = { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "300", WEBHOOK_RETRY_SCHEDULE_SECONDS: "0.05,0.05,0.05,0.05,0.05,0.05" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function subscribe(h: Harness, body: Record<string, unknown>, key = h.keys.admin): Promise<{ id: string; secret: string }> {
  const r = await h.post("/v1/webhooks/endpoints", body, key);
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
    expect(one.attempts.slice(0, -1).every((a) => a.statusCode === 503)).toBe(true);
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
    expect(d.attempts[0]).toMatchObject({ statusCode: null, error: "timed out after 300 ms" });
    expect(d.attempts[0]?.durationMs).toBeGreaterThanOrEqual(290);
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
    const [claimed] = await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE next_attempt_at > now() AND attempts = 0`);
    expect(claimed?.n).toBe(2);
    // The next worker delivers both once the claims lapse.
    await pump(h, () => delivered(rx).size === 2);
    for (const r of rx.received) expect(verifyWebhookSignature({ body: r.body, header: r.headers["entrepot-signature"] as string, secret }).ok).toBe(true);
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
    expect(problemCode(await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["payout.final"] }, gw))).toBe("ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN");
    expect(problemCode(await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["settlement.booked"], filter: { gateway: "stripe" } }, gw))).toBe("ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN");
    expect((await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["settlement.booked"] }, h.keys.finance)).statusCode).toBe(403);
    const mine = await subscribe(h, { url: rx.url, eventTypes: ["settlement.booked"] }, gw);
    const ops = await subscribe(h, { url: `${rx.url}/ops`, eventTypes: ["settlement.booked"] });
    const listed = json<{ items: Array<{ id: string; filter: { gateway: string } }> }>(await h.get("/v1/webhooks/endpoints", gw));
    expect(listed.items.map((e) => e.id)).toEqual([mine.id]);
    expect(listed.items[0]?.filter.gateway).toBe("adyen");
    expect((await h.get(`/v1/webhooks/endpoints/${ops.id}`, gw)).statusCode).toBe(404);
    expect((await h.post(`/v1/webhooks/endpoints/${ops.id}/disable`, {}, gw)).statusCode).toBe(404);
    await book(h, [{ gatewayEventId: "evt-gw-a", settlementId: "ORD-GW-A" }, { gateway: "stripe", gatewayEventId: "evt-gw-s", settlementId: "ORD-GW-S" }]);
    await pump(h, () => rx.received.filter((r) => r.answered === 200).length === 3);
    const gatewaysAt = (path: string) => rx.received.filter((r) => r.path === path).map((r) => (JSON.parse(r.body) as WebhookEventBody).data.gateway).sort();
    expect(gatewaysAt("/hooks")).toEqual(["adyen"]);
    expect(gatewaysAt("/hooks/ops")).toEqual(["adyen", "stripe"]);
    const gwDeliveries = json<{ items: Array<{ subject: string }> }>(await h.get(`/v1/webhooks/endpoints/${mine.id}/deliveries`, gw));
    expect(gwDeliveries.items.map((d) => d.subject)).toEqual(["order:adyen:ORD-GW-A"]);
  });

  it("refuses URLs that point inward unless private addresses are allowed, and names the field", async () => {
    const strict = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    try {
      for (const url of ["http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x", "https://169.254.169.254/latest", "https://localhost/x", "https://user:pw@example.com/x", "ftp://example.com/x", "https://[::ffff:192.168.0.1]/x"]) {
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
