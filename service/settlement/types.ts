/**
 * Public types of the settlement module: seller programs, fee schedules and tax rules (data with
 * effective dates), gateway events, and the computed breakdown stored on every settlement record.
 *
 * Amounts are bigint minor units of the currency named next to them. Rates are decimal strings.
 */
import type { JournalTransaction, PostingInput } from "../ledger/types.js";
import type { FeeBandEvidence, WeightBands } from "./fees.js";

export const PROGRAMS = ["pop", "full_hosting", "semi_hosting", "overseas_hosting"] as const;
/** pop = self-operated (seller prices, platform takes a commission, proceeds held until receipt). */
export type ProgramKind = (typeof PROGRAMS)[number];

export type FeeBearer = "seller" | "platform";

/** Fixed per-order fees, in the settlement currency (USD) minor units. */
export interface FixedFees {
  logistics: bigint;
  warehousing: bigint;
  fulfilment: bigint;
}

/**
 * One version of the fees of a program. The schedule in force for an event is the most specific
 * match (market+category, market, category, any) among those whose `effectiveFrom` <= occurredAt,
 * the newest of that specificity winning.
 */
export interface FeeSchedule {
  id: string;
  program: ProgramKind;
  /** ISO 3166 alpha-2 market, or "*" for every market. */
  market: string;
  /** Category code, or "*" for every category. */
  category: string;
  effectiveFrom: Date;
  /** Platform commission in basis points of the net-of-tax price converted to USD. */
  commissionBps: number;
  /** Who pays the gateway's fees: "seller" means they are recovered from the seller's proceeds. */
  paymentFeeBorneBy: FeeBearer;
  fixedFees: FixedFees;
  /** POP: proceeds are held until the buyer confirms receipt (release event) or auto-confirm. */
  holdUntilConfirmation: boolean;
  autoConfirmDays: number;
  /**
   * What the auto-confirm of held (POP) proceeds counts from: the capture (absent, the default), or
   * the order's delivery evidence (fulfilment.ts): then nothing is auto-released before the order is
   * delivered, and it is due `autoConfirmDays` after `deliveredAt`.
   */
  autoConfirmFrom?: AutoConfirmFrom;
  /** With `autoConfirmFrom: "delivery"`: days after the capture past which an order not delivered is overdue. Absent: never. */
  deliveryDeadlineDays?: number;
  /** Rolling reserve: this share of the seller's proceeds is held for `holdDays` days. */
  reserve: { bps: number; holdDays: number } | null;
  /**
   * Full hosting: the planning rates (USD -> payout currency) the platform priced the supply at, a
   * budget figure kept with the schedule. Never booked: cost of sales is the supply price at the
   * spot rate applied to it (IAS 21.21), so a planning variance is no FX result.
   */
  referenceRates: Record<string, string>;
  /**
   * Whether logistics, warehousing and fulfilment are refunded with the goods. They are services
   * rendered, so by default (absent) they are not: on a return the seller is charged their share.
   */
  serviceFeesRefundable?: true;
  /** Per-order fees priced by the parcel's weight (fees.ts): a line's bands replace its flat fixed fee. */
  weightBands?: WeightBands;
  /** Storage (storage.ts): USD minor units per cubic metre per day, a decimal string, e.g. "45" or "12.5". Absent: storage not billed. */
  storageRate?: string;
}

export const AUTO_CONFIRM_FROM = ["capture", "delivery"] as const;
export type AutoConfirmFrom = (typeof AUTO_CONFIRM_FROM)[number];

export type TaxKind = "vat" | "sales_tax" | "import_duty" | "none";

/**
 * Who is liable for a rule's tax. "marketplace": the platform collects it from the buyer's gross and
 * owes it (booked to `tax:<market>:<scheme>:payable`: IOSS, the deemed supplier, the platform's own
 * sales as principal, facilitator sales tax). "seller": the seller is the taxpayer and declares it
 * itself; the platform books no tax (the sale is recorded under the scheme, the breakdown's
 * `taxCollectedBy`). "none": nobody at the sale: customs levy it at import, or there is no tax.
 */
export const TAX_COLLECTORS = ["marketplace", "seller", "none"] as const;
export type TaxCollector = (typeof TAX_COLLECTORS)[number];

