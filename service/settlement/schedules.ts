/**
 * Effective-date selection of fee schedules and tax rules, and validation of that data.
 * Selection rule: among the versions with effectiveFrom <= at, the most specific match wins
 * (market+category > market > category > any); within one specificity the newest version wins.
 * A newer generic version therefore never overrides an older specific one: specific rows are
 * deliberate exceptions and are versioned on their own.
 */
import { isAssignedCountry, isSubdivisionOf, withinSubdivision } from "../geo/iso3166.js";
import { convertMinor, invertRate, isCurrency, parseRateFraction } from "../money/index.js";
import { SettlementErrors } from "./errors.js";
import { validateStorageRate, validateWeightBands } from "./fees.js";
import { ruleTax, taxBase } from "./plan.js";
import { AUTO_CONFIRM_FROM, PROGRAMS, SELLER_ESTABLISHMENTS, TAX_COLLECTORS, TAX_LEVELS, TAX_SUPPLIES, type FeeSchedule, type Market, type ProgramKind, type TaxBasis, type TaxRule, type TaxSupply } from "./types.js";

/**
 * The EU VAT area for goods: the member states, and Northern Ireland ("XI"), which the Windsor
 * Framework keeps in it for goods (Protocol on Ireland/Northern Ireland art. 8): a shipment between
 * two of them is not an import, and a seller established in one is established in the EU.
 */
const EU = new Set(["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"]);

/**
 * Countries inside another's VAT territory: Monaco is treated as part of France's (VAT Directive
 * art. 7(1)), so goods shipped from Monaco ship from inside the EU and a seller established there is
 * established in the EU. (The Isle of Man goes with the UK, which is outside the EU: nothing to map.)
 */
const VAT_TERRITORY_OF: Readonly<Record<string, string>> = { MC: "FR" };

/** The country whose VAT territory `country` is in: its own, or France for Monaco. */
export function vatTerritoryOf(country: string): string {
  return VAT_TERRITORY_OF[country] ?? country;
}

/**
 * A country a capture ships from or a seller is established or warehoused in: an assigned ISO 3166-1
 * alpha-2 code, or XI, Northern Ireland's code for goods in the EU VAT area (above; the EU's VIES and
 * the UK's HMRC use it), which ISO does not assign.
 */
export function isTaxCountry(code: unknown): code is string {
  return isAssignedCountry(code) || code === "XI";
}

/** Whether a country is inside a market's VAT area: the EU for an EU market, else the market's own country (Monaco's is France's). */
export function inMarketArea(market: string, country: string): boolean {
  const c = vatTerritoryOf(country);
  return c === market || (EU.has(c) && EU.has(market));
}

/** Domestic when the goods ship from inside the market's VAT area (the EU for an EU market); otherwise (or unknown) an import. */
export function supplyOf(market: string, shipFrom: string | undefined): TaxSupply {
  return shipFrom !== undefined && inMarketArea(market, shipFrom) ? "domestic" : "import";
}

/** What a tax rule's value band is checked against: the order's gross and how to convert it. */
export interface TaxedGoods {
  supply: TaxSupply;
  /** Where the goods ship from (the capture's shipFrom, else the seller's warehouse): named when no rule covers the supply it makes. */
  shipFrom?: string;
  /** The seller's program (a rule keyed by program applies to it only). */
  program?: ProgramKind;
  /** The country the seller is established in (its `homeCountry`): what a rule's `sellerEstablished` is checked against. */
  sellerCountry: string;
  /** The capture's `shipToRegion`: a rule for a territory (`territory`) applies to captures shipped there only. */
  shipToRegion?: string;
  /** The tax-inclusive gross the national tax is measured in: the order's, less its state tax. */
  gross: bigint;
  /** The part of the gross paid for shipping (0 when the capture names none). */
  shipping: bigint;
  currency: string;
  /**
   * The mid rate from `currency` to `to` ("1" for the same currency) at the instant `valuedAt` names
   * (valuationInstant), null when none is published.
   */
  rateTo(to: string, valuedAt?: TaxBasis["valuedAt"]): string | null;
}

