/**
 * Response shapes and the functions that turn domain objects (bigint, Date) into them.
 */
import { Type, type Static } from "typebox";
import type { Account, Balance, ChainVerification, HistoryPosting, JournalTransaction, PeriodClose, TrialBalance } from "../../ledger/types.js";
import type { FxQuote, FxRate, ResolvedRate, RateLeg } from "../../fx/index.js";
import { fxLegToJson, MAX_WEIGHT_GRAMS, orderKey, type Fulfilment, weightBandsToJson, type FeeSchedule, type Seller, type SellerGateways, type LineEvidence, type SellerStatement, type SettlementItemResult, type SettlementRecord, type SettlementResult, type SellerCharge, type TaxReturn, type TaxRule } from "../../settlement/index.js";
import { csvLine } from "../../csv.js";
import { CHECKLIST_KINDS, CHECKLIST_REFS, type Checklist } from "../../checklist.js";
import { journalToJson, withOwnBalancesOnly } from "../../ledger/json.js";
import { exponentOrNull, formatMajorOrNull, formatMinor, type ExponentOf } from "../../money/index.js";
import { statusOfCode } from "../../errors.js";
import { Amount, DateTime, NonNegativeAmount, StringMap } from "./common.js";

const PhaseView = Type.Union([Type.Literal("posted"), Type.Literal("pending"), Type.Literal("commit"), Type.Literal("void")], {
  description: "posted moves the balance; pending reserves; commit turns a reserve into posted; void releases it. Sum only posted and commit legs for a posted balance.",
});

export const PostingView = Type.Object({
  id: Type.String(),
  account: Type.String(),
  currency: Type.String(),
  direction: Type.Union([Type.Literal("debit"), Type.Literal("credit")]),
  phase: PhaseView,
  amount: Amount,
  balanceAfter: Type.Union([Amount, Type.Null()], {
    description: "The account's posted balance after this posting, in its normal direction. Null in a gateway key's answer for an account not the gateway's own (a platform, seller or tax account moves with other gateways' bookings)",
  }),
});

export const TransactionView = Type.Object(
  {
    id: Type.String(),
    sequence: Type.String({ description: "Position in the journal hash chain" }),
    kind: Type.String(),
    status: Type.String(),
    idempotencyKey: Type.String(),
    postings: Type.Array(PostingView),
    metadata: StringMap,
    description: Type.Union([Type.String(), Type.Null()]),
    effectiveAt: DateTime,
    bookedAt: DateTime,
    referencesId: Type.Union([Type.String(), Type.Null()]),
    hash: Type.String(),
    previousHash: Type.String(),
  },
  { $id: "Transaction" },
);
export type TransactionView = Static<typeof TransactionView>;

/** The API's view of a journal transaction: the ledger's JSON shape (an anchoring proof carries the same). */
export function transactionView(t: JournalTransaction): TransactionView {
  return journalToJson(t);
}

export const FxLegView = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rate: Type.String({ description: "Units of `to` per unit of `from`" }),
  quoteId: Type.Union([Type.String(), Type.Null()]),
  source: Type.String(),
  asOf: Type.String(),
  fromAmount: Amount,
  toAmount: Amount,
  midRate: Type.Optional(Type.String({ description: "Without a quote, when a markup was taken: the mid rate (`rate` is it less the markup)" })),
  markupBps: Type.Optional(Type.Integer()),
  basis: Type.Optional(
    Type.Union([Type.Literal("inverse"), Type.Literal("share")], {
      description:
        "Absent: toAmount = fromAmount x rate (half-even). inverse: the to side was fixed (a supplier's price, a listing in the payout currency) and fromAmount = toAmount / rate. share: both sides are the event's share of the capture's leg, taken back line by line",
    }),
  ),
});

export const EventView = Type.Object({
  type: Type.String(),
  gateway: Type.String(),
  gatewayEventId: Type.String(),
  settlementId: Type.String(),
  sellerId: Type.String(),
  market: Type.String(),
  category: Type.String(),
  currency: Type.String(),
  amount: Amount,
  gatewayFee: Amount,
  occurredAt: DateTime,
  fxQuoteId: Type.Optional(Type.String()),
  originalEventId: Type.Optional(Type.String()),
  supplyPrice: Type.Optional(Amount),
  listingPrice: Type.Optional(Amount),
  listingCurrency: Type.Optional(Type.String()),
  returnReason: Type.Optional(Type.String()),
  shipFrom: Type.Optional(Type.String()),
  shipToRegion: Type.Optional(Type.String()),
  shipping: Type.Optional(Amount),
  weightGrams: Type.Optional(Type.Integer({ description: "Captures: the parcel's weight in grams" })),
});

export const SettlementView = Type.Object(
  {
    id: Type.String(),
    eventKey: Type.String(),
    captureKey: Type.String(),
    sequence: Type.Integer(),
    status: Type.Literal("posted", { description: "Always posted: a record is written in the commit of its journal transaction" }),
    program: Type.String(),
    event: EventView,
    fx: Type.Array(FxLegView, { description: "FX evidence: every conversion, its rate, source and instant" }),
    breakdown: Type.Record(Type.String(), Type.Unknown(), {
      description:
        "Economic lines (amounts as strings), schedule and tax rule applied; `sellerBucket` is the seller balance the proceeds (`lines.sellerMain`) moved in (`held` until a POP order is confirmed, else `available`), `reserveBucket` the reserve's; `autoConfirmAt` when held proceeds are auto-released, or, under a schedule releasing from delivery, `confirmOnDelivery` (`days` after the order's delivery evidence, overdue past `deadline`) and `autoConfirmAt` null; `fxDifference` (USD minor units) what a follow-up booked to `platform:fx_gain_loss`, its exchange difference: a converted order's proceeds at today's rate against the capture's values, 0 when nothing was converted (the lines then add up to the gross); `lines.checkoutFx` a listing price's checkout difference (`platform:revenue:checkout_fx`, a pricing result at the sale, no exchange difference; a capture booked before it carries it in `lines.fxGainLoss`, and its follow-ups take it back from `platform:fx_gain_loss`)",
    }),
    refundedDelta: Amount,
    journalTransactionId: Type.String(),
    createdAt: DateTime,
  },
  { $id: "Settlement" },
);
export type SettlementView = Static<typeof SettlementView>;