/**
 * "outside_market_area": the rule applies only to a seller whose `homeCountry` is outside the
 * market's VAT area (the EU's member states, and Northern Ireland for goods, for an EU market; the
 * market's country otherwise), as the EU deemed-supplier rule is (VAT Directive art. 14a(2)).
 */
export const SELLER_ESTABLISHMENTS = ["outside_market_area"] as const;
export type SellerEstablishment = (typeof SELLER_ESTABLISHMENTS)[number];

/**
 * A market's tax rule: which tax applies to the buyer's gross (always tax inclusive: the buyer's
 * gross contains the tax), at what rate, for which sales, and who is liable for it (`collectedBy`).
 */
export interface TaxRule {
  id: string;
  market: string;
  effectiveFrom: Date;
  kind: TaxKind;
  /** The legal scheme, e.g. EU_IOSS, BR_REMESSA_CONFORME, US_NONE. */
  scheme: string;
  rateBps: number;
  collectedBy: TaxCollector;
  /** Tax authority the collected tax is owed to (account owner id). */
  authority: string;
  note: string;
  /** The supply it applies to: goods imported into the market, or shipped from inside it. Absent: both. */
  supply?: TaxSupply;
  /**
   * The seller program it applies to (e.g. full hosting, where the platform sells its own stock as
   * principal). Absent: every program. A program's own rule wins over a general one.
   */
  program?: ProgramKind;
  /** The seller it applies to by where the seller is established (the EU deemed supplier: outside the EU). Absent: every seller. */
  sellerEstablished?: SellerEstablishment;
  /**
   * National rules: it applies only to captures shipped to this ISO 3166-2 subdivision (`shipToRegion`),
   * and wins there over every rule without one: a territory outside the market's VAT area, e.g. the
   * Canary Islands (ES-CN), Ceuta (ES-CE) and Melilla (ES-ML), VAT Directive art. 6(1)(b).
   */
  territory?: string;
  /** It applies only up to this value of the goods (the gross net of this tax), e.g. IOSS's EUR 150. Absent: no bound. */
  maxValue?: { currency: string; amount: bigint };
  /**
   * A fixed amount taken off the tax (Brazil's 60% band above USD 50: less USD 20), in this currency,
   * converted to the order's at the mid rate. The tax is never below zero.
   */
  deduction?: { currency: string; amount: bigint };
  /**
   * Absent: a national tax (one per order, chosen by supply and band). "state": a tax of the buyer's
   * state or province, levied on top of the national one (Brazil's ICMS, US state sales tax),
   * chosen by `region` against the capture's `shipToRegion`.
   */
  level?: TaxLevel;
  /** State taxes: the ISO 3166-2 subdivision it applies to, e.g. "US-CA", "BR-SP". */
  region?: string;
  /**
   * State taxes: levied only together with a national rule of this scheme. Brazil's ICMS is collected
   * at checkout under Remessa Conforme only; above the regime's ceiling the goods are a formal import
   * and the ICMS is levied at customs clearance with the import duties. Absent: with any national rule.
   */
  nationalScheme?: string;
  /**
   * How the rate applies to the tax-inclusive gross. Absent: on the price before this tax (T = G x r /
   * (1 + r)), as VAT and sales tax are quoted. "included": on a base that contains the tax itself
   * (T = G x r), as Brazil's ICMS is ("por dentro"). Computed before the national tax, whose base is
   * what is left.
   */
  computation?: "included";
  /** The basis: whether shipping is taxed and what the band is measured on, at which rate date. */
  basis?: TaxBasis;
}

export const TAX_LEVELS = ["state"] as const;
export type TaxLevel = (typeof TAX_LEVELS)[number];

/**
 * What a scheme taxes and measures. Every field absent: shipping is taxed like the goods, the band
 * is measured on the customs value (goods and shipping), converted at the mid rate of the payment
 * instant.
 */
export interface TaxBasis {
  /** "untaxed": the capture's `shipping` is outside the tax base (e.g. California, separately stated). */
  shipping?: "untaxed";
  /** "intrinsic": the band is measured on the goods alone, without shipping (the EU's EUR 150 IOSS test). */
  bandValue?: "intrinsic";
  /**
   * The instant whose rate converts the goods for the band. Absent: the payment (the capture's
   * instant: IOSS uses the ECB rate of the day payment was accepted, VAT Directive art. 91(2)).
   * "customs_month": the rate of the penultimate Wednesday of the previous month, which customs
   * apply for a whole month (EU, Implementing Regulation 2015/2447 art. 146).
   */
  valuedAt?: "customs_month";
}

