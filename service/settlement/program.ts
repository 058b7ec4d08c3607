/**
 * Program data published one item at a time (the `POST /v1/sellers`, `/v1/fee-schedules` and
 * `/v1/tax-rules` routes): checked, never overwritten, never in force before it was published.
 */
import { countryRefusal } from "../geo/iso3166.js";
import { isCurrency } from "../money/index.js";
import { SettlementErrors } from "./errors.js";
import type { ProgramItem, SettlementRepository } from "./repository.js";
import { isTaxCountry, validateSchedule, validateTaxRule } from "./schedules.js";
import { PROGRAMS, type Seller } from "./types.js";
import { GATEWAY_NAME, GATEWAY_NAME_RULE } from "./validate.js";

/** Most gateways one seller accepts events from. */
export const MAX_SELLER_GATEWAYS = 50;

/**
 * A seller's gateways as stored: each a gateway name (as an event's `gateway`), sorted, each once,
 * at most MAX_SELLER_GATEWAYS; `field` names them in a refusal.
 */
export function sellerGatewaysOf(gateways: readonly unknown[], field = "gateways"): string[] {
  if (!Array.isArray(gateways)) {
    throw SettlementErrors.invalidSchedule(`${field} must be a list of gateway names`, { fields: [{ field, message: "must be a list of gateway names" }] });
  }
  gateways.forEach((g, i) => {
    if (typeof g !== "string" || !GATEWAY_NAME.test(g)) {
      throw SettlementErrors.invalidSchedule(`${field}[${i}] is not a gateway name`, { fields: [{ field: `${field}.${i}`, message: `must be ${GATEWAY_NAME_RULE}` }] });
    }
  });
  const set = [...new Set(gateways as string[])].sort();
  if (set.length > MAX_SELLER_GATEWAYS) {
    throw SettlementErrors.invalidSchedule(`${field}: at most ${MAX_SELLER_GATEWAYS} gateways`, { fields: [{ field, message: `at most ${MAX_SELLER_GATEWAYS} gateways` }] });
  }
  return set;
}

/** Clock skew tolerated on a version's effectiveFrom ("now" from a caller's clock). */
const PUBLISH_SKEW_MS = 60_000;

/** Any currency with minor units: proceeds reach it through USD at the rate (or quote) of the day, so a payout currency needs no code, only rates. */
export function validateSeller(s: Seller): void {
  if (!PROGRAMS.includes(s.program)) {
    throw SettlementErrors.invalidSchedule(`seller ${s.id}: program ${JSON.stringify(String(s.program).slice(0, 32))} is not one of ${PROGRAMS.join(", ")}`, {
      fields: [{ field: "program", message: `must be one of ${PROGRAMS.join(", ")}` }],
    });
  }
  if (!isCurrency(s.payoutCurrency))
    throw SettlementErrors.invalidSchedule(`seller ${s.id}: payout currency ${JSON.stringify(String(s.payoutCurrency).slice(0, 16))} is not an ISO 4217 currency with minor units`, {
      fields: [{ field: "payoutCurrency", message: "must be an ISO 4217 currency code with minor units, e.g. CNY" }],
    });
  // Where the seller is established decides its tax rules and whether it may be paid in a stablecoin: never unknown.
  // Against the assigned codes, not a shape: homeCountry EL (Greece's VAT prefix) made a Greek seller one established outside the EU.
  if (!isTaxCountry(s.homeCountry)) {
    const message = `${countryRefusal(s.homeCountry, "CN")} (or XI, Northern Ireland)`;
    throw SettlementErrors.invalidSchedule(`seller ${s.id}: homeCountry ${message}`, { fields: [{ field: "homeCountry", message }] });
  }
  if (s.warehouse !== undefined && !isTaxCountry(s.warehouse)) {
    const message = `${countryRefusal(s.warehouse, "DE")} (or XI, Northern Ireland)`;
    throw SettlementErrors.invalidSchedule(`seller ${s.id}: warehouse ${message}`, { fields: [{ field: "warehouse", message }] });
  }
  if (s.gateways !== undefined) sellerGatewaysOf(s.gateways);
  if (s.listingCurrency !== undefined) {
    if (s.program === "full_hosting") {
      throw SettlementErrors.invalidSchedule(`seller ${s.id}: a full-hosting supplier is paid its supply price; the platform sets the listing`, { fields: [{ field: "listingCurrency", message: "not accepted for full hosting" }] });
    }
    if (s.listingCurrency !== "USD" && s.listingCurrency !== s.payoutCurrency) {
      throw SettlementErrors.invalidSchedule(`seller ${s.id}: listing currency ${JSON.stringify(String(s.listingCurrency).slice(0, 16))} is neither USD nor the payout currency`, {
        fields: [{ field: "listingCurrency", message: `must be USD or ${s.payoutCurrency}` }],
      });
    }
  }
}

