/**
 * Errors of the money module (`ENT_MONEY_*`): bad currencies, malformed amounts, inexact
 * conversions between major and minor units, bad rates and bad allocation ratios. All are caused
 * by input, hence 4xx; each names the offending field when the caller passes one.
 */
import { defineError } from "../errors.js";

export const MoneyErrors = {
  /** Not an ISO 4217 code, or a code with no minor units (metals, SDR, bond units, XTS, XXX). */
  unknownCurrency: defineError("ENT_MONEY_UNKNOWN_CURRENCY", 400, "Unknown or unsupported currency"),
  /** An amount that is not an integer string in minor units, has the wrong sign, or is too large. */
  invalidAmount: defineError("ENT_MONEY_INVALID_AMOUNT", 400, "Invalid amount"),
  /** A major-unit amount with more decimals than the currency's exponent allows. */
  inexactAmount: defineError("ENT_MONEY_INEXACT_AMOUNT", 400, "Amount not representable in minor units"),
  /** A rate, basis-point or percentage factor that is not a finite, non-negative decimal. */
  invalidRate: defineError("ENT_MONEY_INVALID_RATE", 400, "Invalid rate"),
  /** A rounding mode name that is not one of `ROUNDING_MODES`. */
  invalidRounding: defineError("ENT_MONEY_INVALID_ROUNDING", 400, "Invalid rounding mode"),
  /** Allocation ratios that are empty, negative, non-finite or all zero. */
  invalidRatios: defineError("ENT_MONEY_INVALID_RATIOS", 400, "Invalid allocation ratios"),
  /** Arithmetic between amounts of two different currencies. */
  currencyMismatch: defineError("ENT_MONEY_CURRENCY_MISMATCH", 400, "Currency mismatch"),
} as const;
