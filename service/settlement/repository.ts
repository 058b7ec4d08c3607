/**
 * Storage of the settlement module: sellers, markets, fee schedules, tax rules and settlement
 * records. Only this file touches the `settlement*` tables; nothing outside the module does.
 */
import { isUniqueViolation } from "../db/errors.js";
import { Prisma, type PrismaClient } from "../db/generated/client.js";
import { isPositiveInt8 } from "../db/int8.js";
import type { SqlRunner, TxRunner } from "../db/sql.js";
import type { LedgerAttachment, TransactionInput } from "../ledger/types.js";
import { weightBandsFromJson, weightBandsToJson, type WeightBandsJson } from "./fees.js";
import { eventKey } from "./plan.js";
import { programItemId, sameProgramItem } from "./program.js";
import { breakdownFromJson, breakdownToJson } from "./codec.js";
import type { Fulfilment, FulfilmentInput, OverdueDelivery } from "./fulfilment.js";
import { appendFulfilment, checkDeliveryDeadlines, latestFulfilments, listFulfilments, listOverdueDeliveries } from "./fulfilment-repository.js";
import {
  TAX_COLLECTORS,
  type Breakdown,
  type FeeSchedule,
  type Market,
  type ProgramKind,
  type ReconciliationRecord,
  type ReturnReason,
  type Seller,
  type SellerGateways,
  type SettlementEventType,
  type SettlementEvent,
  type SettlementRecord,
  type SellerEstablishment,
  type TaxBasis,
  type TaxCollector,
  type TaxLevel,
  type TaxRule,
  type TaxSupply,
} from "./types.js";


export interface NewSettlementRecord {
  eventKey: string;
  captureKey: string;
  sequence: number;
  event: SettlementEvent;
  program: ProgramKind;
  breakdown: Breakdown;
  refundedDelta: bigint;
  requestHash: string;
  /** What the ledger books for it; the record itself travels as its attachment (`attachmentOf`). */
  journalRequest: TransactionInput;
}

/**
 * The record as the ledger writes it in the commit of its journal transaction (`ledger_attach`,
 * migration 20261209100000_settlement_write_once): the `settlements` columns, less the id, the
 * creation instant and the transaction id (the transaction's id and booking instant) and the status.
 */
export function attachmentOf(n: NewSettlementRecord): LedgerAttachment {
  const e = n.event;
  return {
    kind: "settlement",
    row: {
      event_key: n.eventKey,
      capture_key: n.captureKey,
      sequence: n.sequence,
      event_type: e.type,
      gateway: e.gateway,
      gateway_event_id: e.gatewayEventId,
      settlement_id: e.settlementId,
      seller_id: e.sellerId,
      market: e.market,
      category: e.category,
      currency: e.currency,
      amount: e.amount.toString(),
      gateway_fee: e.gatewayFee.toString(),
      supply_price: e.supplyPrice === undefined ? null : e.supplyPrice.toString(),
      listing_price: e.listingPrice === undefined ? null : e.listingPrice.toString(),
      listing_currency: e.listingCurrency ?? null,
      return_reason: e.returnReason ?? null,
      ship_from: e.shipFrom ?? null,
      ship_to_region: e.shipToRegion ?? null,
      shipping: e.shipping === undefined ? null : e.shipping.toString(),
      weight_grams: e.weightGrams ?? null,
      occurred_at: e.occurredAt.toISOString(),
      original_event_id: e.originalEventId ?? null,
      fx_quote_id: e.fxQuoteId ?? null,
      program: n.program,
      breakdown: breakdownToJson(n.breakdown),
      refunded_delta: n.refundedDelta.toString(),
      request_hash: n.requestHash,
    },
  };
}

/** One item of program data, as published through the API. */
export type ProgramItem = { kind: "seller"; seller: Seller } | { kind: "schedule"; schedule: FeeSchedule } | { kind: "taxRule"; taxRule: TaxRule };

/** The settlement explorer's filters (all optional, combined with AND). */
export interface SettlementListFilter {
  settlementId?: string;
  sellerId?: string;
  gateway?: string;
  gatewayEventId?: string;
  market?: string;
  currency?: string;
  type?: SettlementEventType;
  /** occurredAt >= from */
  from?: Date;
  /** occurredAt < to */
  to?: Date;
}

/** One line of the volumes report: records and the sum of their `amount` (minor units of `currency`). */
export interface SettlementVolume {
  day: string;
  market: string;
  currency: string;
  eventType: string;
  count: number;
  amount: bigint;
}