/** bigint -> string, Date -> ISO, recursively: for JSON documents whose shape is open. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

export function settlementView(r: SettlementRecord): SettlementView {
  const e = r.event;
  return {
    id: r.id,
    eventKey: r.eventKey,
    captureKey: r.captureKey,
    sequence: r.sequence,
    status: r.status,
    program: r.program,
    event: {
      type: e.type,
      gateway: e.gateway,
      gatewayEventId: e.gatewayEventId,
      settlementId: e.settlementId,
      sellerId: e.sellerId,
      market: e.market,
      category: e.category,
      currency: e.currency,
      amount: e.amount.toString(),
      gatewayFee: e.gatewayFee.toString(),
      occurredAt: e.occurredAt.toISOString(),
      ...(e.fxQuoteId === undefined ? {} : { fxQuoteId: e.fxQuoteId }),
      ...(e.originalEventId === undefined ? {} : { originalEventId: e.originalEventId }),
      ...(e.supplyPrice === undefined ? {} : { supplyPrice: e.supplyPrice.toString() }),
      ...(e.listingPrice === undefined ? {} : { listingPrice: e.listingPrice.toString(), listingCurrency: e.listingCurrency }),
      ...(e.returnReason === undefined ? {} : { returnReason: e.returnReason }),
      ...(e.shipFrom === undefined ? {} : { shipFrom: e.shipFrom }),
      ...(e.shipToRegion === undefined ? {} : { shipToRegion: e.shipToRegion }),
      ...(e.shipping === undefined ? {} : { shipping: e.shipping.toString() }),
      ...(e.weightGrams === undefined ? {} : { weightGrams: e.weightGrams }),
    },
    fx: r.fx.map(fxLegToJson),
    breakdown: jsonSafe(r.breakdown) as Record<string, unknown>,
    refundedDelta: r.refundedDelta.toString(),
    journalTransactionId: r.journalTransactionId,
    createdAt: r.createdAt.toISOString(),
  };
}

export const SettlementResultView = Type.Object({
  status: Type.Union([Type.Literal("created"), Type.Literal("exists")]),
  settlement: Type.Ref("Settlement"),
  transaction: Type.Ref("Transaction"),
});

/** `reader`: the gateway of a gateway key (its own accounts' balances only: ledger/json.ts withOwnBalancesOnly), null for a platform key. */
export function settlementResultView(r: SettlementResult, reader: string | null) {
  const transaction = journalToJson(r.transaction);
  return { status: r.status, settlement: settlementView(r.settlement), transaction: reader === null ? transaction : withOwnBalancesOnly(transaction, reader) };
}

export const BatchItemView = Type.Object({
  index: Type.Integer(),
  status: Type.Union([Type.Literal("created"), Type.Literal("exists"), Type.Literal("error")]),
  settlement: Type.Optional(Type.Ref("Settlement")),
  transaction: Type.Optional(Type.Ref("Transaction")),
  settlementId: Type.Optional(Type.String({ description: "With `Prefer: return=minimal`, instead of `settlement`: the settlement's id" })),
  transactionId: Type.Optional(Type.String({ description: "With `Prefer: return=minimal`, instead of `transaction`: its journal transaction's id" })),
  error: Type.Optional(Type.Ref("ItemError")),
});

/**
 * One item's refusal in a batch answer: its code, the HTTP status the code answers on its own (a
 * 4xx: do not send the item again as it is; a 503: the same item again is safe), the message and
 * the fields it names.
 */
export const ItemError = Type.Object(
  {
    code: Type.String(),
    status: Type.Integer({ description: "The HTTP status this code answers on its own (as `GET /problems` lists it)" }),
    message: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: "ItemError" },
);

export function itemErrorView(e: { code: string; message: string; fields?: ReadonlyArray<{ field: string; message: string }> | undefined }): Static<typeof ItemError> {
  return { code: e.code, status: statusOfCode(e.code), message: e.message, ...(e.fields ? { errors: [...e.fields] } : {}) };
}

/** A batch item: the settlement and its transaction in full (balances as settlementResultView gives `reader`), or (`minimal`) their ids only; an error in full either way. */
export function batchItemView(r: SettlementItemResult, index: number, reader: string | null, minimal = false) {
  if (r.status === "error") {
    return { index, status: "error" as const, error: itemErrorView(r.error) };
  }
  if (minimal) return { index, status: r.status, settlementId: r.settlement.id, transactionId: r.transaction.id };
  return { index, ...settlementResultView(r, reader) };
}

export const SellerView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  program: Type.String({ description: "pop, full_hosting, semi_hosting or overseas_hosting" }),
  payoutCurrency: Type.String(),
  homeCountry: Type.String(),
  warehouse: Type.Optional(Type.String({ description: "ISO 3166 country of the warehouse its goods ship from: a capture without shipFrom ships from here (tax supply)" })),
  listingCurrency: Type.Optional(Type.String({ description: "USD or the payout currency: a capture's listingPrice without listingCurrency is in it" })),
  gateways: Type.Array(Type.String(), { description: "The gateways the seller accepts settlement events from, sorted: a capture naming it from another gateway is refused, 403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED (to a gateway key 404 ENT_SETTLEMENT_UNKNOWN_SELLER, as an unknown seller; empty: it accepts none). Changed with PUT /v1/sellers/:id/gateways" }),
});

export function sellerView(s: Seller): Static<typeof SellerView> {
  return {
    id: s.id,
    name: s.name,
    program: s.program,
    payoutCurrency: s.payoutCurrency,
    homeCountry: s.homeCountry,
    ...(s.warehouse === undefined ? {} : { warehouse: s.warehouse }),
    ...(s.listingCurrency === undefined ? {} : { listingCurrency: s.listingCurrency }),
    gateways: [...(s.gateways ?? [])],
  };
}

export const SellerGatewaysView = Type.Object({
  sellerId: Type.String(),
  gateways: Type.Array(Type.String(), { description: "The gateways the seller accepts settlement events from, sorted (empty: none)" }),
  setAt: Type.Union([DateTime, Type.Null()], { description: "When the set was last changed (null: never set; it accepts none)" }),
  setBy: Type.Union([Type.String(), Type.Null()], { description: "Who set it: `api-key:<id>`, `loader` (the demo loader or a script) or `migration` (the gateways that had posted for the seller when the binding was introduced)" }),
  changes: Type.Array(
    Type.Object({
      id: Type.String(),
      gateways: Type.Array(Type.String()),
      previousGateways: Type.Union([Type.Array(Type.String()), Type.Null()], { description: "The set it replaced (null: the first set)" }),
      setAt: DateTime,
      setBy: Type.String(),
    }),
    { description: "Every set, newest first (at most 100): an append-only trail" },
  ),
});

export function sellerGatewaysView(g: SellerGateways): Static<typeof SellerGatewaysView> {
  return {
    sellerId: g.sellerId,
    gateways: g.gateways,
    setAt: g.setAt === null ? null : g.setAt.toISOString(),
    setBy: g.setBy,
    changes: g.changes.map((c) => ({ id: c.id, gateways: c.gateways, previousGateways: c.previousGateways, setAt: c.setAt.toISOString(), setBy: c.setBy })),
  };
}

const WeightBandTableView = Type.Object(
  {
    bands: Type.Array(
      Type.Object(
        { upToGrams: Type.Integer({ minimum: 1, maximum: MAX_WEIGHT_GRAMS, description: "Inclusive upper bound of the band, grams" }), fee: { ...NonNegativeAmount, description: "USD minor units" } },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 50, description: "Ascending by upToGrams: a parcel is priced by the first band it does not exceed" },
    ),
    beyond: Type.Optional(
      Type.Object(
        { perGrams: Type.Integer({ minimum: 1, maximum: MAX_WEIGHT_GRAMS }), fee: { ...NonNegativeAmount, description: "USD minor units" } },
        { additionalProperties: false, description: "Above the last band: the last band's fee plus `fee` per further `perGrams` or part of it. Absent: heavier parcels are refused (ENT_SETTLEMENT_WEIGHT_OUT_OF_BANDS)" },
      ),
    ),
  },
  { additionalProperties: false },
);
export const WeightBandsView = Type.Object(
  { logistics: Type.Optional(WeightBandTableView), warehousing: Type.Optional(WeightBandTableView), fulfilment: Type.Optional(WeightBandTableView) },
  {
    additionalProperties: false,
    description:
      "Per-order fees priced by the parcel's weight: a line's bands replace its flat fixed fee, for the schedule's market (the destination). A capture under a banded schedule needs weightGrams (else 422 ENT_SETTLEMENT_WEIGHT_REQUIRED).",
  },
);

