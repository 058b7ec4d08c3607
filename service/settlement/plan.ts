/**
 * The pure settlement engine: one validated event + its context (seller, schedule, tax rule,
 * rates, and for follow-ups the capture's state) -> one balanced posting plan.
 *
 * Shape of every transaction (B = buyer currency, USD = settlement currency, P = payout currency):
 *   B:   gateway receivable / tax payable / fx:B-USD
 *   USD: fx:B-USD / payment-fee expense / commission, fee recovery, logistics, warehousing, fulfilment, margin,
 *        fx gain-loss / fx:P-USD (or the seller's accounts when P = USD)
 *   P:   fx:P-USD / seller held|available|reserve
 * Each conversion puts the "from" amount on fx:X-USD in X and its MID-RATE value on the same code in
 * the other currency, so every currency nets to zero inside the transaction (asserted below). The
 * seller's proceeds are converted at the all-in rate (mid less the configured markup); the
 * difference from mid is FX revenue (`platform:revenue:fx_markup`). The clearing accounts thus hold
 * positions at market value: a gateway's remittance realises them, a revaluation restates what is
 * still open (realisation.ts).
 *
 * Refunds, chargebacks and their reversals move the capture's "taken back" total R. Every line L
 * of the capture is then taken back CUMULATIVELY: after the event the total taken back of L is
 * allocate(L, [R, G - R])[0] (largest remainder), and the event moves the difference to what was
 * taken back before. Hence the sum over any sequence of partial refunds of a line never exceeds
 * the line (the share of L is at most L, R <= G is enforced) and a full refund takes back each
 * line exactly. The two taxes are parts of the gross with the rest of it: what is taken back of them
 * is allocated together (taxPartsTaken), within the same bounds, so a follow-up's taxes and the bases
 * booked beside them add up to its gross. The buyer-currency amount is converted at the follow-up's
 * own rate; what that costs more or less than the USD lines taken back is an explicit FX gain/loss.
 */
import { allocate, applyBps, convertMinor, divideRounded, invertRate, rateFraction } from "../money/index.js";
import type { PostingInput } from "../ledger/types.js";
import { settlementFactsMetadata } from "../anchoring/leaf.js";
import { Accounts, SETTLEMENT_CURRENCY } from "./accounts.js";
import { SettlementErrors } from "./errors.js";
import { feeBandMetadata, perOrderFees } from "./fees.js";
import {
  LINE_KEYS,
  type Breakdown,
  type CaptureState,
  type FeeBearer,
  type FeeSchedule,
  type FxLeg,
  type LinkedPlan,
  type Lines,
  type PostingPlan,
  type RateEvidence,
  type Seller,
  type SellerMove,
  type SettlementEvent,
  type SettlementRecord,
  type TaxBaseFigures,
  type TaxRule,
} from "./types.js";

const USD = SETTLEMENT_CURRENCY;
const DAY_MS = 86_400_000;

export interface CapturePlanInput {
  event: SettlementEvent;
  seller: Seller;
  schedule: FeeSchedule;
  taxRule: TaxRule;
  /** The tax rule's deduction in the buyer currency (schedules.ts deductionIn); 0 without one. */
  taxDeduction?: bigint;
  /** The mid rate (buyer currency -> the deduction's) that converted it, when it was converted. */
  taxDeductionRate?: string | null;
  /** The buyer's state tax on top of the national one (schedules.ts selectOrderTaxes), if any. */
  stateTaxRule?: TaxRule | null;
  /** Where the goods shipped from for tax (the capture's shipFrom, else the seller's warehouse), if known. */
  shipFrom?: string;
  rates: PlanRates;
}

export interface FollowUpPlanInput {
  event: SettlementEvent;
  capture: CaptureState;
  rates: PlanRates;
  /** For a chargeback reversal: the gateway event id of the chargeback it reverses. */
  chargebackId?: string;
}

export interface PlanRates {
  /** Needed when the buyer currency is not USD. */
  buyerToUsd: RateEvidence | null;
  /** Needed when the payout currency is not USD. */
  usdToPayout: RateEvidence | null;
}

export function eventKey(gateway: string, gatewayEventId: string): string {
  return `settlement:${gateway}:${gatewayEventId}`;
}

export function zeroLines(): Lines {
  return {
    gross: 0n,
    tax: 0n,
    stateTax: 0n,
    netUsd: 0n,
    commission: 0n,
    paymentFeeRecovery: 0n,
    logistics: 0n,
    warehousing: 0n,
    fulfilment: 0n,
    margin: 0n,
    sales: 0n,
    costOfSales: 0n,
    fxGainLoss: 0n,
    checkoutFx: 0n,
    fxMarkup: 0n,
    sellerUsd: 0n,
    sellerMain: 0n,
    sellerReserve: 0n,
  };
}

export function addLines(a: Lines, b: Lines): Lines {
  const out = zeroLines();
  for (const k of LINE_KEYS) out[k] = a[k] + b[k];
  return out;
}

/**
 * Tax contained in a tax-inclusive gross: gross x rate / (1 + rate), half-even, exact in bigint.
 * With a deduction D (the rule's fixed amount off the tax, in the gross's currency): the tax T on the
 * goods' value V = gross - T is V x rate - D, so T = (gross x rate - D) / (1 + rate), never below 0.
 */
export function inclusiveTax(gross: bigint, rateBps: number, deduction = 0n): bigint {
  if (rateBps === 0 || gross === 0n) return 0n;
  if (deduction !== 0n) {
    const num = gross * BigInt(rateBps) - deduction * 10_000n;
    return num <= 0n ? 0n : divideRounded(num, 10_000n + BigInt(rateBps), "half-even");
  }
  return divideRounded(gross * BigInt(rateBps), 10_000n + BigInt(rateBps), "half-even");
}

/** The part of a tax-inclusive `gross` a rule taxes: without the shipping when the rule leaves it untaxed. */
export function taxBase(rule: TaxRule, gross: bigint, shipping: bigint): bigint {
  return rule.basis?.shipping === "untaxed" ? gross - shipping : gross;
}

/**
 * One rule's tax inside a tax-inclusive base: 0 unless the marketplace collects it (a seller-liable
 * tax is the seller's to declare, a customs one is levied at import); base x rate when
 * the rate is on a base that includes the tax ("included", Brazil's ICMS); else inclusiveTax.
 */
export function ruleTax(rule: TaxRule, base: bigint, deduction = 0n): bigint {
  if (rule.collectedBy !== "marketplace" || base <= 0n) return 0n;
  if (rule.computation === "included") return applyBps(base, rule.rateBps, "half-even");
  return inclusiveTax(base, rule.rateBps, deduction);
}

/**
 * An order's taxes: the state tax first, on the gross (it is levied on a base that contains the
 * national tax: ICMS on goods + import tax + ICMS), then the national tax on what is left.
 */
export function orderTaxes(gross: bigint, shipping: bigint, national: TaxRule, deduction: bigint, state: TaxRule | null): { tax: bigint; stateTax: bigint } {
  const stateTax = state === null ? 0n : ruleTax(state, taxBase(state, gross, shipping));
  return { stateTax, tax: ruleTax(national, taxBase(national, gross - stateTax, shipping), deduction) };
}

/**
 * One rule's base as booked, from the tax-inclusive `amount` it was computed inside (orderTaxes):
 * the part the rule taxes (taxBase) net of the tax, or with it for a tax on a base that includes it.
 */
function ruleBase(rule: TaxRule, amount: bigint, shipping: bigint, tax: bigint, otherTaxes: bigint, deduction: bigint): TaxBaseFigures {
  const taxed = taxBase(rule, amount, shipping);
  return { taxableBase: rule.computation === "included" ? taxed : taxed - tax, nonTaxable: amount - taxed, otherTaxes, deduction };
}

/**
 * The bases of an order's taxes, as orderTaxes computed them: the state tax's inside the whole gross
 * (so nothing else is outside it but untaxed shipping), the national tax's inside what the state tax
 * left (the state tax is outside it). Per rule: gross = taxableBase + tax + nonTaxable + otherTaxes,
 * except that a tax computed on a base that includes it (ICMS) is inside its taxableBase.
 */
