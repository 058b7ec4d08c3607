/**
 * The int8 (BIGINT) range of PostgreSQL ids. A decimal string beyond it is not "an id that does not
 * exist" to the database but a type error (22003), which would surface as a 500: readers check
 * the range first and answer "not found" (or the HTTP edge refuses it by schema, `format: int8`).
 */
export const INT8_MAX = 9_223_372_036_854_775_807n;

/** A positive decimal id without leading zeros that fits a BIGINT column (1 .. 2^63-1). */
export function isPositiveInt8(s: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(s) && BigInt(s) <= INT8_MAX;
}

/** A non-negative decimal (leading zeros refused) that fits a BIGINT column (0 .. 2^63-1). */
export function isNonNegativeInt8(s: string): boolean {
  return /^(0|[1-9][0-9]{0,18})$/.test(s) && BigInt(s) <= INT8_MAX;
}