export const FeeScheduleView = Type.Object({
  id: Type.String(),
  program: Type.String(),
  market: Type.String({ description: "ISO 3166 alpha-2, or * for every market" }),
  category: Type.String({ description: "category code, or * for every category" }),
  effectiveFrom: DateTime,
  commissionBps: Type.Integer(),
  paymentFeeBorneBy: Type.Union([Type.Literal("seller"), Type.Literal("platform")]),
  fixedFees: Type.Object({ logistics: Amount, warehousing: Amount, fulfilment: Amount }, { description: "USD minor units per order" }),
  holdUntilConfirmation: Type.Boolean(),
  autoConfirmDays: Type.Integer(),
  reserve: Type.Union([Type.Object({ bps: Type.Integer(), holdDays: Type.Integer() }), Type.Null()]),
  referenceRates: Type.Record(Type.String(), Type.String(), {
    description: "Full hosting: the planning USD->payout rates the supply was priced at, a budget figure never booked (cost of sales is the supply price at the spot rate applied to it, IAS 21.21)",
  }),
  serviceFeesRefundable: Type.Boolean({ description: "Whether logistics, warehousing and fulfilment are refunded with the goods (default false: services rendered, the seller is charged them on a return)" }),
  weightBands: Type.Optional(WeightBandsView),
  storageRate: Type.Optional(Type.String({ description: "Storage: USD minor units per cubic metre per day (a decimal string, e.g. \"45\" = USD 0.45), billed by volume x days from stock snapshots; absent: storage not billed" })),
  autoConfirmFrom: Type.Optional(
    Type.Union([Type.Literal("capture"), Type.Literal("delivery")], {
      description:
        "What the auto-release of held proceeds counts `autoConfirmDays` from: the capture (absent, the default), or the order's delivery evidence (`PUT /v1/orders/:settlementId/fulfilment`): then an order never delivered is never auto-released. delivery needs holdUntilConfirmation",
    }),
  ),
  deliveryDeadlineDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3660, description: "With autoConfirmFrom delivery: days after the capture past which an order not delivered is listed overdue (`GET /v1/orders?fulfilment=overdue`) and announced once (webhook `order.fulfilment_overdue`); absent: never" })),
});

export function feeScheduleView(schedule: FeeSchedule): Static<typeof FeeScheduleView> {
  const { weightBands, ...f } = schedule;
  return {
    ...f,
    serviceFeesRefundable: f.serviceFeesRefundable === true,
    effectiveFrom: f.effectiveFrom.toISOString(),
    fixedFees: { logistics: f.fixedFees.logistics.toString(), warehousing: f.fixedFees.warehousing.toString(), fulfilment: f.fixedFees.fulfilment.toString() },
    ...(weightBands === undefined ? {} : { weightBands: weightBandsToJson(weightBands) }),
  };
}

export const FulfilmentView = Type.Object({
  id: Type.String(),
  gateway: Type.String(),
  settlementId: Type.String(),
  sequence: Type.Integer({ description: "1 for the order's first entry; a correction is the next one" }),
  current: Type.Boolean({ description: "Whether this is the gateway's latest entry for the order: the one that counts" }),
  status: Type.Union([Type.Literal("shipped"), Type.Literal("delivered")]),
  carrier: Type.String(),
  trackingNumber: Type.String(),
  shippedAt: DateTime,
  deliveredAt: Type.Union([DateTime, Type.Null()]),
  recordedBy: Type.String({ description: "api-key:<id> of the key that posted it" }),
  recordedAt: DateTime,
});

/** Entries of one or more orders, each marked `current` when it is its order's latest. */
export function fulfilmentViews(entries: readonly Fulfilment[]): Array<Static<typeof FulfilmentView>> {
  const latest = new Map<string, number>();
  for (const f of entries) latest.set(orderKey(f.gateway, f.settlementId), Math.max(latest.get(orderKey(f.gateway, f.settlementId)) ?? 0, f.sequence));
  return entries.map((f) => fulfilmentView(f, latest.get(orderKey(f.gateway, f.settlementId)) === f.sequence));
}

export function fulfilmentView(f: Fulfilment, current: boolean): Static<typeof FulfilmentView> {
  return {
    id: f.id,
    gateway: f.gateway,
    settlementId: f.settlementId,
    sequence: f.sequence,
    current,
    status: f.status,
    carrier: f.carrier,
    trackingNumber: f.trackingNumber,
    shippedAt: f.shippedAt.toISOString(),
    deliveredAt: f.deliveredAt === null ? null : f.deliveredAt.toISOString(),
    recordedBy: f.recordedBy,
    recordedAt: f.recordedAt.toISOString(),
  };
}

export const TaxRuleView = Type.Object({
  id: Type.String(),
  market: Type.String(),
  effectiveFrom: DateTime,
  kind: Type.Union([Type.Literal("vat"), Type.Literal("sales_tax"), Type.Literal("import_duty"), Type.Literal("none")]),
  scheme: Type.String(),
  rateBps: Type.Integer(),
  collectedBy: Type.Union([Type.Literal("marketplace"), Type.Literal("seller"), Type.Literal("none")], {
    description:
      "Who is liable: marketplace (the platform collects it from the buyer's gross and owes it, booked to tax:<market>:<scheme>:payable), seller (the seller declares it itself: nothing is booked, the capture records the scheme with taxCollectedBy seller), none (customs levy it at import, or there is no tax)",
  }),
  authority: Type.String(),
  note: Type.String(),
  supply: Type.Optional(Type.String({ description: "import or domestic; absent: both" })),
  program: Type.Optional(Type.String({ description: "The seller program it applies to (pop, full_hosting, semi_hosting, overseas_hosting); absent: every program. A program's own rule wins over a general one" })),
  sellerEstablished: Type.Optional(
    Type.Literal("outside_market_area", {
      description: "Only for sellers whose homeCountry is outside the market's VAT area (the EU, Northern Ireland included, for an EU market; the market's country otherwise), as the EU deemed supplier (VAT Directive art. 14a(2)); absent: every seller",
    }),
  ),
  territory: Type.Optional(
    Type.String({
      pattern: "^[A-Z]{2}-[A-Z0-9]{1,3}$",
      description: "National rules: only for captures shipped to this ISO 3166-2 subdivision (shipToRegion), where it wins over every rule without one: a territory outside the market's VAT area, e.g. ES-CN (the Canary Islands)",
    }),
  ),
  maxValue: Type.Optional(Type.Object({ currency: Type.String(), amount: Amount })),
  deduction: Type.Optional(Type.Object({ currency: Type.String(), amount: Amount })),
  level: Type.Optional(Type.Literal("state", { description: "A tax of the buyer's state on top of the national one (ICMS, US state sales tax); absent: national" })),
  region: Type.Optional(Type.String({ pattern: "^[A-Z]{2}-[A-Z0-9]{1,3}$", description: "State taxes: the ISO 3166-2 subdivision, chosen by the capture's shipToRegion" })),
  nationalScheme: Type.Optional(
    Type.String({
      pattern: "^[A-Z0-9_]{1,40}$",
      description: "State taxes: levied only with a national rule of this scheme (Brazil's ICMS with BR_REMESSA_CONFORME: above the regime's ceiling both are levied at customs); absent: with any national rule",
    }),
  ),
  computation: Type.Optional(Type.Literal("included", { description: "The rate applies to a base that contains the tax itself (T = gross x rate, ICMS 'por dentro'); absent: to the price before the tax (T = gross x rate / (1 + rate))" })),
  basis: Type.Optional(
    Type.Object(
      {
        shipping: Type.Optional(Type.Literal("untaxed", { description: "The capture's shipping is outside the tax base; absent: taxed like the goods" })),
        bandValue: Type.Optional(Type.Literal("intrinsic", { description: "The band is measured on the goods without shipping (IOSS); absent: the customs value, shipping included" })),
        valuedAt: Type.Optional(Type.Literal("customs_month", { description: "The band converts at the rate of the penultimate Wednesday of the previous month (EU customs); absent: the payment instant's rate" })),
      },
      { additionalProperties: false },
    ),
  ),
});

