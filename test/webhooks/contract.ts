/**
 * For tests that drive the webhook triggers for real: a tap (a real receiver behind a real
 * endpoint subscribed to every event, and the real dispatcher) that delivers what the triggers
 * wrote, and a check of every body received against the published `webhooks` schemas.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { expect } from "vitest";
import type { SqlRunner } from "../../service/db/sql.js";
import { newSecretsKey, SecretBox } from "../../service/http/auth/secret-box.js";
import { WEBHOOK_EVENT_TYPES, WebhookService, verifyWebhookSignature, type WebhookEventBody } from "../../service/webhooks/index.js";
import { webhooksDocument } from "../../service/webhooks/schemas.js";
import { startReceiver, type Receiver } from "./receiver.js";

type WebhooksObject = Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: object }> } } }>;

/** One validator per event type, compiled from an OpenAPI 3.1 `webhooks` object (JSON Schema 2020-12). */
export function webhookValidators(webhooks: WebhooksObject): Map<string, ValidateFunction> {
  // Formats are not checked by ajv here (no ajv-formats): the instants' pattern holds their form.
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
  const out = new Map<string, ValidateFunction>();
  for (const [type, item] of Object.entries(webhooks)) {
    const schema = item.post?.requestBody?.content?.["application/json"]?.schema;
    if (schema === undefined) throw new Error(`webhooks.${type} has no application/json body`);
    out.set(type, ajv.compile(schema));
  }
  return out;
}

/** The `webhooks` object as /openapi.json serves it (JSON, as a client generator reads it). */
export const publishedWebhooks = (): WebhooksObject => JSON.parse(JSON.stringify(webhooksDocument(WEBHOOK_EVENT_TYPES))) as WebhooksObject;

/** Every body valid for the schema of its own `type`; the types seen, for the caller to check. */
export function expectValidBodies(bodies: readonly WebhookEventBody[], validators = webhookValidators(publishedWebhooks())): Set<string> {
  const seen = new Set<string>();
  for (const b of bodies) {
    const validate = validators.get(b.type);
    expect(validate, `no webhooks entry for ${b.type}`).toBeDefined();
    const ok = validate!(b);
    expect(ok ? [] : validate!.errors, `${b.type} ${JSON.stringify(b)}`).toEqual([]);
    seen.add(b.type);
  }
  return seen;
}

export interface WebhookTap {
  receiver: Receiver;
  endpointId: string;
  /** Delivers every event written so far and not yet received; answers every body received. */
  deliverAll(timeoutMs?: number): Promise<WebhookEventBody[]>;
  close(): Promise<void>;
}

/**
 * Subscribes a real receiver to every event on this database (or to `eventTypes`), as an operator
 * would. Its dispatcher claims every endpoint's due deliveries: on a database with other endpoints,
 * pass the box their secrets are sealed with.
 */
export async function tapWebhooks(sql: SqlRunner, opts: { box?: SecretBox; eventTypes?: string[] } = {}): Promise<WebhookTap> {
  const receiver = await startReceiver();
  const service = new WebhookService({
    sql,
    box: opts.box ?? new SecretBox(newSecretsKey()),
    config: { allowPrivate: true, timeoutMs: 5_000, maxInFlight: 64, maxPerEndpoint: 16, retryDelaysMs: [50, 50, 50] },
    catalogue: { listSellers: () => Promise.resolve([]), listMarkets: () => Promise.resolve([]) },
  });
  const { endpoint, secret } = await service.createEndpoint({ gateway: null, keyId: "test" }, { url: receiver.url, eventTypes: opts.eventTypes ?? ["*"] });
  const bodies = () => receiver.received.filter((r) => r.answered === 200).map((r) => JSON.parse(r.body) as WebhookEventBody);
  return {
    receiver,
    endpointId: endpoint.id,
    async deliverAll(timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      const open = async () =>
        (await sql.q<Array<{ n: number }>>(
          `SELECT (SELECT count(*)::int FROM webhook_events WHERE dispatched_at IS NULL)
                + (SELECT count(*)::int FROM webhook_deliveries WHERE endpoint_id = $1 AND status <> 'delivered') AS n`,
          endpoint.id,
        ))[0]!.n;
      try {
        while ((await open()) > 0) {
          if (Date.now() > until) throw new Error("webhook deliveries did not complete in time");
          await service.dispatcher.tick();
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await service.dispatcher.drain();
      }
      for (const r of receiver.received) expect(verifyWebhookSignature({ body: r.body, header: r.headers["entrepot-signature"] as string, secret })).toMatchObject({ ok: true });
      return bodies();
    },
    async close() {
      service.close();
      await receiver.close();
    },
  };
}
