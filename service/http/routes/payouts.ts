/**
 * Payouts: sellers' payout destinations (admin sets, finance reads), payouts and batches (read),
 * an on-demand payout run and the cancellation of a batch that failed (admin). Without a chain
 * configured (`services.payouts` absent) every route answers 503 ENT_PAYOUT_UNAVAILABLE.
 */
import { lineKind } from "../../settlement/index.js";
import { TAGS } from "../plugins/docs.js";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import type { Payout, PayoutBatch, PayoutDestination, PayoutService, SkippedSeller } from "../../payouts/index.js";
import { PAYOUT_STATUSES, PayoutErrors } from "../../payouts/index.js";
import { bearer, Identifier, Int8Id, LimitQuery, problems } from "../schemas/common.js";
import { actorOf } from "../auth/reach.js";

const TAG = TAGS.payouts;
const Id = Int8Id("^[0-9]{1,19}$", "Decimal id");
const ChainId = Int8Id("^[1-9][0-9]{0,18}$", "EVM chain id, decimal; default: the chain the service pays on");
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const DestinationView = Type.Object({
  sellerId: Type.String(),
  chainId: Type.String(),
  address: Type.String({ description: "Checksummed EVM address" }),
  setAt: Type.String({ format: "date-time" }),
  setBy: Type.String(),
});

export const PayoutView = Type.Object({
  id: Type.String({ description: "On-chain payout id (the vault pays each id once)" }),
  batchId: Type.String(),
  sellerId: Type.String(),
  chainId: Type.String(),
  vault: Type.String(),
  address: Type.String(),
  currency: Type.String({ description: "Seller's payout currency" }),
  amount: Type.String({ description: "Minor units of `currency` taken from the seller's available balance" }),
  usdAmount: Type.String({ description: "USD cents after conversion (rounded down)" }),
  tokenAmount: Type.String({ description: "Stablecoin base units paid (6 decimals)" }),
  fx: Nullable(Type.Object({ quoteId: Type.String(), rate: Type.String(), rounding: Type.String(), evidence: Type.Unknown() })),
  status: Type.String({ enum: [...PAYOUT_STATUSES] }),
  outcome: Nullable(Type.String({ enum: ["paid", "deferred"] })),
  txHash: Nullable(Type.String()),
  blockNumber: Nullable(Type.String()),
  logIndex: Nullable(Type.Integer()),
  ledger: Type.Object({
    pendingTransactionId: Nullable(Type.String()),
    commitTransactionId: Nullable(Type.String()),
    claimableTransactionId: Nullable(Type.String()),
    voidTransactionId: Nullable(Type.String()),
  }),
  error: Nullable(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  finalAt: Nullable(Type.String({ format: "date-time" })),
});

export const BatchView = Type.Object({
  id: Type.String({ description: "On-chain batch id" }),
  chainId: Type.String(),
  vault: Type.String(),
  firstPayoutId: Type.String(),
  count: Type.Integer(),
  total: Type.String({ description: "Stablecoin base units" }),
  payoutsHash: Type.String(),
  status: Type.String({ enum: [...PAYOUT_STATUSES] }),
  attempt: Type.Integer(),
  txKey: Nullable(Type.String()),
  txHash: Nullable(Type.String()),
  blockNumber: Nullable(Type.String()),
  paidTotal: Nullable(Type.String()),
  deferredTotal: Nullable(Type.String()),
  error: Nullable(Type.String()),
  nextAttemptAt: Nullable(Type.String({ format: "date-time" })),
  createdBy: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  sentAt: Nullable(Type.String({ format: "date-time" })),
  finalAt: Nullable(Type.String({ format: "date-time" })),
});

const SkippedView = Type.Object({
  sellerId: Type.String(),
  reason: Type.String({
    description:
      "vault_not_permitted: the seller may never be paid in a stablecoin (established in mainland China, homeCountry CN; or an establishment not on file), whatever destination is stored: the bank rail pays it once its bank account is set; no_destination, unbooked_intent, no_account, below_minimum, fx_unavailable, zero_after_conversion; vault_capacity: the vault's budget (excess() minus what is in flight) or the run's cap could not cover the payout; vault_paused: the vault is paused, nothing is planned until it is unpaused",
  }),
  detail: Type.Optional(Type.String()),
});

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const s = (v: bigint | null) => (v === null ? null : v.toString());

export function destinationView(d: PayoutDestination): Static<typeof DestinationView> {
  return { sellerId: d.sellerId, chainId: d.chainId.toString(), address: d.address, setAt: d.setAt.toISOString(), setBy: d.setBy };
}

export function payoutView(p: Payout): Static<typeof PayoutView> {
  return {
    id: p.id.toString(),
    batchId: p.batchId.toString(),
    sellerId: p.sellerId,
    chainId: p.chainId.toString(),
    vault: p.vault,
    address: p.address,
    currency: p.currency,
    amount: p.amount.toString(),
    usdAmount: p.usdAmount.toString(),
    tokenAmount: p.tokenAmount.toString(),
    fx: p.fx,
    status: p.status,
    outcome: p.outcome,
    txHash: p.txHash,
    blockNumber: s(p.blockNumber),
    logIndex: p.logIndex,
    ledger: {
      pendingTransactionId: p.pendingTxId,
      commitTransactionId: p.commitTxId,
      claimableTransactionId: p.claimableTxId,
      voidTransactionId: p.voidTxId,
    },
    error: p.error,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    finalAt: iso(p.finalAt),
  };
}

export function batchView(b: PayoutBatch): Static<typeof BatchView> {
  return {
    id: b.id.toString(),
    chainId: b.chainId.toString(),
    vault: b.vault,
    firstPayoutId: b.firstPayoutId.toString(),
    count: b.count,
    total: b.total.toString(),
    payoutsHash: b.payoutsHash,
    status: b.status,
    attempt: b.attempt,
    txKey: b.txKey,
    txHash: b.txHash,
    blockNumber: s(b.blockNumber),
    paidTotal: s(b.paidTotal),
    deferredTotal: s(b.deferredTotal),
    error: b.error,
    nextAttemptAt: iso(b.nextAttemptAt),
    createdBy: b.createdBy,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
    sentAt: iso(b.sentAt),
    finalAt: iso(b.finalAt),
  };
}

const skippedView = (x: SkippedSeller) => ({ sellerId: x.sellerId, reason: x.reason, ...(x.detail === undefined ? {} : { detail: x.detail }) });

const SellerParams = Type.Object({ id: Identifier });
const DestinationBody = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: 64, description: "EVM address (checksummed or lower case)", examples: ["0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"] }),
    chainId: Type.Optional(ChainId),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    sellerId: Type.Optional(Identifier),
    status: Type.Optional(Type.String({ enum: [...PAYOUT_STATUSES] })),
    batchId: Type.Optional(Id),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(Int8Id("^[0-9]{1,19}$", "nextCursor of the previous page")),
  },
  { additionalProperties: false },
);