export function taxRuleView(r: TaxRule): Static<typeof TaxRuleView> {
  const { maxValue, deduction, ...rest } = r;
  return {
    ...rest,
    effectiveFrom: r.effectiveFrom.toISOString(),
    ...(maxValue === undefined ? {} : { maxValue: { currency: maxValue.currency, amount: maxValue.amount.toString() } }),
    ...(deduction === undefined ? {} : { deduction: { currency: deduction.currency, amount: deduction.amount.toString() } }),
  };
}

const StatementLineView = Type.Object({
  transactionId: Type.String(),
  effectiveAt: DateTime,
  bookedAt: DateTime,
  what: Type.String({ description: "capture, refund, chargeback, release, payout, adjustment... (the event type, else the transaction's kind)" }),
  settlementId: Type.Union([Type.String(), Type.Null()]),
  payoutId: Type.Union([Type.String(), Type.Null()], {
    description: "The payout the line belongs to: a vault payout's id, or a bank payout's EndToEndId (`ENT-BP-…`, as in the pain.001 and the bank's camt.054); the CSV's `payout_id`",
  }),
  description: Type.Union([Type.String(), Type.Null()]),
  direction: Type.Union([Type.Literal("debit"), Type.Literal("credit")]),
  phase: Type.String(),
  amount: Amount,
  change: Amount,
  balance: Amount,
  event: Type.Union(
    [
      Type.Object({
        currency: Type.String({ description: "The buyer's currency" }),
        amount: { ...Amount, description: "The event's amount in the buyer's currency, minor units (a capture's gross, a refund's amount)" },
        feeCurrency: Type.String({ description: "The currency of the fees below (the settlement currency, USD)" }),
        gatewayFee: Amount,
        commission: Amount,
        paymentFeeRecovery: Amount,
        logistics: Amount,
        warehousing: Amount,
        fulfilment: Amount,
        fxMarkup: Amount,
      }),
      Type.Null(),
    ],
    { description: "A settlement event's figures as booked and anchored with the line's transaction, so the net `change` reconciles to the order; null for a line of no settlement event (a payout, a charge)" },
  ),
  rates: Type.Array(Type.Object({ pair: Type.String({ description: "e.g. EUR-USD, USD-CNY" }), rate: Type.String(), quoteId: Type.Union([Type.String(), Type.Null()]) }), {
    description: "Every rate the line's transaction converted at (the FX evidence booked with it); empty when it converted nothing",
  }),
  token: Type.Union([Type.Object({ amount: Type.String({ description: "Token base units sent (USDC: 10^-6)" }), rate: Type.Union([Type.String(), Type.Null()]), quoteId: Type.Union([Type.String(), Type.Null()]) }), Type.Null()], {
    description: "A vault payout: the stablecoin sent and the quote's rate (payout currency to USD); null otherwise",
  }),
});

export const SellerStatementView = Type.Object({
  sellerId: Type.String(),
  program: Type.String(),
  from: DateTime,
  to: DateTime,
  accounts: Type.Array(Type.Object({ account: Type.String(), currency: Type.String(), opening: Amount, closing: Amount, lines: Type.Array(StatementLineView) })),
});

export function sellerStatementView(s: SellerStatement): Static<typeof SellerStatementView> {
  return {
    sellerId: s.seller.id,
    program: s.seller.program,
    from: s.from.toISOString(),
    to: s.to.toISOString(),
    accounts: s.accounts.map((a) => ({
      account: a.account,
      currency: a.currency,
      opening: a.opening.toString(),
      closing: a.closing.toString(),
      lines: a.lines.map((l) => ({
        transactionId: l.transactionId,
        effectiveAt: l.effectiveAt.toISOString(),
        bookedAt: l.bookedAt.toISOString(),
        what: l.what,
        settlementId: l.metadata["settlementId"] ?? null,
        payoutId: l.metadata["payoutId"] ?? l.metadata["endToEndId"] ?? null,
        description: l.description,
        direction: l.direction,
        phase: l.phase,
        amount: l.amount.toString(),
        change: l.change.toString(),
        balance: l.balance.toString(),
        event: eventView(l.evidence.event),
        rates: l.evidence.rates,
        token: l.evidence.token,
      })),
    })),
  };
}

function eventView(e: LineEvidence["event"]): Static<typeof StatementLineView>["event"] {
  if (e === null) return null;
  return {
    currency: e.currency,
    amount: e.amount.toString(),
    feeCurrency: e.feeCurrency,
    gatewayFee: e.gatewayFee.toString(),
    commission: e.commission.toString(),
    paymentFeeRecovery: e.paymentFeeRecovery.toString(),
    logistics: e.logistics.toString(),
    warehousing: e.warehousing.toString(),
    fulfilment: e.fulfilment.toString(),
    fxMarkup: e.fxMarkup.toString(),
  };
}

const STATEMENT_COLUMNS = [
  "account",
  "currency",
  "line",
  "effective_at",
  "transaction_id",
  "what",
  "settlement_id",
  "payout_id",
  "phase",
  "change_minor",
  "change",
  "balance_minor",
  "balance",
  "charge_id",
  "description",
  // Appended, so the columns before keep their positions: the event's figures (minor units), the rates, a vault payout's token.
  "event_currency",
  "event_amount_minor",
  "fee_currency",
  "gateway_fee_minor",
  "commission_minor",
  "payment_fee_recovery_minor",
  "logistics_minor",
  "warehousing_minor",
  "fulfilment_minor",
  "fx_markup_minor",
  "rates",
  "token_amount",
  "token_rate",
] as const;

/** A line's evidence as the CSV's appended cells: the event's figures, the rates as `PAIR RATE` joined by `; `, a vault payout's token. */
function evidenceCells(e: LineEvidence): Array<string | bigint | null> {
  const f = e.event;
  return [
    ...(f === null ? Array<null>(10).fill(null) : [f.currency, f.amount, f.feeCurrency, f.gatewayFee, f.commission, f.paymentFeeRecovery, f.logistics, f.warehousing, f.fulfilment, f.fxMarkup]),
    e.rates.length === 0 ? null : e.rates.map((r) => `${r.pair} ${r.rate}`).join("; "),
    e.token?.amount ?? null,
    e.token?.rate ?? null,
  ];
}

