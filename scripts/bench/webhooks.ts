/**
 * Webhook delivery throughput, two figures, both by the real dispatcher (fan-out, claims, signed
 * POSTs over kept-alive connections, outcomes written through its group commit) to a local
 * receiver that checks every signature.
 *
 * 1. Burst: 10,000 events in the outbox (as the triggers write them), one per order, ticked in a
 *    loop with 64 requests per endpoint, until every delivery is recorded as delivered. Figure:
 *    events delivered per second, end to end (fan-out to the last outcome committed).
 * 2. Backlog, shaped like production: 3 events per order (booked, anchored, final: one subject,
 *    delivered in order, so the later two wait behind the first), 240,000 deliveries queued behind
 *    165,000 delivered ones, the production defaults (16 requests per endpoint, 64 in all) and the
 *    worker's loop (`startLoop`, a tick every 250 ms, as service/workers.ts runs it) for a fixed
 *    window. Figure: deliveries recorded delivered per second over the window and the drain of
 *    what was in flight at its end. The receiver checks each order's events arrive in order.
 *
 * Target and why: a marketplace's burst is its booking rate (~2,000 events/s on PostgreSQL, about
 * half on PGlite, see the settlement figures), and each booking announces one event per
 * subscribed endpoint: delivery to one endpoint must keep up with >= 1,000 events/s on
 * PostgreSQL and >= 500/s on PGlite, or a backlog grows during every burst. A backlog drains at
 * most at 16 requests per 50 ms, 320/s: its target is 90% of that (288/s, both engines), the
 * dispatcher's own work (claims, fan-out, outcome writes, the pause between ticks) taking at most a
 * tenth of an endpoint's slots. Filling the backlog takes ~10 s on PostgreSQL, over a minute on PGlite.
 * Standalone: `npx tsx scripts/bench/webhooks.ts [--url postgresql://...] [--seconds N]` (N: the
 * backlog's window, default 8).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { newSecretsKey, SecretBox } from "../../service/http/auth/secret-box.js";
import type { SqlRunner } from "../../service/db/sql.js";
import { startLoop } from "../../service/loop.js";
import { startDemoReceiver } from "../../service/webhooks/demo-receiver.js";
import { verifyWebhookSignature, WebhookService, type WebhookEventBody } from "../../service/webhooks/index.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, info, runBenchCli, type Figure } from "../lib/figures.js";

const EVENTS = 10_000;
/** The backlog: orders already delivered (3 events each), and orders queued (3 each). */
const DELIVERED_ORDERS = 55_000;
const QUEUED_ORDERS = 80_000;
const EVENT_TYPES = ["settlement.booked", "settlement.anchored", "settlement.final"];
/** The backlog's receiver answers each request this long after reading it (a receiver across the internet). */
const RECEIVER_LATENCY_MS = 50;
const PER_ENDPOINT = 16;