/** What a payout (of either rail) pays: the seller's available-balance lines it drained. */
export const SettlesView = Type.Object({
  payoutId: Type.String(),
  sellerId: Type.String(),
  currency: Type.String(),
  amount: Type.String(),
  total: Type.String(),
  matches: Type.Boolean(),
  lines: Type.Array(
    Type.Object({
      transactionId: Type.String(),
      effectiveAt: Type.String(),
      what: Type.String(),
      settlementId: Type.Union([Type.String(), Type.Null()]),
      phase: Type.String(),
      amount: Type.String(),
      available: Type.String(),
    }),
  ),
});

export function settlesView(r: {
  payout: { id: bigint; sellerId: string; currency: string; amount: bigint };
  lines: Array<{ transactionId: string; effectiveAt: Date; metadata: Record<string, string>; transactionKind: string; phase: string; amount: bigint; available: bigint }>;
  total: bigint;
  matches: boolean;
}): Static<typeof SettlesView> {
  return {
    payoutId: r.payout.id.toString(),
    sellerId: r.payout.sellerId,
    currency: r.payout.currency,
    amount: r.payout.amount.toString(),
    total: r.total.toString(),
    matches: r.matches,
    lines: r.lines.map((l) => ({
      transactionId: l.transactionId,
      effectiveAt: l.effectiveAt.toISOString(),
      what: lineKind(l.metadata, l.transactionKind),
      settlementId: l.metadata["settlementId"] ?? null,
      phase: l.phase,
      amount: l.amount.toString(),
      available: l.available.toString(),
    })),
  };
}


