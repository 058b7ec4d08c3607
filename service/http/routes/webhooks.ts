/**
 * Webhook endpoints and their deliveries. Operators (admin) manage every endpoint; a gateway key
 * manages its gateway's endpoints (the owner is the gateway, so every key bound to it manages them),
 * which receive that gateway's settlement events only, and another owner's endpoint answers 404
 * like a missing one. Finance keys read every endpoint, its deliveries and their attempts (a team
 * chasing a missing notification), and change nothing. A signing secret is in the answer of
 * the creation and of each rotation, never again.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import type { Scope } from "../auth/keys.js";
import { principalOf, readableGateway, writableGateway } from "../auth/reach.js";
import { TAGS } from "../plugins/docs.js";
import { bearer, DateTime, GatewayName, Identifier, LimitQuery, problems, SignatureHeaders, Text } from "../schemas/common.js";
import { MAX_ACTIVE_ENDPOINTS_PER_OWNER, WEBHOOK_EVENT_TYPES, WebhookErrors, eventIdText, type EndpointOwner, type WebhookAttempt, type WebhookDelivery, type WebhookEndpoint } from "../../webhooks/index.js";

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const EndpointView = Type.Object({
  id: Type.String({ description: "we_<24 hex>" }),
  url: Type.String(),
  description: Nullable(Type.String()),
  eventTypes: Type.Array(Type.String()),
  filter: Type.Object({ gateway: Nullable(Type.String()), sellerId: Nullable(Type.String()), market: Nullable(Type.String()) }),
  ownerGateway: Nullable(Type.String({ description: "The gateway whose key manages it; null = operators" })),
  status: Type.Union([Type.Literal("active"), Type.Literal("disabled")]),
  previousSecretValidUntil: Nullable(Type.String({ format: "date-time", description: "During a rotation: until when the replaced secret still signs" })),
  createdAt: DateTime,
  updatedAt: DateTime,
});
const endpointView = (e: WebhookEndpoint): Static<typeof EndpointView> => ({
  id: e.id,
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes,
  filter: e.filter,
  ownerGateway: e.ownerGateway,
  status: e.status,
  previousSecretValidUntil: iso(e.previousSecretValidUntil),
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});
const WithSecret = Type.Object({ endpoint: EndpointView, secret: Type.String({ description: "whsec_...: shown once; verifies the Entrepot-Signature header" }) });

const DeliveryView = Type.Object({
  eventId: Type.String({ description: "evt_<id>" }),
  type: Type.String(),
  subject: Type.String({ description: "What the event is about; one endpoint receives one subject's events in order" }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("waiting"), Type.Literal("delivered"), Type.Literal("dead")], {
    description: "pending: due at nextAttemptAt; waiting: behind an open delivery of the same subject; delivered; dead: every attempt failed",
  }),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String({ format: "date-time" })),
  lastAttemptAt: Nullable(Type.String({ format: "date-time" })),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String({ format: "date-time" })),
  createdAt: DateTime,
});
const deliveryView = (d: WebhookDelivery): Static<typeof DeliveryView> => ({
  eventId: eventIdText(d.eventId),
  type: d.type,
  subject: d.subject,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastAttemptAt: iso(d.lastAttemptAt),
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  deliveredAt: iso(d.deliveredAt),
  createdAt: d.createdAt.toISOString(),
});
const AttemptView = Type.Object({
  attempt: Type.Integer(),
  startedAt: DateTime,
  durationMs: Type.Integer(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Type.String()),
});
const attemptView = (a: WebhookAttempt): Static<typeof AttemptView> => ({ ...a, startedAt: a.startedAt.toISOString() });

const EventType = Type.Union([...WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)), Type.Literal("*")]);
const CreateBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: "https URL (http and private addresses only with WEBHOOK_ALLOW_PRIVATE)" }),
    eventTypes: Type.Array(EventType, { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length + 1 }),
    filter: Type.Optional(
      Type.Object(
        {
          gateway: Type.Optional(GatewayName),
          sellerId: Type.Optional({ ...Identifier, description: "A seller that exists (GET /v1/sellers), 1-120 characters of [A-Za-z0-9._:-]" }),
          market: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "A market that exists, ISO 3166 alpha-2" })),
        },
        { additionalProperties: false },
      ),
    ),
    description: Type.Optional(Text(200)),
  },
  { additionalProperties: false },
);
const EndpointId = Type.Object({ id: Type.String({ pattern: "^we_[0-9a-f]{24}$" }) });
const DeliveryParams = Type.Object({ id: Type.String({ pattern: "^we_[0-9a-f]{24}$" }), eventId: Type.String({ pattern: "^evt_[1-9][0-9]{0,17}$", description: "evt_<id>" }) });
const RotateBody = Type.Object(
  { previousValidUntil: Type.Optional({ ...DateTime, description: "Until when the replaced secret keeps signing too (default 24 h, at most 30 days; now, or up to 5 minutes before the service's clock: no overlap)" }) },
  { additionalProperties: false },
);
const EventCursor = (description: string) => Type.String({ pattern: "^evt_[1-9][0-9]{0,17}$", description });
const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal("pending"), Type.Literal("waiting"), Type.Literal("delivered"), Type.Literal("dead")])),
    cursor: Type.Optional(EventCursor("nextCursor of the previous page")),
    before: Type.Optional(EventCursor("Deliveries of events older than this one: the same as cursor (kept for earlier clients; not with cursor)")),
    limit: Type.Optional(LimitQuery),
  },
  { additionalProperties: false },
);

const manage: { auth: { scopes: Scope[] } } = { auth: { scopes: ["admin", "gateway:write"] } };
/** Reads: finance keys too (never a secret: no view carries one). */
const read: { auth: { scopes: Scope[] } } = { auth: { scopes: ["admin", "gateway:write", "finance:read"] } };