export function orderTaxBases(
  gross: bigint,
  shipping: bigint,
  national: TaxRule,
  deduction: bigint,
  state: TaxRule | null,
  taxes: { tax: bigint; stateTax: bigint },
): { national: TaxBaseFigures; state?: TaxBaseFigures } {
  const nationalBase = ruleBase(national, gross - taxes.stateTax, shipping, taxes.tax, taxes.stateTax, deduction);
  return state === null ? { national: nationalBase } : { national: nationalBase, state: ruleBase(state, gross, shipping, taxes.stateTax, 0n, 0n) };
}

/**
 * The parts of a capture's gross that its tax lines and tax bases are made of: the state tax, the
 * national tax, and the shipping a rule leaves outside its base (the same amount for both rules
 * when both leave it out: ruleBase); the rest of the gross is what the bases hold besides.
 */
export interface TaxParts {
  stateTax: bigint;
  tax: bigint;
  shipping: bigint;
}

/** The parts of a capture: its tax lines, and the untaxed shipping its bases booked (none without bases). */
export function captureTaxParts(b: Pick<Breakdown, "lines" | "taxBases">): TaxParts {
  const national = b.taxBases?.national.nonTaxable ?? 0n;
  const state = b.taxBases?.state?.nonTaxable ?? 0n;
  // Each rule's nonTaxable is 0 or the capture's shipping: two different figures would be two wholes.
  if (national !== 0n && state !== 0n && national !== state) throw new Error(`tax bases leave out ${national} and ${state}: not one shipping`);
  return { stateTax: b.lines.stateTax, tax: b.lines.tax, shipping: national !== 0n ? national : state };
}

/**
 * The parts of `whole` taken back once `taken` of the capture's gross `total` is: allocated TOGETHER,
 * so the parts taken and the rest add up to `taken` exactly (rounded each on its own, two taxes at
 * x.5 both go up and a refund gives back a unit of tax that was never collected). In two steps, each
 * by largest remainder between two parts of one whole (cumulativeShare): the taxes together of the
 * gross; then the state tax of the taxes (the national tax the rest of them), and the untaxed shipping
 * of what the taxes leave. Unlike one largest-remainder allocation over all parts at once, where a
 * larger total can give a part one unit less (the Alabama paradox), every part taken back only grows
 * with `taken`: no refund gives back a negative share of a tax, no reversal takes one, and no part
 * goes beyond the capture's or below 0; with two steps, each part stays within one unit of its exact
 * share, and the whole gross takes each part exactly.
 */
export function taxPartsTaken(whole: TaxParts, taken: bigint, total: bigint): TaxParts {
  const taxes = whole.stateTax + whole.tax;
  const taxesTaken = cumulativeShare(taxes, taken, total);
  const stateTax = cumulativeShare(whole.stateTax, taxesTaken, taxes);
  const shipping = cumulativeShare(whole.shipping, taken - taxesTaken, total - taxes);
  return { stateTax, tax: taxesTaken - stateTax, shipping };
}

/**
 * One rule's figures once `taken` of the gross `total` is taken back, from the parts taken: the
 * shipping outside its base and the other tax outside it (the state tax, on the national line) are
 * those parts, and its base the rest of what was taken (less its own tax unless its base holds it,
 * as ICMS's does), so its figures add up to `taken` as the capture's add up to the gross.
 */
function ruleFiguresTaken(f: TaxBaseFigures, own: "tax" | "stateTax", whole: TaxParts, parts: TaxParts, taken: bigint, total: bigint): TaxBaseFigures {
  if (f.otherTaxes !== 0n && f.otherTaxes !== whole.stateTax) throw new Error(`tax base has other taxes ${f.otherTaxes}, not the state tax ${whole.stateTax}`);
  const included = f.taxableBase + f.nonTaxable + f.otherTaxes === total;
  if (!included && f.taxableBase + whole[own] + f.nonTaxable + f.otherTaxes !== total) throw new Error(`tax base figures do not add up to the gross ${total}`);
  const nonTaxable = f.nonTaxable === 0n ? 0n : parts.shipping;
  const otherTaxes = f.otherTaxes === 0n ? 0n : parts.stateTax;
  return {
    taxableBase: taken - nonTaxable - otherTaxes - (included ? 0n : parts[own]),
    nonTaxable,
    otherTaxes,
    deduction: cumulativeShare(f.deduction, taken, total),
  };
}

/**
 * The share of a capture's tax bases moved by a follow-up taking the capture's total taken back from
 * `before` to `after` of `total`, each with the parts taken back then (taxPartsTaken): the figures
 * after less those before, so the share adds up to the follow-up's gross with the taxes it moves.
 */
export function taxBasesShare(
  bases: { national: TaxBaseFigures; state?: TaxBaseFigures },
  whole: TaxParts,
  before: { taken: bigint; parts: TaxParts },
  after: { taken: bigint; parts: TaxParts },
  total: bigint,
): { national: TaxBaseFigures; state?: TaxBaseFigures } {
  const moved = (f: TaxBaseFigures, own: "tax" | "stateTax"): TaxBaseFigures => {
    const a = ruleFiguresTaken(f, own, whole, after.parts, after.taken, total);
    const b = ruleFiguresTaken(f, own, whole, before.parts, before.taken, total);
    return { taxableBase: a.taxableBase - b.taxableBase, nonTaxable: a.nonTaxable - b.nonTaxable, otherTaxes: a.otherTaxes - b.otherTaxes, deduction: a.deduction - b.deduction };
  };
  return bases.state === undefined ? { national: moved(bases.national, "tax") } : { national: moved(bases.national, "tax"), state: moved(bases.state, "stateTax") };
}

/** Cumulative share of line `line` once `taken` of `total` is taken back (largest remainder). */
export function cumulativeShare(line: bigint, taken: bigint, total: bigint): bigint {
  if (taken === 0n || line === 0n) return 0n;
  if (taken === total) return line;
  // allocate handles the sign of `line` (allocate(-a) = -allocate(a)).
  return allocate(line, [taken, total - taken])[0] as bigint;
}

/** Convert a signed amount: the magnitude is rounded half-even, the sign kept (a reversal mirrors its original). */
function convertSigned(amount: bigint, rate: RateEvidence): bigint {
  if (amount === 0n) return 0n;
  const mag = convertMinor(amount < 0n ? -amount : amount, rate.from, rate.to, rate.rate, "half-even");
  return amount < 0n ? -mag : mag;
}

/** The same leg at its mid rate (a leg without a markup is its own mid). */
function atMid(rate: RateEvidence): RateEvidence {
  if (rate.midRate === undefined) return rate;
  const { midRate, markupBps: _markup, ...rest } = rate;
  return { ...rest, rate: midRate };
}

/** `amount` of `to` bought with USD at `rate` (USD -> to), i.e. the inverse conversion, half-even. */
function usdCostOf(amount: bigint, to: string, rate: string): bigint {
  // amount / rate, converted back from `to` into USD: the inverse conversion, exactly.
  return convertMinor(amount, to, USD, invertRate(rateFraction(rate)), "half-even");
}

function needRate(rate: RateEvidence | null, from: string, to: string, event: SettlementEvent): RateEvidence {
  if (rate === null || rate.from !== from || rate.to !== to) {
    throw SettlementErrors.fxUnavailable(`no ${from}->${to} rate for event ${event.gatewayEventId}`, {
      fields: [{ field: "fxQuoteId", message: `a ${from}->${to} rate or quote is required` }],
      details: { from, to, at: event.occurredAt.toISOString() },
    });
  }
  return rate;
}

/**
 * The lines that belong to a full-hosting supplier: they move only with returns for its fault. A
 * principal capture's `fxGainLoss` is not one: it is 0, or, on a capture booked when cost of sales
 * was at the planning rate, that cost's variance, which moves with the cost it is part of.
 */
const SUPPLIER_LINES: ReadonlySet<keyof Lines> = new Set(["sellerUsd", "sellerMain", "sellerReserve"]);