export interface SettlementRepository {
  insertProgramItem(item: ProgramItem, createdBy: string | null): Promise<"created" | ProgramItem>;
  saveMarkets(markets: readonly Market[]): Promise<void>;
  /** Inserts the versions not published yet; returns the ids published already with other content, left as they were. */
  saveSchedules(schedules: readonly FeeSchedule[]): Promise<string[]>;
  /** As saveSchedules, for tax rules. */
  saveTaxRules(rules: readonly TaxRule[]): Promise<string[]>;
  /**
   * Upserts sellers. A seller given `gateways` gets that set (by "loader", in its trail) only when it is
   * created here, or has no set and an empty trail: a set an admin chose is never overwritten by a load.
   */
  saveSellers(sellers: readonly Seller[]): Promise<void>;
  listMarkets(): Promise<Market[]>;
  listSchedules(): Promise<FeeSchedule[]>;
  listTaxRules(): Promise<TaxRule[]>;
  listSellers(): Promise<Seller[]>;
  getSeller(id: string): Promise<Seller | null>;
  /** Sellers by id with their gateways, in one round trip; unknown ids are absent from the map. */
  getSellers(ids: readonly string[]): Promise<Map<string, Seller>>;
  /**
   * Replaces a seller's gateways (sorted, each once) and appends the set to the trail when it
   * changed, in one transaction; false for an unknown seller.
   */
  setSellerGateways(sellerId: string, gateways: readonly string[], setBy: string): Promise<boolean>;
  /** A seller's gateways with the trail of their sets, newest first (at most `limit`); null for an unknown seller. */
  getSellerGateways(sellerId: string, limit: number): Promise<SellerGateways | null>;
  findByEventKey(eventKey: string): Promise<SettlementRecord | null>;
  findById(id: string): Promise<SettlementRecord | null>;
  /** The capture and all its follow-ups, in sequence order. */
  listChain(captureKey: string): Promise<SettlementRecord[]>;
  listBySettlementId(settlementId: string): Promise<SettlementRecord[]>;
  /** Posted records with occurredAt in [from, to), per UTC day, market, currency and event type. */
  volumes(from: Date, to: Date): Promise<SettlementVolume[]>;
  /** The latest occurredAt of a posted record (null: none), whatever order the records were booked in. */
  latestOccurredAt(): Promise<Date | null>;
  /** Newest first (by id), below `beforeId`, at most `limit` rows. */
  list(filter: SettlementListFilter, beforeId: bigint | null, limit: number): Promise<SettlementRecord[]>;
  /**
   * Captures that occurred at or before `before` and may still owe a release: held proceeds with no
   * release booked yet (released from delivery: only once the order's latest evidence is a
   * delivery), or a reserve with no reserve release booked yet. Keyset-paged by id
   * (`afterId`), so captures that stay candidates (e.g. fully refunded before release) never hide
   * later ones behind a full page.
   */
  listReleaseCandidates(filter: { before: Date; limit: number; afterId?: string }): Promise<SettlementRecord[]>;
  /** Delivery evidence (fulfilment-repository.ts): appends an order's next entry unless its latest says the same. */
  appendFulfilment(input: FulfilmentInput, recordedBy: string): Promise<{ status: "created" | "exists"; fulfilment: Fulfilment }>;
  /** An order's delivery evidence, oldest first per gateway; with `gateway`, that gateway's only. */
  listFulfilments(settlementId: string, gateway: string | null): Promise<Fulfilment[]>;
  /** The latest delivery evidence of each order named, by orderKey. */
  latestFulfilments(orders: ReadonlyArray<{ gateway: string; settlementId: string }>): Promise<Map<string, Fulfilment>>;
  /** Orders past their delivery deadline at `asOf` without a delivery, by capture id after `afterId`. */
  listOverdueDeliveries(asOf: Date, afterId: bigint, limit: number): Promise<OverdueDelivery[]>;
  /** Checks delivery deadlines passed by `now` and not checked yet, at most `limit` (fulfilment-repository.ts). */
  checkDeliveryDeadlines(now: Date, limit: number): Promise<{ checked: number; overdue: number }>;
  /**
   * Records refused releases (one row per capture key): attempts + 1, the refusal, and the next
   * attempt `at` + 1 minute doubling per attempt, at most a day; until then the capture is no
   * candidate. Answers each capture's attempts so far (1 on its first refusal).
   */
  recordReleaseFailures(failures: ReadonlyArray<{ captureKey: string; eventType: string; code: string; message: string }>, at: Date): Promise<Map<string, number>>;
  /** Forgets the refusals of captures whose release was booked. */
  clearReleaseFailures(captureKeys: readonly string[]): Promise<void>;
  /** findByEventKey for many keys in one round trip; absent keys are absent from the map. */
  findByEventKeys(eventKeys: readonly string[]): Promise<Map<string, SettlementRecord>>;
  /**
   * One keyset page (by id, ascending) of the compact records of a gateway whose event occurred in
   * [from, to), of the given types. For reconciliation, which reads millions of them.
   */
  reconciliationPage(filter: {
    gateway: string;
    from: Date;
    to: Date;
    types: readonly SettlementEventType[];
    afterId: string;
    limit: number;
  }): Promise<ReconciliationRecord[]>;
}

// ---- JSON (de)serialisation of the breakdown: bigints travel as decimal strings ----

interface SellerRow {
  id: string;
  name: string;
  program: string;
  payoutCurrency: string;
  homeCountry: string;
  warehouse: string | null;
  listingCurrency: string | null;
  gateways: string[];
}

function toSeller(r: SellerRow): Seller {
  return {
    id: r.id,
    name: r.name,
    program: r.program as ProgramKind,
    payoutCurrency: r.payoutCurrency,
    homeCountry: r.homeCountry,
    ...(r.warehouse === null ? {} : { warehouse: r.warehouse }),
    ...(r.listingCurrency === null ? {} : { listingCurrency: r.listingCurrency }),
    gateways: r.gateways,
  };
}

// Sellers with the gateways they accept (none without a row), through the raw runner: the write
// path reads the sellers of a round's captures with this, once per round, never from a cache, so a
// set changed through any instance holds for the next round everywhere.
const SELLERS = `
  SELECT s."id", s."name", s."program", s."payout_currency" AS "payoutCurrency", s."home_country" AS "homeCountry", s."warehouse",
         s."listing_currency" AS "listingCurrency", coalesce(g."gateways", '{}')::text[] AS "gateways"
    FROM "settlement_sellers" s LEFT JOIN "settlement_seller_gateways" g ON g."seller_id" = s."id"`;

