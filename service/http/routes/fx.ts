/**
 * FX: publish rates (operators), read the rate in force, lock a quote (gateways, signed: the
 * quote id then goes into the capture event), read a quote back. A quote belongs to the gateway
 * whose key took it: only that gateway reads it and uses it in an event (auth/reach.ts).
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { bearer, bearerOnly, DateTime, Line, problems, SignatureHeaders, Text } from "../schemas/common.js";
import { fxQuoteView, FxQuoteView, fxRateView, FxRateView, resolvedRateView, ResolvedRateView } from "../schemas/views.js";
import { TAGS } from "../plugins/docs.js";
import { principalOf, readableGateway, writableGateway } from "../auth/reach.js";

/** Loose on purpose: the fx module validates codes and rates and names the offending field. */
const Code = Line(8, 1, "ISO 4217 currency code");

const RateInput = Type.Object(
  {
    base: Code,
    quote: Code,
    rate: Type.String({ maxLength: 60, description: "Units of quote per unit of base, decimal string (at most 18 decimals)", examples: ["5.4321"] }),
    source: Text(200, 1),
    asOf: DateTime,
    validFrom: Type.Optional(DateTime),
    validUntil: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);

const QuoteBody = Type.Object({ base: Code, quote: Code, at: Type.Optional(DateTime) }, { additionalProperties: false });

export async function fxRoutes(app: FastifyInstance): Promise<void> {
  const { fx } = app.services;

  app.post("/v1/fx/rates", {
    config: { auth: { scopes: ["admin"] } },
    schema: {
      tags: [TAGS.fx],
      summary: "Publish FX rates",
      description: "Idempotent per (base, quote, source, validFrom); a different rate for the same key is ENT_FX_RATE_CONFLICT (a correction is a new publication with a new validFrom).",
      security: bearer,
      body: Type.Object({ rates: Type.Array(RateInput, { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false }),
      response: { 201: Type.Object({ rates: Type.Array(FxRateView) }), ...problems(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const { rates } = request.body as { rates: Array<Static<typeof RateInput>> };
    const stored = await fx.publishRates(
      rates.map((r) => ({
        base: r.base,
        quote: r.quote,
        rate: r.rate,
        source: r.source,
        asOf: new Date(r.asOf),
        ...(r.validFrom === undefined ? {} : { validFrom: new Date(r.validFrom) }),
        ...(r.validUntil === undefined ? {} : { validUntil: new Date(r.validUntil) }),
      })),
    );
    return reply.status(201).send({ rates: stored.map(fxRateView) });
  });

  app.get("/v1/fx/rates/:base/:quote", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.fx],
      summary: "The mid rate in force for a pair",
      description: "Direct, inverse, or triangulated through the pivot currency; `?at=` for a past instant. A missing rate is ENT_FX_RATE_NOT_FOUND, a stale one ENT_FX_RATE_STALE.",
      security: bearer,
      params: Type.Object({ base: Code, quote: Code }),
      querystring: Type.Object({ at: Type.Optional(DateTime) }, { additionalProperties: false }),
      response: { 200: ResolvedRateView, ...problems(400, 401, 403, 422, 429) },
    },
  }, async (request) => {
    const { base, quote } = request.params as { base: string; quote: string };
    const { at } = request.query as { at?: string };
    return resolvedRateView(await fx.latestRate(base, quote, at === undefined ? undefined : new Date(at)));
  });

  app.post("/v1/fx/quotes", {
    config: { auth: { scopes: ["gateway:write"], signed: true } },
    schema: {
      tags: [TAGS.fx],
      summary: "Lock an FX quote",
      description: "Locks the all-in rate (mid minus the configured markup) for base -> quote until `expiresAt`; a quote taken for a past instant (`at`) holds from that instant for as long (the same lifetime), so an event using it must have occurred in that window, or at most one lifetime before its start (the gateway's clock is not ours); else 409 ENT_FX_QUOTE_EXPIRED or ENT_FX_QUOTE_NOT_YET_VALID. Put its id in a capture's `fxQuoteId`. The quote belongs to the key's gateway: another gateway's events cannot use it.",
      security: bearerOnly,
      headers: SignatureHeaders,
      body: QuoteBody,
      response: { 201: FxQuoteView, ...problems(400, 401, 403, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const b = request.body as Static<typeof QuoteBody>;
    const gateway = writableGateway(principalOf(request.principal));
    const q = await fx.quote({ base: b.base, quote: b.quote, gateway, ...(b.at === undefined ? {} : { at: new Date(b.at) }) });
    return reply.status(201).send(fxQuoteView(q));
  });

  app.get("/v1/fx/quotes/:id", {
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAGS.fx],
      summary: "Get an FX quote",
      description: "A gateway key reads its own gateway's quotes only: another's answers 404 like a missing one.",
      security: bearer,
      params: Type.Object({ id: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,64}$", description: "Quote id (fxq_...)" }) }),
      response: { 200: FxQuoteView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => fxQuoteView(await fx.getQuote((request.params as { id: string }).id, { gateway: readableGateway(principalOf(request.principal)) })));
}