/** Accumulates signed legs (+ debit, - credit) per (account, currency). */
class Legs {
  private readonly map = new Map<string, { account: string; currency: string; amount: bigint }>();
  /** Debits minus credits so far in one currency. */
  net(currency: string): bigint {
    let n = 0n;
    for (const l of this.map.values()) if (l.currency === currency) n += l.amount;
    return n;
  }
  add(account: string, currency: string, signed: bigint): void {
    if (signed === 0n) return;
    const key = `${account}\u0000${currency}`;
    const cur = this.map.get(key);
    if (cur) cur.amount += signed;
    else this.map.set(key, { account, currency, amount: signed });
  }
  debit(account: string, currency: string, amount: bigint): void {
    this.add(account, currency, amount);
  }
  credit(account: string, currency: string, amount: bigint): void {
    this.add(account, currency, -amount);
  }
  /** Postings, after checking that each currency nets to zero (a bug here must never reach the ledger). */
  postings(): PostingInput[] {
    const net = new Map<string, bigint>();
    const out: PostingInput[] = [];
    for (const l of this.map.values()) {
      net.set(l.currency, (net.get(l.currency) ?? 0n) + l.amount);
      if (l.amount === 0n) continue;
      out.push({ account: l.account, currency: l.currency, direction: l.amount > 0n ? "debit" : "credit", amount: l.amount > 0n ? l.amount : -l.amount });
    }
    for (const [cur, n] of net) if (n !== 0n) throw new Error(`settlement plan does not balance in ${cur}: ${n}`);
    return out;
  }
}

/** Move `usd` into the payout currency through fx:P-USD (or directly when P is USD). */
function toPayout(legs: Legs, payout: string, usd: bigint, payoutAmount: bigint): void {
  if (payout === USD) return;
  legs.credit(Accounts.fxClearing(payout), USD, usd);
  legs.debit(Accounts.fxClearing(payout), payout, payoutAmount);
}

function baseMetadata(event: SettlementEvent, program: string, captureKey: string, fx: FxLeg[]): Record<string, string> {
  const m: Record<string, string> = {
    settlementId: event.settlementId,
    sellerId: event.sellerId,
    gateway: event.gateway,
    gatewayEventId: event.gatewayEventId,
    eventType: event.type,
    market: event.market,
    category: event.category,
    program,
    captureKey,
  };
  if (event.fxQuoteId !== undefined) m.fxQuoteId = event.fxQuoteId;
  // Only when given, so every other event's metadata (and its anchored digest) is unchanged.
  if (event.shipToRegion !== undefined) m.shipToRegion = event.shipToRegion;
  if (event.shipping !== undefined) m.shipping = event.shipping.toString();
  if (event.listingPrice !== undefined) {
    m.listingPrice = event.listingPrice.toString();
    m.listingCurrency = event.listingCurrency ?? "";
  }
  // One set of keys per pair and rate: the pair's first leg under `fx.<A>-<B>.*` (what the anchored
  // leaf carries, service/anchoring/leaf.ts fxOf), each further rate of that pair under
  // `fx.<A>-<B>.<n>.*`, n = 2, 3... (a follow-up converts the seller's share back at the capture's
  // rate and its fee at today's). A repeated leg at the same rate adds nothing.
  const seen = new Map<string, Array<{ rate: string; quoteId: string | null }>>();
  for (const leg of fx) {
    const pair = `${leg.from}-${leg.to}`;
    const rates = seen.get(pair) ?? [];
    if (rates.some((r) => r.rate === leg.rate && r.quoteId === leg.quoteId)) continue;
    rates.push({ rate: leg.rate, quoteId: leg.quoteId });
    seen.set(pair, rates);
    const prefix = rates.length === 1 ? `fx.${pair}` : `fx.${pair}.${rates.length}`;
    m[`${prefix}.rate`] = leg.rate;
    if (leg.quoteId !== null) m[`${prefix}.quoteId`] = leg.quoteId;
    if (leg.markupBps !== undefined && leg.midRate !== undefined) {
      m[`${prefix}.midRate`] = leg.midRate;
      m[`${prefix}.markupBps`] = String(leg.markupBps);
    }
  }
  return m;
}

/**
 * The evidence of a tax rule's fixed deduction (Brazil's USD 20 off the import tax): the rule's
 * amount in its currency, what it came to in the buyer's, and the mid rate that converted it.
 */
function deductionMetadata(rule: TaxRule, buyer: bigint, rate: string | null): Record<string, string> {
  const d = rule.deduction;
  if (d === undefined || buyer === 0n) return {};
  return {
    "tax.deduction.currency": d.currency,
    "tax.deduction.amount": d.amount.toString(),
    "tax.deduction.buyer": buyer.toString(),
    ...(rate === null ? {} : { "tax.deduction.rate": rate }),
  };
}

/**
 * A tax's base as booked, under `<prefix>.taxableBase`, and `.nonTaxable`, `.otherTaxes`, `.deducted`
 * when not zero (every event's metadata is written, hashed and anchored: no bytes for zeros): what a
 * tax return reads beside the tax posting (statement.ts), so a return reports the base of the day,
 * never one recomputed with today's rules. A follow-up's are the share it moved (positive for a refund).
 */
function taxBaseMetadata(prefix: string, f: TaxBaseFigures): Record<string, string> {
  return {
    [`${prefix}.taxableBase`]: f.taxableBase.toString(),
    ...(f.nonTaxable === 0n ? {} : { [`${prefix}.nonTaxable`]: f.nonTaxable.toString() }),
    ...(f.otherTaxes === 0n ? {} : { [`${prefix}.otherTaxes`]: f.otherTaxes.toString() }),
    ...(f.deduction === 0n ? {} : { [`${prefix}.deducted`]: f.deduction.toString() }),
  };
}

/**
 * The journal metadata of an event: who and what (above), and the gross with its fee lines, so the
 * journal alone holds what an anchored leaf commits to (service/anchoring/leaf.ts).
 */
function journalMetadata(event: SettlementEvent, captureKey: string, b: Breakdown): Record<string, string> {
  // The tax basis: the rules applied (and where the goods shipped from), which the anchored leaf
  // carries beside the tax postings themselves (LEAF_FACT_KEYS).
  const tax: Record<string, string> = {
    "tax.ruleId": b.taxRuleId,
    // Who is liable: a seller-liable sale books no tax posting, and says so here.
    ...(b.taxCollectedBy === undefined ? {} : { "tax.collectedBy": b.taxCollectedBy }),
    ...(b.stateTax === undefined ? {} : { "tax.state.ruleId": b.stateTax.ruleId, "tax.state.rateBps": String(b.stateTax.rateBps) }),
    // The state tax's own liable party: tax.collectedBy is the national rule's ("none" for the US, whose tax is the state's).
    ...(b.stateTax?.collectedBy === undefined ? {} : { "tax.state.collectedBy": b.stateTax.collectedBy }),
    ...(b.shipFrom === undefined ? {} : { shipFrom: b.shipFrom }),
    ...(b.taxBases === undefined ? {} : taxBaseMetadata("tax", b.taxBases.national)),
    ...(b.taxBases?.state === undefined ? {} : taxBaseMetadata("tax.state", b.taxBases.state)),
  };
  return {
    ...baseMetadata(event, b.program, captureKey, b.fx),
    ...tax,
    ...settlementFactsMetadata({
      currency: event.currency,
      amount: event.amount,
      gatewayFee: b.gatewayFee.buyer,
      feeCurrency: b.settlementCurrency,
      commission: b.lines.commission,
      paymentFeeRecovery: b.lines.paymentFeeRecovery,
      logistics: b.lines.logistics,
      warehousing: b.lines.warehousing,
      fulfilment: b.lines.fulfilment,
      fxMarkup: b.lines.fxMarkup,
    }),
  };
}