/** Writes a seller's gateways and, when they changed, their trail, in `tx` (the seller row is locked by the caller). */
async function writeSellerGateways(tx: TxRunner, sellerId: string, gateways: readonly string[], setBy: string): Promise<void> {
  const [prev] = await tx.q<Array<{ gateways: string[] }>>(`SELECT coalesce("gateways", '{}')::text[] AS "gateways" FROM "settlement_seller_gateways" WHERE "seller_id" = $1`, sellerId);
  if (prev !== undefined && prev.gateways.join("\u0000") === gateways.join("\u0000")) return;
  await tx.q(
    `INSERT INTO "settlement_seller_gateways" ("seller_id", "gateways", "set_at", "set_by") VALUES ($1, $2::text[], now(), $3)
     ON CONFLICT ("seller_id") DO UPDATE SET "gateways" = EXCLUDED."gateways", "set_at" = EXCLUDED."set_at", "set_by" = EXCLUDED."set_by"`,
    sellerId,
    [...gateways],
    setBy,
  );
  await tx.q(
    `INSERT INTO "settlement_seller_gateway_changes" ("seller_id", "gateways", "previous_gateways", "set_at", "set_by") VALUES ($1, $2::text[], $3::text[], now(), $4)`,
    sellerId,
    [...gateways],
    prev === undefined ? null : prev.gateways,
    setBy,
  );
}

/** Who set a seller's gateways: the acting API key, else the loader (demo data, scripts, tests). */
const setterOf = (createdBy: string | null) => (createdBy === null ? "loader" : `api-key:${createdBy}`);

/** A NUMERIC(38,0) as Prisma gives it (a Decimal) or as the raw runner does (its decimal text). */
type Numeric = { toFixed(n: number): string } | string;
const int = (v: Numeric): bigint => BigInt(typeof v === "string" ? v : v.toFixed(0));
const dec = (v: Numeric | null): bigint | undefined => (v === null ? undefined : int(v));

interface SettlementRow {
  id: bigint;
  eventKey: string;
  captureKey: string;
  sequence: number;
  eventType: string;
  gateway: string;
  gatewayEventId: string;
  settlementId: string;
  sellerId: string;
  market: string;
  category: string;
  currency: string;
  amount: Numeric;
  gatewayFee: Numeric;
  supplyPrice: Numeric | null;
  listingPrice: Numeric | null;
  listingCurrency: string | null;
  returnReason: string | null;
  shipFrom: string | null;
  shipToRegion: string | null;
  shipping: Numeric | null;
  weightGrams: number | null;
  occurredAt: Date;
  originalEventId: string | null;
  fxQuoteId: string | null;
  program: string;
  breakdown: unknown;
  refundedDelta: Numeric;
  journalTransactionId: string;
  requestHash: string;
  createdAt: Date;
}

function toRecord(r: SettlementRow): SettlementRecord {
  const event: SettlementEvent = {
    type: r.eventType as SettlementEvent["type"],
    gateway: r.gateway,
    gatewayEventId: r.gatewayEventId,
    settlementId: r.settlementId,
    sellerId: r.sellerId,
    market: r.market,
    category: r.category,
    currency: r.currency,
    amount: int(r.amount),
    gatewayFee: int(r.gatewayFee),
    occurredAt: r.occurredAt,
  };
  if (r.fxQuoteId !== null) event.fxQuoteId = r.fxQuoteId;
  if (r.originalEventId !== null) event.originalEventId = r.originalEventId;
  const supply = dec(r.supplyPrice);
  if (supply !== undefined) event.supplyPrice = supply;
  if (r.returnReason !== null) event.returnReason = r.returnReason as ReturnReason;
  if (r.shipFrom !== null) event.shipFrom = r.shipFrom;
  if (r.shipToRegion !== null) event.shipToRegion = r.shipToRegion;
  const shipping = dec(r.shipping);
  if (shipping !== undefined) event.shipping = shipping;
  if (r.weightGrams !== null) event.weightGrams = r.weightGrams;
  const listing = dec(r.listingPrice);
  if (listing !== undefined) event.listingPrice = listing;
  if (listing !== undefined && r.listingCurrency !== null) event.listingCurrency = r.listingCurrency;
  const breakdown = breakdownFromJson(r.breakdown);
  return {
    id: r.id.toString(),
    eventKey: r.eventKey,
    captureKey: r.captureKey,
    sequence: r.sequence,
    event,
    program: r.program as ProgramKind,
    breakdown,
    fx: breakdown.fx,
    refundedDelta: int(r.refundedDelta),
    status: "posted",
    journalTransactionId: r.journalTransactionId,
    requestHash: r.requestHash,
    createdAt: r.createdAt,
  };
}

/** Decimal integer string -> bigint; up to 15 digits through a double (exact, and much faster). */
function bigOf(s: string): bigint {
  return s.length <= 15 ? BigInt(Number(s)) : BigInt(s);
}

