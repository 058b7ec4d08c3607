/**
 * CSV as RFC 4180 writes it: a field is quoted when it holds a quote, a comma or a line break; lines
 * end in CRLF.
 *
 * Every export opens in a spreadsheet, and its text comes from gateways, sellers and their ids: a
 * cell starting with = + - @ TAB or CR would run as a formula (OWASP "CSV injection"), so such a
 * cell gets a leading single quote. A cell that is a plain decimal number ("-12.00", "-1500") is
 * written as it is: a negative amount must stay a number.
 */
export function csvField(v: string): string {
  const safe = FORMULA_START.test(v) && !DECIMAL.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** One CSV line; null is an empty field. */
export function csvLine(values: ReadonlyArray<string | number | bigint | null>): string {
  return `${values.map((v) => csvField(v === null ? "" : String(v))).join(",")}\r\n`;
}
