/**
 * Gateway settlement events: one (`POST /v1/settlements/events`) or many
 * (`POST /v1/settlements/events/batch`, answered per item by index, TigerBeetle-style: a replay
 * is `exists`, one bad item never fails the others). Both are signed by the gateway, and a gateway
 * key posts only events naming its own gateway (auth/reach.ts): the event id namespace
 * (`settlement:<gateway>:<gatewayEventId>`, refunds' originalEventId, quotes) is then the key's own. Reads
 * through a gateway key see that gateway's records only; another gateway's answers as missing.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { Errors } from "../../errors.js";
import { CHARGE_KINDS, errorItem, itemError, MAX_SELLER_GATEWAYS, SettlementErrors, unknownSellerOfCapture, EVENT_TYPES, MAX_WEIGHT_GRAMS, STORAGE_RATE, weightBandsFromJson, PROGRAMS, RETURN_REASONS, TAX_SUPPLIES, type ChargeKind, type FeeSchedule, type Seller, type SettlementEvent, type SettlementItemResult, type SettlementResult, type TaxRule } from "../../settlement/index.js";
import { Amount, SignatureHeaders, bearer, bearerOnly, CursorQuery, CurrencyCode, DateTime, GatewayName, Identifier, Line, NonNegativeAmount, problems, SettlementRef, Text } from "../schemas/common.js";
import { batchItemView, BatchItemView, feeScheduleView, fulfilmentViews, FulfilmentView, FeeScheduleView, sellerChargeView, SellerChargeView, sellerStatementCsv, sellerStatementLines, sellerStatementView, SellerStatementView, sellerGatewaysView, SellerGatewaysView, sellerView, SellerView, SettlementResultView, settlementResultView, settlementView, taxReturnCsv, taxReturnView, TaxReturnView, taxRuleView, TaxRuleView } from "../schemas/views.js";
import { textPdf } from "../pdf.js";
import { TAGS } from "../plugins/docs.js";
import { namingQuery, periodOf, wantsCsv } from "../query.js";
import { actorOf, assertWritesAs, principalOf, readableGateway, writableGateway } from "../auth/reach.js";
import type { Principal } from "../auth/keys.js";
import { isAppError, type AppError } from "../../errors.js";
import { validationProblem } from "../plugins/errors.js";

export const EventBody = Type.Object(
  {
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)), { description: "Event type" }),
    gateway: GatewayName,
    gatewayEventId: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,120}$", description: "The gateway's id of this event: the idempotency key (with the gateway)" }),
    settlementId: Identifier,
    sellerId: { ...Identifier, description: "A seller that accepts events from `gateway` (its `gateways`, PUT /v1/sellers/:id/gateways): a capture for one that does not books nothing: 403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED naming sellerId to an admin or finance:read key, to a gateway key exactly the unknown seller's 404 ENT_SETTLEMENT_UNKNOWN_SELLER. A follow-up names its capture's seller and stays with the capture's gateway whatever the seller's set is now" },
    market: Type.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166 alpha-2 market" }),
    category: Type.String({ pattern: "^[a-z0-9_-]{1,50}$" }),
    currency: Type.String({ pattern: "^[A-Za-z]{3}$", description: "Buyer currency, ISO 4217" }),
    amount: Type.Optional({ ...NonNegativeAmount, description: "Gross of the event in its minor units: > 0 for a capture, refund, chargeback or chargeback_reversal; \"0\" or absent for a fee_adjustment, release or reserve_release" }),
    gatewayFee: Type.Optional(Amount),
    occurredAt: DateTime,
    fxQuoteId: Type.Optional(Identifier),
    originalEventId: Type.Optional(Identifier),
    supplyPrice: Type.Optional(NonNegativeAmount),
    listingPrice: Type.Optional({ ...NonNegativeAmount, description: "Seller-priced programs (POP, semi and overseas hosting), capture only: the price the seller listed the order at, tax included, in listingCurrency minor units. The seller's proceeds are then fixed in that currency; the checkout FX is the platform's." }),
    listingCurrency: Type.Optional(Type.String({ pattern: "^[A-Z]{3}$", description: "USD or the seller's payout currency; with listingPrice" })),
    shipFrom: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "Captures: the country the goods ship from (an overseas warehouse's): an assigned ISO 3166-1 alpha-2 code, or XI (Northern Ireland); another code (EL, UK: use GR, GB; ZZ) is 400 ENT_SETTLEMENT_INVALID_EVENT naming shipFrom. Monaco (MC) ships from inside France's VAT territory. The market itself (or, for an EU market, any EU state) makes the sale a domestic supply for tax; absent or elsewhere, an import. A domestic supply no rule of the market covers (Brazil's rules tax imports only) is 422 ENT_SETTLEMENT_NO_TAX_RULE naming market and shipFrom." })),
    shipToRegion: Type.Optional(Type.String({ pattern: "^[A-Z]{2}-[A-Z0-9]{1,3}$", description: "Captures: the ISO 3166-2 subdivision the goods ship to (the buyer's state), which chooses its state taxes: required in markets that levy them (US state sales tax, Brazil's ICMS), e.g. US-CA, BR-SP. Spanish, US and Brazilian codes are checked against ISO 3166-2's list (400 ENT_SETTLEMENT_INVALID_EVENT naming shipToRegion otherwise); a Spanish province is inside its community (ES-TF and ES-GC are the Canary Islands, ES-CN)." })),
    shipping: Type.Optional({ ...NonNegativeAmount, description: "Captures: the part of amount the buyer paid for shipping, in its minor units. A tax rule may leave shipping untaxed, and the EU's IOSS band is measured without it." }),
    weightGrams: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WEIGHT_GRAMS, description: "Captures: the parcel's weight in grams. Required when the seller's fee schedule prices logistics, warehousing or fulfilment by weight band (else 422 ENT_SETTLEMENT_WEIGHT_REQUIRED); the band applied is in the breakdown's feeBands" })),
    returnReason: Type.Optional(Type.Union(RETURN_REASONS.map((r) => Type.Literal(r)), { description: "Refunds: why the goods came back. In full hosting a return is the platform's (the goods go back into its stock) unless `supplier_defect`: then the supplier repays its price pro rata." })),
  },
  { additionalProperties: false, $id: "SettlementEvent" },
);
type EventBody = Static<typeof EventBody>;

export function toEvent(b: EventBody): SettlementEvent {
  return {
    type: b.type,
    gateway: b.gateway,
    gatewayEventId: b.gatewayEventId,
    settlementId: b.settlementId,
    sellerId: b.sellerId,
    market: b.market,
    category: b.category,
    currency: b.currency,
    amount: BigInt(b.amount ?? "0"),
    gatewayFee: BigInt(b.gatewayFee ?? "0"),
    occurredAt: new Date(b.occurredAt),
    ...(b.fxQuoteId === undefined ? {} : { fxQuoteId: b.fxQuoteId }),
    ...(b.originalEventId === undefined ? {} : { originalEventId: b.originalEventId }),
    ...(b.supplyPrice === undefined ? {} : { supplyPrice: BigInt(b.supplyPrice) }),
    ...(b.listingPrice === undefined ? {} : { listingPrice: BigInt(b.listingPrice) }),
    ...(b.listingCurrency === undefined ? {} : { listingCurrency: b.listingCurrency }),
    ...(b.returnReason === undefined ? {} : { returnReason: b.returnReason }),
    ...(b.shipFrom === undefined ? {} : { shipFrom: b.shipFrom }),
    ...(b.shipToRegion === undefined ? {} : { shipToRegion: b.shipToRegion }),
    ...(b.shipping === undefined ? {} : { shipping: BigInt(b.shipping) }),
    ...(b.weightGrams === undefined ? {} : { weightGrams: b.weightGrams }),
  };
}

const ListQuery = Type.Object(
  {
    settlementId: Type.Optional({ ...Identifier, description: "The marketplace order id" }),
    sellerId: Type.Optional(Identifier),
    gateway: Type.Optional(GatewayName),
    gatewayEventId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9._:~-]{1,120}$", description: "The gateway's event id, or a system event's (`auto-release~<capture record id>`)" })),
    market: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166 alpha-2 market" })),
    currency: Type.Optional(Type.String({ pattern: "^[A-Z]{3}$", description: "Buyer currency, ISO 4217" })),
    type: Type.Optional(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)), { description: "Event type" })),
    from: Type.Optional({ ...DateTime, description: "occurredAt at or after" }),
    to: Type.Optional({ ...DateTime, description: "occurredAt before (exclusive)" }),
    limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$", description: "Page size, 1-500 (default 50)" })),
    cursor: Type.Optional(CursorQuery),
  },
  { additionalProperties: false },
);

/** Whether an RFC 7240 Prefer header asks for `return=minimal` (preferences are comma-separated, case-insensitive). */
function prefersMinimal(prefer: string | string[] | undefined): boolean {
  const all = Array.isArray(prefer) ? prefer.join(",") : (prefer ?? "");
  return all.split(",").some((p) => /^\s*return\s*=\s*"?minimal"?\s*(;|$)/i.test(p));
}