/** The statement as CSV: per account an opening line, one line per posting with its evidence, a closing line; amounts in minor and major units. */
export function sellerStatementCsv(s: SellerStatement, exponentOf: ExponentOf): string {
  const major = (v: bigint, currency: string) => formatMajorOrNull(v, currency, exponentOf);
  let out = csvLine(STATEMENT_COLUMNS);
  for (const a of s.accounts) {
    const none = Array<null>(13).fill(null);
    out += csvLine([a.account, a.currency, "opening", s.from.toISOString(), null, null, null, null, null, null, null, a.opening, major(a.opening, a.currency), null, null, ...none]);
    for (const l of a.lines) {
      out += csvLine([
        a.account, a.currency, "posting", l.effectiveAt.toISOString(), l.transactionId, l.what, l.metadata["settlementId"] ?? null, l.metadata["payoutId"] ?? l.metadata["endToEndId"] ?? null,
        l.phase, l.change, major(l.change, a.currency), l.balance, major(l.balance, a.currency), l.metadata["chargeId"] ?? null, l.description, ...evidenceCells(l.evidence),
      ]);
    }
    out += csvLine([a.account, a.currency, "closing", s.to.toISOString(), null, null, null, null, null, null, null, a.closing, major(a.closing, a.currency), null, null, ...none]);
  }
  return out;
}

/** The statement as the lines of a printable PDF (http/pdf.ts): per account opening, postings, closing, in major units. */
export function sellerStatementLines(s: SellerStatement, exponentOf: ExponentOf): string[] {
  const money = (v: bigint, currency: string) => formatMajorOrNull(v, currency, exponentOf) ?? v.toString();
  const lines = [
    `# Seller statement: ${s.seller.name} (${s.seller.id})`,
    `Program ${s.seller.program}, payout currency ${s.seller.payoutCurrency}, ${s.seller.homeCountry}`,
    `Period ${s.from.toISOString()} to ${s.to.toISOString()} (effective time, UTC; end excluded)`,
    "Pending lines (a payout reserved, not yet final) change no posted balance: shown with 0.00.",
    "",
  ];
  for (const a of s.accounts) {
    lines.push(`# ${a.account} (${a.currency}${exponentOf(a.currency) === null ? ", minor units" : ""})`);
    lines.push(`${"Opening balance".padEnd(76)}${money(a.opening, a.currency).padStart(22)}`);
    lines.push(`${"effective (UTC)".padEnd(17)}${"what".padEnd(20)}${"order/payout/charge".padEnd(20)}${"tx".padStart(8)}${"change".padStart(16)}${"balance".padStart(17)}`);
    for (const l of a.lines) {
      const ref = l.metadata["settlementId"] ?? l.metadata["payoutId"] ?? l.metadata["endToEndId"] ?? l.metadata["chargeId"] ?? "";
      lines.push(
        `${l.effectiveAt.toISOString().slice(0, 16).replace("T", " ").padEnd(17)}${l.what.slice(0, 19).padEnd(20)}${ref.slice(0, 19).padEnd(20)}${l.transactionId.padStart(8)}${money(l.change, a.currency).padStart(16)}${money(l.balance, a.currency).padStart(17)}`,
      );
    }
    lines.push(`${"Closing balance".padEnd(76)}${money(a.closing, a.currency).padStart(22)}`, "");
  }
  return lines;
}

export const SellerChargeView = Type.Object({
  status: Type.String(),
  charge: Type.Object({
    sellerId: Type.String(),
    chargeId: Type.String(),
    kind: Type.String(),
    amount: { ...Amount, description: "USD minor units" },
    occurredAt: DateTime,
    note: Type.String(),
    currency: Type.String({ description: "The seller's payout currency" }),
    charged: { ...Amount, description: "What the seller was charged, in `currency` minor units" },
    rate: Type.Union([Type.String(), Type.Null()], { description: "The USD->currency mid rate applied (null for USD)" }),
    transactionId: Type.String(),
    evidence: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "How the amount was computed, e.g. a storage run's snapshots, days, rate and volume-days" })),
  }),
});

export function sellerChargeView(r: { status: string; charge: SellerCharge }): Static<typeof SellerChargeView> {
  const c = r.charge;
  return { status: r.status, charge: { ...c, amount: c.amount.toString(), charged: c.charged.toString(), occurredAt: c.occurredAt.toISOString() } };
}

const TAX_BASE_FIELDS = {
  taxableBase: "What the rate applied to, as booked with the event: the price net of this tax (for a tax on a base that contains it, Brazil's ICMS, with it)",
  nonTaxable: "The part of the gross outside the base that is no tax: a separately stated shipping the rule leaves untaxed (California, Florida)",
  otherTaxes: "The order's other taxes in the gross, outside this base: the state's ICMS on the national import tax's line",
  deduction: "A fixed amount taken off the tax, not in the gross: Brazil's USD 20 above USD 50, in the market currency as converted then",
} as const;

const nullableAmount = (description: string) => Type.Union([Amount, Type.Null()], { description });

const TaxReturnBaseTotalView = Type.Object({
  taxableBase: nullableAmount("Sum of the lines' taxableBase; null when a line of the group has none recorded"),
  nonTaxable: nullableAmount("Sum of the lines' nonTaxable; null as taxableBase"),
  otherTaxes: nullableAmount("Sum of the lines' otherTaxes; null as taxableBase"),
  deduction: nullableAmount("Sum of the lines' deduction; null as taxableBase"),
});