// One row per PAGE: the page is packed server-side into one text value (unit/record separators
// \x1f/\x1e; every packed field is an id, code, integer or decimal, none can contain them).
// Decoding thousands of rows field by field in the driver cost ~10x more than splitting one
// string (measured: 200k rows in ~6 s on PGlite row by row, ~0.6 s packed).
const RECONCILIATION_PAGE = `
  SELECT count(*)::int AS n, string_agg(concat_ws(chr(31), p.id::text, p.gateway_event_id, p.settlement_id, p.event_type,
      p.seller_id, p.market, p.currency, p.amount::text, p.gateway_fee::text,
      (date_part('epoch', p.occurred_at) * 1000)::int8::text, (date_part('epoch', p.created_at) * 1000)::int8::text,
      p.journal_transaction_id, coalesce(p.original_event_id, ''),
      coalesce((SELECT l->>'rate' FROM jsonb_array_elements(p.breakdown->'fx') l WHERE l->>'from' = p.currency AND l->>'to' = 'USD' LIMIT 1), '')),
    chr(30) ORDER BY p.id) AS blob
  FROM (
    SELECT id, gateway_event_id, settlement_id, event_type, seller_id, market, currency, amount, gateway_fee, occurred_at,
      created_at, journal_transaction_id, original_event_id, breakdown
    FROM settlements
    WHERE gateway = $1 AND id > $2 AND occurred_at >= $3 AND occurred_at < $4 AND event_type = ANY($5::text[])
    ORDER BY id
    LIMIT $6
  ) p`;

/** A tax rule's basis from its columns: absent when every column is null (the defaults). */
function taxBasisOf(r: { basisShipping: string | null; basisBandValue: string | null; basisValuedAt: string | null }): { basis?: TaxBasis } {
  const basis: TaxBasis = {
    ...(r.basisShipping === null ? {} : { shipping: r.basisShipping as "untaxed" }),
    ...(r.basisBandValue === null ? {} : { bandValue: r.basisBandValue as "intrinsic" }),
    ...(r.basisValuedAt === null ? {} : { valuedAt: r.basisValuedAt as "customs_month" }),
  };
  return Object.keys(basis).length === 0 ? {} : { basis };
}

/** A tax rule as its table's columns (the band's amount as a decimal string). */
function taxRuleColumns(r: TaxRule) {
  return {
    market: r.market,
    effectiveFrom: r.effectiveFrom,
    kind: r.kind,
    scheme: r.scheme,
    rateBps: r.rateBps,
    collectedBy: r.collectedBy,
    authority: r.authority,
    note: r.note,
    supply: r.supply ?? null,
    program: r.program ?? null,
    sellerEstablished: r.sellerEstablished ?? null,
    territory: r.territory ?? null,
    maxValueCurrency: r.maxValue?.currency ?? null,
    maxValueAmount: r.maxValue?.amount.toString() ?? null,
    deductionCurrency: r.deduction?.currency ?? null,
    deductionAmount: r.deduction?.amount.toString() ?? null,
    level: r.level ?? null,
    region: r.region ?? null,
    nationalScheme: r.nationalScheme ?? null,
    computation: r.computation ?? null,
    basisShipping: r.basis?.shipping ?? null,
    basisBandValue: r.basis?.bandValue ?? null,
    basisValuedAt: r.basis?.valuedAt ?? null,
  };
}

/** A fee schedule as its table's columns (amounts as decimal strings). */
function scheduleColumns(s: FeeSchedule) {
  return {
    program: s.program,
    market: s.market,
    category: s.category,
    effectiveFrom: s.effectiveFrom,
    commissionBps: s.commissionBps,
    paymentFeeBorneBy: s.paymentFeeBorneBy,
    logisticsFee: s.fixedFees.logistics.toString(),
    warehousingFee: s.fixedFees.warehousing.toString(),
    fulfilmentFee: s.fixedFees.fulfilment.toString(),
    holdUntilConfirmation: s.holdUntilConfirmation,
    autoConfirmDays: s.autoConfirmDays,
    autoConfirmFrom: s.autoConfirmFrom ?? "capture",
    deliveryDeadlineDays: s.deliveryDeadlineDays ?? null,
    reserveBps: s.reserve?.bps ?? null,
    reserveHoldDays: s.reserve?.holdDays ?? null,
    referenceRates: s.referenceRates,
    serviceFeesRefundable: s.serviceFeesRefundable === true,
    weightBands: s.weightBands === undefined ? Prisma.DbNull : (weightBandsToJson(s.weightBands) as object),
    storageRate: s.storageRate ?? null,
  };
}

// A record by event key, through the raw runner as one named statement (parsed once per
// connection, one text-array parameter whatever the number of keys). Every group of settlement
// events starts with this lookup; through Prisma it was `IN ($1, ..., $n)`, a new statement text
// per key count, so PostgreSQL parsed and planned it at every call: 0.58 ms of its CPU a lookup
// under the HTTP bench (parse 0.19, bind 0.18, execute 0.21; log_min_duration_statement).
const RECORDS_BY_EVENT_KEY = `
  SELECT "id", "event_key" AS "eventKey", "capture_key" AS "captureKey", "sequence", "event_type" AS "eventType", "gateway",
         "gateway_event_id" AS "gatewayEventId", "settlement_id" AS "settlementId", "seller_id" AS "sellerId", "market", "category",
         "currency", "amount", "gateway_fee" AS "gatewayFee", "supply_price" AS "supplyPrice", "listing_price" AS "listingPrice",
         "listing_currency" AS "listingCurrency", "return_reason" AS "returnReason", "ship_from" AS "shipFrom",
         "ship_to_region" AS "shipToRegion", "shipping", "weight_grams" AS "weightGrams", "occurred_at" AS "occurredAt",
         "original_event_id" AS "originalEventId", "fx_quote_id" AS "fxQuoteId", "program", "breakdown",
         "refunded_delta" AS "refundedDelta", "journal_transaction_id" AS "journalTransactionId", "request_hash" AS "requestHash",
         "created_at" AS "createdAt"
    FROM "settlements" WHERE "event_key" = ANY($1::text[])`;

