/**
 * Validation of a gateway event at the edge of the module. Everything after this trusts types.
 */
import { countryRefusal, isSubdivisionOf } from "../geo/iso3166.js";
import { isCurrency } from "../money/index.js";
import { SettlementErrors } from "./errors.js";
import { MAX_WEIGHT_GRAMS } from "./fees.js";
import { isTaxCountry } from "./schedules.js";
import { EVENT_TYPES, RETURN_REASONS, type ReturnReason, type SettlementEvent } from "./types.js";

const ID = /^[A-Za-z0-9._:-]{1,120}$/;
/**
 * A gateway's name: an id without ":", since the keys built from it (`settlement:<gateway>:<id>`,
 * `remittance:<gateway>:<id>`) are split at the first ":" after the prefix. With ":" allowed, gateway
 * `stripe:x`'s remittance `RC` and gateway `stripe`'s `x:RC` were one key, each gateway's reads and
 * writes reaching the other's.
 */
export const GATEWAY_NAME = /^[A-Za-z0-9._-]{1,120}$/;
export const GATEWAY_NAME_RULE = "1-120 characters of [A-Za-z0-9._-]";

/**
 * The prefixes of the event ids the system posts in a gateway's namespace (the maintenance worker's
 * releases, service.ts dueReleases), refused from a gateway: a gateway that took
 * `auto-release.<its capture>` first would have blocked that capture's release for good.
 */
export const RESERVED_EVENT_ID_PREFIXES = ["auto-release.", "auto-reserve."] as const;

/**
 * The ids the system's own releases carry: the capture's record id after a "~", which no gateway id
 * may contain (ID), so none posted before the prefixes were reserved can hold one; and bounded in
 * length whatever the capture's id (`auto-release.<120-character id>` did not fit the column).
 */
export const SYSTEM_EVENT_ID = /^auto-(release|reserve)~[1-9][0-9]{0,18}$/;

/** Who posts an event: a gateway (its ids may not use the reserved prefixes) or the system (its releases). */
export type EventOrigin = "gateway" | "system";

function fail(field: string, message: string): never {
  throw SettlementErrors.invalidEvent(`${field}: ${message}`, { fields: [{ field, message }] });
}

/**
 * Bounds on what one event may carry (issue: a 2^63 capture blocked a seller's payouts for good, a
 * year-9999 `occurredAt` stored a reserve release date PostgreSQL cannot read back). Amounts are
 * bounded per currency in minor units; `occurredAt` may not run ahead of the clock by more than a
 * small skew nor be older than a configured age, so every date derived from it stays valid.
 */
export interface EventLimits {
  /** Largest amount (and absolute fee, supply price) in minor units, per currency; `default` for the rest. */
  maxAmountMinor: { default: bigint; byCurrency?: Readonly<Record<string, bigint>> };
  /** How far in the future `occurredAt` may be (clock skew between the gateway and us). */
  maxFutureSkewMs: number;
  /** How old `occurredAt` may be. */
  maxAgeMs: number;
  now: () => Date;
}

export const DEFAULT_MAX_AMOUNT_MINOR = 10n ** 15n;

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxAmountMinor: { default: DEFAULT_MAX_AMOUNT_MINOR },
  maxFutureSkewMs: 5 * 60_000,
  maxAgeMs: 10 * 366 * 86_400_000,
  now: () => new Date(),
};

/** The limit for `currency`. */
export function maxAmountFor(limits: Pick<EventLimits, "maxAmountMinor">, currency: string): bigint {
  return limits.maxAmountMinor.byCurrency?.[currency] ?? limits.maxAmountMinor.default;
}

