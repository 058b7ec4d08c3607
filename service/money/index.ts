/**
 * Public API of the money module: currencies, minor-unit amounts, rounding, exact rates and
 * allocation. Pure functions only; no I/O, no configuration read from the environment.
 */
export { MoneyErrors } from "./errors.js";
export { currency, exponentOf, exponentOrNull, isCurrency, isoListDate, listCurrencies, type Currency } from "./currencies.js";
export {
  MAX_ABS_AMOUNT,
  MAX_AMOUNT_DIGITS,
  add,
  formatMajorOrNull,
  formatMinor,
  fromJson,
  minorToString,
  money,
  parseMajor,
  parseMajorExact,
  parseMinor,
  parsePositiveMinor,
  subtract,
  sum,
  toJson,
  type ExponentOf,
  type MajorUnitsProblem,
  type Money,
  type MoneyJson,
  type ParseMajorOptions,
  type ParseMinorOptions,
} from "./amounts.js";
export {
  DEFAULT_ROUNDING,
  MAX_RATE_DIGITS,
  MoneyDecimal,
  ROUNDING_MODES,
  applyBps,
  convertMinor,
  divideRounded,
  isRoundingMode,
  multiply,
  parseRate,
  parseRounding,
  percentOf,
  rateToString,
  roundRate,
  roundToInteger,
  type RoundingMode,
} from "./rounding.js";
export {
  differsByMoreThanBps,
  impliedRate,
  invertRate,
  parseRateFraction,
  rateFraction,
  rateFractionToString,
  relativeDifferenceBps,
  type RateFraction,
} from "./rate-fraction.js";
export { allocate, split } from "./allocation.js";
