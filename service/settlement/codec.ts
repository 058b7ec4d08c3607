/**
 * The settlement module's JSON forms: events, breakdowns and records (bigints as
 * decimal strings, instants as ISO 8601), and the request hash that tells a replay of an event from
 * a conflicting reuse of its id. Stored rows, HTTP answers and reports all use these.
 */
import { createHash } from "node:crypto";
import { feeBandsFromJson, feeBandsToJson, type FeeBandEvidenceJson } from "./fees.js";
import { LINE_KEYS, type Breakdown, type FxLeg, type Lines, type SettlementEvent, type SettlementRecord, type TaxBaseFigures } from "./types.js";

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function linesToJson(l: Lines): Json {
  const o: Record<string, Json> = {};
  for (const k of LINE_KEYS) o[k] = l[k].toString();
  return o;
}

/** One FX leg as JSON (stored rows and HTTP answers): amounts as strings, the mid rate and markup only where one was taken. */
export function fxLegToJson(l: FxLeg) {
  return {
    from: l.from,
    to: l.to,
    rate: l.rate,
    quoteId: l.quoteId,
    source: l.source,
    asOf: l.asOf,
    fromAmount: l.fromAmount.toString(),
    toAmount: l.toAmount.toString(),
    ...(l.markupBps === undefined || l.midRate === undefined ? {} : { midRate: l.midRate, markupBps: l.markupBps }),
    ...(l.basis === undefined ? {} : { basis: l.basis }),
  };
}

export function fxToJson(fx: readonly FxLeg[]): Json {
  return fx.map(fxLegToJson);
}

/** A tax's base; the other figures only when not zero (every record is written once per event: no bytes for zeros). */
function taxBaseToJson(f: TaxBaseFigures): Json {
  return {
    taxableBase: f.taxableBase.toString(),
    ...(f.nonTaxable === 0n ? {} : { nonTaxable: f.nonTaxable.toString() }),
    ...(f.otherTaxes === 0n ? {} : { otherTaxes: f.otherTaxes.toString() }),
    ...(f.deduction === 0n ? {} : { deduction: f.deduction.toString() }),
  };
}

export function breakdownToJson(breakdown: Breakdown): Json {
  const { feeBands, taxBases, ...b } = breakdown;
  return {
    ...b,
    lines: linesToJson(b.lines),
    gatewayFee: {
      buyer: b.gatewayFee.buyer.toString(),
      usd: b.gatewayFee.usd.toString(),
      payout: b.gatewayFee.payout.toString(),
      borneBy: b.gatewayFee.borneBy,
      ...(b.gatewayFee.expenseUsd === undefined ? {} : { expenseUsd: b.gatewayFee.expenseUsd.toString() }),
    },
    fxDifference: b.fxDifference.toString(),
    released: b.released.toString(),
    fx: fxToJson(b.fx),
    ...(feeBands === undefined ? {} : { feeBands: feeBandsToJson(feeBands) as unknown as Json }),
    ...(taxBases === undefined
      ? {}
      : { taxBases: { national: taxBaseToJson(taxBases.national), ...(taxBases.state === undefined ? {} : { state: taxBaseToJson(taxBases.state) }) } }),
  };
}

function taxBaseFromJson(v: unknown): TaxBaseFigures {
  const o = v as Obj;
  return { taxableBase: big(o.taxableBase), nonTaxable: big(o.nonTaxable ?? 0), otherTaxes: big(o.otherTaxes ?? 0), deduction: big(o.deduction ?? 0) };
}

function taxBasesFromJson(v: unknown): Breakdown["taxBases"] {
  const o = v as Obj;
  return { national: taxBaseFromJson(o.national), ...(o.state === undefined || o.state === null ? {} : { state: taxBaseFromJson(o.state) }) };
}

type Obj = Record<string, unknown>;
const big = (v: unknown): bigint => BigInt(String(v));

