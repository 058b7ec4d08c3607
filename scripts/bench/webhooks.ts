/**
 * Webhook delivery throughput: 10,000 events in the outbox (as the triggers write them) delivered
 * to a local receiver that checks every signature, by the real dispatcher (fan-out, claims,
 * signed POSTs over kept-alive connections, outcomes written through its group commit), until
 * every delivery is recorded as delivered.
 *
 * Figure: events delivered per second, end to end (fan-out to the last outcome committed).
 * Target and why: a marketplace's burst is its booking rate (~2,000 events/s on PostgreSQL, about
 * half on PGlite, see the settlement figures), and each booking announces one event per
 * subscribed endpoint: delivery to one endpoint must keep up with >= 1,000 events/s on
 * PostgreSQL and >= 500/s on PGlite, or a backlog grows during every burst.
 * Standalone: `npx tsx scripts/bench/webhooks.ts [--url postgresql://...]`.
 */
import { newSecretsKey, SecretBox } from "../../service/http/auth/secret-box.js";
import { startDemoReceiver } from "../../service/webhooks/demo-receiver.js";
import { WebhookService } from "../../service/webhooks/index.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, info, runBenchCli, type Figure } from "../lib/figures.js";

const EVENTS = 10_000;

export async function benchWebhooks(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
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

runBenchCli(import.meta.url, "Webhook delivery", benchWebhooks);