/**
 * The instant whose rate values goods for a band: the payment's (`at`), or for "customs_month" the
 * end of the penultimate Wednesday of the month before `at`'s, the rate customs apply all month.
 */
export function valuationInstant(at: Date, valuedAt: TaxBasis["valuedAt"]): Date {
  if (valuedAt === undefined) return at;
  const lastOfPrevious = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 0, 23, 59, 59, 999));
  const back = (lastOfPrevious.getUTCDay() - 3 + 7) % 7;
  return new Date(lastOfPrevious.getTime() - (back + 7) * 86_400_000);
}

/**
 * The goods' value against a band, in the band's currency (half-even): the gross net of the rule's
 * own tax when the marketplace collects it (the price then includes it), and without the shipping
 * when the band is on the intrinsic value.
 */
export function goodsValue(rule: TaxRule, goods: TaxedGoods, to: string): bigint | null {
  const deduction = deductionIn(rule, goods);
  if (deduction === null) return null;
  const intrinsic = rule.basis?.bandValue === "intrinsic";
  const gross = intrinsic ? goods.gross - goods.shipping : goods.gross;
  const net = gross - ruleTax(rule, intrinsic ? gross : taxBase(rule, gross, goods.shipping), deduction);
  if (to === goods.currency) return net;
  const rate = goods.rateTo(to, rule.basis?.valuedAt);
  return rate === null ? null : convertMinor(net, goods.currency, to, rate, "half-even");
}

/**
 * A rule's deduction in the order's currency at the mid rate (half-even): 0 without one, null when no
 * rate from the order's currency to the deduction's is published.
 */
export function deductionIn(rule: TaxRule, goods: TaxedGoods): bigint | null {
  const d = rule.deduction;
  if (d === undefined) return 0n;
  if (d.currency === goods.currency) return d.amount;
  const rate = goods.rateTo(d.currency);
  const f = rate === null ? null : parseRateFraction(rate);
  // rateTo is order -> deduction currency: the deduction comes back through its inverse.
  return f === null ? null : convertMinor(d.amount, d.currency, goods.currency, invertRate(f), "half-even");
}

function taxSpecificity(r: TaxRule): number {
  return (r.territory === undefined ? 0 : 16) + (r.program === undefined ? 0 : 8) + (r.supply === undefined ? 0 : 4) + (r.sellerEstablished === undefined ? 0 : 2) + (r.maxValue === undefined ? 0 : 1);
}

function specificity(s: FeeSchedule): number {
  return (s.market === "*" ? 0 : 2) + (s.category === "*" ? 0 : 1);
}

/** Longest hold (auto-confirm, rolling reserve) a schedule may set, in days. */
export const MAX_HOLD_DAYS = 3_660;

/** Whether a schedule version is for this program, market and category (its own or a wildcard). */
function covers(s: FeeSchedule, program: ProgramKind, market: string, category: string): boolean {
  return s.program === program && (s.market === "*" || s.market === market) && (s.category === "*" || s.category === category);
}

/** When the first schedule version for this program, market and category comes into force; null: none ever does. */
export function firstScheduleFrom(schedules: readonly FeeSchedule[], program: ProgramKind, market: string, category: string): Date | null {
  const first = schedules.filter((s) => covers(s, program, market, category)).reduce((t, s) => Math.min(t, s.effectiveFrom.getTime()), Infinity);
  return Number.isFinite(first) ? new Date(first) : null;
}

export function selectSchedule(schedules: readonly FeeSchedule[], program: ProgramKind, market: string, category: string, at: Date): FeeSchedule | null {
  let best: FeeSchedule | null = null;
  for (const s of schedules) {
    if (!covers(s, program, market, category)) continue;
    if (s.effectiveFrom.getTime() > at.getTime()) continue;
    if (best === null) best = s;
    else {
      const a = specificity(s);
      const b = specificity(best);
      if (a > b || (a === b && s.effectiveFrom.getTime() > best.effectiveFrom.getTime())) best = s;
    }
  }
  return best;
}