function fxFromJson(v: unknown): FxLeg[] {
  return (v as Obj[]).map((l) => ({
    from: String(l.from),
    to: String(l.to),
    rate: String(l.rate),
    quoteId: typeof l.quoteId === "string" ? l.quoteId : null,
    source: String(l.source),
    asOf: String(l.asOf),
    fromAmount: big(l.fromAmount),
    toAmount: big(l.toAmount),
    ...(typeof l.markupBps === "number" && typeof l.midRate === "string" ? { midRate: l.midRate, markupBps: l.markupBps } : {}),
    ...(l.basis === "inverse" || l.basis === "share" ? { basis: l.basis } : {}),
  }));
}

export function breakdownFromJson(v: unknown): Breakdown {
  const o = v as Obj;
  const lines = {} as Lines;
  // A line added after a record was written (fxMarkup) reads as zero: it did not exist then.
  for (const k of LINE_KEYS) lines[k] = big((o.lines as Obj)[k] ?? 0);
  const fee = o.gatewayFee as Obj;
  const { taxBases, ...rest } = o;
  return {
    ...(rest as unknown as Breakdown),
    lines,
    gatewayFee: {
      buyer: big(fee.buyer),
      usd: big(fee.usd),
      payout: big(fee.payout),
      borneBy: fee.borneBy === "platform" ? "platform" : "seller",
      ...(fee.expenseUsd === undefined ? {} : { expenseUsd: big(fee.expenseUsd) }),
    },
    fxDifference: big(o.fxDifference),
    released: big(o.released),
    fx: fxFromJson(o.fx),
    ...(Array.isArray(o.feeBands) ? { feeBands: feeBandsFromJson(o.feeBands as FeeBandEvidenceJson[]) } : {}),
    // Absent on records booked before bases were kept: the return says so rather than guess one.
    ...(taxBases === undefined || taxBases === null ? {} : { taxBases: taxBasesFromJson(taxBases) }),
  };
}

/**
 * A gateway event as JSON, every field present (absent optionals as null) in a fixed order: also the
 * canonical form the request hash covers, so the order of these keys must never change.
 */
export function eventToJson(e: SettlementEvent): Record<string, string | null> {
  return {
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
    fxQuoteId: e.fxQuoteId ?? null,
    originalEventId: e.originalEventId ?? null,
    supplyPrice: e.supplyPrice?.toString() ?? null,
    // Only when given: the canonical form (and so the request hash) of every other event is unchanged.
    ...(e.listingPrice === undefined ? {} : { listingPrice: e.listingPrice.toString(), listingCurrency: e.listingCurrency ?? null }),
    ...(e.returnReason === undefined ? {} : { returnReason: e.returnReason }),
    ...(e.shipFrom === undefined ? {} : { shipFrom: e.shipFrom }),
    ...(e.shipToRegion === undefined ? {} : { shipToRegion: e.shipToRegion }),
    ...(e.shipping === undefined ? {} : { shipping: e.shipping.toString() }),
    ...(e.weightGrams === undefined ? {} : { weightGrams: String(e.weightGrams) }),
  };
}

/** A settlement record as JSON (bigints as decimal strings, instants as ISO 8601) for HTTP and reports. */
export function settlementToJson(r: SettlementRecord): Json {
  return {
    id: r.id,
    eventKey: r.eventKey,
    captureKey: r.captureKey,
    sequence: r.sequence,
    status: r.status,
    program: r.program,
    journalTransactionId: r.journalTransactionId,
    event: eventToJson(r.event),
    breakdown: breakdownToJson(r.breakdown),
    refundedDelta: r.refundedDelta.toString(),
    createdAt: r.createdAt.toISOString(),
  };
}

/** sha256 of the event's canonical JSON (`eventToJson`): equal for a replay, different for a conflicting reuse. */
export function requestHash(e: SettlementEvent): string {
  return createHash("sha256").update(JSON.stringify(eventToJson(e))).digest("hex");
}
