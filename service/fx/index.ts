/**
 * Public API of the FX module: the FxService (rates, quotes, conversion), its types and errors,
 * and the bundled historical rates for demo data and tests.
 */
export { FxErrors } from "./errors.js";
export { FxService, allInRate } from "./service.js";
export { RATE_DECIMALS, RATE_INTEGER_DIGITS } from "./resolve.js";
export { PrismaFxRepository, type FxPrismaClient } from "./prisma-repository.js";
export type { FxRepository, NewFxRate, RateLookup } from "./repository.js";
export type {
  ConversionEvidence,
  ConvertInput,
  ConvertResult,
  FxQuote,
  FxRate,
  FxServiceOptions,
  PublishRateInput,
  QuoteRequest,
  RateLeg,
  ResolvedRate,
} from "./types.js";
export { HISTORICAL_SOURCE, historicalCurrencies, historicalPublishInputs, historicalUsdRate, type HistoricalRate } from "./historical.js";