/**
 * The national tax rule for an order in `market` at `at` (state rules: selectStateTaxRule): among
 * the versions in force whose territory, program, supply (import or domestic), seller's
 * establishment and value band fit the goods, the most specific (a territory's own > a program's own
 * > a supply > the seller's establishment > a band, each outranking all those after it together);
 * a narrower band before a wider one in the same currency; then the newest.
 * Without `goods`, supply and bands are not checked (the most specific rule of the market wins),
 * and rules of one program, territory or seller establishment are left out.
 * A band whose currency has no rate to convert to refuses the event (ENT_SETTLEMENT_FX_UNAVAILABLE).
 */
export function selectTaxRule(rules: readonly TaxRule[], market: string, at: Date, goods?: TaxedGoods): TaxRule | null {
  let best: TaxRule | null = null;
  for (const r of rules) {
    if (r.market !== market || r.level !== undefined || r.effectiveFrom.getTime() > at.getTime()) continue;
    // Without goods the program, the destination and the seller are unknown: a rule for one of them cannot apply.
    if (r.program !== undefined && r.program !== goods?.program) continue;
    // A territory holds its own subdivisions: a rule for ES-CN (the Canaries) applies to ES-TF and ES-GC, its provinces.
    if (r.territory !== undefined && (goods?.shipToRegion === undefined || !withinSubdivision(goods.shipToRegion, r.territory))) continue;
    if (r.sellerEstablished === "outside_market_area" && (goods === undefined || inMarketArea(market, goods.sellerCountry))) continue;
    if (goods !== undefined) {
      if (r.supply !== undefined && r.supply !== goods.supply) continue;
      if (r.maxValue !== undefined) {
        const value = goodsValue(r, goods, r.maxValue.currency);
        if (value === null) {
          throw SettlementErrors.fxUnavailable(`no ${goods.currency}->${r.maxValue.currency} rate to check tax rule ${r.id}'s band`, {
            fields: [{ field: "occurredAt", message: `no ${goods.currency}->${r.maxValue.currency} rate published for this instant` }],
          });
        }
        if (value > r.maxValue.amount) continue;
      }
    }
    if (best === null) best = r;
    else {
      const a = taxSpecificity(r);
      const b = taxSpecificity(best);
      const narrower = r.maxValue !== undefined && best.maxValue !== undefined && r.maxValue.currency === best.maxValue.currency && r.maxValue.amount < best.maxValue.amount;
      const sameBand = r.maxValue?.currency === best.maxValue?.currency && r.maxValue?.amount === best.maxValue?.amount;
      if (a > b || (a === b && (narrower || (sameBand && r.effectiveFrom.getTime() > best.effectiveFrom.getTime())))) best = r;
    }
  }
  return best;
}

/** The state tax rules in force for a market's supply (and program) at `at` (any region). */
function stateRules(rules: readonly TaxRule[], market: string, at: Date, supply: TaxSupply, program: ProgramKind | undefined): TaxRule[] {
  return rules.filter(
    (r) => r.market === market && r.level === "state" && r.effectiveFrom.getTime() <= at.getTime() && (r.supply === undefined || r.supply === supply) && (r.program === undefined || r.program === program),
  );
}

/**
 * The state tax rule for the buyer's region: the newest version in force. Where the market has state
 * taxes for this supply an order without a region, or to a region no rule covers, cannot be taxed
 * and is refused (ENT_SETTLEMENT_NO_TAX_RULE naming shipToRegion) rather than booked without its tax.
 */
export function selectStateTaxRule(rules: readonly TaxRule[], market: string, at: Date, supply: TaxSupply, region: string | undefined, program?: ProgramKind): TaxRule | null {
  const inForce = stateRules(rules, market, at, supply, program);
  if (inForce.length === 0) return null;
  if (region === undefined) {
    throw SettlementErrors.noTaxRule(`market ${market} levies state taxes: the capture must say which state the goods ship to`, {
      fields: [{ field: "shipToRegion", message: `required for ${market}: the ISO 3166-2 code of the buyer's state, e.g. ${inForce[0]?.region ?? `${market}-XX`}` }],
    });
  }
  let best: TaxRule | null = null;
  // A program's own rule before a general one; then the newest.
  const rank = (r: TaxRule) => (r.program === undefined ? 0 : 1);
  for (const r of inForce) {
    if (r.region === undefined || !withinSubdivision(region, r.region)) continue;
    if (best === null || rank(r) > rank(best) || (rank(r) === rank(best) && r.effectiveFrom.getTime() > best.effectiveFrom.getTime())) best = r;
  }
  if (best === null) {
    throw SettlementErrors.noTaxRule(`no state tax rule for ${region} at ${at.toISOString()}`, {
      fields: [{ field: "shipToRegion", message: `no tax rule in force for ${region}` }],
    });
  }
  return best;
}