/** Who manages: an operator, or a gateway (its own endpoints). */
function ownerOf(request: FastifyRequest): EndpointOwner {
  const p = principalOf(request.principal);
  return { gateway: writableGateway(p), keyId: p.keyId };
}
/** Who reads: a finance or admin key every endpoint, a gateway key its gateway's (reach.ts readableGateway). */
function readerOf(request: FastifyRequest): EndpointOwner {
  const p = principalOf(request.principal);
  return { gateway: readableGateway(p), keyId: p.keyId };
}
const eventNumber = (text: string) => BigInt(text.slice(4));

export async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const { webhooks } = app.services;

  app.post("/v1/webhooks/endpoints", {
    config: manage,
    schema: {
      // A gateway key signs these (plugins/auth.ts mustSign); an admin key does not.
      headers: SignatureHeaders,
      tags: [TAGS.webhooks],
      summary: "Subscribe an endpoint",
      description: `Events of the listed types (or \`*\`), optionally filtered by gateway, seller and market, are POSTed to \`url\`, signed with the returned secret (shown once). A filter's seller and market must exist (404 ENT_SETTLEMENT_UNKNOWN_SELLER naming \`filter.sellerId\`, 400 ENT_SETTLEMENT_UNKNOWN_MARKET naming \`filter.market\`); to a gateway key a seller that does not accept its gateway is that same 404, as for a seller that does not exist. A gateway key subscribes to its own gateway's settlement events only (\`filter.gateway\` is its gateway). An owner (a gateway, or the operators) has at most ${MAX_ACTIVE_ENDPOINTS_PER_OWNER} active endpoints: one more is 409 ENT_WEBHOOK_ENDPOINT_LIMIT (\`details.limit\`).`,
      security: bearer,
      body: CreateBody,
      response: { 201: WithSecret, ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request, reply) => {
    const b = request.body as Static<typeof CreateBody>;
    const r = await webhooks.createEndpoint(ownerOf(request), {
      url: b.url,
      eventTypes: b.eventTypes,
      ...(b.filter === undefined ? {} : { filter: b.filter }),
      ...(b.description === undefined ? {} : { description: b.description }),
    });
    return reply.status(201).send({ endpoint: endpointView(r.endpoint), secret: r.secret });
  });

  app.get("/v1/webhooks/endpoints", {
    config: read,
    schema: {
      tags: [TAGS.webhooks],
      summary: "List endpoints",
      description: "Oldest first. An admin or finance key lists every endpoint, a gateway key its gateway's. Never a secret.",
      security: bearer,
      response: { 200: Type.Object({ items: Type.Array(EndpointView) }), ...problems(401, 403, 429) },
    },
  }, async (request) => ({ items: (await webhooks.listEndpoints(readerOf(request))).map(endpointView) }));

  app.get("/v1/webhooks/endpoints/:id", {
    config: read,
    schema: {
      tags: [TAGS.webhooks],
      summary: "Get an endpoint",
      description: "An admin or finance key reads any endpoint; a gateway key its gateway's (another one answers 404 like a missing one). Never a secret.",
      security: bearer,
      params: EndpointId,
      response: { 200: EndpointView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => endpointView(await webhooks.getEndpoint(readerOf(request), (request.params as { id: string }).id)));

  for (const [action, status] of [["disable", "disabled"], ["enable", "active"]] as const) {
    app.post(`/v1/webhooks/endpoints/:id/${action}`, {
      config: manage,
      schema: {
        // A gateway key signs these (plugins/auth.ts mustSign); an admin key does not.
        headers: SignatureHeaders,
        tags: [TAGS.webhooks],
        summary: action === "disable" ? "Disable an endpoint" : "Enable an endpoint",
        description: action === "disable"
          ? "No new deliveries are made to it; its pending deliveries wait, and go out when it is enabled again. Events raised while it is disabled are never delivered to it, not even after it is enabled again (nor can a test event be sent to it: ENT_WEBHOOK_ENDPOINT_DISABLED)."
          : `Deliveries resume, pending ones first. Refused with 409 ENT_WEBHOOK_ENDPOINT_LIMIT (\`details.limit\`) when its owner has ${MAX_ACTIVE_ENDPOINTS_PER_OWNER} active endpoints already.`,
        security: bearer,
        params: EndpointId,
        response: { 200: EndpointView, ...problems(400, 401, 403, 404, 409, 429) },
      },
    }, async (request) => endpointView(await webhooks.setStatus(ownerOf(request), (request.params as { id: string }).id, status)));
  }

  app.post("/v1/webhooks/endpoints/:id/rotate-secret", {
    config: manage,
    schema: {
      // A gateway key signs these (plugins/auth.ts mustSign); an admin key does not.
      headers: SignatureHeaders,
      tags: [TAGS.webhooks],
      summary: "Rotate an endpoint's signing secret",
      description: "Answers the new secret once. Until `previousValidUntil` every delivery carries two `v1=` signatures, one per secret, so the receiver can switch at its own pace. Refused with 409 ENT_WEBHOOK_ROTATION_IN_PROGRESS while the secret a previous rotation replaced still signs (the problem says until when, `details.previousSecretValidUntil`): rotate again after that.",
      security: bearer,
      params: EndpointId,
      body: Type.Optional(RotateBody),
      response: { 200: WithSecret, ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request) => {
    const b = (request.body ?? {}) as Static<typeof RotateBody>;
    const r = await webhooks.rotateSecret(ownerOf(request), (request.params as { id: string }).id, b.previousValidUntil === undefined ? undefined : new Date(b.previousValidUntil));
    return { endpoint: endpointView(r.endpoint), secret: r.secret };
  });

  app.post("/v1/webhooks/endpoints/:id/test", {
    config: manage,
    schema: {
      // A gateway key signs these (plugins/auth.ts mustSign); an admin key does not.
      headers: SignatureHeaders,
      tags: [TAGS.webhooks],
      summary: "Send a test event",
      description: "Queues a `webhook.test` event for this endpoint alone, delivered like any other. A disabled endpoint answers 409 ENT_WEBHOOK_ENDPOINT_DISABLED.",
      security: bearer,
      params: EndpointId,
      response: { 202: Type.Object({ eventId: Type.String() }), ...problems(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => reply.status(202).send({ eventId: await webhooks.sendTest(ownerOf(request), (request.params as { id: string }).id) }));

  app.get("/v1/webhooks/endpoints/:id/deliveries", {
    config: read,
    schema: {
      tags: [TAGS.webhooks],
      summary: "An endpoint's deliveries",
      description:
        "Newest first (by event id); `?status=dead` is the dead-letter list. Cursor pagination (`nextCursor`: pass it as `cursor` for the next page; null when there is none, so a full last page is not followed by an empty one); `limit` 1-1000 (default 100). `before=<eventId>` is the same as `cursor` (kept for earlier clients); both at once is 400 ENT_WEBHOOK_INVALID_REQUEST naming `before`.",
      security: bearer,
      params: EndpointId,
      querystring: DeliveriesQuery,
      response: {
        200: Type.Object({ items: Type.Array(DeliveryView), nextCursor: Type.Union([Type.String({ description: "evt_<id>: the last eventId of this page" }), Type.Null()]) }),
        ...problems(400, 401, 403, 404, 429),
      },
    },
  }, async (request) => {
    const q = request.query as Static<typeof DeliveriesQuery>;
    if (q.cursor !== undefined && q.before !== undefined) {
      throw WebhookErrors.invalid("before: the same as cursor; send one of them", { fields: [{ field: "before", message: "not with cursor" }] });
    }
    const after = q.cursor ?? q.before;
    const page = await webhooks.listDeliveries(readerOf(request), (request.params as { id: string }).id, {
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(after === undefined ? {} : { before: eventNumber(after) }),
      ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
    });
    return { items: page.items.map(deliveryView), nextCursor: page.nextCursor === null ? null : eventIdText(page.nextCursor) };
  });

  app.get("/v1/webhooks/endpoints/:id/deliveries/:eventId", {
    config: read,
    schema: {
      tags: [TAGS.webhooks],
      summary: "One delivery with its event and every attempt",
      description: "Each attempt's status code, latency and error. Read by admin and finance keys, and by a gateway key for its gateway's endpoints.",
      security: bearer,
      params: DeliveryParams,
      response: {
        200: Type.Object({
          delivery: DeliveryView,
          event: Type.Object({ id: Type.String(), type: Type.String(), createdAt: DateTime, subject: Type.String(), data: Type.Record(Type.String(), Type.Unknown()) }),
          attempts: Type.Array(AttemptView),
        }),
        ...problems(400, 401, 403, 404, 429),
      },
    },
  }, async (request) => {
    const p = request.params as Static<typeof DeliveryParams>;
    const d = await webhooks.getDelivery(readerOf(request), p.id, eventNumber(p.eventId));
    return { delivery: deliveryView(d.delivery), event: d.event, attempts: d.attempts.map(attemptView) };
  });

  app.post("/v1/webhooks/endpoints/:id/deliveries/:eventId/redeliver", {
    config: manage,
    schema: {
      // A gateway key signs these (plugins/auth.ts mustSign); an admin key does not.
      headers: SignatureHeaders,
      tags: [TAGS.webhooks],
      summary: "Redeliver an event now",
      description: "One more attempt, whatever the delivery's state (a dead delivery that fails again stays dead; a waiting one jumps its subject's line, and only it: later events of the subject still wait for the earlier ones). While an attempt of this delivery is in flight, answers 409 ENT_WEBHOOK_DELIVERY_IN_FLIGHT (`details.claimedUntil`: the latest the attempt can hold it); redeliver once its outcome is recorded. Each request sent is its own attempt, numbered in `Entrepot-Delivery-Attempt`.",
      security: bearer,
      params: DeliveryParams,
      response: { 202: DeliveryView, ...problems(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => {
    const p = request.params as Static<typeof DeliveryParams>;
    return reply.status(202).send(deliveryView(await webhooks.redeliver(ownerOf(request), p.id, eventNumber(p.eventId))));
  });
}