export function planCapture(input: CapturePlanInput): PostingPlan {
  const { event, seller, schedule, taxRule, rates } = input;
  const B = event.currency;
  const P = seller.payoutCurrency;
  const G = event.amount;
  const F = event.gatewayFee;
  const fx: FxLeg[] = [];
  const lines = zeroLines();
  const borneBy: FeeBearer = schedule.paymentFeeBorneBy;

  const stateRule = input.stateTaxRule ?? null;
  lines.gross = G;
  ({ tax: lines.tax, stateTax: lines.stateTax } = orderTaxes(G, event.shipping ?? 0n, taxRule, input.taxDeduction ?? 0n, stateRule));
  const taxBases = orderTaxBases(G, event.shipping ?? 0n, taxRule, input.taxDeduction ?? 0n, stateRule, lines);
  const taxes = lines.tax + lines.stateTax;
  const netBuyer = G - taxes;
  let feeUsd: bigint;
  let midUsd = netBuyer;
  // The gateway keeps its fee out of the buyer currency before the acquirer converts the rest, so
  // the fee is an expense in USD at the mid rate and only the remainder is a position in B.
  let feeMid = F;
  if (B === USD) {
    lines.netUsd = netBuyer;
    feeUsd = F;
  } else {
    const r = needRate(rates.buyerToUsd, B, USD, event);
    lines.netUsd = convertSigned(netBuyer, r);
    // The clearing account takes the mid-rate value; the markup is FX revenue on its own line.
    midUsd = convertSigned(netBuyer, atMid(r));
    lines.fxMarkup = midUsd - lines.netUsd;
    feeUsd = convertSigned(F, r);
    feeMid = convertSigned(F, atMid(r));
    fx.push({ ...r, fromAmount: netBuyer, toAmount: lines.netUsd });
  }
  let usdToPayout: RateEvidence | null = null;
  if (P !== USD) usdToPayout = needRate(rates.usdToPayout, USD, P, event);
  const listing = listingOf(event, seller, P, G, taxes, usdToPayout);
  if (listing !== null || seller.program === "full_hosting") {
    // The platform converts the buyer's money for itself (the seller's amount is fixed in its own
    // currency): at mid, no markup, and the checkout FX is the platform's result.
    lines.netUsd = midUsd;
    lines.fxMarkup = 0n;
    feeUsd = feeMid;
    if (fx[0] !== undefined) fx[0] = { ...atMid(fx[0]), fromAmount: netBuyer, toAmount: midUsd };
  }
  // Commission is a share of the seller's price: the listing's when there is one.
  lines.commission = applyBps(listing?.baseUsd ?? lines.netUsd, schedule.commissionBps, "half-even");
  lines.paymentFeeRecovery = borneBy === "seller" ? feeUsd : 0n;
  // Flat per order, or by the parcel's weight band where the schedule has bands (fees.ts).
  const perOrder = perOrderFees(schedule, event);
  lines.logistics = perOrder.fees.logistics;
  lines.warehousing = perOrder.fees.warehousing;
  lines.fulfilment = perOrder.fees.fulfilment;
  const platformUsd = lines.commission + lines.paymentFeeRecovery + lines.logistics + lines.warehousing + lines.fulfilment;

  let sellerTotal: bigint;
  if (seller.program === "full_hosting") {
    if (event.supplyPrice === undefined) {
      throw SettlementErrors.missingSupplyPrice(`full hosting seller ${seller.id} needs the agreed supply price`, {
        fields: [{ field: "supplyPrice", message: `required for full hosting, in ${P} minor units` }],
      });
    }
    sellerTotal = event.supplyPrice;
    // The supplier's price is fixed in P: nobody pays the platform a markup on this conversion, so
    // the platform's cost is the mid-rate cost.
    if (usdToPayout !== null) usdToPayout = atMid(usdToPayout);
    checkSupplyPrice(event, G, B === USD ? G : convertSigned(G, atMid(needRate(rates.buyerToUsd, B, USD, event))), P, usdToPayout);
    // The platform is the principal: it sells (gross revenue, net of tax) and buys from the supplier
    // at the agreed price, a purchase in P recorded at the spot (mid) rate of its date (IAS 21.21),
    // the very USD the payable is booked at: no exchange difference exists at first recognition, so
    // nothing goes to FX gain/loss. The schedule's planning rate is a budget figure, never booked;
    // what moves the payable's USD value later is the FX position's (realisation.ts). The margin is
    // shown, not booked.
    lines.sellerUsd = usdToPayout === null ? sellerTotal : usdCostOf(sellerTotal, P, usdToPayout.rate);
    lines.sales = lines.netUsd - platformUsd;
    lines.costOfSales = lines.sellerUsd;
    lines.margin = lines.sales - lines.costOfSales;
  } else if (listing !== null && listing.currency === P && usdToPayout !== null) {
    // Listed in the payout currency: the seller gets the listing less the fees, nothing converted.
    const mid = atMid(usdToPayout);
    sellerTotal = listing.net - convertSigned(platformUsd, mid);
    lines.sellerUsd = usdCostOf(sellerTotal, P, mid.rate);
    fx.push({ ...mid, fromAmount: lines.sellerUsd, toAmount: sellerTotal, basis: "inverse" });
  } else {
    const sellerAllIn = (listing?.baseUsd ?? lines.netUsd) - platformUsd;
    sellerTotal = usdToPayout === null ? sellerAllIn : convertSigned(sellerAllIn, usdToPayout);
    // What buying sellerTotal costs at mid; the rest of the seller's USD is the markup on this leg.
    lines.sellerUsd = usdToPayout?.midRate === undefined ? sellerAllIn : usdCostOf(sellerTotal, P, usdToPayout.midRate);
    lines.fxMarkup += sellerAllIn - lines.sellerUsd;
    if (usdToPayout !== null) fx.push({ ...usdToPayout, fromAmount: sellerAllIn, toAmount: sellerTotal });
  }
  if (usdToPayout !== null && seller.program === "full_hosting") fx.push({ ...usdToPayout, fromAmount: lines.sellerUsd, toAmount: sellerTotal, basis: "inverse" });
  // With a listing price the platform keeps (or pays) the difference between what the buyer's money
  // is worth at mid and what the seller was promised: its checkout difference. A price it set at the
  // sale, not an exchange difference on a monetary item (no rate has moved yet): revenue of its own,
  // so platform:fx_gain_loss holds exchange differences only (IAS 21.52(a)).
  if (listing !== null) lines.checkoutFx = lines.netUsd - platformUsd - lines.fxMarkup - (P === USD ? sellerTotal : lines.sellerUsd);
  lines.sellerReserve = schedule.reserve !== null && sellerTotal > 0n ? applyBps(sellerTotal, schedule.reserve.bps, "half-even") : 0n;
  lines.sellerMain = sellerTotal - lines.sellerReserve;
  const sellerBucket = schedule.holdUntilConfirmation && lines.sellerMain > 0n ? "held" : "available";

  const legs = new Legs();
  const recv = Accounts.gatewayReceivable(event.gateway);
  legs.debit(recv, B, G - F);
  legs.debit(Accounts.paymentFees, USD, feeMid);
  legs.credit(Accounts.tax(event.market, taxRule.scheme), B, lines.tax);
  // A state tax is owed to the state: its payable is named by the region (tax:US-CA:US_SALES_TAX:payable).
  if (stateRule !== null) legs.credit(Accounts.tax(stateRule.region ?? event.market, stateRule.scheme), B, lines.stateTax);
  if (B !== USD) {
    // Position in B: what the acquirer will convert (gross less its fee) less the tax kept in B.
    legs.credit(Accounts.fxClearing(B), B, netBuyer - F);
    legs.debit(Accounts.fxClearing(B), USD, midUsd - feeMid);
  }
  legs.credit(Accounts.fxMarkup, USD, lines.fxMarkup);
  legs.credit(Accounts.commission, USD, lines.commission);
  legs.credit(Accounts.paymentFeeRecovery, USD, lines.paymentFeeRecovery);
  legs.credit(Accounts.logistics, USD, lines.logistics);
  legs.credit(Accounts.warehousing, USD, lines.warehousing);
  legs.credit(Accounts.fulfilment, USD, lines.fulfilment);
  legs.credit(Accounts.sales, USD, lines.sales);
  legs.debit(Accounts.costOfSales, USD, lines.costOfSales);
  legs.credit(Accounts.checkoutFx, USD, lines.checkoutFx);
  toPayout(legs, P, lines.sellerUsd, sellerTotal);
  legs.credit(Accounts.seller(seller.id, sellerBucket), P, lines.sellerMain);
  legs.credit(Accounts.seller(seller.id, "reserve"), P, lines.sellerReserve);

  const key = eventKey(event.gateway, event.gatewayEventId);
  const at = event.occurredAt.getTime();
  const breakdown: Breakdown = {
    program: seller.program,
    scheduleId: schedule.id,
    taxRuleId: taxRule.id,
    taxScheme: taxRule.scheme,
    taxRateBps: taxRule.collectedBy === "marketplace" ? taxRule.rateBps : 0,
    taxCollectedBy: taxRule.collectedBy,
    ...(input.shipFrom === undefined ? {} : { shipFrom: input.shipFrom }),
    ...(stateRule === null
      ? {}
      : {
          stateTax: {
            ruleId: stateRule.id,
            scheme: stateRule.scheme,
            rateBps: stateRule.collectedBy === "marketplace" ? stateRule.rateBps : 0,
            region: stateRule.region ?? event.market,
            collectedBy: stateRule.collectedBy,
          },
        }),
    buyerCurrency: B,
    settlementCurrency: USD,
    payoutCurrency: P,
    lines,
    gatewayFee: { buyer: F, usd: lines.paymentFeeRecovery, payout: 0n, borneBy, expenseUsd: feeMid },
    fxDifference: 0n,
    released: 0n,
    fx,
    sellerBucket,
    reserveBucket: "reserve",
    reserveReleaseAt: schedule.reserve !== null && lines.sellerReserve > 0n ? new Date(at + schedule.reserve.holdDays * DAY_MS).toISOString() : null,
    autoConfirmAt: sellerBucket === "held" && schedule.autoConfirmFrom !== "delivery" ? new Date(at + schedule.autoConfirmDays * DAY_MS).toISOString() : null,
    ...(sellerBucket === "held" && schedule.autoConfirmFrom === "delivery"
      ? {
          confirmOnDelivery: {
            days: schedule.autoConfirmDays,
            deadline: schedule.deliveryDeadlineDays === undefined ? null : new Date(at + schedule.deliveryDeadlineDays * DAY_MS).toISOString(),
          },
        }
      : {}),
    ...(seller.program === "full_hosting" ? { principal: true } : {}),
    ...(schedule.serviceFeesRefundable === true ? {} : { serviceFeesKept: true }),
    ...(perOrder.bands.length === 0 ? {} : { feeBands: perOrder.bands }),
    taxBases,
  };
  return {
    idempotencyKey: key,
    postings: legs.postings(),
    // The listing's currency as applied (the capture's, else the seller's on file), and the fee bands.
    metadata: {
      ...journalMetadata(event, key, breakdown),
      ...feeBandMetadata(breakdown.feeBands),
      ...deductionMetadata(taxRule, input.taxDeduction ?? 0n, input.taxDeductionRate ?? null),
      ...(listing === null ? {} : { listingCurrency: listing.currency }),
    },
    description: `${event.type} ${event.settlementId} (${seller.program}, ${event.market})`,
    effectiveAt: event.occurredAt,
    breakdown,
    refundedDelta: 0n,
  };
}

