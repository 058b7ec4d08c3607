/**
 * Errors of the FX module (`ENT_FX_*`). A missing or stale rate is never papered over with an
 * older or a default rate: it is an error naming the pair and the instant, so the caller (the
 * settlement engine) can hold the event instead of booking it at a wrong rate.
 */
import { defineError } from "../errors.js";

export const FxErrors = {
  /** No published rate (direct, inverse or through the pivot) whose validity has started at that instant. */
  rateNotFound: defineError("ENT_FX_RATE_NOT_FOUND", 422, "FX rate not found"),
  /** Rates exist for the pair but none is valid at that instant, or the valid one is older than the maximum age. */
  rateStale: defineError("ENT_FX_RATE_STALE", 422, "FX rate stale"),
  /** A rate to publish is malformed: currencies, rate, window or source. */
  invalidRate: defineError("ENT_FX_INVALID_RATE", 400, "Invalid FX rate"),
  /** The same pair, source and validFrom was already published with a different rate or window. */
  rateConflict: defineError("ENT_FX_RATE_CONFLICT", 409, "FX rate conflicts with a published one"),
  quoteNotFound: defineError("ENT_FX_QUOTE_NOT_FOUND", 404, "FX quote not found"),
  /** The conversion instant is at or after the quote's expiry. */
  quoteExpired: defineError("ENT_FX_QUOTE_EXPIRED", 409, "FX quote expired"),
  /** A conversion dated before the instant the quote's rates were taken for: a quote locks a rate forward, never back. */
  quoteNotYetValid: defineError("ENT_FX_QUOTE_NOT_YET_VALID", 409, "FX quote not yet valid"),
  /** The quote is for another pair than the conversion asked for. */
  quoteMismatch: defineError("ENT_FX_QUOTE_MISMATCH", 409, "FX quote does not match the conversion"),
  /** A conversion or quote request is malformed (amount, currencies, instant, markup). */
  invalidRequest: defineError("ENT_FX_INVALID_REQUEST", 400, "Invalid FX request"),
  /** The bundled historical data set has no rate for that currency near that date. */
  historicalNotFound: defineError("ENT_FX_HISTORICAL_NOT_FOUND", 422, "Historical FX rate not found"),
} as const;