/** A receiver that checks each signature and answers 200 after `latencyMs`, as a remote one would. */
async function startSlowReceiver(latencyMs: number, onEvent: (event: WebhookEventBody, signatureOk: boolean) => void): Promise<{ url: string; setSecret(s: string): void; close(): Promise<void> }> {
  let secret = "";
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const header = req.headers["entrepot-signature"];
      onEvent(JSON.parse(body) as WebhookEventBody, verifyWebhookSignature({ body, header: typeof header === "string" ? header : undefined, secret }).ok);
      setTimeout(() => res.writeHead(200).end(), latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`,
    setSecret: (s) => (secret = s),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export async function benchWebhooks(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  return [...(await benchBurst(opts)), ...(await benchWebhookBacklog(opts))];
}

async function benchBurst(opts: { databaseUrl?: string }): Promise<Figure[]> {
  const target = await freshTarget(opts.databaseUrl, 16);
  let received = 0;
  let bad = 0;
  const receiver = await startDemoReceiver((_e, ok) => {
    received++;
    if (!ok) bad++;
  });
  const webhooks = new WebhookService({
    sql: target.db.sql,
    box: new SecretBox(newSecretsKey()),
    config: { allowPrivate: true, timeoutMs: 10_000, maxInFlight: 64, maxPerEndpoint: 64 },
    // Its one endpoint has no filter: nothing to check a seller or market against.
    catalogue: { listSellers: () => Promise.resolve([]), listMarkets: () => Promise.resolve([]) },
  });
  try {
    const where = target.db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const { secret } = await webhooks.createEndpoint({ gateway: null, keyId: "bench" }, { url: receiver.url, eventTypes: ["settlement.booked"] });
    receiver.setSecret(secret);
    // The outbox as the booking trigger fills it: one event per settlement, each its own order.
    await target.db.sql.q(
      `INSERT INTO webhook_events (type, subject, gateway, seller_id, market, data)
       SELECT 'settlement.booked', 'order:adyen:ORD-' || g, 'adyen', 'S-POP-SZ-01', 'BR',
              jsonb_build_object('eventKey', 'settlement:adyen:evt-' || g, 'eventType', 'capture', 'gateway', 'adyen', 'gatewayEventId', 'evt-' || g,
                                 'orderId', 'ORD-' || g, 'sellerId', 'S-POP-SZ-01', 'market', 'BR', 'program', 'pop', 'journalTransactionId', g::text,
                                 'bookedAt', now(), 'effectiveAt', now())
         FROM generate_series(1, $1::int) g`,
      EVENTS,
    );
    const started = performance.now();
    for (;;) {
      await webhooks.dispatcher.tick();
      const [row] = await target.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`);
      if ((row?.n ?? 0) >= EVENTS) break;
      if (performance.now() - started > 300_000) throw new Error(`webhook bench: ${row?.n ?? 0} of ${EVENTS} delivered after 300 s`);
    }
    await webhooks.dispatcher.drain();
    const elapsed = (performance.now() - started) / 1000;
    if (bad > 0) throw new Error(`webhook bench: ${bad} deliveries failed their signature check`);
    return [
      figure(`webhooks: ${EVENTS.toLocaleString("en-US")} events delivered to a local receiver, ${where}`, EVENTS / elapsed, "events/s", ">=", where === "PostgreSQL" ? 1_000 : 500),
      info(`webhooks: requests received (at-least-once; ${EVENTS.toLocaleString("en-US")} events), ${where}`, received, "requests"),
    ];
  } finally {
    webhooks.close();
    await receiver.close();
    await target.close();
  }
}

/** The outbox rows of orders `from`..`to`, 3 events each: event `t` of order `o` is the `t`-th of its subject. */
const ORDER_EVENTS = `INSERT INTO webhook_events (type, subject, gateway, seller_id, market, data, created_at, dispatched_at)
   SELECT ($3::text[])[t], 'order:adyen:ORD-' || o, 'adyen', 'S-POP-SZ-01', 'BR',
          jsonb_build_object('eventKey', 'settlement:adyen:evt-' || o || '-' || t, 'eventType', 'capture', 'gateway', 'adyen', 'gatewayEventId', 'evt-' || o || '-' || t,
                             'orderId', 'ORD-' || o, 'sellerId', 'S-POP-SZ-01', 'market', 'BR', 'program', 'pop', 'journalTransactionId', o::text,
                             'bookedAt', now(), 'effectiveAt', now()),
          now() - interval '1 day', now() - interval '1 day'
     FROM generate_series(1, 3) t, generate_series($1::int, $2::int) o
    ORDER BY t, o`;

/**
 * The backlog: the first orders' events all delivered (one attempt each), then the queue as fan-out
 * leaves it: each later order's first event pending (due since it was written), the two after it waiting.
 */
async function fillBacklog(sql: SqlRunner, endpointId: string): Promise<void> {
  await sql.q(ORDER_EVENTS, 1, DELIVERED_ORDERS, EVENT_TYPES);
  await sql.q(
    `INSERT INTO webhook_deliveries (endpoint_id, event_id, subject, status, attempts, next_attempt_at, last_attempt_at, last_status_code, delivered_at, created_at)
     SELECT $1, id, subject, 'delivered', 1, created_at, created_at, 200, created_at, created_at FROM webhook_events ORDER BY id`,
    endpointId,
  );
  await sql.q(`INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, started_at, duration_ms, status_code) SELECT endpoint_id, event_id, 1, created_at, 3, 200 FROM webhook_deliveries`);
  const [first] = await sql.q<Array<{ id: string }>>(`SELECT (coalesce(max(id), 0) + 1)::text AS id FROM webhook_events`);
  await sql.q(ORDER_EVENTS, DELIVERED_ORDERS + 1, DELIVERED_ORDERS + QUEUED_ORDERS, EVENT_TYPES);
  await sql.q(
    `INSERT INTO webhook_deliveries (endpoint_id, event_id, subject, status, attempts, next_attempt_at, created_at)
     SELECT $1, id, subject, CASE WHEN type = 'settlement.booked' THEN 'pending' ELSE 'waiting' END, 0, created_at + id * interval '1 microsecond', created_at
       FROM webhook_events WHERE id >= $2::bigint ORDER BY id`,
    endpointId, BigInt(first?.id ?? "1"),
  );
  await sql.q(`VACUUM ANALYZE webhook_events`);
  await sql.q(`VACUUM ANALYZE webhook_deliveries`);
  await sql.q(`VACUUM ANALYZE webhook_attempts`);
}