/** Checks an already well-formed event against `limits`; each refusal names its field. */
export function checkEventLimits(e: SettlementEvent, limits: EventLimits, field = ""): void {
  const f = (name: string) => (field === "" ? name : `${field}.${name}`);
  const max = maxAmountFor(limits, e.currency);
  const abs = (v: bigint) => (v < 0n ? -v : v);
  if (abs(e.amount) > max) fail(f("amount"), `must be at most ${max} minor units of ${e.currency}`);
  if (abs(e.gatewayFee) > max) fail(f("gatewayFee"), `must be at most ${max} minor units of ${e.currency} (absolute value)`);
  if (e.supplyPrice !== undefined && e.supplyPrice > max) fail(f("supplyPrice"), `must be at most ${max} minor units`);
  if (e.listingPrice !== undefined && e.listingCurrency !== undefined && e.listingPrice > maxAmountFor(limits, e.listingCurrency)) {
    fail(f("listingPrice"), `must be at most ${maxAmountFor(limits, e.listingCurrency)} minor units of ${e.listingCurrency}`);
  }
  const now = limits.now().getTime();
  const at = e.occurredAt.getTime();
  if (at > now + limits.maxFutureSkewMs) {
    fail(f("occurredAt"), `must not be more than ${Math.round(limits.maxFutureSkewMs / 1000)} s in the future`);
  }
  if (at < now - limits.maxAgeMs) fail(f("occurredAt"), `must not be older than ${Math.round(limits.maxAgeMs / 86_400_000)} days`);
}

/**
 * A capture's event as the base of a follow-up (refund, release...): the same order, seller and
 * market, without the fields only a capture may carry (its quote, supply or listing price, where
 * it ships from) and without the amounts (the follow-up sets its own).
 */
export function followUpOf(capture: SettlementEvent): SettlementEvent {
  const { supplyPrice: _s, fxQuoteId: _q, listingPrice: _l, listingCurrency: _c, shipFrom: _f, shipToRegion: _t, shipping: _sh, returnReason: _r, weightGrams: _w, ...base } = capture;
  return { ...base, amount: 0n, gatewayFee: 0n, originalEventId: capture.gatewayEventId };
}