export const TAX_SUPPLIES = ["import", "domestic"] as const;
export type TaxSupply = (typeof TAX_SUPPLIES)[number];

export interface Market {
  code: string;
  currency: string;
  name: string;
}

export interface Seller {
  id: string;
  name: string;
  program: ProgramKind;
  /** Any ISO 4217 currency with minor units; proceeds reach it through USD. */
  payoutCurrency: string;
  homeCountry: string;
  /**
   * The ISO 3166 country of the warehouse the seller's goods ship from (overseas-warehouse hosting):
   * a capture that names no `shipFrom` ships from here, which decides its tax supply. Absent: the
   * capture's `shipFrom`, else an import.
   */
  warehouse?: string;
  /** The currency the seller prices in (USD or its payout currency): a capture's `listingPrice` without `listingCurrency` is in it. */
  listingCurrency?: string;
  /**
   * The gateways (acquirers/PSPs) the seller accepts settlement events from: a capture naming it
   * from another gateway is refused (ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED). Sorted, each once,
   * as read (empty: it accepts none). Absent on a seller given to be saved: an existing seller's
   * set is left as it is, a new one accepts none.
   */
  gateways?: readonly string[];
}

/** A seller's set of gateways as set (`PUT /v1/sellers/:id/gateways`), and the trail of every set. */
export interface SellerGateways {
  sellerId: string;
  gateways: string[];
  /** When and by whom it was last set (null: never set, it accepts none). */
  setAt: Date | null;
  setBy: string | null;
  /** Newest first. */
  changes: Array<{ id: string; gateways: string[]; previousGateways: string[] | null; setAt: Date; setBy: string }>;
}

export const EVENT_TYPES = ["capture", "refund", "chargeback", "chargeback_reversal", "fee_adjustment", "release", "reserve_release"] as const;
export type SettlementEventType = (typeof EVENT_TYPES)[number];

export interface SettlementEvent {
  type: SettlementEventType;
  gateway: string;
  gatewayEventId: string;
  /** The marketplace order / settlement id. */
  settlementId: string;
  sellerId: string;
  market: string;
  category: string;
  /** Buyer currency. */
  currency: string;
  /**
   * Buyer-currency gross (capture), refunded/charged-back/reversed amount; 0 for fee adjustments
   * and releases (their amounts follow from the capture).
   */
  amount: bigint;
  /** Gateway fee in buyer currency minor units; signed only for `fee_adjustment` (negative = credit). */
  gatewayFee: bigint;
  occurredAt: Date;
  fxQuoteId?: string;
  /** Gateway event id of the capture (refund, chargeback, fee adjustment, releases) or of the chargeback (reversal). */
  originalEventId?: string;
  /** Full hosting: agreed supply price in the seller's payout currency. */
  supplyPrice?: bigint;
  /**
   * Refunds: why the goods came back. In full hosting a return is the platform's risk (the goods go
   * back into its stock) unless it is the supplier's fault (`supplier_defect`): then the supplier
   * repays its price pro rata. Other programs' sellers bear every return.
   */
  returnReason?: ReturnReason;
  /**
   * Captures: the ISO 3166 country the goods ship from (an overseas warehouse's). The same as the
   * market (or both in the EU) makes the sale a domestic supply for tax; absent or elsewhere, an import.
   */
  shipFrom?: string;
  /**
   * Captures: the ISO 3166-2 subdivision the goods ship to (the buyer's state or province, e.g.
   * "US-CA", "BR-SP"), which chooses its state taxes. Required where the market has state taxes.
   */
  shipToRegion?: string;
  /** Captures: the part of `amount` the buyer paid for shipping (buyer currency minor units). */
  shipping?: bigint;
  /**
   * Seller-priced programs (POP, semi and overseas hosting): the price the seller listed the order
   * at, tax included, in `listingCurrency` (USD or the seller's payout currency). The seller's
   * proceeds are then fixed in that currency; the checkout conversion is the platform's FX result.
   */
  listingPrice?: bigint;
  listingCurrency?: string;
  /** Captures: the parcel's weight in grams (a positive integer); required when the schedule prices a fee by weight band. */
  weightGrams?: number;
}

