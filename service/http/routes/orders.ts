/**
 * Delivery evidence of orders (service/settlement/fulfilment.ts): the gateway of an order posts its
 * shipment and delivery (signed, as its settlement events), finance and the gateway read the
 * history, and finance lists the orders past their delivery deadline. Evidence, not money: nothing
 * here books in the journal. A gateway key reaches its own gateway's orders only; another gateway's
 * order answers 404 like a missing one.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { FULFILMENT_STATUSES, MAX_CARRIER_LENGTH, SettlementErrors, TRACKING_NUMBER, type OverdueDelivery } from "../../settlement/index.js";
import { isPositiveInt8 } from "../../db/int8.js";
import { actorOf, assertWritesAs, principalOf, readableGateway, writableGateway } from "../auth/reach.js";
import { TAGS } from "../plugins/docs.js";
import { bearer, bearerOnly, CursorQuery, DateTime, GatewayName, Identifier, Line, problems, SignatureHeaders } from "../schemas/common.js";
import { fulfilmentView, fulfilmentViews, FulfilmentView } from "../schemas/views.js";

const FulfilmentBody = Type.Object(
  {
    gateway: Type.Optional({ ...GatewayName, description: "The order's gateway; default the API key's. An admin key not bound to a gateway names it" }),
    status: Type.Union(FULFILMENT_STATUSES.map((s) => Type.Literal(s)), { description: "shipped, or delivered (then with deliveredAt)" }),
    carrier: Line(MAX_CARRIER_LENGTH, 1, "The carrier, e.g. Cainiao, DHL, USPS"),
    trackingNumber: Type.String({ pattern: TRACKING_NUMBER.source, description: "The carrier's tracking number, 4-40 characters of [A-Za-z0-9-]" }),
    shippedAt: { ...DateTime, description: "When the carrier took the parcel: not in the future, not before the order's capture" },
    deliveredAt: Type.Optional({ ...DateTime, description: "With status delivered (required then): when the parcel was delivered, not before shippedAt, not in the future" }),
  },
  { additionalProperties: false },
);

const OverdueView = Type.Object({
  captureId: Type.String({ description: "The order's capture record (GET /v1/settlements/:id)" }),
  gateway: Type.String(),
  settlementId: Type.String(),
  sellerId: Type.String(),
  capturedAt: DateTime,
  deliveryDeadline: { ...DateTime, description: "The capture's occurredAt + its schedule's deliveryDeadlineDays" },
  latest: Type.Union([FulfilmentView, Type.Null()], { description: "The order's latest evidence (a shipment not yet delivered); null: none" }),
});

function overdueView(o: OverdueDelivery): Static<typeof OverdueView> {
  return {
    captureId: o.captureId,
    gateway: o.gateway,
    settlementId: o.settlementId,
    sellerId: o.sellerId,
    capturedAt: o.capturedAt.toISOString(),
    deliveryDeadline: o.deadline.toISOString(),
    latest: o.latest === null ? null : fulfilmentView(o.latest, true),
  };
}

export async function orderRoutes(app: FastifyInstance): Promise<void> {
  const { settlement } = app.services;

  app.put("/v1/orders/:settlementId/fulfilment", {
    config: { auth: { scopes: ["gateway:write"], signed: true } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Record an order's shipment or delivery (delivery evidence)",
      description:
        "Evidence from the order's gateway, signed as its settlement events; books nothing. Kept per order (gateway, settlementId), append-only: 201 appends the order's next entry (a correction is a new entry; the latest counts), the same body as the latest entry again answers 200 `exists` with it. Under a fee schedule with `autoConfirmFrom: delivery` the order's held proceeds are auto-released `autoConfirmDays` after the latest entry's `deliveredAt`, never while it is not a delivery. 404 ENT_FULFILMENT_ORDER_NOT_FOUND when the gateway has no capture of the order (another gateway's order answers the same); 400 ENT_FULFILMENT_INVALID naming the field for an instant in the future, a shipment before the capture, a delivery before the shipment, a delivered status without deliveredAt or a shipped one with it.",
      security: bearerOnly,
      headers: SignatureHeaders,
      params: Type.Object({ settlementId: Identifier }),
      body: FulfilmentBody,
      response: { 201: Type.Object({ status: Type.String(), fulfilment: FulfilmentView }), 200: Type.Object({ status: Type.String(), fulfilment: FulfilmentView }), ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request, reply) => {
    const { settlementId } = request.params as { settlementId: string };
    const b = request.body as Static<typeof FulfilmentBody>;
    const principal = principalOf(request.principal);
    const gateway = b.gateway ?? writableGateway(principal);
    if (gateway === null) throw SettlementErrors.invalidFulfilment("an API key not bound to a gateway names the order's gateway", { fields: [{ field: "gateway", message: "required for a key not bound to a gateway" }] });
    assertWritesAs(principal, gateway, "gateway");
    const r = await settlement.recordFulfilment(
      {
        gateway,
        settlementId,
        status: b.status,
        carrier: b.carrier,
        trackingNumber: b.trackingNumber,
        shippedAt: new Date(b.shippedAt),
        deliveredAt: b.deliveredAt === undefined ? null : new Date(b.deliveredAt),
      },
      actorOf(request.principal),
    );
    return reply.status(r.status === "created" ? 201 : 200).send({ status: r.status, fulfilment: fulfilmentView(r.fulfilment, true) });
  });

  app.get("/v1/orders/:settlementId/fulfilment", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "An order's delivery evidence, every entry",
      description: "Per gateway, oldest first; `current` marks each gateway's latest entry, the one that counts. A gateway key reads its own gateway's only. 404 ENT_FULFILMENT_ORDER_NOT_FOUND when no capture of the order is visible to the key; an order captured without evidence answers an empty list.",
      security: bearer,
      params: Type.Object({ settlementId: Identifier }),
      response: { 200: Type.Object({ items: Type.Array(FulfilmentView) }), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { settlementId } = request.params as { settlementId: string };
    return { items: fulfilmentViews(await settlement.fulfilments(settlementId, { gateway: readableGateway(principalOf(request.principal)) })) };
  });

  app.get("/v1/orders", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Orders past their delivery deadline (fulfilment=overdue)",
      description:
        "Held captures under a fee schedule with `autoConfirmFrom: delivery` and a `deliveryDeadlineDays`, whose deadline (capture + that many days) is at or before `asOf` (default now), neither released nor wholly refunded, and whose order's latest evidence is no delivery: proceeds the worker will not release, to chase or refund. By capture id, `nextCursor` while a page is full.",
      security: bearer,
      querystring: Type.Object(
        {
          fulfilment: Type.Literal("overdue"),
          asOf: Type.Optional({ ...DateTime, description: "Overdue at this instant; default now" }),
          limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$", description: "Page size, 1-500 (default 100)" })),
          cursor: Type.Optional(CursorQuery),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(OverdueView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as { asOf?: string; limit?: string; cursor?: string };
    if (q.cursor !== undefined && !isPositiveInt8(q.cursor)) throw SettlementErrors.invalidCursor("cursor is not one this API returned", { fields: [{ field: "cursor", message: "invalid" }] });
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const items = await settlement.overdueDeliveries(q.asOf === undefined ? new Date() : new Date(q.asOf), { limit, ...(q.cursor === undefined ? {} : { afterId: q.cursor }) });
    return { items: items.map(overdueView), nextCursor: items.length === limit ? (items[items.length - 1]?.captureId ?? null) : null };
  });
}