export function validateEvent(e: SettlementEvent, field = "", limits?: EventLimits, origin: EventOrigin = "gateway"): SettlementEvent {
  const f = (name: string) => (field === "" ? name : `${field}.${name}`);
  if (!EVENT_TYPES.includes(e.type)) fail(f("type"), `must be one of ${EVENT_TYPES.join(", ")}`);
  if (typeof e.gateway !== "string" || !GATEWAY_NAME.test(e.gateway)) fail(f("gateway"), `must be ${GATEWAY_NAME_RULE}`);
  for (const k of ["gatewayEventId", "settlementId", "sellerId"] as const) {
    if (k === "gatewayEventId" && origin === "system" && typeof e[k] === "string" && SYSTEM_EVENT_ID.test(e[k])) continue;
    if (typeof e[k] !== "string" || !ID.test(e[k])) fail(f(k), "must be 1-120 characters of [A-Za-z0-9._:-]");
  }
  if (origin === "gateway") {
    const reserved = RESERVED_EVENT_ID_PREFIXES.find((p) => e.gatewayEventId.startsWith(p));
    if (reserved !== undefined) {
      throw SettlementErrors.reservedEventId(`gatewayEventId ${e.gatewayEventId} uses the prefix ${reserved}, reserved for the system's own events`, {
        fields: [{ field: f("gatewayEventId"), message: `must not start with ${RESERVED_EVENT_ID_PREFIXES.join(" or ")} (reserved for the system's releases)` }],
      });
    }
  }
  // A shape only: the market must also be one configured (ENT_SETTLEMENT_UNKNOWN_MARKET otherwise), a stricter list than ISO's.
  if (typeof e.market !== "string" || !/^[A-Z]{2}$/.test(e.market)) fail(f("market"), "must be an ISO 3166 alpha-2 code");
  if (typeof e.category !== "string" || !/^[a-z0-9_-]{1,50}$/.test(e.category)) fail(f("category"), "must be a lower-case category code");
  if (!isCurrency(e.currency)) fail(f("currency"), "must be an ISO 4217 currency code");
  if (!(e.occurredAt instanceof Date) || Number.isNaN(e.occurredAt.getTime())) fail(f("occurredAt"), "must be a valid instant");
  if (typeof e.amount !== "bigint") fail(f("amount"), "must be an integer of minor units");
  if (typeof e.gatewayFee !== "bigint") fail(f("gatewayFee"), "must be an integer of minor units");
  if (e.fxQuoteId !== undefined && (typeof e.fxQuoteId !== "string" || !ID.test(e.fxQuoteId))) fail(f("fxQuoteId"), "must be a quote id");
  const followUp = e.type !== "capture";
  if (followUp && (e.originalEventId === undefined || !ID.test(e.originalEventId))) fail(f("originalEventId"), `is required for ${e.type}`);
  if (!followUp && e.originalEventId !== undefined) fail(f("originalEventId"), "must be absent on a capture");
  if (e.supplyPrice !== undefined && (typeof e.supplyPrice !== "bigint" || e.supplyPrice <= 0n)) fail(f("supplyPrice"), "must be a positive integer of minor units");
  if (e.supplyPrice !== undefined && e.type !== "capture") fail(f("supplyPrice"), "is only accepted on a capture");
  if (e.shipFrom !== undefined) {
    // Checked against the assigned codes, not a shape: EL (Greece's VAT prefix) or ZZ read as a country outside the EU made an EU warehouse's sale an import.
    if (!isTaxCountry(e.shipFrom)) fail(f("shipFrom"), `${countryRefusal(e.shipFrom, "DE")} (or XI, Northern Ireland)`);
    if (e.type !== "capture") fail(f("shipFrom"), "is only accepted on a capture");
  }
  if (e.shipToRegion !== undefined) {
    if (!isSubdivisionOf(e.shipToRegion, e.market)) fail(f("shipToRegion"), `must be an ISO 3166-2 subdivision of the market ${e.market}, e.g. ${e.market === "ES" ? "ES-M" : `${e.market}-XX`}`);
    if (e.type !== "capture") fail(f("shipToRegion"), "is only accepted on a capture");
  }
  if (e.shipping !== undefined) {
    if (typeof e.shipping !== "bigint" || e.shipping < 0n) fail(f("shipping"), "must be a non-negative integer of minor units");
    if (e.type !== "capture") fail(f("shipping"), "is only accepted on a capture");
    if (e.shipping > e.amount) fail(f("shipping"), "must not exceed the amount it is part of");
  }
  if (e.weightGrams !== undefined) {
    if (typeof e.weightGrams !== "number" || !Number.isInteger(e.weightGrams) || e.weightGrams <= 0 || e.weightGrams > MAX_WEIGHT_GRAMS) {
      fail(f("weightGrams"), `must be a positive integer of grams, at most ${MAX_WEIGHT_GRAMS}`);
    }
    if (e.type !== "capture") fail(f("weightGrams"), "is only accepted on a capture");
  }
  if (e.returnReason !== undefined) {
    if (!(RETURN_REASONS as readonly string[]).includes(e.returnReason)) fail(f("returnReason"), `must be one of ${RETURN_REASONS.join(", ")}`);
    if (e.type !== "refund") fail(f("returnReason"), "is only accepted on a refund");
  }
  if (e.listingPrice !== undefined || e.listingCurrency !== undefined) {
    if (e.type !== "capture") fail(f("listingPrice"), "is only accepted on a capture");
    if (typeof e.listingPrice !== "bigint" || e.listingPrice <= 0n) fail(f("listingPrice"), "must be a positive integer of minor units (in listingCurrency, or the seller's listing currency)");
    if (e.listingCurrency !== undefined && !isCurrency(e.listingCurrency)) fail(f("listingCurrency"), "must be an ISO 4217 currency code");
    if (e.supplyPrice !== undefined) fail(f("listingPrice"), "a full-hosting capture is priced by its supplyPrice, not a listing price");
  }
  switch (e.type) {
    case "capture":
    case "refund":
    case "chargeback":
    case "chargeback_reversal":
      if (e.amount <= 0n) fail(f("amount"), "must be greater than zero");
      if (e.gatewayFee < 0n) fail(f("gatewayFee"), "must not be negative (use a fee_adjustment to credit a fee)");
      if (e.type === "capture" && e.gatewayFee > e.amount) fail(f("gatewayFee"), "must not exceed the captured amount");
      break;
    case "fee_adjustment":
      if (e.amount !== 0n) fail(f("amount"), "must be 0 on a fee adjustment (the change is gatewayFee)");
      if (e.gatewayFee === 0n) fail(f("gatewayFee"), "must be non-zero (positive = extra fee, negative = fee credited back)");
      break;
    case "release":
    case "reserve_release":
      if (e.amount !== 0n) fail(f("amount"), "must be 0 (the released amount follows from the capture)");
      if (e.gatewayFee !== 0n) fail(f("gatewayFee"), "must be 0 on a release");
      break;
  }
  if (limits !== undefined) checkEventLimits(e, limits, field);
  return e;
}

