/**
 * FX where it happens (service/settlement/realisation.ts): a gateway posts its remittance (signed,
 * as its own gateway), which clears the buyer-currency receivable at the acquirer's rate and books
 * realised FX; finance revalues the open positions at a published rate into unrealised FX.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { SettlementErrors, type Remittance, type Revaluation } from "../../settlement/index.js";
import { assertWritesAs, principalOf, readableGateway } from "../auth/reach.js";
import { TAGS } from "../plugins/docs.js";
import { Amount, AssetCode, bearer, bearerOnly, CursorQuery, DateTime, GatewayName, Identifier, LimitQuery, problems, SignatureHeaders } from "../schemas/common.js";

const PositiveAmount = Type.String({ pattern: "^[1-9][0-9]{0,37}$", description: "Positive integer amount in minor units, as a string", examples: ["96500"] });

const RemittanceBody = Type.Object(
  {
    gateway: GatewayName,
    remittanceId: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "The gateway's reference of the payout batch, unique per gateway" }),
    currency: AssetCode,
    amount: { ...PositiveAmount, description: "What the remittance clears of the receivable, in `currency` minor units (captures net of the gateway's fee, less refunds and chargebacks)" },
    settledCurrency: Type.String({ pattern: "^[A-Z]{3}$", description: "The currency that reached the bank: USD, the settlement currency, or `currency` itself when the acquirer paid out unconverted (then settledAmount = amount and nothing is realised)", examples: ["USD"] }),
    settledAmount: { ...PositiveAmount, description: "What reached the bank, in settledCurrency minor units" },
    occurredAt: DateTime,
  },
  { additionalProperties: false },
);

export const RemittanceView = Type.Object({
  gateway: Type.String(),
  remittanceId: Type.String(),
  currency: Type.String(),
  amount: Amount,
  settledCurrency: Type.String(),
  settledAmount: Amount,
  occurredAt: DateTime,
  transactionId: Type.String(),
  appliedRate: Type.String({ description: "USD per unit of currency the acquirer applied: settledAmount / amount" }),
  bookedRate: Type.Union([Type.String(), Type.Null()], { description: "Average rate of the open position the cleared amount left at (null: no open position)" }),
  bookedUsd: { ...Amount, description: "The USD value the cleared amount had in the books: the part closing the position at its booked rate, the tax part at the mid rate" },
  realised: { ...Amount, description: "Realised FX, USD minor units: the closed part's mid value less its booked value, gain positive (platform:fx:realised_gain_loss); settledAmount = bookedUsd + realised + conversion" },
  conversion: {
    ...Amount,
    description: "The acquirer's conversion spread, USD minor units: settledAmount less the mid value of the amount converted, negative a cost (platform:expense:fx_conversion, no exchange difference); 0 on a remittance booked before it was kept apart (its realised held it)",
  },
  midRate: Type.Union([Type.String(), Type.Null()], { description: "The published mid rate at occurredAt, for comparison" }),
  bookedAt: DateTime,
});

const RevaluationView = Type.Object({
  transactionId: Type.Union([Type.String(), Type.Null()], { description: "null when nothing changed, so nothing was booked" }),
  at: DateTime,
  lines: Type.Array(
    Type.Object({
      currency: Type.String(),
      position: { ...Amount, description: "fx:X-USD balance in X at `at` (debit positive)" },
      positionUsd: { ...Amount, description: "fx:X-USD balance in USD at `at` (debit positive)" },
      midRate: Type.String(),
      source: Type.String(),
      asOf: { ...DateTime, description: "The rate's own instant (the oldest leg's, for a cross rate): when its source observed it" },
      rateAgeSeconds: Type.Integer({ description: "How old the rate was at `at`: `at` less `asOf`, whole seconds (kept in the booked revaluation; a period close refuses a closing rate older than CLOSE_MAX_RATE_AGE_DAYS)" }),
      unrealised: { ...Amount, description: "Unrealised FX of the position at the mid rate, USD minor units, gain positive" },
      change: { ...Amount, description: "What this revaluation booked: unrealised less the previous revaluation's" },
    }),
  ),
  skipped: Type.Array(
    Type.Object({
      currency: Type.String(),
      code: Type.String({ description: "Why, stable: the fx module's code (ENT_FX_RATE_STALE: no rate in force at `at`; ENT_FX_RATE_NOT_FOUND: none published), or not_iso_4217" }),
      reason: Type.String({ description: "The same in words" }),
    }),
    { description: "Open positions left as they were (also in a revaluation read back, from its journal metadata)" },
  ),
  bookedAt: Type.Union([DateTime, Type.Null()]),
});

export function remittanceView(r: Remittance) {
  return {
    ...r,
    amount: r.amount.toString(),
    settledAmount: r.settledAmount.toString(),
    bookedUsd: r.bookedUsd.toString(),
    realised: r.realised.toString(),
    conversion: r.conversion.toString(),
    occurredAt: r.occurredAt.toISOString(),
    bookedAt: r.bookedAt.toISOString(),
  };
}

function revaluationView(r: Revaluation) {
  return {
    transactionId: r.transactionId,
    at: r.at.toISOString(),
    lines: r.lines.map((l) => ({ ...l, position: l.position.toString(), positionUsd: l.positionUsd.toString(), unrealised: l.unrealised.toString(), change: l.change.toString() })),
    skipped: r.skipped,
    bookedAt: r.bookedAt === null ? null : r.bookedAt.toISOString(),
  };
}

export async function realisationRoutes(app: FastifyInstance): Promise<void> {
  const { realisation } = app.services;

  app.post("/v1/remittances", {
    config: { auth: { scopes: ["gateway:write" as const], signed: true } },
    schema: {
      tags: [TAGS.fx],
      summary: "Post a gateway's remittance to the platform's bank",
      description:
        "Clears `amount` of the gateway's receivable in `currency` and debits `platform:cash:bank` with what arrived. For a currency other than USD the acquirer's rate is `settledAmount / amount`: the cleared amount leaves the fx:<currency>-USD position at its average booked rate; its value at the published mid rate at `occurredAt` less that is realised FX (`platform:fx:realised_gain_loss`), and what arrived less the mid value of the converted amount is the acquirer's spread (`conversion`, `platform:expense:fx_conversion`), no exchange difference; the tax the captures kept in the currency goes to fx:<currency>-USD:tax at mid. Idempotent on (gateway, remittanceId): the same body again answers 200 `exists`, another body 409 ENT_REMITTANCE_CONFLICT. More than the receivable holds is 422 ENT_REMITTANCE_EXCEEDS_RECEIVABLE; an applied rate more than 10% from the published mid rate at `occurredAt` is 422 ENT_REMITTANCE_RATE_OUT_OF_RANGE (no published rate: ENT_SETTLEMENT_FX_UNAVAILABLE), so a gateway key cannot book an arbitrary gain or loss.",
      security: bearerOnly,
      headers: SignatureHeaders,
      body: RemittanceBody,
      response: { 201: Type.Object({ status: Type.String(), remittance: RemittanceView }), 200: Type.Object({ status: Type.String(), remittance: RemittanceView }), ...problems(400, 401, 403, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const b = request.body as { gateway: string; remittanceId: string; currency: string; amount: string; settledCurrency: string; settledAmount: string; occurredAt: string };
    assertWritesAs(principalOf(request.principal), b.gateway, "gateway");
    const r = await realisation.remit({
      gateway: b.gateway,
      remittanceId: b.remittanceId,
      currency: b.currency,
      amount: BigInt(b.amount),
      settledCurrency: b.settledCurrency,
      settledAmount: BigInt(b.settledAmount),
      occurredAt: new Date(b.occurredAt),
    });
    return reply.status(r.status === "created" ? 201 : 200).send({ status: r.status, remittance: remittanceView(r.remittance) });
  });

  app.get("/v1/remittances/:gateway/:remittanceId", {
    config: { auth: { scopes: ["finance:read" as const, "gateway:write" as const] } },
    schema: {
      tags: [TAGS.fx],
      summary: "A remittance with its realised FX",
      description: "A gateway key reads its own gateway's remittances only: another's answers 404 like a missing one.",
      security: bearer,
      params: Type.Object({ gateway: GatewayName, remittanceId: Identifier }),
      response: { 200: RemittanceView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const p = request.params as { gateway: string; remittanceId: string };
    const own = readableGateway(principalOf(request.principal));
    if (own !== null && own !== p.gateway) throw SettlementErrors.remittanceNotFound(`no remittance ${p.remittanceId} from ${p.gateway}`);
    return remittanceView(await realisation.getRemittance(p.gateway, p.remittanceId));
  });

  app.post("/v1/fx/revaluations", {
    config: { auth: { scopes: ["finance:write" as const] } },
    schema: {
      tags: [TAGS.fx],
      summary: "Revalue open FX positions at an instant",
      description:
        "Restates every open fx:<X>-USD position at the published mid rate in force at `at`: fx:<X>-USD:revaluation is brought to the position's unrealised result against `platform:fx:unrealised_gain_loss`, booking only the change from the previous revaluation (which is thereby reversed). Effective at `at`; one per instant (the same `at` again answers 200 `exists`), unless a transaction booked since, effective by `at` (a late event), moved a position: then that change is booked too, at the same instant (201); `at` must have passed, be at or after the latest revaluation and in the open period (409 ENT_FX_REVALUATION_OUT_OF_ORDER). A position whose currency has no published rate in force at `at` is listed in `skipped`. When nothing is to be booked (no position moved, or every one skipped): 200 `nothing`, transactionId null, nothing recorded. Each line says how old its rate was at `at` (`rateAgeSeconds`, from the rate's own `asOf`). A period close checks exactly this at its last instant (`before` less 1 ms: 409 ENT_LEDGER_PERIOD_FX_NOT_REVALUED on `POST /v1/ledger/periods/close` while it would book or skip anything, 409 ENT_LEDGER_PERIOD_FX_RATE_STALE while a position stands at a rate older than CLOSE_MAX_RATE_AGE_DAYS there): revalue there before closing. Rates published since for that instant (the period end's, fresher) are taken by the same `at` again: it books the change (201), so publishing the closing rates and revaluing again is how stale ones are replaced.",
      security: bearer,
      querystring: Type.Object({ at: DateTime }, { additionalProperties: false }),
      response: { 201: Type.Object({ status: Type.String(), revaluation: RevaluationView }), 200: Type.Object({ status: Type.String(), revaluation: RevaluationView }), ...problems(400, 401, 403, 409, 429) },
    },
  }, async (request, reply) => {
    const { at } = request.query as { at: string };
    const r = await realisation.revalue(new Date(at));
    return reply.status(r.status === "created" ? 201 : 200).send({ status: r.status, revaluation: revaluationView(r.revaluation) });
  });

  app.get("/v1/fx/revaluations", {
    config: { auth: { scopes: ["finance:read" as const] } },
    schema: {
      tags: [TAGS.fx],
      summary: "Revaluations, newest first",
      security: bearer,
      querystring: Type.Object({ limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(RevaluationView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as { limit?: string; cursor?: string };
    const page = await realisation.listRevaluations({ ...(q.limit === undefined ? {} : { limit: Number(q.limit) }), ...(q.cursor === undefined ? {} : { cursor: q.cursor }) });
    return { items: page.items.map(revaluationView), nextCursor: page.nextCursor };
  });
}