/**
 * The supply price is a gateway's figure: as principal the platform buys the goods for it, so a
 * price above what the buyer paid would book a loss (and a payable the bank run pays) no sale
 * backs. The bound is the order's gross valued at the mid rates the plan converts at (B -> USD ->
 * P, the latter rounded down), in P minor units; a ratio below 100% would belong in the fee
 * schedule, per program, but without one the strict bound holds.
 */
function checkSupplyPrice(event: SettlementEvent, gross: bigint, grossUsd: bigint, P: string, usdToPayoutMid: RateEvidence | null): void {
  const supply = event.supplyPrice ?? 0n;
  const limit = usdToPayoutMid === null ? grossUsd : convertMinor(grossUsd, USD, P, usdToPayoutMid.rate, "floor");
  if (supply <= limit) return;
  const via = usdToPayoutMid === null ? "" : ` (USD ${grossUsd} at the USD->${P} mid rate ${usdToPayoutMid.rate})`;
  throw SettlementErrors.supplyPriceOutOfRange(`supply price ${supply} ${P} exceeds the order's gross of ${gross} ${event.currency}, worth ${limit} ${P}${via}`, {
    fields: [{ field: "supplyPrice", message: `must be at most ${limit} ${P} minor units: the order's gross of ${gross} ${event.currency} at the mid rate` }],
    details: { limit: limit.toString(), currency: P, gross: gross.toString(), grossCurrency: event.currency, grossUsd: grossUsd.toString() },
  });
}

interface Listing {
  currency: string;
  /** The listing price less the tax's share (the tax is taken from the buyer's gross in B). */
  net: bigint;
  /** `net` in USD at mid. */
  baseUsd: bigint;
}

/** The capture's listing price, net of tax and valued in USD at mid; null without one. */
function listingOf(event: SettlementEvent, seller: Seller, P: string, gross: bigint, tax: bigint, usdToPayout: RateEvidence | null): Listing | null {
  if (event.listingPrice === undefined) return null;
  const L = event.listingCurrency ?? seller.listingCurrency;
  if (L === undefined) {
    throw SettlementErrors.invalidEvent(`a listing price needs its currency: seller ${seller.id} has no listing currency on file`, {
      fields: [{ field: "listingCurrency", message: `required with listingPrice (USD or ${P}) unless the seller has a listing currency` }],
    });
  }
  if (seller.program === "full_hosting") {
    throw SettlementErrors.invalidEvent(`full hosting seller ${seller.id} is paid its supply price; the platform sets the listing`, {
      fields: [{ field: "listingPrice", message: "not accepted for full hosting: send supplyPrice" }],
    });
  }
  if (L !== USD && L !== P) {
    throw SettlementErrors.invalidEvent(`listing currency ${L} is neither USD nor seller ${seller.id}'s payout currency ${P}`, {
      fields: [{ field: "listingCurrency", message: `must be USD or ${P}` }],
    });
  }
  const net = tax === 0n ? event.listingPrice : (allocate(event.listingPrice, [gross - tax, tax])[0] as bigint);
  const baseUsd = L === USD || usdToPayout === null ? net : usdCostOf(net, P, atMid(usdToPayout).rate);
  return { currency: L, net, baseUsd };
}

function checkFollowUp(event: SettlementEvent, capture: CaptureState): void {
  const c = capture.event;
  if (event.currency !== c.currency) {
    throw SettlementErrors.currencyMismatch(`event currency ${event.currency} differs from the capture's ${c.currency}`, {
      fields: [{ field: "currency", message: `must be ${c.currency}, the currency of the original capture` }],
    });
  }
  for (const field of ["sellerId", "market", "settlementId", "gateway"] as const) {
    if (event[field] !== c[field]) {
      throw SettlementErrors.referenceMismatch(`${field} ${event[field]} differs from the capture's ${c[field]}`, {
        fields: [{ field, message: `must be ${c[field]}, as on the original capture` }],
      });
    }
  }
}

/** The capture's USD->P conversion of the seller's proceeds, at its mid rate: what a follow-up takes back or charges at. */
function captureMidToPayout(b: Breakdown): RateEvidence | undefined {
  const leg = b.fx.find((l) => l.from === USD && l.to === b.payoutCurrency);
  if (leg === undefined) return undefined;
  const { fromAmount: _from, toAmount: _to, basis: _basis, ...withMarkup } = leg;
  return atMid(withMarkup);
}

/**
 * Charges the seller's available balance `usd` of fees, in its payout currency at the capture's
 * USD->P mid rate: a charge is no conversion the platform sells, so no markup is taken, and the
 * fx:P-USD position is booked at mid with nothing left inside it.
 */
function chargeSeller(legs: Legs, fx: FxLeg[], sellerId: string, b: Breakdown, usd: bigint): void {
  if (usd === 0n) return;
  const P = b.payoutCurrency;
  let amount = usd;
  if (P !== USD) {
    const rate = captureMidToPayout(b);
    if (rate === undefined) throw new Error(`capture of ${sellerId} has no USD->${P} leg`);
    amount = convertSigned(usd, rate);
    // Taken from the seller in P for the platform's USD: the USD->P leg run backwards, as a fee's.
    fx.push({ ...rate, fromAmount: -usd, toAmount: -amount });
    legs.debit(Accounts.fxClearing(P), USD, usd);
    legs.credit(Accounts.fxClearing(P), P, amount);
  }
  legs.debit(Accounts.seller(sellerId, "available"), P, amount);
}