/**
 * Refused releases: attempts + 1, and the next attempt 1 minute after the refusal, doubling per
 * earlier attempt, at most a day (2^11 minutes already exceeds it).
 */
const RECORD_RELEASE_FAILURES = `
  INSERT INTO "settlement_release_failures" AS f
    ("capture_key", "event_type", "attempts", "last_code", "last_message", "first_failed_at", "last_failed_at", "next_attempt_at")
  SELECT k, t, 1, c, m, $5::timestamptz, $5::timestamptz, $5::timestamptz + interval '1 minute'
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(k, t, c, m)
  ON CONFLICT ("capture_key") DO UPDATE SET
    "event_type" = EXCLUDED."event_type",
    "attempts" = f."attempts" + 1,
    "last_code" = EXCLUDED."last_code",
    "last_message" = EXCLUDED."last_message",
    "last_failed_at" = EXCLUDED."last_failed_at",
    "next_attempt_at" = EXCLUDED."last_failed_at" + LEAST(60 * power(2, LEAST(f."attempts", 11)), 86400) * interval '1 second'
  RETURNING "capture_key" AS "captureKey", "attempts"`;

export class PrismaSettlementRepository implements SettlementRepository {
  /**
   * `sql`: the raw runner on the same database, for the reads on the write path (the lookup by
   * event key) and the large reconciliation read (through Prisma it costs about twice as much on
   * PGlite).
   */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: SqlRunner,
  ) {}

  async saveMarkets(markets: readonly Market[]): Promise<void> {
    for (const m of markets) {
      await this.prisma.settlementMarket.upsert({
        where: { code: m.code },
        create: m,
        update: { currency: m.currency, name: m.name },
      });
    }
  }

  // A published version is never changed (events booked under it, and late events of its periods,
  // keep it): loading program data again (the demo loader at every start) adds new versions only.
  async saveSchedules(schedules: readonly FeeSchedule[]): Promise<string[]> {
    return this.insertVersions(schedules.map((schedule) => ({ kind: "schedule", schedule })));
  }

  async saveTaxRules(rules: readonly TaxRule[]): Promise<string[]> {
    return this.insertVersions(rules.map((taxRule) => ({ kind: "taxRule", taxRule })));
  }

  private async insertVersions(items: ProgramItem[]): Promise<string[]> {
    const kept: string[] = [];
    for (const item of items) {
      const stored = await this.insertProgramItem(item, null);
      if (stored !== "created" && !sameProgramItem(stored, item)) kept.push(programItemId(item));
    }
    return kept;
  }

  async saveSellers(sellers: readonly Seller[]): Promise<void> {
    for (const s of sellers) {
      const { id, gateways, ...data } = s;
      // A new seller is written with its gateways and their first trail entry, in one transaction.
      if (gateways !== undefined && (await this.insertSeller(s, null))) continue;
      // A seller is never edited (POST /v1/sellers answers 409 for other content): a loader creates
      // one that is missing and leaves one on file as it is, so a kept database's statements and
      // bank holder checks keep the name and program they were made against.
      await this.prisma.settlementSeller.upsert({ where: { id }, create: { id, ...data }, update: {} });
      if (gateways === undefined) continue;
      // An existing seller's set is the admins' (PUT /v1/sellers/:id/gateways): a loader gives it
      // one only while it has none and never had one (an empty trail), whatever the load says.
      await this.sql.transaction(async (tx) => {
        await tx.q(`SELECT 1 FROM "settlement_sellers" WHERE "id" = $1 FOR UPDATE`, id);
        const [set] = await tx.q<Array<{ n: number }>>(
          `SELECT (SELECT count(*) FROM "settlement_seller_gateways" WHERE "seller_id" = $1)::int + (SELECT count(*) FROM "settlement_seller_gateway_changes" WHERE "seller_id" = $1)::int AS "n"`,
          id,
        );
        if ((set?.n ?? 0) === 0) await writeSellerGateways(tx, id, gateways, setterOf(null));
      });
    }
  }

  async listMarkets(): Promise<Market[]> {
    return this.prisma.settlementMarket.findMany({ orderBy: { code: "asc" } });
  }

  async listSchedules(): Promise<FeeSchedule[]> {
    const rows = await this.prisma.settlementFeeSchedule.findMany({ orderBy: { effectiveFrom: "asc" } });
    return rows.map((r) => ({
      id: r.id,
      program: r.program as ProgramKind,
      market: r.market,
      category: r.category,
      effectiveFrom: r.effectiveFrom,
      commissionBps: r.commissionBps,
      paymentFeeBorneBy: r.paymentFeeBorneBy === "platform" ? "platform" : "seller",
      fixedFees: {
        logistics: BigInt(r.logisticsFee.toFixed(0)),
        warehousing: BigInt(r.warehousingFee.toFixed(0)),
        fulfilment: BigInt(r.fulfilmentFee.toFixed(0)),
      },
      holdUntilConfirmation: r.holdUntilConfirmation,
      ...(r.serviceFeesRefundable ? { serviceFeesRefundable: true as const } : {}),
      ...(r.weightBands === null ? {} : { weightBands: weightBandsFromJson(r.weightBands as WeightBandsJson) }),
      ...(r.storageRate === null ? {} : { storageRate: r.storageRate }),
      autoConfirmDays: r.autoConfirmDays,
      ...(r.autoConfirmFrom === "delivery" ? { autoConfirmFrom: "delivery" as const } : {}),
      ...(r.deliveryDeadlineDays === null ? {} : { deliveryDeadlineDays: r.deliveryDeadlineDays }),
      reserve:
        r.reserveBps === null || r.reserveHoldDays === null ? null : { bps: r.reserveBps, holdDays: r.reserveHoldDays },
      referenceRates: Object.fromEntries(
        Object.entries((r.referenceRates ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      ),
    }));
  }

  async listTaxRules(): Promise<TaxRule[]> {
    const rows = await this.prisma.settlementTaxRule.findMany({ orderBy: { effectiveFrom: "asc" } });
    return rows.map((r) => ({
      id: r.id,
      market: r.market,
      effectiveFrom: r.effectiveFrom,
      kind: r.kind as TaxRule["kind"],
      scheme: r.scheme,
      rateBps: r.rateBps,
      collectedBy: (TAX_COLLECTORS as readonly string[]).includes(r.collectedBy) ? (r.collectedBy as TaxCollector) : "none",
      authority: r.authority,
      note: r.note,
      ...(r.supply === null ? {} : { supply: r.supply as TaxSupply }),
      ...(r.program === null ? {} : { program: r.program as ProgramKind }),
      ...(r.sellerEstablished === null ? {} : { sellerEstablished: r.sellerEstablished as SellerEstablishment }),
      ...(r.territory === null ? {} : { territory: r.territory }),
      ...(r.maxValueCurrency === null || r.maxValueAmount === null ? {} : { maxValue: { currency: r.maxValueCurrency, amount: BigInt(r.maxValueAmount.toFixed(0)) } }),
      ...(r.deductionCurrency === null || r.deductionAmount === null ? {} : { deduction: { currency: r.deductionCurrency, amount: BigInt(r.deductionAmount.toFixed(0)) } }),
      ...(r.level === null ? {} : { level: r.level as TaxLevel }),
      ...(r.region === null ? {} : { region: r.region }),
      ...(r.nationalScheme === null ? {} : { nationalScheme: r.nationalScheme }),
      ...(r.computation === null ? {} : { computation: r.computation as "included" }),
      ...taxBasisOf(r),
    }));
  }

  /**
   * Program data published one item at a time, never overwritten: "created", or the item already
   * stored under that id (the caller tells a replay from a conflicting version).
   */
  async insertProgramItem(item: ProgramItem, createdBy: string | null): Promise<"created" | ProgramItem> {
    if (item.kind === "seller") {
      if (await this.insertSeller(item.seller, createdBy)) return "created";
      return { kind: "seller", seller: (await this.getSeller(item.seller.id))! };
    }
    try {
      if (item.kind === "taxRule") await this.prisma.settlementTaxRule.create({ data: { id: item.taxRule.id, ...taxRuleColumns(item.taxRule), createdBy } });
      else await this.prisma.settlementFeeSchedule.create({ data: { id: item.schedule.id, ...scheduleColumns(item.schedule), createdBy } });
      return "created";
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    if (item.kind === "taxRule") return { kind: "taxRule", taxRule: (await this.listTaxRules()).find((r) => r.id === item.taxRule.id)! };
    return { kind: "schedule", schedule: (await this.listSchedules()).find((x) => x.id === item.schedule.id)! };
  }

  /** A new seller with its gateways and their first trail entry, in one transaction; false when the id exists. */
  private async insertSeller(seller: Seller, createdBy: string | null): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const inserted = await tx.q(
        `INSERT INTO "settlement_sellers" ("id", "name", "program", "payout_currency", "home_country", "warehouse", "listing_currency", "created_by")
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT ("id") DO NOTHING RETURNING "id"`,
        seller.id,
        seller.name,
        seller.program,
        seller.payoutCurrency,
        seller.homeCountry,
        seller.warehouse ?? null,
        seller.listingCurrency ?? null,
        createdBy,
      );
      if (inserted.length === 0) return false;
      await writeSellerGateways(tx, seller.id, seller.gateways ?? [], setterOf(createdBy));
      return true;
    });
  }

  async listSellers(): Promise<Seller[]> {
    return (await this.sql.q<SellerRow[]>(`${SELLERS} ORDER BY s."id"`)).map(toSeller);
  }

  async getSeller(id: string): Promise<Seller | null> {
    return (await this.getSellers([id])).get(id) ?? null;
  }

  async getSellers(ids: readonly string[]): Promise<Map<string, Seller>> {
    const out = new Map<string, Seller>();
    if (ids.length === 0) return out;
    for (const r of await this.sql.q<SellerRow[]>(`${SELLERS} WHERE s."id" = ANY($1::text[])`, [...new Set(ids)])) out.set(r.id, toSeller(r));
    return out;
  }

  async setSellerGateways(sellerId: string, gateways: readonly string[], setBy: string): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      // The seller's row, locked: concurrent sets of one seller take turns, each trail entry's
      // previous set is the one it replaced.
      const seller = await tx.q(`SELECT 1 FROM "settlement_sellers" WHERE "id" = $1 FOR UPDATE`, sellerId);
      if (seller.length === 0) return false;
      await writeSellerGateways(tx, sellerId, gateways, setBy);
      return true;
    });
  }

  async getSellerGateways(sellerId: string, limit: number): Promise<SellerGateways | null> {
    const [current] = await this.sql.q<Array<{ gateways: string[]; setAt: Date | null; setBy: string | null }>>(
      `SELECT coalesce(g."gateways", '{}')::text[] AS "gateways", g."set_at" AS "setAt", g."set_by" AS "setBy"
         FROM "settlement_sellers" s LEFT JOIN "settlement_seller_gateways" g ON g."seller_id" = s."id" WHERE s."id" = $1`,
      sellerId,
    );
    if (current === undefined) return null;
    const changes = await this.sql.q<Array<{ id: bigint; gateways: string[]; previousGateways: string[] | null; setAt: Date; setBy: string }>>(
      `SELECT "id", coalesce("gateways", '{}')::text[] AS "gateways", "previous_gateways"::text[] AS "previousGateways", "set_at" AS "setAt", "set_by" AS "setBy"
         FROM "settlement_seller_gateway_changes" WHERE "seller_id" = $1 ORDER BY "id" DESC LIMIT $2`,
      sellerId,
      limit,
    );
    return { sellerId, ...current, changes: changes.map((c) => ({ ...c, id: c.id.toString() })) };
  }

  async findByEventKey(eventKey: string): Promise<SettlementRecord | null> {
    return (await this.findByEventKeys([eventKey])).get(eventKey) ?? null;
  }

  async findById(id: string): Promise<SettlementRecord | null> {
    if (!isPositiveInt8(id)) return null;
    const r = await this.prisma.settlement.findUnique({ where: { id: BigInt(id) } });
    return r === null ? null : toRecord(r);
  }

  async listChain(captureKey: string): Promise<SettlementRecord[]> {
    const rows = await this.prisma.settlement.findMany({ where: { captureKey }, orderBy: { sequence: "asc" } });
    return rows.map(toRecord);
  }

  async listBySettlementId(settlementId: string): Promise<SettlementRecord[]> {
    const rows = await this.prisma.settlement.findMany({ where: { settlementId }, orderBy: { id: "asc" } });
    return rows.map(toRecord);
  }

  async volumes(from: Date, to: Date): Promise<SettlementVolume[]> {
    // Uses no index of its own: a range of up to a year is a sequential pass the report can afford,
    // and an occurred_at index would be one more to maintain on the write path.
    const rows = await this.prisma.$queryRaw<Array<{ day: string; market: string; currency: string; event_type: string; n: number; amount: string }>>`
      SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, market, currency, event_type, count(*)::int AS n, sum(amount)::text AS amount
        FROM settlements
       WHERE occurred_at >= ${from} AND occurred_at < ${to} AND status = 'posted'
       GROUP BY 1, 2, 3, 4
       ORDER BY 1, 2, 3, 4`;
    return rows.map((r) => ({ day: r.day, market: r.market, currency: r.currency, eventType: r.event_type, count: Number(r.n), amount: BigInt(r.amount) }));
  }

  async latestOccurredAt(): Promise<Date | null> {
    // No occurred_at index (for the write path's sake), but (seller_id, occurred_at) has one: each
    // seller's latest through it, the sellers walked through it too (a loose index scan), so the
    // cost follows the sellers, not the records. 1M records of 500 sellers: 90-165 ms, where a
    // plain max(occurred_at) scanned the table in 2.2-3.7 s (PostgreSQL 2 cores, loaded).
    const [row] = await this.prisma.$queryRaw<Array<{ at: Date | null }>>`
      WITH RECURSIVE sellers AS (
        (SELECT seller_id FROM settlements ORDER BY seller_id LIMIT 1)
        UNION ALL
        SELECT (SELECT s.seller_id FROM settlements s WHERE s.seller_id > sellers.seller_id ORDER BY s.seller_id LIMIT 1) FROM sellers WHERE sellers.seller_id IS NOT NULL
      )
      SELECT max((SELECT max(t.occurred_at) FROM settlements t WHERE t.seller_id = sellers.seller_id AND t.status = 'posted')) AS at
        FROM sellers WHERE seller_id IS NOT NULL`;
    return row?.at ?? null;
  }

  async list(f: SettlementListFilter, beforeId: bigint | null, limit: number): Promise<SettlementRecord[]> {
    // No index of its own (the write path carries enough): gateway + gatewayEventId is the unique
    // event key, settlementId and sellerId have theirs; the other filters walk the primary key
    // newest first and stop at `limit` matches, which a console page can afford.
    const key = f.gateway !== undefined && f.gatewayEventId !== undefined ? eventKey(f.gateway, f.gatewayEventId) : undefined;
    const rows = await this.prisma.settlement.findMany({
      where: {
        ...(beforeId === null ? {} : { id: { lt: beforeId } }),
        ...(key === undefined ? {} : { eventKey: key }),
        ...(f.settlementId === undefined ? {} : { settlementId: f.settlementId }),
        ...(f.sellerId === undefined ? {} : { sellerId: f.sellerId }),
        ...(f.gateway === undefined ? {} : { gateway: f.gateway }),
        ...(f.gatewayEventId === undefined ? {} : { gatewayEventId: f.gatewayEventId }),
        ...(f.market === undefined ? {} : { market: f.market }),
        ...(f.currency === undefined ? {} : { currency: f.currency }),
        ...(f.type === undefined ? {} : { eventType: f.type }),
        ...(f.from === undefined && f.to === undefined ? {} : { occurredAt: { ...(f.from === undefined ? {} : { gte: f.from }), ...(f.to === undefined ? {} : { lt: f.to }) } }),
      },
      orderBy: { id: "desc" },
      take: limit,
    });
    return rows.map(toRecord);
  }

  async listReleaseCandidates(filter: { before: Date; limit: number; afterId?: string }): Promise<SettlementRecord[]> {
    // Raw SQL: the "no release booked yet" condition is a self NOT EXISTS the ORM cannot express;
    // it uses the (capture_key, sequence) unique index.
    const ids = await this.prisma.$queryRaw<Array<{ id: bigint }>>`
      SELECT s.id FROM settlements s
      WHERE s.event_type = 'capture' AND s.occurred_at <= ${filter.before} AND s.id > ${BigInt(filter.afterId ?? "0")}
        AND (
          (s.breakdown->>'sellerBucket' = 'held'
            AND NOT EXISTS (SELECT 1 FROM settlements r WHERE r.capture_key = s.capture_key AND r.event_type = 'release')
            -- Released from delivery: an order whose latest evidence is no delivery owes nothing yet, and
            -- must not take the tick's budget (such orders may stay undelivered for good).
            AND (s.breakdown->'confirmOnDelivery' IS NULL OR EXISTS (
              SELECT 1 FROM (SELECT f.status FROM order_fulfilments f WHERE f.gateway = s.gateway AND f.settlement_id = s.settlement_id ORDER BY f.sequence DESC LIMIT 1) l
               WHERE l.status = 'delivered')))
          OR ((s.breakdown->'lines'->>'sellerReserve')::numeric > 0
            AND NOT EXISTS (SELECT 1 FROM settlements r WHERE r.capture_key = s.capture_key AND r.event_type = 'reserve_release'))
        )
        -- A refused release backs off: it must not take the tick's budget ahead of due ones.
        AND NOT EXISTS (SELECT 1 FROM settlement_release_failures f WHERE f.capture_key = s.capture_key AND f.next_attempt_at > ${filter.before})
      ORDER BY s.id
      LIMIT ${filter.limit}`;
    if (ids.length === 0) return [];
    const rows = await this.prisma.settlement.findMany({ where: { id: { in: ids.map((r) => r.id) } }, orderBy: { id: "asc" } });
    return rows.map(toRecord);
  }

  appendFulfilment(input: FulfilmentInput, recordedBy: string): Promise<{ status: "created" | "exists"; fulfilment: Fulfilment }> {
    return appendFulfilment(this.sql, input, recordedBy);
  }

  listFulfilments(settlementId: string, gateway: string | null): Promise<Fulfilment[]> {
    return listFulfilments(this.sql, settlementId, gateway);
  }

  latestFulfilments(orders: ReadonlyArray<{ gateway: string; settlementId: string }>): Promise<Map<string, Fulfilment>> {
    return latestFulfilments(this.sql, orders);
  }

  listOverdueDeliveries(asOf: Date, afterId: bigint, limit: number): Promise<OverdueDelivery[]> {
    return listOverdueDeliveries(this.sql, asOf, afterId, limit);
  }

  checkDeliveryDeadlines(now: Date, limit: number): Promise<{ checked: number; overdue: number }> {
    return checkDeliveryDeadlines(this.sql, now, limit);
  }

  async recordReleaseFailures(failures: ReadonlyArray<{ captureKey: string; eventType: string; code: string; message: string }>, at: Date): Promise<Map<string, number>> {
    // One row per capture (a capture owing both releases keeps its latest refusal), one statement.
    const byKey = [...new Map(failures.map((f) => [f.captureKey, f])).values()];
    if (byKey.length === 0) return new Map();
    const rows = await this.sql.q<Array<{ captureKey: string; attempts: number }>>(
      RECORD_RELEASE_FAILURES,
      byKey.map((f) => f.captureKey),
      byKey.map((f) => f.eventType),
      byKey.map((f) => f.code.slice(0, 100)),
      byKey.map((f) => f.message.slice(0, 500)),
      at,
    );
    return new Map(rows.map((r) => [r.captureKey, Number(r.attempts)]));
  }

  async clearReleaseFailures(captureKeys: readonly string[]): Promise<void> {
    if (captureKeys.length === 0) return;
    await this.prisma.settlementReleaseFailure.deleteMany({ where: { captureKey: { in: [...captureKeys] } } });
  }

  async findByEventKeys(eventKeys: readonly string[]): Promise<Map<string, SettlementRecord>> {
    const out = new Map<string, SettlementRecord>();
    if (eventKeys.length === 0) return out;
    const rows = await this.sql.q<SettlementRow[]>(RECORDS_BY_EVENT_KEY, [...new Set(eventKeys)]);
    for (const r of rows) out.set(r.eventKey, toRecord(r));
    return out;
  }

  async reconciliationPage(filter: {
    gateway: string;
    from: Date;
    to: Date;
    types: readonly SettlementEventType[];
    afterId: string;
    limit: number;
  }): Promise<ReconciliationRecord[]> {
    const params = [filter.gateway, BigInt(filter.afterId), filter.from, filter.to, [...filter.types], filter.limit];
    const rows = await this.sql.q<Array<{ n: number; blob: string | null }>>(RECONCILIATION_PAGE, ...params);
    const blob = rows[0]?.blob ?? null;
    if (blob === null) return [];
    return blob.split("\x1e").map((packed) => {
      const f = packed.split("\x1f");
      if (f.length !== 14) throw new Error(`settlement reconciliation page: a packed row has ${f.length} fields, expected 14`);
      const [id, gatewayEventId, settlementId, type, sellerId, market, currency, amount, fee, occurred, recorded, tx, orig, rate] =
        f as [string, string, string, string, string, string, string, string, string, string, string, string, string, string];
      return {
        id,
        gatewayEventId,
        settlementId,
        type: type as SettlementEventType,
        sellerId,
        market,
        currency,
        amount: bigOf(amount),
        gatewayFee: bigOf(fee),
        occurredAt: new Date(Number(occurred)),
        recordedAt: new Date(Number(recorded)),
        journalTransactionId: tx,
        originalEventId: orig === "" ? null : orig,
        buyerToUsdRate: rate === "" ? null : rate,
      };
    });
  }
}