/** An order's tax rules: the state rule (if the market has state taxes), then the national rule on the gross less the state tax. */
export interface OrderTaxRules {
  national: TaxRule;
  /** The national rule's deduction in the order's currency (deductionIn). */
  deduction: bigint;
  /** The mid rate from the order's currency to the deduction's that converted it; null when nothing was converted. */
  deductionRate: string | null;
  state: TaxRule | null;
}

export function selectOrderTaxes(rules: readonly TaxRule[], market: string, at: Date, goods: TaxedGoods, region: string | undefined): OrderTaxRules {
  const nationalWith = (state: TaxRule | null) => {
    const stateTax = state === null ? 0n : ruleTax(state, taxBase(state, goods.gross, goods.shipping));
    const national: TaxedGoods = { ...goods, ...(region === undefined ? {} : { shipToRegion: region }), gross: goods.gross - stateTax };
    return { national, rule: selectTaxRule(rules, market, at, national) };
  };
  let state = selectStateTaxRule(rules, market, at, goods.supply, region, goods.program);
  let { national, rule } = nationalWith(state);
  if (state?.nationalScheme !== undefined && rule !== null && rule.scheme !== state.nationalScheme) {
    // The state tax rides on a national scheme this order is outside of (Brazil's ICMS above Remessa
    // Conforme's ceiling: levied at customs with the formal import), so the order bears neither here.
    // Without it the goods are worth more, never less: the national rule stays outside that scheme.
    state = null;
    ({ national, rule } = nationalWith(null));
  }
  if (rule === null) {
    // Goods shipped from inside the market are a domestic supply; where the market's rules in force
    // tax imports only, it is the missing domestic rule, and shipFrom that made the supply domestic.
    if (goods.supply === "domestic" && selectTaxRule(rules, market, at) !== null) {
      const from = goods.shipFrom ?? market;
      throw SettlementErrors.noTaxRule(`no domestic tax rule for ${market} at ${at.toISOString()}: the goods ship from ${from}, inside ${market}, and its rules in force tax imports only`, {
        fields: [
          { field: "market", message: `no domestic tax rule in force for ${market}` },
          { field: "shipFrom", message: `${from} (the capture's shipFrom, else the seller's warehouse) makes the order a domestic supply in ${market}` },
        ],
      });
    }
    throw SettlementErrors.noTaxRule(`no tax rule for ${market} at ${at.toISOString()}`, { fields: [{ field: "market", message: "no tax rule in force" }] });
  }
  const deduction = deductionIn(rule, national);
  if (deduction === null) {
    throw SettlementErrors.fxUnavailable(`no ${goods.currency}->${rule.deduction?.currency ?? ""} rate to convert tax rule ${rule.id}'s deduction`, {
      fields: [{ field: "occurredAt", message: `no ${goods.currency}->${rule.deduction?.currency ?? ""} rate published for this instant` }],
    });
  }
  const d = rule.deduction;
  const deductionRate = d === undefined || d.currency === goods.currency ? null : national.rateTo(d.currency);
  return { national: rule, deduction, deductionRate, state };
}

function bad(id: string, field: string, message: string): never {
  throw SettlementErrors.invalidSchedule(`${id}: ${field} ${message}`, { fields: [{ field, message }] });
}

const isBps = (n: number) => Number.isInteger(n) && n >= 0 && n <= 10_000;