/** Whether two program items hold the same content (as `canonical` writes them). */
export function sameProgramItem(a: ProgramItem, b: ProgramItem): boolean {
  return canonical(a) === canonical(b);
}

export function programItemId(item: ProgramItem): string {
  return item.kind === "seller" ? item.seller.id : item.kind === "schedule" ? item.schedule.id : item.taxRule.id;
}

/** Program data compared by content: bigints as text (instants already are, through toJSON), keys in a fixed order. */
function canonical(item: ProgramItem): string {
  const body = item.kind === "seller" ? item.seller : item.kind === "schedule" ? item.schedule : item.taxRule;
  return JSON.stringify(body, (_k, v: unknown) =>
    typeof v === "bigint" ? v.toString() : v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/**
 * Publishes `item`: a seller, or a new version of a fee schedule or a tax rule. Nothing published is
 * changed afterwards: the same id with the same content answers "exists", with other content 409
 * ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT (a change is a new version under a new id). A version is in
 * force from its `effectiveFrom`, which may not be in the past: booked events, and late events of
 * past periods, keep the versions that were in force.
 */
export async function publishProgramItem(
  repo: SettlementRepository,
  item: ProgramItem,
  createdBy: string | null,
  now: Date,
): Promise<{ status: "created" | "exists"; item: ProgramItem }> {
  const given = item;
  const notPast = (at: Date) => {
    if (at.getTime() < now.getTime() - PUBLISH_SKEW_MS) {
      throw SettlementErrors.invalidSchedule(`effectiveFrom ${at.toISOString()} is in the past: publish a version from now on`, {
        fields: [{ field: "effectiveFrom", message: "must not be in the past" }],
      });
    }
  };
  if (item.kind === "seller") {
    validateSeller(item.seller);
    item = { kind: "seller", seller: { ...item.seller, gateways: item.seller.gateways === undefined ? [] : sellerGatewaysOf(item.seller.gateways) } };
  } else if (item.kind === "schedule") {
    validateSchedule(item.schedule);
    notPast(item.schedule.effectiveFrom);
  } else {
    validateTaxRule(item.taxRule, await repo.listMarkets());
    notPast(item.taxRule.effectiveFrom);
  }
  const stored = await repo.insertProgramItem(item, createdBy);
  if (stored === "created") return { status: "created", item };
  // A seller's gateways are its set now (PUT /v1/sellers/:id/gateways changes them): compared only
  // when the body gives them, so a body without them is the same seller whatever its set.
  const compared = given.kind === "seller" && given.seller.gateways === undefined && stored.kind === "seller" ? { kind: "seller" as const, seller: { ...stored.seller, gateways: [] } } : stored;
  if (!sameProgramItem(compared, item)) {
    const hint = item.kind === "seller" ? "; a seller is not edited (its gateways change with PUT /v1/sellers/:id/gateways)" : "; publish a change under a new id";
    throw SettlementErrors.programDataConflict(`${item.kind} ${programItemId(item)} is published already with other content${hint}`, {
      fields: [{ field: "id", message: "already published with other content" }],
    });
  }
  return { status: "exists", item: stored };
}