export const RETURN_REASONS = ["buyer", "supplier_defect"] as const;
export type ReturnReason = (typeof RETURN_REASONS)[number];

/** Evidence of one conversion used in a transaction. */
export interface RateEvidence {
  from: string;
  to: string;
  /** Units of `to` per unit of `from`, as a decimal string. */
  rate: string;
  quoteId: string | null;
  source: string;
  asOf: string;
  /** Without a quote, when a markup was taken: the mid rate and the markup (`rate` = mid less it). */
  midRate?: string;
  markupBps?: number;
}

export interface FxLeg extends RateEvidence {
  fromAmount: bigint;
  toAmount: bigint;
  /**
   * How the amounts follow from the rate. Absent: `toAmount` is `fromAmount` x `rate`, rounded
   * half-even. "inverse": the `to` side was fixed (a supplier's price, a listing in the payout
   * currency) and `fromAmount` is `toAmount` / `rate`, rounded half-even. "share": both sides are
   * the event's share of the capture's leg of that rate, each taken back line by line (plan.ts).
   */
  basis?: "inverse" | "share";
}

/**
 * The economic lines of a capture (and, for follow-ups, the share of them the event moves).
 * Every figure is >= 0 except the signed `margin`, `fxGainLoss`, `checkoutFx` (gain positive) and
 * `fxMarkup` (the markup earned on the capture's conversions: a rounding unit below zero on a tiny amount).
 */
export interface Lines {
  /** Buyer currency. */
  gross: bigint;
  /** The national tax (buyer currency). */
  tax: bigint;
  /** The state tax on top of it (buyer currency): ICMS, US state sales tax. */
  stateTax: bigint;
  /** Settlement currency (USD). */
  netUsd: bigint;
  commission: bigint;
  paymentFeeRecovery: bigint;
  logistics: bigint;
  warehousing: bigint;
  fulfilment: bigint;
  /** Full hosting (agent programs: the platform's fee lines above): the platform's margin, the sale less its cost of sales, for reading; not an account of its own. */
  margin: bigint;
  /**
   * Full hosting, where the platform is the principal: the sale (net of tax, at mid) and its cost,
   * the supply price at the spot (mid) rate applied to it (the same USD as `sellerUsd`). A principal
   * capture's `fxGainLoss` is 0 (none exists at first recognition); one booked before carries the
   * planning-rate variance of its cost of sales, which its follow-ups take back with that cost.
   */
  sales: bigint;
  costOfSales: bigint;
  /**
   * Booked to `platform:fx_gain_loss`. A capture books none since `checkoutFx`; one booked before
   * carries its listing's checkout difference here (or a principal's planning-rate variance), which
   * its follow-ups take back from that account.
   */
  fxGainLoss: bigint;
  /**
   * A listing price's checkout difference (`platform:revenue:checkout_fx`): the buyer's payment net
   * of tax at mid, less the platform's fees, the markup and the seller's listing at mid. A pricing
   * result at initial recognition, no exchange difference on a monetary item (IAS 21.52(a)).
   */
  checkoutFx: bigint;
  /**
   * FX revenue: what the configured markup kept out of the seller's conversions (mid-rate value
   * less the all-in value), booked on its own line. The clearing accounts carry mid-rate values.
   */
  fxMarkup: bigint;
  /** The seller's proceeds in USD at the mid rate (what fx:P-USD gives up for the payout currency). */
  sellerUsd: bigint;
  /** Seller payout currency. */
  sellerMain: bigint;
  sellerReserve: bigint;
}

export const LINE_KEYS = [
  "gross",
  "tax",
  "stateTax",
  "netUsd",
  "commission",
  "paymentFeeRecovery",
  "logistics",
  "warehousing",
  "fulfilment",
  "margin",
  "sales",
  "costOfSales",
  "fxGainLoss",
  "checkoutFx",
  "fxMarkup",
  "sellerUsd",
  "sellerMain",
  "sellerReserve",
] as const satisfies ReadonlyArray<keyof Lines>;

