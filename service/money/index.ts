/**
 * Public API of the money module: currencies, minor-unit amounts, rounding and allocation. Pure
 * functions only; no I/O, no configuration read from the environment.
 */
export { MoneyErrors } from "./errors.js";
export { currency, exponentOf, isCurrency, isoListDate, listCurrencies, type Currency } from "./currencies.js";
export {
  MAX_AMOUNT_DIGITS,
  add,
  formatMinor,
  fromJson,
  minorToString,
  money,
  parseMajor,
  parseMinor,
  parsePositiveMinor,
  subtract,
  sum,
  toJson,
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
export { allocate, split } from "./allocation.js";