export const TaxReturnView = Type.Object({
  market: Type.String(),
  region: Type.Optional(Type.String({ description: "A state tax's return: its region" })),
  scheme: Type.String(),
  account: Type.String(),
  currency: Type.String(),
  from: DateTime,
  to: DateTime,
  opening: { ...Amount, description: "Tax payable before `from` (credit positive)" },
  collected: { ...Amount, description: "Tax collected in the period" },
  refunded: { ...Amount, description: "Tax given back in the period (refunds, chargebacks)" },
  closing: { ...Amount, description: "opening + collected - refunded: the tax payable before `to`" },
  bases: Type.Object(
    {
      collected: TaxReturnBaseTotalView,
      refunded: TaxReturnBaseTotalView,
      net: TaxReturnBaseTotalView,
    },
    { description: "The bases of the lines that collected tax, of those that gave it back (positive, as `refunded`), and their net (collected - refunded)" },
  ),
  linesWithoutBase: Type.Integer({ minimum: 0, description: "Lines with no base recorded (booked before bases were kept, or no settlement event): each says why in baseMissing, and the totals of their group are null" }),
  byRate: Type.Array(
    Type.Object({
      rateBps: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: "The rate, basis points (2100: 21%); null for the lines with no tax rule recorded" }),
      ruleIds: Type.Array(Type.String(), { description: "The tax rule versions booked at this rate" }),
      lines: Type.Integer({ minimum: 0 }),
      collected: { ...Amount, description: "Tax collected at this rate in the period" },
      refunded: { ...Amount, description: "Tax given back at this rate in the period" },
      bases: Type.Object({ collected: TaxReturnBaseTotalView, refunded: TaxReturnBaseTotalView, net: TaxReturnBaseTotalView }, { description: "As the return's `bases`, for these lines" }),
    }),
    {
      description:
        "The lines grouped by the rate their tax was computed at, ascending: a return is filed per rate (the IOSS return per member state of consumption and rate). The groups' collected, refunded and bases add up to the return's.",
    },
  ),
  lines: Type.Array(
    Type.Object({
      transactionId: Type.String(),
      effectiveAt: DateTime,
      originalEffectiveAt: Type.Union([DateTime, Type.Null()], {
        description:
          "A line booked after its period was closed is effective at the close instant (`effectiveAt`); this is the instant it belongs to, the journal transaction's `metadata.originalEffectiveAt`: the period it corrects. Null when it was booked in its own period",
      }),
      what: Type.String({ description: "capture, refund, chargeback, chargeback_reversal, adjustment..." }),
      settlementId: Type.Union([Type.String(), Type.Null()]),
      gatewayEventId: Type.Union([Type.String(), Type.Null()]),
      gross: Type.Union([Amount, Type.Null()], {
        description: "The event's gross (captures, refunds, chargebacks and their reversals), signed as the tax and base: negative for a refund or chargeback (it gives back), positive for a capture or a chargeback reversal, the other way for a ledger reversal; null for a posting of no such event",
      }),
      tax: { ...Amount, description: "Signed: + collected, - given back" },
      taxableBase: nullableAmount(`${TAX_BASE_FIELDS.taxableBase}; signed as the tax (a refund gives back the share of the base it gives back of the tax); null when none was recorded`),
      nonTaxable: nullableAmount(`${TAX_BASE_FIELDS.nonTaxable}; signed as the tax; null as taxableBase`),
      otherTaxes: nullableAmount(`${TAX_BASE_FIELDS.otherTaxes}; signed as the tax; null as taxableBase`),
      deduction: nullableAmount(`${TAX_BASE_FIELDS.deduction}; signed as the tax; null as taxableBase`),
      baseMissing: Type.Union([Type.String(), Type.Null()], { description: "Why the base figures are null (the event was booked before bases were recorded; not a settlement event); null when they are given" }),
      ruleId: Type.Union([Type.String(), Type.Null()], { description: "The tax rule version the event was booked under (anchored with it); null for a posting of no settlement event" }),
      rateBps: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
        description: "That rule's rate, basis points: as booked for a state tax the platform collects, else the rule version's (rule versions are immutable; for a sale the platform does not collect, the rate the liable party owes); null without a rule",
      }),
      collectedBy: Type.Union([Type.Literal("marketplace"), Type.Literal("seller"), Type.Literal("none"), Type.Null()], {
        description: "Who is liable for this line's tax: marketplace (a posting of the platform's tax payable), seller (the seller declares it: the platform collected nothing, `tax` is 0), none (nobody at the sale: customs at import, or no tax)",
      }),
      sellerId: Type.Union([Type.String(), Type.Null()], { description: "The order's seller (null for a posting of no settlement event)" }),
      shipFrom: Type.Union([Type.String(), Type.Null()], { description: "Where the goods shipped from, ISO 3166-1 alpha-2, as booked (the capture's shipFrom, else the seller's warehouse); null when not known" }),
      shipTo: Type.Union([Type.String(), Type.Null()], { description: "Where they shipped to: the capture's shipToRegion (ISO 3166-2; a follow-up's from the state tax or territory rule its capture was booked under), else the market's country" }),
    }),
  ),
});

const amountOrNull = (v: bigint | null) => (v === null ? null : v.toString());

function baseTotalView(t: TaxReturn["bases"]["net"]): Static<typeof TaxReturnBaseTotalView> {
  return { taxableBase: amountOrNull(t.taxableBase), nonTaxable: amountOrNull(t.nonTaxable), otherTaxes: amountOrNull(t.otherTaxes), deduction: amountOrNull(t.deduction) };
}

function basesView(b: TaxReturn["bases"]): Static<typeof TaxReturnView>["bases"] {
  return { collected: baseTotalView(b.collected), refunded: baseTotalView(b.refunded), net: baseTotalView(b.net) };
}

export function taxReturnView(r: TaxReturn): Static<typeof TaxReturnView> {
  return {
    ...r,
    from: r.from.toISOString(),
    to: r.to.toISOString(),
    opening: r.opening.toString(),
    collected: r.collected.toString(),
    refunded: r.refunded.toString(),
    closing: r.closing.toString(),
    bases: basesView(r.bases),
    byRate: r.byRate.map((g) => ({ ...g, collected: g.collected.toString(), refunded: g.refunded.toString(), bases: basesView(g.bases) })),
    lines: r.lines.map((l) => ({
      ...l,
      effectiveAt: l.effectiveAt.toISOString(),
      originalEffectiveAt: l.originalEffectiveAt === null ? null : l.originalEffectiveAt.toISOString(),
      gross: amountOrNull(l.gross),
      tax: l.tax.toString(),
      taxableBase: amountOrNull(l.taxableBase),
      nonTaxable: amountOrNull(l.nonTaxable),
      otherTaxes: amountOrNull(l.otherTaxes),
      deduction: amountOrNull(l.deduction),
    })),
  };
}

const TAX_RETURN_COLUMNS = [
  "market",
  "scheme",
  "currency",
  "effective_at",
  "what",
  "settlement_id",
  "gateway_event_id",
  "transaction_id",
  "gross_minor",
  "gross",
  "tax_minor",
  "tax",
  "taxable_base_minor",
  "taxable_base",
  "non_taxable_minor",
  "non_taxable",
  "other_taxes_minor",
  "other_taxes",
  "deduction_minor",
  "deduction",
  "base_missing",
  "rule_id",
  "rate_bps",
  "original_effective_at",
  // A state tax's jurisdiction (US-CA, BR-SP; empty for a national tax), so that returns of several
  // states concatenated stay apart. Columns are only ever appended, so earlier ones keep their positions.
  "region",
  "collected_by",
  "seller_id",
  "ship_from",
  "ship_to",
] as const;

/**
 * The return as the JSON has it, one row each: the opening tax payable (at `from`), one line per
 * tax posting with its base, then the period's tax collected, given back (negative) and their net
 * (`total`) with the bases of the same lines, then one `rate` row per rate (`rate_bps`, its tax
 * collected less given back and the net bases of its lines, the rules in `rule_id` separated by
 * spaces), and the closing tax payable (at `to`: opening + total; a balance of tax, so no base);
 * amounts in minor and major units, a line's gross signed as its tax. A line booked after its period
 * closed names the instant it belongs to in `original_effective_at` (as the journal export); every
 * row of a state tax's return names its `region`. A base the JSON has as null is an empty cell, and a line's
 * `base_missing` says why. Each line names who is liable, the seller and where the goods shipped from and to.
 */