/** Gateway fee charged on a follow-up event (or a fee adjustment): out of the receivable in B, an expense in USD at mid, recovered from the seller if they bear it. */
function feeLegs(legs: Legs, event: SettlementEvent, capture: CaptureState, rates: PlanRates, fx: FxLeg[]): Breakdown["gatewayFee"] {
  const b = capture.breakdown;
  const f = event.gatewayFee;
  const out: Breakdown["gatewayFee"] = { buyer: f, usd: 0n, payout: 0n, borneBy: b.gatewayFee.borneBy };
  if (f === 0n) return out;
  const B = b.buyerCurrency;
  // As at capture: the fee comes out of the B the acquirer converts, an expense in USD at mid.
  legs.credit(Accounts.gatewayReceivable(event.gateway), B, f);
  let feeMid = f;
  let r: RateEvidence | null = null;
  if (B !== USD) {
    r = needRate(rates.buyerToUsd, B, USD, event);
    feeMid = convertSigned(f, atMid(r));
    legs.debit(Accounts.fxClearing(B), B, f);
    legs.credit(Accounts.fxClearing(B), USD, feeMid);
  }
  legs.debit(Accounts.paymentFees, USD, feeMid);
  out.expenseUsd = feeMid;
  // Recorded like every conversion: a fee adjustment has no other leg that would carry the rate.
  if (b.gatewayFee.borneBy !== "seller") {
    if (r !== null) fx.push({ ...atMid(r), fromAmount: -f, toAmount: -feeMid });
    return out;
  }
  // The seller is charged what the fee cost at mid: a charge is no conversion the platform sells (no
  // markup), and no part of it is left inside the fx clearing positions.
  out.usd = r === null ? f : feeMid;
  if (r !== null) fx.push({ ...atMid(r), fromAmount: -f, toAmount: -out.usd });
  const P = b.payoutCurrency;
  if (P === USD) out.payout = out.usd;
  else {
    const r = atMid(needRate(rates.usdToPayout, USD, P, event));
    out.payout = convertSigned(out.usd, r);
    fx.push({ ...r, fromAmount: -out.usd, toAmount: -out.payout });
  }
  // The seller pays: debit their available proceeds in P, credit the platform's recovery in USD.
  legs.credit(Accounts.paymentFeeRecovery, USD, out.usd);
  if (P !== USD) {
    legs.debit(Accounts.fxClearing(P), USD, out.usd);
    legs.credit(Accounts.fxClearing(P), P, out.payout);
  }
  legs.debit(Accounts.seller(event.sellerId, "available"), P, out.payout);
  return out;
}

function followUpBreakdown(capture: CaptureState, lines: Lines, gatewayFee: Breakdown["gatewayFee"], fx: FxLeg[], extra: Partial<Breakdown>): Breakdown {
  const b = capture.breakdown;
  return {
    ...b,
    lines,
    gatewayFee,
    fxDifference: 0n,
    released: 0n,
    fx,
    sellerBucket: b.sellerBucket === "held" && !capture.released ? "held" : "available",
    reserveBucket: capture.reserveReleased ? "available" : "reserve",
    ...extra,
  };
}