export interface Breakdown {
  program: ProgramKind;
  scheduleId: string;
  taxRuleId: string;
  taxScheme: string;
  taxRateBps: number;
  /** Who is liable for the national tax (the rule's `collectedBy`): "seller" books nothing, the seller declares it. Absent on records booked before it was kept. */
  taxCollectedBy?: TaxCollector;
  /** Where the goods shipped from for tax: the capture's shipFrom, else the seller's warehouse (absent: unknown, an import). */
  shipFrom?: string;
  /**
   * The state tax of the capture (absent without one): its rule, scheme, rate, jurisdiction and who
   * is liable for it (its rule's `collectedBy`; `taxCollectedBy` is the national tax's, "none" on a
   * US order, where the tax is the state's). `collectedBy` is absent on records booked before it was kept.
   */
  stateTax?: { ruleId: string; scheme: string; rateBps: number; region: string; collectedBy?: TaxCollector };
  buyerCurrency: string;
  settlementCurrency: "USD";
  payoutCurrency: string;
  /** For follow-ups: the share of the capture's lines moved by this event (reversal sign is implied by the type). */
  lines: Lines;
  /**
   * Gateway fee of this event (buyer currency), what the seller was charged for it (`usd`, `payout`:
   * 0 when the platform bears it), and `expenseUsd`: the fee at mid, booked to the platform's
   * payment-fee expense whoever bears it (absent on records written before it was kept).
   */
  gatewayFee: { buyer: bigint; usd: bigint; payout: bigint; borneBy: FeeBearer; expenseUsd?: bigint };
  /** A follow-up's exchange difference, gain (+) / loss (-), booked to `platform:fx_gain_loss`: its share taken back at the capture's values, the buyer's money converted at its own instant's rate (USD). */
  fxDifference: bigint;
  /** Release events: the amount moved from held/reserve to available (payout currency). */
  released: bigint;
  fx: FxLeg[];
  /** Which seller bucket the main share went to / came from. */
  sellerBucket: "held" | "available";
  reserveBucket: "reserve" | "available";
  reserveReleaseAt: string | null;
  /** When held proceeds are auto-released; null when not held, and when the release waits for delivery (`confirmOnDelivery`). */
  autoConfirmAt: string | null;
  /**
   * A held capture under a schedule with `autoConfirmFrom: "delivery"`: its auto-release is due
   * `days` after the order's current delivery evidence's `deliveredAt`, never without one; past
   * `deadline` (null: none) an order not delivered is overdue. Absent: auto-release at autoConfirmAt.
   */
  confirmOnDelivery?: { days: number; deadline: string | null };
  /** Full hosting booked with the platform as principal (sales and cost of sales); absent on captures booked before. */
  principal?: boolean;
  /** The capture's service fees (logistics, warehousing, fulfilment) stay with the platform on a return: the seller is charged them. Absent on captures booked before. */
  serviceFeesKept?: boolean;
  /** The weight bands that priced the capture's service fees (fees.ts); absent when none did. */
  feeBands?: FeeBandEvidence[];
  /**
   * The base of each tax as booked (plan.ts orderTaxBases), what a tax return reports beside the
   * tax: the national rule's and the state rule's when there is one. A follow-up's: the share of the
   * capture's it moved, as its lines. Absent on events booked before bases were kept, and on
   * follow-ups of such captures.
   */
  taxBases?: { national: TaxBaseFigures; state?: TaxBaseFigures };
}

/** One tax's base, buyer currency minor units (a follow-up's: the share moved, signed as its lines). */
export interface TaxBaseFigures {
  /**
   * What the rule's rate applied to: the price net of this tax; for a tax computed on a base that
   * contains it (`computation: "included"`, Brazil's ICMS), that base, the tax in it.
   */
  taxableBase: bigint;
  /** The part of the gross the rule leaves out of its base: a separately stated shipping it does not tax. */
  nonTaxable: bigint;
  /** The order's other taxes in the gross, outside this base: the state tax, for the national one. */
  otherTaxes: bigint;
  /** A fixed amount off the tax (not off the base, not in the gross): Brazil's USD 20 above USD 50, in the buyer currency as converted. */
  deduction: bigint;
}