export function taxReturnCsv(r: TaxReturn): string {
  const major = (v: bigint) => (exponentOrNull(r.currency) === null ? null : formatMinor(v, r.currency));
  const both = (v: bigint | null) => [v, v === null ? null : major(v)];
  const bases = (b: { taxableBase: bigint | null; nonTaxable: bigint | null; otherTaxes: bigint | null; deduction: bigint | null }) => [
    ...both(b.taxableBase),
    ...both(b.nonTaxable),
    ...both(b.otherTaxes),
    ...both(b.deduction),
  ];
  const noBase = [null, null, null, null, null, null, null, null, null, null, null];
  const region = r.region ?? null;
  const figure = (at: Date, what: string, v: bigint, base: (bigint | string | null)[]) =>
    csvLine([r.market, r.scheme, r.currency, at.toISOString(), what, null, null, null, null, null, v, major(v), ...base, null, region, null, null, null, null]);
  const negated = (t: TaxReturn["bases"]["refunded"]) => ({
    taxableBase: t.taxableBase === null ? null : -t.taxableBase,
    nonTaxable: t.nonTaxable === null ? null : -t.nonTaxable,
    otherTaxes: t.otherTaxes === null ? null : -t.otherTaxes,
    deduction: t.deduction === null ? null : -t.deduction,
  });
  let out = csvLine(TAX_RETURN_COLUMNS) + figure(r.from, "opening", r.opening, noBase);
  for (const l of r.lines) {
    out += csvLine([r.market, r.scheme, r.currency, l.effectiveAt.toISOString(), l.what, l.settlementId, l.gatewayEventId, l.transactionId, ...both(l.gross), l.tax, major(l.tax), ...bases(l), l.baseMissing, l.ruleId, l.rateBps, l.originalEffectiveAt?.toISOString() ?? null, region, l.collectedBy, l.sellerId, l.shipFrom, l.shipTo]);
  }
  out +=
    figure(r.to, "collected", r.collected, [...bases(r.bases.collected), null, null, null]) +
    figure(r.to, "given_back", -r.refunded, [...bases(negated(r.bases.refunded)), null, null, null]) +
    figure(r.to, "total", r.collected - r.refunded, [...bases(r.bases.net), null, null, null]);
  for (const g of r.byRate) out += figure(r.to, "rate", g.collected - g.refunded, [...bases(g.bases.net), null, g.ruleIds.join(" "), g.rateBps === null ? null : String(g.rateBps)]);
  out += figure(r.to, "closing", r.closing, noBase);
  return out;
}

export const BalanceView = Type.Object({
  account: Type.String(),
  currency: Type.String(),
  posted: Amount,
  available: Amount,
  pendingDebits: Amount,
  pendingCredits: Amount,
  postedDebits: Amount,
  postedCredits: Amount,
  asOf: DateTime,
  lastTransactionId: Type.Union([Type.String(), Type.Null()]),
});

export function balanceView(b: Balance): Static<typeof BalanceView> {
  return {
    account: b.account,
    currency: b.currency,
    posted: b.posted.toString(),
    available: b.available.toString(),
    pendingDebits: b.pendingDebits.toString(),
    pendingCredits: b.pendingCredits.toString(),
    postedDebits: b.postedDebits.toString(),
    postedCredits: b.postedCredits.toString(),
    asOf: b.asOf.toISOString(),
    lastTransactionId: b.lastTransactionId,
  };
}

export const AccountView = Type.Object({
  code: Type.String(),
  currency: Type.String(),
  ownerType: Type.String(),
  ownerId: Type.String(),
  normalBalance: Type.Union([Type.Literal("debit"), Type.Literal("credit")]),
  allowNegative: Type.Boolean(),
  createdAt: DateTime,
  balance: BalanceView,
});

export function accountView(a: Account & { balance: Balance }): Static<typeof AccountView> {
  return {
    code: a.code,
    currency: a.currency,
    ownerType: a.ownerType,
    ownerId: a.ownerId,
    normalBalance: a.normalBalance,
    allowNegative: a.allowNegative,
    createdAt: a.createdAt.toISOString(),
    balance: balanceView(a.balance),
  };
}

/** One FX position a period close left unrevalued (ledger/types.ts UnrevaluedPosition); also the 409 ENT_LEDGER_PERIOD_FX_NOT_REVALUED's `details.positions`. */
export const UnrevaluedPositionView = Type.Object({
  currency: Type.String(),
  status: Type.Union([Type.Literal("would_book"), Type.Literal("skipped")], { description: "would_book: the revaluation at the period's last instant would book `change`; skipped: it would leave the position out (`code`)" }),
  position: Type.Union([Amount, Type.Null()], { description: "The position in the currency's minor units then (skipped too; null only in closes made before 2026-12-06 that skipped it)" }),
  change: Type.Union([Amount, Type.Null()], { description: "USD minor units the revaluation would book to fx:<X>-USD:revaluation (debit positive)" }),
  midRate: Type.Union([Type.String(), Type.Null()]),
  code: Type.Union([Type.String(), Type.Null()], { description: "Why skipped: ENT_FX_RATE_STALE, ENT_FX_RATE_NOT_FOUND, not_iso_4217, …" }),
  reason: Type.String(),
});

/** A closing rate older than a close allows (ledger/types.ts StaleClosingRate); also the 409 ENT_LEDGER_PERIOD_FX_RATE_STALE's `details.rates`. */
export const StaleClosingRateView = Type.Object({
  currency: Type.String(),
  position: { ...Amount, description: "The position in the currency's minor units at the period's last instant" },
  midRate: Type.String({ description: "The published mid rate in force then, USD per unit of the currency" }),
  source: Type.String(),
  asOf: DateTime,
  ageSeconds: Type.Integer({ description: "The period's last instant less `asOf` (the rate's own instant), whole seconds" }),
  maxAgeSeconds: Type.Integer({ description: "The limit the close applied: CLOSE_MAX_RATE_AGE_DAYS x 86 400" }),
  reason: Type.String(),
});

export const PeriodCloseView = Type.Object({
  id: Type.String(),
  closedBefore: DateTime,
  previousClosedBefore: Type.Union([DateTime, Type.Null()]),
  journalSequence: Type.String({ description: "The journal head when the period closed" }),
  journalHash: Type.String(),
  closedBy: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
  closedAt: DateTime,
  fxNotRevalued: Type.Union([Type.Array(UnrevaluedPositionView), Type.Null()], {
    description: 'What a close accepted with `"fxNotRevalued": "accept"` left unrevalued at the period\'s last instant, per currency (also in its report); null for every other close',
  }),
  fxRateStale: Type.Union([Type.Array(StaleClosingRateView), Type.Null()], {
    description: 'The closing rates older than CLOSE_MAX_RATE_AGE_DAYS at the period\'s last instant that a close accepted with `"fxRateStale": "accept"` stands on, per currency (also in its report); null for every other close',
  }),
});

export function periodCloseView(c: PeriodClose): Static<typeof PeriodCloseView> {
  return {
    id: c.id,
    closedBefore: c.closedBefore.toISOString(),
    previousClosedBefore: c.previousClosedBefore === null ? null : c.previousClosedBefore.toISOString(),
    journalSequence: c.journalSequence.toString(),
    journalHash: c.journalHash,
    closedBy: c.closedBy,
    note: c.note,
    closedAt: c.closedAt.toISOString(),
    fxNotRevalued: c.fxNotRevalued,
    fxRateStale: c.fxRateStale,
  };
}

export const ChecklistItemView = Type.Object({
  kind: Type.String({ enum: [...CHECKLIST_KINDS] }),
  status: Type.Union([Type.Literal("ok"), Type.Literal("open")], { description: "open: needs attention" }),
  blocking: Type.Boolean({ description: "false: listed for information only (dead webhook deliveries), `ready` does not wait for it" }),
  configured: Type.Boolean({ description: "false: the module is not configured here (no bank rail, no chain): nothing to count" }),
  count: Type.Integer({ description: "How many are open (all of them, not only those in `refs`)" }),
  amounts: Type.Array(Type.Object({ currency: Type.String(), amount: Amount }), { description: "Per currency, minor units (empty where an item has no amount)" }),
  refs: Type.Array(Type.Object({ id: Type.String(), href: Type.String({ description: "The route that resolves or shows it" }) }), { description: `The first ${CHECKLIST_REFS}, oldest first` }),
  action: Type.String({ description: "What to do, naming the route" }),
});