export async function benchWebhookBacklog(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const windowMs = (opts.seconds ?? 8) * 1000;
  const target = await freshTarget(opts.databaseUrl, 16);
  const where = target.db.kind === "postgres" ? "PostgreSQL" : "PGlite";
  let received = 0;
  let bad = 0;
  let outOfOrder = 0;
  const lastOfSubject = new Map<string, number>();
  const receiver = await startSlowReceiver(RECEIVER_LATENCY_MS, (e, ok) => {
    received++;
    if (!ok) bad++;
    const id = Number(e.id.slice(4));
    if (id < (lastOfSubject.get(e.subject) ?? 0)) outOfOrder++;
    lastOfSubject.set(e.subject, id);
  });
  // The production defaults (service/config.ts): 64 requests in all, 16 per endpoint, 10 s deadline.
  const webhooks = new WebhookService({
    sql: target.db.sql,
    box: new SecretBox(newSecretsKey()),
    config: { allowPrivate: true, timeoutMs: 10_000, maxInFlight: 64, maxPerEndpoint: PER_ENDPOINT },
    catalogue: { listSellers: () => Promise.resolve([]), listMarkets: () => Promise.resolve([]) },
  });
  try {
    const { endpoint, secret } = await webhooks.createEndpoint({ gateway: null, keyId: "bench" }, { url: receiver.url, eventTypes: EVENT_TYPES });
    receiver.setSecret(secret);
    const sql = target.db.sql;
    await fillBacklog(sql, endpoint.id);
    const queued = QUEUED_ORDERS * EVENT_TYPES.length;
    const history = DELIVERED_ORDERS * EVENT_TYPES.length;

    const started = performance.now();
    const loop = startLoop("webhooks", 250, () => webhooks.dispatcher.tick(), { error: (obj, msg) => console.error(msg, obj) });
    await new Promise((r) => setTimeout(r, windowMs));
    await loop.stop();
    await webhooks.dispatcher.drain();
    const elapsed = (performance.now() - started) / 1000;
    const [row] = await sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`);
    const delivered = (row?.n ?? 0) - history;
    if (bad > 0) throw new Error(`webhook backlog bench: ${bad} deliveries failed their signature check`);
    if (outOfOrder > 0) throw new Error(`webhook backlog bench: ${outOfOrder} events arrived before an earlier event of their order`);
    const label = `${queued.toLocaleString("en-US")} queued (3 per order) behind ${history.toLocaleString("en-US")} delivered, ${PER_ENDPOINT} per endpoint, receiver answering in ${RECEIVER_LATENCY_MS} ms`;
    // 16 requests at a time, each at least 50 ms: at most 320/s. The dispatcher's own work (claims,
    // fan-out, outcome writes, the pause between ticks) may take a tenth of that.
    const ceiling = (PER_ENDPOINT * 1000) / RECEIVER_LATENCY_MS;
    return [
      figure(`webhooks: backlog of ${label}, deliveries/s, ${where}`, delivered / elapsed, "deliveries/s", ">=", Math.round(0.9 * ceiling)),
      info(`webhooks: backlog requests received per delivery recorded (at-least-once), ${where}`, delivered > 0 ? Math.round((received / delivered) * 1000) / 1000 : 0, "x"),
    ];
  } finally {
    webhooks.close();
    await receiver.close();
    await target.close();
  }
}

runBenchCli(import.meta.url, "Webhook delivery", benchWebhooks);