export function validateSchedule(s: FeeSchedule): FeeSchedule {
  if (typeof s.id !== "string" || !/^[A-Za-z0-9._-]{1,100}$/.test(s.id)) bad(JSON.stringify(s.id), "id", "must be 1-100 characters of [A-Za-z0-9._-]");
  if (!PROGRAMS.includes(s.program)) bad(s.id, "program", `must be one of ${PROGRAMS.join(", ")}`);
  if (s.market !== "*" && !/^[A-Z]{2}$/.test(s.market)) bad(s.id, "market", "must be an ISO 3166 alpha-2 code or *");
  if (!/^(\*|[a-z0-9_-]{1,50})$/.test(s.category)) bad(s.id, "category", "must be a lower-case code or *");
  if (Number.isNaN(s.effectiveFrom.getTime())) bad(s.id, "effectiveFrom", "must be a date");
  if (!isBps(s.commissionBps)) bad(s.id, "commissionBps", "must be an integer 0..10000");
  if (s.paymentFeeBorneBy !== "seller" && s.paymentFeeBorneBy !== "platform") bad(s.id, "paymentFeeBorneBy", "must be seller or platform");
  for (const [k, v] of Object.entries(s.fixedFees)) if (typeof v !== "bigint" || v < 0n) bad(s.id, `fixedFees.${k}`, "must be a non-negative bigint of USD minor units");
  // Bounded so that a date derived from a bounded occurredAt (auto-confirm, reserve release) stays valid.
  if (!Number.isInteger(s.autoConfirmDays) || s.autoConfirmDays < 0 || s.autoConfirmDays > MAX_HOLD_DAYS)
    bad(s.id, "autoConfirmDays", `must be an integer from 0 to ${MAX_HOLD_DAYS}`);
  if (s.autoConfirmFrom !== undefined && !(AUTO_CONFIRM_FROM as readonly string[]).includes(s.autoConfirmFrom)) bad(s.id, "autoConfirmFrom", `must be ${AUTO_CONFIRM_FROM.join(" or ")}`);
  if (s.autoConfirmFrom === "delivery" && !s.holdUntilConfirmation) bad(s.id, "autoConfirmFrom", "delivery needs holdUntilConfirmation: only held proceeds wait for delivery");
  if (s.deliveryDeadlineDays !== undefined) {
    if (s.autoConfirmFrom !== "delivery") bad(s.id, "deliveryDeadlineDays", "is only accepted with autoConfirmFrom: delivery");
    if (!Number.isInteger(s.deliveryDeadlineDays) || s.deliveryDeadlineDays < 1 || s.deliveryDeadlineDays > MAX_HOLD_DAYS) bad(s.id, "deliveryDeadlineDays", `must be an integer from 1 to ${MAX_HOLD_DAYS}`);
  }
  if (s.reserve !== null && (!isBps(s.reserve.bps) || !Number.isInteger(s.reserve.holdDays) || s.reserve.holdDays < 0 || s.reserve.holdDays > MAX_HOLD_DAYS))
    bad(s.id, "reserve", `needs bps 0..10000 and holdDays 0..${MAX_HOLD_DAYS}`);
  for (const [cur, rate] of Object.entries(s.referenceRates)) {
    const field = `referenceRates.${cur}`;
    if (!isCurrency(cur)) bad(s.id, field, "must be keyed by ISO 4217 code");
    if (!/^\d+(\.\d+)?$/.test(rate) || Number(rate) <= 0) bad(s.id, field, "must be a positive decimal string");
  }
  if (s.serviceFeesRefundable !== undefined && s.serviceFeesRefundable !== true) bad(s.id, "serviceFeesRefundable", "must be true or absent");
  if (s.weightBands !== undefined) validateWeightBands(s.id, s.weightBands);
  if (s.storageRate !== undefined) validateStorageRate(s.id, s.storageRate);
  if (s.program === "full_hosting" && s.commissionBps !== 0) bad(s.id, "commissionBps", "must be 0 for full hosting (the platform earns a margin)");
  return s;
}