export function planFollowUp(input: FollowUpPlanInput): PostingPlan {
  const { event, capture, rates } = input;
  checkFollowUp(event, capture);
  const b = capture.breakdown;
  const B = b.buyerCurrency;
  const P = b.payoutCurrency;
  const G = capture.breakdown.lines.gross;
  const legs = new Legs();
  const fx: FxLeg[] = [];
  const lines = zeroLines();
  let refundedDelta = 0n;
  let fxDifference = 0n;
  let released = 0n;
  let taxesTaken: TaxParts | undefined;

  // Where the seller's proceeds were at the event's instant, not at its booking: a refund effective
  // before its order's release but booked after it is still taken from `held` (bucketCorrection).
  const at = event.occurredAt;
  const mainBucket = b.sellerBucket === "held" && !releasedBy(capture.releasedAt, at) ? "held" : "available";
  const reserveBucket = releasedBy(capture.reserveReleasedAt, at) ? "available" : "reserve";
  let linked: LinkedPlan[] = [];

  switch (event.type) {
    case "refund":
    case "chargeback":
    case "chargeback_reversal": {
      if (event.type === "chargeback_reversal") {
        const cb = input.chargebackId === undefined ? undefined : capture.chargebacks[input.chargebackId];
        if (cb === undefined) {
          throw SettlementErrors.unknownCapture(`no chargeback ${String(input.chargebackId)} on capture ${capture.key}`, {
            fields: [{ field: "originalEventId", message: "must name the chargeback being reversed" }],
          });
        }
        if (event.amount > cb.amount - cb.reversed) {
          throw SettlementErrors.reversalExceedsChargeback(`reversal ${event.amount} exceeds the ${cb.amount - cb.reversed} still charged back`, {
            fields: [{ field: "amount", message: `at most ${cb.amount - cb.reversed}` }],
            details: { chargeback: cb.amount.toString(), reversed: cb.reversed.toString() },
          });
        }
        refundedDelta = -event.amount;
      } else {
        if (capture.refunded + event.amount > G) {
          throw SettlementErrors.refundExceedsCapture(`${event.type} of ${event.amount} would take back more than the ${G - capture.refunded} left of the capture`, {
            fields: [{ field: "amount", message: `at most ${G - capture.refunded} ${B} minor units remain` }],
            details: { captured: G.toString(), alreadyRefunded: capture.refunded.toString() },
          });
        }
        refundedDelta = event.amount;
      }
      // Full hosting booked as principal (captures before that carry a margin and no sale).
      const principal = b.principal === true;
      const supplierFault = principal && event.type === "refund" && event.returnReason === "supplier_defect";
      const after = capture.refunded + refundedDelta;
      // As principal, the supplier's lines move only with what was returned for its fault.
      const supplierAfter = capture.supplierRefunded + (supplierFault ? refundedDelta : 0n);
      for (const k of LINE_KEYS) {
        const base = principal && SUPPLIER_LINES.has(k) ? supplierAfter : after;
        lines[k] = cumulativeShare(b.lines[k], base, G) - capture.reversedLines[k];
      }
      // The taxes are parts of the gross, taken back together with the rest of it (taxPartsTaken):
      // the tax payables are debited what the tax bases below report, and the two add up to the gross.
      taxesTaken = taxPartsTaken(captureTaxParts(b), after, G);
      lines.tax = taxesTaken.tax - capture.reversedLines.tax;
      lines.stateTax = taxesTaken.stateTax - capture.reversedLines.stateTax;
      if (B === USD) {
        // Nothing is converted, so nothing but the lines can balance the gross: each line is its own
        // cumulative share, rounded on its own, and the part that is the rest of the net at capture
        // too (the seller's proceeds; the sale as principal) takes what their rounding leaves, so the
        // parts add up to the gross exactly. Being a cumulative share less what was taken before, it
        // gives back the unit it took on the next follow-up, and the order's last takes each line's rest.
        // (As principal, what a supplier repays is the cost side, no part of the gross: usdParts.)
        lines.netUsd = lines.gross - lines.tax - lines.stateTax;
        const rest = lines.netUsd - usdParts(lines, principal, P);
        if (principal) lines.sales += rest;
        else if (P !== USD) lines.sellerUsd += rest;
        else {
          if (b.lines.sellerMain !== 0n || b.lines.sellerReserve === 0n) lines.sellerMain += rest;
          else lines.sellerReserve += rest;
          lines.sellerUsd = lines.sellerMain + lines.sellerReserve;
        }
      }
      // Buyer side: the gateway pays the buyer back (or gets paid back on a reversal).
      const netBuyer = lines.gross - lines.tax - lines.stateTax;
      legs.credit(Accounts.gatewayReceivable(event.gateway), B, lines.gross);
      legs.debit(Accounts.tax(event.market, b.taxScheme), B, lines.tax);
      if (b.stateTax !== undefined) legs.debit(Accounts.tax(b.stateTax.region, b.stateTax.scheme), B, lines.stateTax);
      if (B !== USD) {
        // The platform's own conversion: at mid, no markup (the seller's lines are taken back at capture values).
        const r = atMid(needRate(rates.buyerToUsd, B, USD, event));
        const netUsdNow = convertSigned(netBuyer, r);
        fx.push({ ...r, fromAmount: -netBuyer, toAmount: -netUsdNow });
        legs.debit(Accounts.fxClearing(B), B, netBuyer);
        legs.credit(Accounts.fxClearing(B), USD, netUsdNow);
      }
      // USD: the platform gives back its share of every fee line it booked at capture, except the
      // services it rendered (logistics, warehousing, fulfilment) unless the schedule refunds them:
      // the seller is charged those instead, converted at the capture's own rate. The gateway fee the
      // seller paid is given back only as far as the seller still pays fees on the order: a fee the
      // gateway credited back (and the seller got) is not given back twice; the seller pays what is
      // withheld, like a kept service.
      let withheldUsd = 0n;
      if (b.gatewayFee.borneBy === "seller" && lines.paymentFeeRecovery > 0n) {
        const paid = b.lines.paymentFeeRecovery + capture.sellerFeesUsd - capture.reversedLines.paymentFeeRecovery;
        const givable = paid > 0n ? paid : 0n;
        if (lines.paymentFeeRecovery > givable) {
          withheldUsd = lines.paymentFeeRecovery - givable;
          lines.paymentFeeRecovery = givable;
        }
      }
      legs.debit(Accounts.commission, USD, lines.commission);
      legs.debit(Accounts.paymentFeeRecovery, USD, lines.paymentFeeRecovery);
      legs.debit(Accounts.fxMarkup, USD, lines.fxMarkup);
      const serviceUsd = lines.logistics + lines.warehousing + lines.fulfilment;
      const servicesKept = b.serviceFeesKept === true && !principal;
      chargeSeller(legs, fx, event.sellerId, b, withheldUsd + (servicesKept ? serviceUsd : 0n));
      if (!servicesKept) {
        legs.debit(Accounts.logistics, USD, lines.logistics);
        legs.debit(Accounts.warehousing, USD, lines.warehousing);
        legs.debit(Accounts.fulfilment, USD, lines.fulfilment);
      }
      if (principal) {
        // The sale is undone; its cost comes off cost of sales and goes where the goods went: back
        // into stock (a return), lost (a chargeback), or back to the supplier (its fault, its share
        // of the payable taken back at the capture's rate below). The goods are worth the capture's
        // spot cost share: cost of sales less the planning variance a capture booked before cost of
        // sales was at spot carried in fxGainLoss (taken back with it; 0 since).
        legs.debit(Accounts.sales, USD, lines.sales);
        legs.credit(Accounts.costOfSales, USD, lines.costOfSales);
        if (!supplierFault) legs.debit(event.type === "refund" ? Accounts.returnedGoods : Accounts.chargebackLosses, USD, lines.costOfSales - lines.fxGainLoss);
      } else {
        legs.debit(Accounts.margin, USD, lines.margin);
      }
      // Each line from the account its capture booked it to: a capture booked before checkoutFx carries
      // its checkout difference in fxGainLoss (platform:fx_gain_loss), one since in checkoutFx.
      legs.debit(Accounts.fxGainLoss, USD, lines.fxGainLoss);
      legs.debit(Accounts.checkoutFx, USD, lines.checkoutFx);
      if (P !== USD) {
        // The seller's share is taken back (or, on a reversal, given again) at the capture's own
        // mid rate, which is what the seller was credited at: recorded like every other leg.
        const sellerP = lines.sellerMain + lines.sellerReserve;
        const rate = captureMidToPayout(b);
        if (rate !== undefined && (lines.sellerUsd !== 0n || sellerP !== 0n)) fx.push({ ...rate, fromAmount: -lines.sellerUsd, toAmount: -sellerP, basis: "share" });
        legs.debit(Accounts.fxClearing(P), USD, lines.sellerUsd);
        legs.credit(Accounts.fxClearing(P), P, sellerP);
      }
      legs.debit(Accounts.seller(event.sellerId, mainBucket), P, lines.sellerMain);
      legs.debit(Accounts.seller(event.sellerId, reserveBucket), P, lines.sellerReserve);
      // Taken back at capture values, paid out at today's rate: the difference (and sub-unit
      // allocation rounding) is the FX result, whatever balances USD: an exchange difference on the
      // receivable and the seller's balance, recognised in profit or loss (IAS 21.28). Without a
      // conversion of the buyer's money the lines add up to the gross (above) and there is none.
      fxDifference = legs.net(USD);
      legs.credit(Accounts.fxGainLoss, USD, fxDifference);
      // Taken from a bucket a release booked before it had already emptied at the release's instant:
      // the release moved this much too much, and gives it back there.
      linked = [
        ...(mainBucket === "held" && capture.releasedAt !== null ? bucketCorrection(event, capture, "held", lines.sellerMain, capture.releasedAt, rebucketKey(event, "held")) : []),
        ...(reserveBucket === "reserve" && capture.reserveReleasedAt !== null
          ? bucketCorrection(event, capture, "reserve", lines.sellerReserve, capture.reserveReleasedAt, rebucketKey(event, "reserve"))
          : []),
      ];
      break;
    }
    case "fee_adjustment": {
      // A credit-back gives back fees (to the seller when it bears them): never more than the
      // order's fees still charged, net of earlier adjustments and of the capture fee's share a
      // refund already gave back to the seller with its recovery line.
      if (event.gatewayFee >= 0n) break;
      const givenBack = b.gatewayFee.borneBy === "seller" ? cumulativeShare(b.gatewayFee.buyer, capture.refunded, G) : 0n;
      const creditable = capture.feesCharged - givenBack > 0n ? capture.feesCharged - givenBack : 0n;
      if (-event.gatewayFee > creditable) {
        throw SettlementErrors.feeCreditExceedsCharged(`fee credit-back of ${-event.gatewayFee} exceeds the ${creditable} ${B} of fees still charged on capture ${capture.key}`, {
          fields: [{ field: "gatewayFee", message: `must be at least -${creditable}: at most the ${creditable} ${B} minor units of fees still charged on the order` }],
          details: { limit: creditable.toString(), currency: B, feesCharged: capture.feesCharged.toString(), givenBackByRefunds: givenBack.toString() },
        });
      }
      break;
    }
    case "release": {
      // What was held at the release's instant: less only what follow-ups effective by then took
      // back. One effective after it but booked before it was taken from `held`, which the release
      // has emptied by then: it is moved to `available`'s charge at its own instant.
      released = b.lines.sellerMain - takenBefore(capture, at, "sellerMain");
      linked = laterMoves(capture, at, "held").flatMap((m) => bucketCorrection(event, capture, "held", m.sellerMain, m.at, rebucketKey(event, m)));
      if (b.sellerBucket !== "held" || capture.released || released <= 0n) {
        throw SettlementErrors.nothingToRelease(`capture ${capture.key} has no held proceeds to release`, {
          fields: [{ field: "originalEventId", message: "must name a POP capture whose proceeds are still held" }],
        });
      }
      legs.debit(Accounts.seller(event.sellerId, "held"), P, released);
      legs.credit(Accounts.seller(event.sellerId, "available"), P, released);
      break;
    }
    case "reserve_release": {
      released = b.lines.sellerReserve - takenBefore(capture, at, "sellerReserve");
      linked = laterMoves(capture, at, "reserve").flatMap((m) => bucketCorrection(event, capture, "reserve", m.sellerReserve, m.at, rebucketKey(event, m)));
      if (capture.reserveReleased || released <= 0n) {
        throw SettlementErrors.nothingToRelease(`capture ${capture.key} has no reserve to release`, {
          fields: [{ field: "originalEventId", message: "must name a capture whose reserve is still held" }],
        });
      }
      if (b.reserveReleaseAt !== null && event.occurredAt.getTime() < Date.parse(b.reserveReleaseAt)) {
        throw SettlementErrors.reserveNotDue(`reserve of ${capture.key} is held until ${b.reserveReleaseAt}`, {
          fields: [{ field: "occurredAt", message: `must be at or after ${b.reserveReleaseAt}` }],
        });
      }
      legs.debit(Accounts.seller(event.sellerId, "reserve"), P, released);
      legs.credit(Accounts.seller(event.sellerId, "available"), P, released);
      break;
    }
    case "capture":
      throw new Error("planFollowUp called with a capture");
  }
  const gatewayFee = feeLegs(legs, event, capture, rates, fx);
  // The capture's tax bases in the share its taxes moved (none for a release or a fee adjustment).
  const { taxBases: _captureBases, ...captureBreakdown } = b;
  const taxBases = b.taxBases === undefined || taxesTaken === undefined || refundedDelta === 0n ? undefined : followUpTaxBases(b.taxBases, b, capture, taxesTaken, refundedDelta);
  const breakdown = followUpBreakdown({ ...capture, breakdown: captureBreakdown }, lines, gatewayFee, fx, {
    fxDifference,
    released,
    sellerBucket: mainBucket,
    reserveBucket,
    ...(taxBases === undefined ? {} : { taxBases }),
  });
  const key = eventKey(event.gateway, event.gatewayEventId);
  const metadata = journalMetadata(event, capture.key, breakdown);
  metadata.originalEventId = event.originalEventId ?? "";
  return {
    idempotencyKey: key,
    postings: legs.postings(),
    metadata,
    description: `${event.type} ${event.settlementId} (${b.program}, ${event.market})`,
    effectiveAt: event.occurredAt,
    breakdown,
    refundedDelta,
    ...(linked.length === 0 ? {} : { linked }),
  };
}