export const ChecklistView = Type.Object({
  from: Type.Union([DateTime, Type.Null()], { description: "The latest close (null: the beginning of the books)" }),
  before: DateTime,
  ended: Type.Boolean({ description: "`before` has passed (a period still running can be listed, not closed)" }),
  ready: Type.Boolean({ description: "Nothing blocks: the period has ended, the close would not be refused and no blocking item is open" }),
  closeRefusedWith: Type.Union([Type.String(), Type.Null()], { description: "The code a close at `before` would be refused with now (its FX checks): ENT_LEDGER_PERIOD_FX_NOT_REVALUED, ENT_LEDGER_PERIOD_FX_RATE_STALE; null: none" }),
  items: Type.Array(ChecklistItemView),
  fx: Type.Object({ revalueAt: DateTime, positions: Type.Array(UnrevaluedPositionView), rates: Type.Array(StaleClosingRateView) }, { description: "The close's FX check at the period's last instant, planned now: what it would leave unrevalued, the closing rates older than the limit" }),
});

export function checklistView(c: Checklist): Static<typeof ChecklistView> {
  return {
    from: c.period.from === null ? null : c.period.from.toISOString(),
    before: c.period.to.toISOString(),
    ended: c.ended,
    ready: c.ready,
    closeRefusedWith: c.closeRefusedWith,
    items: c.items.map((i) => ({ ...i, amounts: i.amounts.map((a) => ({ currency: a.currency, amount: a.amount.toString() })) })),
    fx: c.fx,
  };
}

export const TrialBalanceView = Type.Object({
  basis: Type.Literal("effective"),
  from: Type.Union([DateTime, Type.Null()]),
  to: DateTime,
  accounts: Type.Array(
    Type.Object({ account: Type.String(), currency: Type.String(), normalBalance: Type.String(), opening: Amount, debits: Amount, credits: Amount, closing: Amount }),
  ),
  currencies: Type.Array(Type.Object({ currency: Type.String(), debits: Amount, credits: Amount, balanced: Type.Boolean() })),
});

export function trialBalanceView(t: TrialBalance): Static<typeof TrialBalanceView> {
  return {
    basis: "effective",
    from: t.from === null ? null : t.from.toISOString(),
    to: t.to.toISOString(),
    accounts: t.accounts.map((a) => ({ ...a, opening: a.opening.toString(), debits: a.debits.toString(), credits: a.credits.toString(), closing: a.closing.toString() })),
    currencies: t.currencies.map((c) => ({ ...c, debits: c.debits.toString(), credits: c.credits.toString() })),
  };
}

export const HistoryItemView = Type.Object({
  id: Type.String(),
  transactionId: Type.String(),
  direction: Type.String(),
  phase: PhaseView,
  amount: Amount,
  balanceAfter: Amount,
  bookedAt: DateTime,
  effectiveAt: DateTime,
  originalEffectiveAt: Type.Union([DateTime, Type.Null()], {
    description: "When the transaction was booked after its period was closed it is effective at the close instant (`effectiveAt`); this is the instant it was for, the transaction's `metadata.originalEffectiveAt`. Null otherwise",
  }),
});

export function historyItemView(p: HistoryPosting): Static<typeof HistoryItemView> {
  return {
    id: p.id,
    transactionId: p.transactionId,
    direction: p.direction,
    phase: p.phase ?? "posted",
    amount: p.amount.toString(),
    balanceAfter: p.balanceAfter.toString(),
    bookedAt: p.bookedAt.toISOString(),
    effectiveAt: p.effectiveAt.toISOString(),
    originalEffectiveAt: p.originalEffectiveAt === null ? null : p.originalEffectiveAt.toISOString(),
  };
}

export const ChainView = Type.Object({
  ok: Type.Boolean(),
  checked: Type.String(),
  verifiedFrom: Type.String({ description: "First journal sequence verified (1: from the genesis)." }),
  verifiedTo: Type.String({ description: "Last journal sequence verified: the head as committed when verification started; later writes are left to the next run." }),
  headSequence: Type.String(),
  headHash: Type.String(),
  firstBreak: Type.Optional(Type.Object({ sequence: Type.String(), transactionId: Type.String(), expectedHash: Type.String(), storedHash: Type.String() })),
});

export function chainView(c: ChainVerification): Static<typeof ChainView> {
  return {
    ok: c.ok,
    checked: c.checked.toString(),
    verifiedFrom: c.verifiedFrom.toString(),
    verifiedTo: c.verifiedTo.toString(),
    headSequence: c.headSequence.toString(),
    headHash: c.headHash,
    ...(c.firstBreak ? { firstBreak: { ...c.firstBreak, sequence: c.firstBreak.sequence.toString() } } : {}),
  };
}

export const RateLegView = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rateId: Type.String(),
  publishedRate: Type.String(),
  inverted: Type.Boolean(),
  source: Type.String(),
  asOf: Type.String(),
  validUntil: Type.String(),
});

function legView(l: RateLeg): Static<typeof RateLegView> {
  return { from: l.from, to: l.to, rateId: l.rateId, publishedRate: l.publishedRate, inverted: l.inverted, source: l.source, asOf: l.asOf, validUntil: l.validUntil };
}

export const FxRateView = Type.Object({
  id: Type.String(),
  base: Type.String(),
  quote: Type.String(),
  rate: Type.String(),
  source: Type.String(),
  asOf: DateTime,
  validFrom: DateTime,
  validUntil: DateTime,
  publishedAt: DateTime,
});

export function fxRateView(r: FxRate): Static<typeof FxRateView> {
  return { id: r.id, base: r.base, quote: r.quote, rate: r.rate, source: r.source, asOf: r.asOf.toISOString(), validFrom: r.validFrom.toISOString(), validUntil: r.validUntil.toISOString(), publishedAt: r.publishedAt.toISOString() };
}

export const ResolvedRateView = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rate: Type.String(),
  path: Type.String(),
  legs: Type.Array(RateLegView),
  asOf: Type.String(),
  source: Type.String(),
  at: Type.String(),
});

export function resolvedRateView(r: ResolvedRate): Static<typeof ResolvedRateView> {
  return { from: r.from, to: r.to, rate: r.rate, path: r.path, legs: r.legs.map(legView), asOf: r.asOf, source: r.source, at: r.at };
}

export const FxQuoteView = Type.Object({
  id: Type.String(),
  base: Type.String(),
  quote: Type.String(),
  midRate: Type.String(),
  markupBps: Type.Integer(),
  allInRate: Type.String(),
  path: Type.String(),
  legs: Type.Array(RateLegView),
  rateIds: Type.Array(Type.String()),
  ratesAt: DateTime,
  createdAt: DateTime,
  expiresAt: DateTime,
  gateway: Type.Union([Type.String(), Type.Null()], { description: "The gateway that took the quote (only its events can use it); null for an operator's quote" }),
});

export function fxQuoteView(q: FxQuote): Static<typeof FxQuoteView> {
  return {
    id: q.id,
    base: q.base,
    quote: q.quote,
    midRate: q.midRate,
    markupBps: q.markupBps,
    allInRate: q.allInRate,
    path: q.path,
    legs: q.legs.map(legView),
    rateIds: q.rateIds,
    ratesAt: q.ratesAt.toISOString(),
    createdAt: q.createdAt.toISOString(),
    expiresAt: q.expiresAt.toISOString(),
    gateway: q.gateway,
  };
}