/** Field errors a batch item lists at most (README, POST /v1/settlements/events/batch). */
const MAX_ITEM_FIELDS = 10;

/**
 * The batch body's schema failures (the route attaches them instead of answering 400), split: one
 * of the envelope (no `events`, not an array, too many, a field beside it) fails the request; one
 * inside an event fails that event alone, as its problem naming `events.<i>.<field>`.
 */
function itemSchemaErrors(request: FastifyRequest): Map<number, AppError> {
  const failed = request.validationError;
  if (failed === undefined) return new Map();
  // fastify stops at a failed body before the headers, which is safe here: the route's headers are
  // optional strings, and the auth plugin has checked the signature headers before validation.
  if (failed.validationContext !== "body") throw validationProblem(failed);
  const byItem = new Map<number, unknown[]>();
  const envelope: unknown[] = [];
  for (const issue of failed.validation as Array<{ instancePath: string }>) {
    const item = /^\/events\/(\d+)(?:\/|$)/.exec(issue.instancePath);
    if (item === null) envelope.push(issue);
    else {
      const issues = byItem.get(Number(item[1]));
      if (issues === undefined) byItem.set(Number(item[1]), [issue]);
      else issues.push(issue);
    }
  }
  // A failed envelope (too many events, a field beside them) is named alone: listing every item's
  // errors too made 1001 empty events a 509 KB answer.
  if (envelope.length > 0) throw validationProblem({ validation: envelope, validationContext: "body" });
  // Each item lists a bounded number of its field errors (its message counts them all): 1000 items
  // of 110 unknown fields each were 78 MB of errors.
  return new Map([...byItem].map(([index, issues]) => [index, validationProblem({ validation: issues, validationContext: "body" }, MAX_ITEM_FIELDS)]));
}