export function validateTaxRule(r: TaxRule, markets: readonly Market[]): TaxRule {
  if (!markets.some((m) => m.code === r.market)) bad(r.id, "market", "must be a known market");
  if (Number.isNaN(r.effectiveFrom.getTime())) bad(r.id, "effectiveFrom", "must be a date");
  if (!isBps(r.rateBps)) bad(r.id, "rateBps", "must be an integer 0..10000");
  if (r.collectedBy === "none" && r.rateBps !== 0 && r.kind === "none") bad(r.id, "rateBps", "must be 0 when nothing is collected");
  if (!(TAX_COLLECTORS as readonly string[]).includes(r.collectedBy)) bad(r.id, "collectedBy", `must be ${TAX_COLLECTORS.join(", ")}`);
  if (r.sellerEstablished !== undefined && !(SELLER_ESTABLISHMENTS as readonly string[]).includes(r.sellerEstablished)) {
    bad(r.id, "sellerEstablished", `must be ${SELLER_ESTABLISHMENTS.join(" or ")}, or absent for every seller`);
  }
  if (r.program !== undefined && !PROGRAMS.includes(r.program)) bad(r.id, "program", `must be one of ${PROGRAMS.join(", ")}, or absent for every program`);
  if (r.supply !== undefined && !(TAX_SUPPLIES as readonly string[]).includes(r.supply)) bad(r.id, "supply", `must be ${TAX_SUPPLIES.join(" or ")}, or absent for both`);
  if (r.deduction !== undefined && (!isCurrency(r.deduction.currency) || typeof r.deduction.amount !== "bigint" || r.deduction.amount <= 0n)) {
    bad(r.id, "deduction", "needs an ISO 4217 currency and a positive amount of minor units");
  }
  if (r.level !== undefined && !(TAX_LEVELS as readonly string[]).includes(r.level)) bad(r.id, "level", `must be ${TAX_LEVELS.join(" or ")}, or absent for a national tax`);
  if (r.level === "state") {
    if (!isSubdivisionOf(r.region, r.market)) {
      bad(r.id, "region", `must be an ISO 3166-2 subdivision of ${r.market}, e.g. ${r.market}-XX`);
    }
    if (r.maxValue !== undefined || r.deduction !== undefined) bad(r.id, "level", "a state tax has no value band or deduction");
    if (r.territory !== undefined) bad(r.id, "territory", "is only accepted on a national tax: a state tax's region is its territory");
    if (r.sellerEstablished !== undefined) bad(r.id, "sellerEstablished", "is only accepted on a national tax");
    if (r.nationalScheme !== undefined && !/^[A-Z0-9_]{1,40}$/.test(r.nationalScheme)) bad(r.id, "nationalScheme", "must be a scheme code of 1-40 [A-Z0-9_]");
  } else {
    if (r.region !== undefined) bad(r.id, "region", "is only accepted on a state tax (level: state)");
    if (r.nationalScheme !== undefined) bad(r.id, "nationalScheme", "is only accepted on a state tax (level: state)");
    if (r.territory !== undefined && !isSubdivisionOf(r.territory, r.market)) {
      bad(r.id, "territory", `must be an ISO 3166-2 subdivision of ${r.market}, e.g. ${r.market}-XX`);
    }
  }
  if (r.computation !== undefined && r.computation !== "included") bad(r.id, "computation", "must be included, or absent for a tax on the price before it");
  if (r.computation === "included" && r.rateBps >= 10_000) bad(r.id, "rateBps", "must be below 10000 for a tax included in its own base");
  const basis = r.basis;
  if (basis !== undefined) {
    if (basis.shipping !== undefined && basis.shipping !== "untaxed") bad(r.id, "basis.shipping", "must be untaxed, or absent when shipping is taxed");
    if (basis.bandValue !== undefined && basis.bandValue !== "intrinsic") bad(r.id, "basis.bandValue", "must be intrinsic, or absent for the customs value");
    if (basis.valuedAt !== undefined && basis.valuedAt !== "customs_month") bad(r.id, "basis.valuedAt", "must be customs_month, or absent for the payment's rate");
  }
  if (r.maxValue !== undefined && (!isCurrency(r.maxValue.currency) || typeof r.maxValue.amount !== "bigint" || r.maxValue.amount <= 0n)) {
    bad(r.id, "maxValue", "needs an ISO 4217 currency and a positive amount of minor units");
  }
  return r;
}