export async function payoutRoutes(app: FastifyInstance): Promise<void> {
  const service = (): PayoutService => {
    const p = app.services.payouts;
    if (p === undefined) throw PayoutErrors.unavailable("payouts are not configured on this server (no chain)");
    return p;
  };
  const read = { auth: { scopes: ["finance:read" as const] } };
  const admin = { auth: { scopes: ["admin" as const] } };

  app.put("/v1/sellers/:id/payout-destination", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Set a seller's payout address",
      description: "Where the vault pays the seller on a chain. An address belongs to one seller per chain (ENT_PAYOUT_DESTINATION_TAKEN); the zero address and the vault are refused. A seller established in mainland China (homeCountry CN) is never paid in a stablecoin: 422 ENT_PAYOUT_VAULT_NOT_PERMITTED naming `homeCountry` (set its bank account instead: the bank rail pays it in its own currency). Every change is kept in an audit trail. Idempotent: the same address again changes nothing.",
      security: bearer,
      params: SellerParams,
      body: DestinationBody,
      response: { 200: DestinationView, ...problems(400, 401, 403, 404, 409, 422, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof SellerParams>;
    const body = request.body as Static<typeof DestinationBody>;
    const r = await service().setDestination(id, body.address, { by: actorOf(request.principal), ...(body.chainId === undefined ? {} : { chainId: BigInt(body.chainId) }) });
    return destinationView(r.destination);
  });

  app.get("/v1/sellers/:id/payout-destination", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get a seller's payout address",
      security: bearer,
      params: SellerParams,
      querystring: Type.Object({ chainId: Type.Optional(ChainId) }, { additionalProperties: false }),
      response: { 200: DestinationView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof SellerParams>;
    const { chainId } = request.query as { chainId?: string };
    return destinationView(await service().getDestination(id, chainId === undefined ? undefined : BigInt(chainId)));
  });

  app.get("/v1/payouts", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "List payouts, newest first",
      description: "Filters `sellerId`, `status`, `batchId`; cursor pagination (`nextCursor`).",
      security: bearer,
      querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(PayoutView), nextCursor: Nullable(Type.String()) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof ListQuery>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const items = await service().listPayouts({
      ...(q.sellerId === undefined ? {} : { sellerId: q.sellerId }),
      ...(q.status === undefined ? {} : { status: q.status as Payout["status"] }),
      ...(q.batchId === undefined ? {} : { batchId: BigInt(q.batchId) }),
      ...(q.cursor === undefined ? {} : { before: BigInt(q.cursor) }),
      limit,
    });
    return { items: items.map(payoutView), nextCursor: items.length === limit ? items[items.length - 1]!.id.toString() : null };
  });

  app.get("/v1/payouts/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get one payout",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: PayoutView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => payoutView(await service().getPayout(BigInt((request.params as { id: string }).id))));

  app.get("/v1/payouts/:id/settles", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "What a payout pays: the seller's available-balance lines it drained",
      description:
        "The postings of `seller:<id>:available` in the payout's currency since the previous payout of that currency reserved the balance (or since the start), up to this payout's reserve: captures released, refunds, fee adjustments, a previous payout's reserve given back... `available` is each line's effect on the spendable balance; they sum to `total`, which equals the payout's amount (`matches`) since a payout takes the whole available balance.",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: {
        200: SettlesView,
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (request) => settlesView(await service().settledBy(BigInt((request.params as { id: string }).id))));

  app.get("/v1/payouts/batches/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get a payout batch with its payouts",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: Type.Object({ batch: BatchView, payouts: Type.Array(PayoutView) }), ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const r = await service().getBatch(BigInt((request.params as { id: string }).id));
    return { batch: batchView(r.batch), payouts: r.payouts.map(payoutView) };
  });

  app.post("/v1/payouts/runs", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Run payouts now",
      description: "Plans payout batches from sellers' available balances (each reserved in the ledger by a pending transaction) and submits them to the vault at once; the batches then follow the chain (observed, safe, final). Another run in progress (any instance) is ENT_PAYOUT_PLANNER_BUSY. A run holds a short lease (6 s) that it renews every 2 s while it works, so a run whose instance died is taken over within seconds; a run that lost its lease stops before its next write, 409 ENT_PAYOUT_PLANNER_LEASE_LOST (what it recorded is reserved and sent by the next run and the worker).",
      security: bearer,
      response: { 201: Type.Object({ batches: Type.Array(BatchView), skipped: Type.Array(SkippedView) }), ...problems(401, 403, 409, 429, 503) },
    },
  }, async (request, reply) => {
    const r = await service().run({ by: actorOf(request.principal) });
    return reply.status(201).send({ batches: r.batches.map(batchView), skipped: r.skipped.map(skippedView) });
  });

  app.post("/v1/payouts/batches/:id/cancel", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Cancel a planned or failed payout batch",
      description: "Voids the batch's payout ids on chain (`cancelPayouts`); once that is final the ledger reserves are voided and the sellers' balances are available again. A batch in flight or final is ENT_PAYOUT_INVALID_STATE.",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: BatchView, ...problems(400, 401, 403, 404, 409, 429, 503) },
    },
  }, async (request) => batchView(await service().cancelBatch(BigInt((request.params as { id: string }).id), { by: actorOf(request.principal) })));
}