/** Whether a release effective at `releasedAt` (null: none booked) had happened by `at`. */
function releasedBy(releasedAt: Date | null, at: Date): boolean {
  return releasedAt !== null && releasedAt.getTime() <= at.getTime();
}

/**
 * What the follow-ups effective by `at` took back of one of the seller's lines. At the same instant
 * as a release the order is the booking order, both ways: these were booked before it.
 */
function takenBefore(capture: CaptureState, at: Date, line: "sellerMain" | "sellerReserve"): bigint {
  return capture.sellerMoves.reduce((sum, m) => (m.at.getTime() <= at.getTime() ? sum + m[line] : sum), 0n);
}

/** The follow-ups effective after `at` that were booked on `bucket` (before a release at `at` was). */
function laterMoves(capture: CaptureState, at: Date, bucket: "held" | "reserve"): CaptureState["sellerMoves"] {
  return capture.sellerMoves.filter((m) => m.at.getTime() > at.getTime() && (bucket === "held" ? m.sellerBucket === "held" : m.reserveBucket === "reserve"));
}

/**
 * The move of `amount` (signed as the follow-up's line: positive is taken from the seller) from the
 * seller's `available` to `bucket` at `at`, booked with the event that needs it: the seller's
 * balances by effective instant then say where the proceeds were, the totals unchanged.
 */
function bucketCorrection(event: SettlementEvent, capture: CaptureState, bucket: "held" | "reserve", amount: bigint, at: Date, idempotencyKey: string): LinkedPlan[] {
  if (amount === 0n) return [];
  const P = capture.breakdown.payoutCurrency;
  const legs = new Legs();
  legs.debit(Accounts.seller(event.sellerId, "available"), P, amount);
  legs.credit(Accounts.seller(event.sellerId, bucket), P, amount);
  return [
    {
      idempotencyKey,
      postings: legs.postings(),
      metadata: {
        kind: BUCKET_CORRECTION_KIND,
        settlementId: event.settlementId,
        sellerId: event.sellerId,
        gateway: event.gateway,
        gatewayEventId: event.gatewayEventId,
        captureKey: capture.key,
        bucket,
      },
      description: `${bucket} of ${event.settlementId} at ${at.toISOString()}, booked with ${event.type} ${event.gatewayEventId}`,
      effectiveAt: at,
    },
  ];
}

/**
 * A correction's key: the event's, and the bucket (a follow-up's, one per bucket) or the follow-up it
 * re-charges (a release's, one per follow-up; its journal id keeps the key short).
 */
function rebucketKey(event: SettlementEvent, of: "held" | "reserve" | SellerMove): string {
  return `${eventKey(event.gateway, event.gatewayEventId)}:rebucket:${typeof of === "string" ? of : of.journalTransactionId}`;
}

/** The journal metadata `kind` of a move between a seller's buckets booked with a later event (bucketCorrection). */
export const BUCKET_CORRECTION_KIND = "bucket_correction";

/**
 * The USD parts of a follow-up's net, as a capture's add up to its net: the fee lines, and for an agent
 * the checkout difference (checkoutFx; fxGainLoss on a capture booked before it), the margin and the
 * seller's proceeds (in USD when paid in USD, else what fx:P-USD gives back in USD); as principal the sale. The principal's cost side (the cost of sales
 * against the supplier's payable or the goods, and a capture's planning variance from before cost of
 * sales was at spot) is no part of the gross: it moves with the goods and what the supplier repays,
 * and its rounding stays the FX line's.
 */
function usdParts(l: Lines, principal: boolean, P: string): bigint {
  const fees = l.commission + l.paymentFeeRecovery + l.logistics + l.warehousing + l.fulfilment + l.fxMarkup;
  if (principal) return fees + l.sales;
  return fees + l.fxGainLoss + l.checkoutFx + l.margin + (P === USD ? l.sellerMain + l.sellerReserve : l.sellerUsd);
}

/**
 * The share of the capture's tax bases a follow-up moves, from what its tax lines take back after it
 * and what was taken back before as posted: for records booked with taxPartsTaken that is what it
 * gives (the lines' sums telescope); an earlier record rounded each tax on its own, and starting from
 * what it really posted keeps this event's bases adding up to its gross with the taxes it posts.
 */
function followUpTaxBases(
  bases: { national: TaxBaseFigures; state?: TaxBaseFigures },
  b: Breakdown,
  capture: CaptureState,
  taxesAfter: TaxParts,
  refundedDelta: bigint,
): { national: TaxBaseFigures; state?: TaxBaseFigures } {
  const G = b.lines.gross;
  const whole = captureTaxParts(b);
  const before = capture.refunded;
  const partsBefore = { ...taxPartsTaken(whole, before, G), tax: capture.reversedLines.tax, stateTax: capture.reversedLines.stateTax };
  return taxBasesShare(bases, whole, { taken: before, parts: partsBefore }, { taken: before + refundedDelta, parts: taxesAfter }, G);
}

/** Derive a capture's state from its chain of records (capture first). */
export function captureStateOf(chain: readonly SettlementRecord[]): CaptureState {
  const cap = chain[0];
  if (cap === undefined || cap.event.type !== "capture") throw new Error("chain does not start with a capture");
  const s: CaptureState = {
    key: cap.eventKey,
    event: cap.event,
    breakdown: cap.breakdown,
    refunded: 0n,
    supplierRefunded: 0n,
    reversedLines: zeroLines(),
    released: false,
    reserveReleased: false,
    releasedAt: null,
    reserveReleasedAt: null,
    sellerMoves: [],
    chargebacks: {},
    feesCharged: cap.event.gatewayFee,
    sellerFeesUsd: 0n,
  };
  for (const r of chain.slice(1)) {
    const t = r.event.type;
    s.refunded += r.refundedDelta;
    s.feesCharged += r.event.gatewayFee;
    s.sellerFeesUsd += r.breakdown.gatewayFee.usd;
    if (t === "refund" && r.event.returnReason === "supplier_defect") s.supplierRefunded += r.refundedDelta;
    if (t === "refund" || t === "chargeback" || t === "chargeback_reversal") {
      s.reversedLines = addLines(s.reversedLines, r.breakdown.lines);
      const { sellerMain, sellerReserve } = r.breakdown.lines;
      if (sellerMain !== 0n || sellerReserve !== 0n) {
        s.sellerMoves.push({ journalTransactionId: r.journalTransactionId, at: r.event.occurredAt, sellerMain, sellerReserve, sellerBucket: r.breakdown.sellerBucket, reserveBucket: r.breakdown.reserveBucket });
      }
    }
    if (t === "release") {
      s.released = true;
      s.releasedAt = r.event.occurredAt;
    }
    if (t === "reserve_release") {
      s.reserveReleased = true;
      s.reserveReleasedAt = r.event.occurredAt;
    }
    if (t === "chargeback") s.chargebacks[r.event.gatewayEventId] = { amount: r.event.amount, reversed: 0n };
    if (t === "chargeback_reversal") {
      const cb = s.chargebacks[r.event.originalEventId ?? ""];
      if (cb !== undefined) cb.reversed += r.event.amount;
    }
  }
  return s;
}