/** What the planner needs to know about the capture behind a follow-up event. */
export interface CaptureState {
  key: string;
  event: SettlementEvent;
  breakdown: Breakdown;
  /** Net gross amount taken back so far: refunds + chargebacks - chargeback reversals. */
  refunded: bigint;
  /** Full hosting: the part of `refunded` returned for the supplier's fault (what the supplier repays against). */
  supplierRefunded: bigint;
  /** Sum of the line shares moved so far (same sign convention as `refunded`). */
  reversedLines: Lines;
  released: boolean;
  reserveReleased: boolean;
  /** The effective instants of the release of the held proceeds and of the reserve (null: not released). */
  releasedAt: Date | null;
  reserveReleasedAt: Date | null;
  /** The follow-ups that moved the seller's proceeds: when, how much, and from which buckets (their records'). */
  sellerMoves: SellerMove[];
  /** Per chargeback event id: amount charged back and amount reversed so far. */
  chargebacks: Record<string, { amount: bigint; reversed: bigint }>;
  /** The gateway fees booked on the order so far in its currency: the capture's, every follow-up's and every adjustment (signed). */
  feesCharged: bigint;
  /** What the follow-ups charged the seller for gateway fees in USD (signed: a credit-back is negative), beside the capture's recovery line. */
  sellerFeesUsd: bigint;
}

/** A follow-up's move of the seller's proceeds (CaptureState.sellerMoves). */
export interface SellerMove {
  /** The follow-up's journal transaction (what names its correction). */
  journalTransactionId: string;
  at: Date;
  sellerMain: bigint;
  sellerReserve: bigint;
  sellerBucket: Breakdown["sellerBucket"];
  reserveBucket: Breakdown["reserveBucket"];
}

/**
 * A transaction booked with an event's, all or none (TransactionInput.linked): a move between the
 * seller's buckets at another instant than the event's, so that balances by effective instant say
 * where the proceeds were (plan.ts bucketCorrection).
 */
export interface LinkedPlan {
  idempotencyKey: string;
  postings: PostingInput[];
  metadata: Record<string, string>;
  description: string;
  effectiveAt: Date;
}

export interface PostingPlan {
  idempotencyKey: string;
  postings: PostingInput[];
  metadata: Record<string, string>;
  description: string;
  effectiveAt: Date;
  breakdown: Breakdown;
  /** Change of the capture's refunded total (signed) caused by this event. */
  refundedDelta: bigint;
  /** Booked with it, all or none (none: absent). */
  linked?: LinkedPlan[];
}


export interface SettlementRecord {
  id: string;
  eventKey: string;
  /** The capture's event key (== eventKey for captures). */
  captureKey: string;
  /** Order within the capture's chain: 0 for the capture, 1.. for follow-ups. */
  sequence: number;
  event: SettlementEvent;
  program: ProgramKind;
  breakdown: Breakdown;
  fx: FxLeg[];
  refundedDelta: bigint;
  /** A record is written in its journal transaction's commit: never anything else. */
  status: "posted";
  journalTransactionId: string;
  requestHash: string;
  createdAt: Date;
}

export interface SettlementResult {
  status: "created" | "exists";
  settlement: SettlementRecord;
  transaction: JournalTransaction;
}

export type SettlementItemResult = SettlementResult | { status: "error"; error: { code: string; message: string; fields?: Array<{ field: string; message: string }> } };

/**
 * The compact view of one settlement record that reconciliation reads (see
 * `SettlementService.iterateForReconciliation`): identities, amounts, instants and the journal
 * transaction, without the breakdown. `buyerToUsdRate` is the rate recorded for the buyer currency
 * -> USD leg (null when the buyer currency is USD or the event converted nothing).
 */
export interface ReconciliationRecord {
  /** Database id of the record (keyset position). */
  id: string;
  gatewayEventId: string;
  settlementId: string;
  type: SettlementEventType;
  sellerId: string;
  market: string;
  currency: string;
  amount: bigint;
  gatewayFee: bigint;
  occurredAt: Date;
  /** When the record was written (the journal transaction follows within the same request). */
  recordedAt: Date;
  /** The record's journal transaction (written in the same commit). */
  journalTransactionId: string;
  originalEventId: string | null;
  buyerToUsdRate: string | null;
}