const INTEGER = /^-?\d{1,38}$/;

/**
 * A settlement event from JSON (HTTP body, queue message): amounts are decimal strings of minor
 * units (numbers are refused: they lose precision above 2^53), instants are ISO 8601 strings.
 */
export function parseEvent(json: unknown, field = ""): SettlementEvent {
  const f = (name: string) => (field === "" ? name : `${field}.${name}`);
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail(field === "" ? "/" : field, "must be an object");
  const o = json as Record<string, unknown>;
  const str = (k: string) => {
    const v = o[k];
    if (typeof v !== "string") fail(f(k), "must be a string");
    return v;
  };
  const optStr = (k: string) => (o[k] === undefined || o[k] === null ? undefined : str(k));
  const int = (k: string, dflt?: bigint) => {
    const v = o[k];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== "string" || !INTEGER.test(v)) fail(f(k), "must be an integer of minor units as a string, e.g. \"1999\"");
    return BigInt(v);
  };
  const at = new Date(str("occurredAt"));
  if (!/^\d{4}-\d{2}-\d{2}T/.test(str("occurredAt")) || Number.isNaN(at.getTime())) fail(f("occurredAt"), "must be an ISO 8601 date-time");
  const event: SettlementEvent = {
    type: str("type") as SettlementEvent["type"],
    gateway: str("gateway"),
    gatewayEventId: str("gatewayEventId"),
    settlementId: str("settlementId"),
    sellerId: str("sellerId"),
    market: str("market"),
    category: str("category"),
    currency: str("currency"),
    amount: int("amount", 0n),
    gatewayFee: int("gatewayFee", 0n),
    occurredAt: at,
  };
  const quote = optStr("fxQuoteId");
  if (quote !== undefined) event.fxQuoteId = quote;
  const original = optStr("originalEventId");
  if (original !== undefined) event.originalEventId = original;
  if (o.supplyPrice !== undefined && o.supplyPrice !== null) event.supplyPrice = int("supplyPrice");
  if (o.listingPrice !== undefined && o.listingPrice !== null) event.listingPrice = int("listingPrice");
  const shipFrom = optStr("shipFrom");
  if (shipFrom !== undefined) event.shipFrom = shipFrom;
  const shipToRegion = optStr("shipToRegion");
  if (shipToRegion !== undefined) event.shipToRegion = shipToRegion;
  if (o.shipping !== undefined && o.shipping !== null) event.shipping = int("shipping");
  const returnReason = optStr("returnReason");
  if (returnReason !== undefined) event.returnReason = returnReason as ReturnReason;
  if (o.weightGrams !== undefined && o.weightGrams !== null) {
    if (typeof o.weightGrams !== "number") fail(f("weightGrams"), "must be an integer of grams");
    event.weightGrams = o.weightGrams;
  }
  const listingCurrency = optStr("listingCurrency");
  if (listingCurrency !== undefined) event.listingCurrency = listingCurrency;
  return validateEvent(event, field);
}