/**
 * Whether a refusal is kept from this caller: a gateway key (one that reads its own gateway's records
 * only) is answered for a seller that does not accept its gateway exactly as for an unknown seller
 * (404 ENT_SETTLEMENT_UNKNOWN_SELLER naming sellerId), since another party's records answer as missing
 * ones and the 403 would tell it which seller ids exist. Admin and finance:read keys, which list the
 * sellers anyway, get the precise 403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED.
 */
function concealsSellers(principal: Principal): boolean {
  return readableGateway(principal) !== null;
}

const isSellerNotAccepting = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === SettlementErrors.sellerGatewayNotAllowed.code;

export async function settlementRoutes(app: FastifyInstance): Promise<void> {
  const { metrics, services } = app;
  const batchMax = app.appConfig.http.batchMaxItems;
  app.addSchema(EventBody);

  const count = (type: string, r: SettlementItemResult) => {
    metrics.settlementEvents.inc({ type, result: r.status === "error" ? r.error.code : r.status });
    if (r.status === "created") {
      metrics.ledgerTransactions.inc();
      metrics.ledgerPostings.inc(r.transaction.postings.length);
    }
  };

  app.post("/v1/settlements/events", {
    config: { auth: { scopes: ["gateway:write"], signed: true } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Post one settlement event",
      description: "Books the event as one balanced journal transaction (FX converted with evidence, program fees and taxes applied). Idempotent on (gateway, gatewayEventId): a replay answers 200 with status `exists` and the original result; the same id with another body is ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT. A capture for a seller that does not accept the event's gateway books nothing: 403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED to an admin key (posting as that gateway too); to a gateway key the answer of an unknown seller word for word (404 ENT_SETTLEMENT_UNKNOWN_SELLER naming sellerId), so it cannot tell which seller ids exist.",
      security: bearerOnly,
      headers: SignatureHeaders,
      body: Type.Ref("SettlementEvent"),
      response: { 201: SettlementResultView, 200: SettlementResultView, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const body = request.body as EventBody;
    try {
      const principal = principalOf(request.principal);
      assertWritesAs(principal, body.gateway, "gateway");
      let result: SettlementResult;
      try {
        result = await services.settlement.postEvent(toEvent(body));
      } catch (e) {
        throw concealsSellers(principal) && isSellerNotAccepting(e) ? unknownSellerOfCapture(body.sellerId) : e;
      }
      count(body.type, result);
      return reply.status(result.status === "created" ? 201 : 200).send(settlementResultView(result, readableGateway(principal)));
    } catch (e) {
      metrics.settlementEvents.inc({ type: body.type, result: (e as { code?: string }).code ?? Errors.internal.code });
      throw e;
    }
  });

  app.post("/v1/settlements/events/batch", {
    config: { auth: { scopes: ["gateway:write"], signed: true }, nulByItem: true },
    // An event that fails the schema fails alone (itemSchemaErrors), as a business refusal does.
    attachValidation: true,
    schema: {
      tags: [TAGS.settlements],
      summary: "Post many settlement events",
      description: `Up to ${batchMax} events. Answered per item, keyed by index: \`created\`, \`exists\` (a replay) or \`error\` with the item's code. Events that follow a capture in the same batch are booked after it. An event that fails the event schema is that item's \`error\` (ENT_REQUEST_VALIDATION naming \`events.<index>.<field>\`, at most ${MAX_ITEM_FIELDS} listed, its \`message\` counting them all) and the others are booked; a body that is not \`{"events": [...]}\` with 1 to ${batchMax} events is a 400 for the request, naming only the envelope's fault (\`events\` and its limit). With \`Prefer: return=minimal\` (RFC 7240) a booked item carries \`settlementId\` and \`transactionId\` instead of the settlement and its transaction (about 60 bytes instead of about 5 KB), errors are answered in full, and the answer says \`Preference-Applied: return=minimal\`.`,
      security: bearerOnly,
      headers: Type.Object({ ...SignatureHeaders.properties, prefer: Type.Optional(Type.String({ description: "return=minimal: booked items answered by their ids only" })) }),
      body: Type.Object({ events: Type.Array(Type.Ref("SettlementEvent"), { minItems: 1, maxItems: batchMax }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ results: Type.Array(BatchItemView) }), ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const invalid = itemSchemaErrors(request);
    const { events } = request.body as { events: EventBody[] };
    const minimal = prefersMinimal(request.headers.prefer);
    const principal = principalOf(request.principal);
    writableGateway(principal); // an unbound gateway key posts nothing: 403 for the whole request
    // An item that fails the schema, or names another gateway (403's code), fails alone, by index;
    // the others are posted.
    const results = new Array<SettlementItemResult>(events.length);
    const allowed: number[] = [];
    events.forEach((e, i) => {
      const schemaError = invalid.get(i);
      if (schemaError !== undefined) {
        results[i] = errorItem(schemaError);
        return;
      }
      try {
        assertWritesAs(principal, e.gateway, `events.${i}.gateway`);
        allowed.push(i);
      } catch (err) {
        if (!isAppError(err)) throw err;
        results[i] = errorItem(err);
      }
    });
    const posted = allowed.length === 0 ? [] : await services.settlement.postEvents(allowed.map((i) => toEvent(events[i] as EventBody)), allowed);
    const conceal = concealsSellers(principal);
    posted.forEach((r, k) => {
      const i = allowed[k] as number;
      results[i] = conceal && r.status === "error" && isSellerNotAccepting(r.error) ? itemError(unknownSellerOfCapture((events[i] as EventBody).sellerId), `events.${i}.`) : r;
    });
    // An item that failed the schema may carry any `type`: its metric says "invalid", never that text.
    results.forEach((r, i) => count(invalid.has(i) ? "invalid" : (events[i]?.type ?? "unknown"), r));
    if (minimal) reply.header("preference-applied", "return=minimal");
    return {
      results: results.map((r, index) => {
        if (r.status !== "error" || r.error.code !== Errors.internal.code) return batchItemView(r, index, readableGateway(principal), minimal);
        // An unexpected failure of one item: its message may carry driver or SQL text. Log it with
        // the request id; the client gets the code and the id to quote, nothing else.
        request.log.error({ index, error: r.error.message }, "batch item failed");
        return batchItemView({ status: "error", error: { code: r.error.code, message: `internal error on this item; quote request id ${request.id} when reporting it` } }, index, null);
      }),
    };
  });

  app.get("/v1/settlements", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "List settlement records (the settlement explorer)",
      description:
        "Newest first (by record id), cursor pagination (`nextCursor`). Filters, combined: `settlementId` (the marketplace order id), `sellerId`, `gateway`, `gatewayEventId`, `market`, `currency`, `type` (event type), `from`/`to` on occurredAt (`to` exclusive). Each item is the view of `GET /v1/settlements/:id`. A gateway key lists its own gateway's records only (another `gateway` finds nothing).",
      security: bearer,
      querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Settlement")), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof ListQuery>;
    const page = await namingQuery(services.settlement.list(
      {
        ...(q.settlementId === undefined ? {} : { settlementId: q.settlementId }),
        ...(q.sellerId === undefined ? {} : { sellerId: q.sellerId }),
        ...(q.gateway === undefined ? {} : { gateway: q.gateway }),
        ...(q.gatewayEventId === undefined ? {} : { gatewayEventId: q.gatewayEventId }),
        ...(q.market === undefined ? {} : { market: q.market }),
        ...(q.currency === undefined ? {} : { currency: q.currency }),
        ...(q.type === undefined ? {} : { type: q.type }),
        ...(q.from === undefined ? {} : { from: new Date(q.from) }),
        ...(q.to === undefined ? {} : { to: new Date(q.to) }),
      },
      { limit: q.limit === undefined ? 50 : Number(q.limit), ...(q.cursor === undefined ? {} : { cursor: q.cursor }) },
      { gateway: readableGateway(principalOf(request.principal)) },
    ));
    return { items: page.items.map(settlementView), nextCursor: page.nextCursor };
  });

  app.get("/v1/settlements/:id", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Get a settlement record",
      description: "By record id, or by event key `settlement:<gateway>:<gatewayEventId>`. A gateway key reads its own gateway's records only: another gateway's answers 404 like a missing one.",
      security: bearer,
      params: Type.Object({ id: SettlementRef }),
      response: { 200: Type.Ref("Settlement"), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => settlementView(await services.settlement.getSettlement((request.params as { id: string }).id, { gateway: readableGateway(principalOf(request.principal)) })));

  app.get("/v1/sellers", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "List sellers with their program and payout currency",
      description: "Every seller, by id; `program` keeps one program's. Their accounts: `GET /v1/accounts?ownerType=seller&ownerId=<id>`.",
      security: bearer,
      querystring: Type.Object({ program: Type.Optional(Type.Union(PROGRAMS.map((p) => Type.Literal(p)))) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(SellerView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { program } = request.query as { program?: string };
    const sellers = (await services.settlement.listSellers()).filter((s) => program === undefined || s.program === program);
    return { items: sellers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(sellerView) };
  });

  const admin = { auth: { scopes: ["admin" as const] } };
  const SellerGatewayList = Type.Array(GatewayName, {
    maxItems: MAX_SELLER_GATEWAYS,
    description: `The gateways (acquirers/PSPs) the seller accepts settlement events from, at most ${MAX_SELLER_GATEWAYS} (repeats count once): a capture naming the seller from any other gateway is refused (403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED; to a gateway key 404 as an unknown seller). Empty: it accepts none`,
  });
  const VersionId = Type.String({ pattern: "^[A-Za-z0-9._-]{1,100}$", description: "1-100 characters of [A-Za-z0-9._-]" });
  const SellerBody = Type.Object(
    {
      id: Identifier,
      name: Text(200, 1),
      program: Type.Union(PROGRAMS.map((p) => Type.Literal(p))),
      payoutCurrency: CurrencyCode,
      homeCountry: Type.String({ pattern: "^[A-Z]{2}$", description: "The country the seller is established in: an assigned ISO 3166-1 alpha-2 code, or XI (Northern Ireland); others (EL, UK: use GR, GB) are 400 ENT_SETTLEMENT_INVALID_SCHEDULE naming homeCountry. Monaco (MC) is inside France's VAT territory" }),
      warehouse: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "The country of the warehouse the seller's goods ship from (overseas hosting), checked as homeCountry: a capture without shipFrom ships from here, which decides its tax supply" })),
      listingCurrency: Type.Optional(Type.String({ pattern: "^[A-Z]{3}$", description: "USD or the payout currency: the currency the seller prices in; a capture's listingPrice without listingCurrency is in it (not for full hosting)" })),
      gateways: Type.Optional(SellerGatewayList),
    },
    { additionalProperties: false },
  );
  const ScheduleBody = Type.Object(
    {
      ...FeeScheduleView.properties,
      id: VersionId,
      program: Type.Union(PROGRAMS.map((p) => Type.Literal(p))),
      market: Type.String({ pattern: "^([A-Z]{2}|\\*)$" }),
      category: Type.String({ pattern: "^([a-z0-9_-]{1,50}|\\*)$" }),
      commissionBps: Type.Integer({ minimum: 0, maximum: 10_000 }),
      fixedFees: Type.Object({ logistics: NonNegativeAmount, warehousing: NonNegativeAmount, fulfilment: NonNegativeAmount }, { additionalProperties: false }),
      autoConfirmDays: Type.Integer({ minimum: 0 }),
      reserve: Type.Union([Type.Object({ bps: Type.Integer({ minimum: 0, maximum: 10_000 }), holdDays: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), Type.Null()]),
      serviceFeesRefundable: Type.Optional(FeeScheduleView.properties.serviceFeesRefundable),
      storageRate: Type.Optional(Type.String({ pattern: STORAGE_RATE.source, description: "Storage: USD minor units per cubic metre per day, a decimal string (e.g. \"45\" = USD 0.45 per m3-day); absent: storage not billed" })),
    },
    { additionalProperties: false },
  );
  const TaxRuleBody = Type.Object(
    {
      ...TaxRuleView.properties,
      id: VersionId,
      market: Type.String({ pattern: "^[A-Z]{2}$" }),
      scheme: Line(40, 1, "The legal scheme, e.g. EU_IOSS"),
      rateBps: Type.Integer({ minimum: 0, maximum: 10_000 }),
      authority: Line(60, 1, "Tax authority the collected tax is owed to"),
      note: Text(500),
      supply: Type.Optional(Type.Union(TAX_SUPPLIES.map((s) => Type.Literal(s)), { description: "Only for imports, or only for goods shipped from inside the market; absent: both" })),
      program: Type.Optional(Type.Union(PROGRAMS.map((p) => Type.Literal(p)), { description: "Only for this seller program (e.g. full_hosting, where the platform sells as principal); absent: every program" })),
      maxValue: Type.Optional(Type.Object({ currency: Type.String({ pattern: "^[A-Z]{3}$" }), amount: NonNegativeAmount }, { additionalProperties: false, description: "Applies up to this value of the goods (the gross net of this tax), e.g. IOSS: EUR 150 = 15000" })),
      deduction: Type.Optional(Type.Object({ currency: Type.String({ pattern: "^[A-Z]{3}$" }), amount: NonNegativeAmount }, { additionalProperties: false, description: "A fixed amount off the tax, converted at the mid rate; the tax is never below 0. Brazil above USD 50: 60% less USD 20 = 2000" })),
    },
    { additionalProperties: false },
  );
  const published = (status: "created" | "exists") => (status === "created" ? 201 : 200);

  app.post("/v1/sellers", {
    config: admin,
    schema: {
      tags: [TAGS.settlements],
      summary: "Onboard a seller",
      description: "201 with the seller; the same body again 200; the id with other content 409 ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT (a seller is not edited). `gateways`: the gateways it accepts settlement events from (absent: none until set with PUT /v1/sellers/:id/gateways); a body again with `gateways` is the same seller only with the set it has now, one without them whatever its set. The acting key is recorded, as the seller's creator and as the first entry of its gateways' trail.",
      security: bearer,
      body: SellerBody,
      response: { 200: SellerView, 201: SellerView, ...problems(400, 401, 403, 409, 429) },
    },
  }, async (request, reply) => {
    const seller = request.body as Seller;
    const r = await services.settlement.publishProgramItem({ kind: "seller", seller }, request.principal?.keyId ?? null);
    return reply.status(published(r.status)).send(r.item.kind === "seller" ? sellerView(r.item.seller) : seller);
  });

  app.put("/v1/sellers/:id/gateways", {
    config: admin,
    schema: {
      tags: [TAGS.settlements],
      summary: "Set the gateways a seller accepts settlement events from",
      description:
        "Replaces the seller's set (sorted, each once; empty: it accepts none). In force for the next event on every instance. A capture naming the seller from a gateway outside the set is refused (403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED to an admin key posting as that gateway; to a gateway key 404 ENT_SETTLEMENT_UNKNOWN_SELLER, as for a seller that does not exist); a loader (the demo at every start) never overwrites the set; the follow-ups of a capture already booked (refund, chargeback, its reversal, fee adjustment, releases) stay with the capture's gateway whatever the set is now, so money can always go back to the buyer. Every change is kept in an append-only trail with who set it and when; the same set again changes nothing. 404 ENT_SETTLEMENT_UNKNOWN_SELLER for an unknown seller.",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      body: Type.Object({ gateways: SellerGatewayList }, { additionalProperties: false }),
      response: { 200: SellerGatewaysView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { gateways } = request.body as { gateways: string[] };
    return sellerGatewaysView(await services.settlement.setSellerGateways(id, gateways, actorOf(request.principal)));
  });

  app.get("/v1/sellers/:id/gateways", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "The gateways a seller accepts settlement events from, with their trail",
      description: "The set, when and by whom it was last set (null: never; it accepts none), and every change, newest first (at most 100). 404 ENT_SETTLEMENT_UNKNOWN_SELLER for an unknown seller.",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      response: { 200: SellerGatewaysView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => sellerGatewaysView(await services.settlement.sellerGateways((request.params as { id: string }).id)));

  app.post("/v1/fee-schedules", {
    config: admin,
    schema: {
      tags: [TAGS.settlements],
      summary: "Publish a fee schedule version",
      description:
        "A version of a program's fees for a market and category (or * for all), in force from `effectiveFrom` (not in the past): events from then on use it, earlier ones keep the version they had. Versions are immutable: a change is a new id. 201, the same body again 200, the id with other content 409.",
      security: bearer,
      body: ScheduleBody,
      response: { 200: FeeScheduleView, 201: FeeScheduleView, ...problems(400, 401, 403, 409, 429) },
    },
  }, async (request, reply) => {
    const b = request.body as Static<typeof ScheduleBody>;
    const { serviceFeesRefundable, weightBands, autoConfirmFrom, ...rest } = b;
    const schedule: FeeSchedule = {
      ...rest,
      // "capture" is the default, stored as absent: the same schedule whichever way it was said.
      ...(autoConfirmFrom === "delivery" ? { autoConfirmFrom } : {}),
      ...(serviceFeesRefundable === true ? { serviceFeesRefundable: true as const } : {}),
      ...(weightBands === undefined ? {} : { weightBands: weightBandsFromJson(weightBands) }),
      program: b.program,
      effectiveFrom: new Date(b.effectiveFrom),
      fixedFees: { logistics: BigInt(b.fixedFees.logistics), warehousing: BigInt(b.fixedFees.warehousing), fulfilment: BigInt(b.fixedFees.fulfilment) },
    };
    const r = await services.settlement.publishProgramItem({ kind: "schedule", schedule }, request.principal?.keyId ?? null);
    return reply.status(published(r.status)).send(feeScheduleView(r.item.kind === "schedule" ? r.item.schedule : schedule));
  });

  app.get("/v1/fee-schedules", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Fee schedule versions, oldest effective first",
      security: bearer,
      querystring: Type.Object({ program: Type.Optional(Type.Union(PROGRAMS.map((p) => Type.Literal(p)))), market: Type.Optional(Type.String({ pattern: "^([A-Z]{2}|\\*)$" })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(FeeScheduleView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { program, market } = request.query as { program?: string; market?: string };
    const items = (await services.settlement.listSchedules()).filter((f) => (program === undefined || f.program === program) && (market === undefined || f.market === market));
    return { items: items.map(feeScheduleView) };
  });

  app.post("/v1/tax-rules", {
    config: admin,
    schema: {
      tags: [TAGS.settlements],
      summary: "Publish a tax rule version",
      description:
        "A market's tax rule in force from `effectiveFrom` (not in the past); immutable like fee schedules. A national rule (no `level`) is chosen per order by territory, program, supply, seller's establishment and value band; a state rule (`level: state`, with its `region`) is levied on top of it for captures shipped to that region. `collectedBy` says who is liable: the marketplace (booked to its tax payable), the seller (nothing booked) or nobody at the sale (customs). 201, the same body again 200, the id with other content 409.",
      security: bearer,
      body: TaxRuleBody,
      response: { 200: TaxRuleView, 201: TaxRuleView, ...problems(400, 401, 403, 409, 429) },
    },
  }, async (request, reply) => {
    const b = request.body as Static<typeof TaxRuleBody>;
    const { maxValue, deduction, ...rest } = b;
    const taxRule: TaxRule = {
      ...rest,
      effectiveFrom: new Date(b.effectiveFrom),
      ...(maxValue === undefined ? {} : { maxValue: { currency: maxValue.currency, amount: BigInt(maxValue.amount) } }),
      ...(deduction === undefined ? {} : { deduction: { currency: deduction.currency, amount: BigInt(deduction.amount) } }),
    };
    const r = await services.settlement.publishProgramItem({ kind: "taxRule", taxRule }, request.principal?.keyId ?? null);
    return reply.status(published(r.status)).send(taxRuleView(r.item.kind === "taxRule" ? r.item.taxRule : taxRule));
  });

  app.get("/v1/tax-rules", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Tax rule versions, oldest effective first",
      security: bearer,
      querystring: Type.Object({ market: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$" })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(TaxRuleView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { market } = request.query as { market?: string };
    return { items: (await services.settlement.listTaxRules()).filter((r) => market === undefined || r.market === market).map(taxRuleView) };
  });

  app.get("/v1/sellers/:id/statements", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "A seller's statement for a period",
      description:
        "By effective instant, [from, to): for each of the seller's accounts (held, reserve, available; per currency) the opening balance, every posting with what it was (capture, refund, chargeback, release, payout, adjustment...), its journal transaction, the balance after it (and what reconciles it, from that transaction: a settlement event's amount in the buyer's currency and each fee it charged, every rate it converted at, a vault payout's token amount and rate; CSV columns appended after `description`), and the closing balance (= the balance of everything effective before `to`). Pending legs (a payout reserved, not yet final) are listed with a change of 0. `format=csv` (or Accept: text/csv): one line per posting, opening and closing lines per account. `format=pdf` (or Accept: application/pdf): the same as a printable document, amounts in major units.",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      querystring: Type.Object({ from: DateTime, to: DateTime, format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv"), Type.Literal("pdf")])) }, { additionalProperties: false }),
      produces: ["application/json", "text/csv", "application/pdf"],
      response: { 200: SellerStatementView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const q = request.query as { from: string; to: string; format?: "json" | "csv" | "pdf" };
    const statement = await namingQuery(services.settlement.sellerStatement(id, periodOf(q.from, q.to)));
    const name = `statement-${id}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}`;
    if (q.format === "pdf" || (q.format === undefined && (request.headers.accept ?? "").includes("application/pdf"))) {
      reply.header("content-disposition", `attachment; filename="${name}.pdf"`);
      return reply.type("application/pdf").send(textPdf(sellerStatementLines(statement, services.exponentOf), `Entrepot - ${id} - ${q.from} to ${q.to}`));
    }
    if (!wantsCsv(q.format, request.headers.accept)) return sellerStatementView(statement);
    reply.header("content-disposition", `attachment; filename="${name}.csv"`);
    return reply.type("text/csv; charset=utf-8").send(sellerStatementCsv(statement, services.exponentOf));
  });

  app.post("/v1/sellers/:id/charges", {
    config: { auth: { scopes: ["finance:write" as const] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Charge a seller a fee no order carries",
      description:
        "A logistics, fulfilment or warehousing service invoiced on its own, or storage (kind `storage`; a storage run, `POST /v1/storage/runs`, computes it from stock snapshots): priced in USD, charged to the seller's available balance in its payout currency at the mid rate in force at `occurredAt` (recorded as evidence), credited to the platform's revenue line of that service (`platform:revenue:<kind>`). Idempotent on (seller, chargeId): the same body again answers 200 `exists`, another body 409 ENT_SETTLEMENT_CHARGE_CONFLICT.",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      body: Type.Object(
        {
          chargeId: Identifier,
          kind: Type.Union(CHARGE_KINDS.map((k) => Type.Literal(k)), { description: "The service charged: warehousing, logistics, fulfilment or storage (platform:revenue:<kind>)" }),
          amount: Type.String({ pattern: "^[1-9][0-9]{0,17}$", description: "USD minor units, positive" }),
          occurredAt: DateTime,
          note: Text(500, 1),
        },
        { additionalProperties: false },
      ),
      response: { 201: SellerChargeView, 200: SellerChargeView, ...problems(400, 401, 403, 404, 409, 422, 429) },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const b = request.body as { chargeId: string; kind: ChargeKind; amount: string; occurredAt: string; note: string };
    const r = await services.settlement.chargeSeller(id, { chargeId: b.chargeId, kind: b.kind, amount: BigInt(b.amount), occurredAt: new Date(b.occurredAt), note: b.note });
    return reply.status(r.status === "created" ? 201 : 200).send(sellerChargeView(r));
  });

  app.get("/v1/tax/returns", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "A tax return: one scheme of one market for a period",
      description:
        "By effective instant, [from, to): every posting of `tax:<market>:<scheme>:payable` with the order behind it (tax collected on captures, given back on refunds and chargebacks), the tax collected and given back, and the opening and closing tax payable: the return equals the ledger's tax-payable postings (e.g. the monthly IOSS return of one member state: market=ES&scheme=EU_IOSS). Each line carries the base of its tax as booked with the event (never recomputed with today's rules or rates): `taxableBase` (what the rate applied to: the price net of the tax; for Brazil's ICMS, computed on a base that includes it, with it), `nonTaxable` (the part of the gross outside the base that is no tax: shipping a state leaves untaxed), `otherTaxes` (the order's other taxes in the gross outside this base: ICMS on the import tax's line) and `deduction` (a fixed amount off the tax, Brazil's USD 20), signed as the tax: a refund gives back the base in the share it gives back the tax. A posting booked before bases were recorded has them null and says why (`baseMissing`); `bases` totals them for the lines collecting, giving back, and net (null where a line of the group has none). Each line names its tax rule version and rate (`ruleId`, `rateBps`) and `byRate` groups the lines by rate, as a return is filed per rate. `format=csv` (or Accept: text/csv): the opening, one row per posting, the collected, given back, total and closing rows, with the same figures in minor and major units, and a state tax's `region` on every row. Every line names who is liable (`collectedBy`), the seller, and where the goods shipped from and to. A scheme the platform does not collect (the seller's own VAT, customs at import, a territory outside the VAT area) books no payable: its return lists the sales booked under its rules in the period instead, each with `tax` 0, its rule's rate and the liable party (the record of facilitated supplies a marketplace keeps, EU VAT Directive art. 242a), opening and closing 0; at most 10,000 such sales per return (400 naming `query.to` beyond). A scheme (or a state tax's region) no tax rule of the market has is 400 ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME naming the field: a typo is never a nil return.",
      security: bearer,
      querystring: Type.Object(
        {
          market: Type.String({ pattern: "^[A-Z]{2}$" }),
          region: Type.Optional(Type.String({ pattern: "^[A-Z]{2}-[A-Z0-9]{1,3}$", description: "A state tax's return: its ISO 3166-2 region (market=US&region=US-CA&scheme=US_SALES_TAX reads tax:US-CA:US_SALES_TAX:payable)" })),
          scheme: Type.String({ pattern: "^[A-Z0-9_]{1,40}$" }),
          from: DateTime,
          to: DateTime,
          format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")])),
        },
        { additionalProperties: false },
      ),
      response: { 200: TaxReturnView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    const q = request.query as { market: string; region?: string; scheme: string; from: string; to: string; format?: "json" | "csv" };
    const r = await namingQuery(services.settlement.taxReturn(q.market, q.scheme, periodOf(q.from, q.to), q.region));
    if (!wantsCsv(q.format, request.headers.accept)) return taxReturnView(r);
    reply.header("content-disposition", `attachment; filename="tax-return-${q.region ?? q.market}-${q.scheme}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv"`);
    return reply.type("text/csv; charset=utf-8").send(taxReturnCsv(r));
  });

  app.get("/v1/orders/:settlementId/settlements", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.settlements],
      summary: "Every settlement record of one marketplace order, oldest first",
      description: "With the order's delivery evidence (`fulfilment`, as `GET /v1/orders/:settlementId/fulfilment` answers it; empty when none), so a statement or a dispute can cite it. A gateway key sees its own gateway's records and evidence of the order only.",
      security: bearer,
      params: Type.Object({ settlementId: Identifier }),
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Settlement")), fulfilment: Type.Array(FulfilmentView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { settlementId } = request.params as { settlementId: string };
    const scope = { gateway: readableGateway(principalOf(request.principal)) };
    const items = await services.settlement.listForOrder(settlementId, scope);
    // An order with records visible to the key has its capture visible too (follow-ups stay with
    // the capture's gateway), so its evidence is found; an order unknown to the key has none to show.
    const fulfilment = items.length === 0 ? [] : await services.settlement.fulfilments(settlementId, scope);
    return { items: items.map(settlementView), fulfilment: fulfilmentViews(fulfilment) };
  });
}
