/**
 * How the console shows money and time. Amounts arrive as strings of integer minor units and are
 * never turned into floating point: the decimal point is placed by the currency's ISO 4217
 * exponent (the same table the service uses, `currency-codes`), or the stablecoin's decimals.
 * Times show in the reader's zone; the UTC instant is the element's title.
 */
import isoTable from "currency-codes/data.js";

/** The vault's stablecoin (service/treasury/stablecoin.ts): the ledger counts it in 6-decimal base units. */
const TOKEN_EXPONENTS: Readonly<Record<string, number>> = { USDC: 6 };

const exponents = new Map<string, number>((isoTable as { code: string; digits: number }[]).map((r) => [r.code, r.digits]));

/** Decimal places of `code`'s minor unit, or null for an asset the console does not know. */
export function exponentOf(code: string): number | null {
  return TOKEN_EXPONENTS[code] ?? exponents.get(code) ?? null;
}

/** "123456", "USD" -> "1,234.56"; "-5" -> "-0.05"; "500", "KRW" -> "500"; grouping by thousands. */
export function formatAmount(minor: string | bigint, code: string): string {
  const text = typeof minor === "bigint" ? minor.toString() : minor.trim();
  if (!/^-?[0-9]+$/.test(text)) return text;
  const negative = text.startsWith("-");
  const digits = (negative ? text.slice(1) : text).replace(/^0+(?=[0-9])/, "");
  const exponent = exponentOf(code) ?? 0;
  const padded = digits.padStart(exponent + 1, "0");
  const whole = padded.slice(0, padded.length - exponent).replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",");
  const fraction = exponent === 0 ? "" : `.${padded.slice(padded.length - exponent)}`;
  const zero = /^0+$/.test(digits);
  return `${negative && !zero ? "-" : ""}${whole}${fraction}`;
}

/** "1,234.56 USD": the amount and its code (a token or an unknown code shows its base units). */
export function formatMoney(minor: string | bigint, code: string): string {
  return exponentOf(code) === null ? `${typeof minor === "bigint" ? minor.toString() : minor} ${code} units` : `${formatAmount(minor, code)} ${code}`;
}

/** Sum of minor-unit strings, exactly. */
export function sumMinor(values: readonly string[]): string {
  return values.reduce((a, v) => a + BigInt(v), 0n).toString();
}

/** A local date and time for the reader ("2024-12-10 10:00"), in `timeZone` (default: the browser's). */
export function formatLocal(iso: string, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("en-CA", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...(timeZone === undefined ? {} : { timeZone }),
  }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

/** The UTC instant as the title of a local time: "2024-12-10T09:00:00.000Z UTC". */
export function utcTitle(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString()} UTC`;
}

/** A local datetime-local input value ("2024-12-10T10:00") -> the instant as RFC 3339 (UTC). */
export function localInputToIso(value: string): string | null {
  if (value.trim() === "") return null;
  // A date-time without an offset is local time (ECMA-262 Date.parse), the zone the input shows.
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * An instant (an RFC 3339 value from the URL) -> the datetime-local input value that shows it in
 * the browser's zone, the inverse of `localInputToIso`: submitting the form unchanged queries the
 * same instant. Seconds and milliseconds are kept when there are any, so nothing is rounded away.
 * Not an instant -> "" (the input would refuse it anyway).
 */
export function isoToLocalInput(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso.trim() === "") return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const two = (n: number) => String(n).padStart(2, "0");
  const minutes = `${String(d.getFullYear()).padStart(4, "0")}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  if (d.getSeconds() === 0 && d.getMilliseconds() === 0) return minutes;
  return `${minutes}:${two(d.getSeconds())}${d.getMilliseconds() === 0 ? "" : `.${String(d.getMilliseconds()).padStart(3, "0")}`}`;
}

/** The browser's time zone as a label for date inputs ("America/Sao_Paulo, UTC-03:00"). */
export function localZoneLabel(at: Date = new Date()): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const offset = -at.getTimezoneOffset();
  const abs = Math.abs(offset);
  return `${zone}, UTC${offset < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** A JSON value shown as text: strings and numbers as they are, anything else as `fallback`. */
export function text(v: unknown, fallback = "–"): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "bigint" ? String(v) : fallback;
}
