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

/**
 * A rate in basis points as a percentage, exactly (integer arithmetic, no float's 7.249999): 2100 ->
 * "21%", 725 -> "7.25%", 1750 -> "17.5%", 5 -> "0.05%".
 */
export function formatBps(bps: number): string {
  if (!Number.isInteger(bps) || bps < 0) return `${bps} bps`;
  const fraction = String(bps % 100).padStart(2, "0").replace(/0+$/, "");
  return `${Math.trunc(bps / 100)}${fraction === "" ? "" : `.${fraction}`}%`;
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

/** A datetime-local value the ledger can take: a year of four digits, minutes, optional seconds and milliseconds. */
const LOCAL_INPUT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,3})?)?$/;

/**
 * A local datetime-local input value ("2024-12-10T10:00") -> the instant as RFC 3339 (UTC), or null
 * when it is not one: a browser accepts years of five and six digits ("202411-12-01T00:00", a year
 * typed on without moving to the next field), which no ledger period has and `Date` cannot parse.
 */
export function localInputToIso(value: string): string | null {
  if (!LOCAL_INPUT.test(value.trim())) return null;
  // A date-time without an offset is local time (ECMA-262 Date.parse), the zone the input shows.
  const d = new Date(value.trim());
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

/**
 * The offset of `timeZone` (default: the browser's) at an instant, "UTC+08:00". Read from Intl
 * rather than `getTimezoneOffset`, which Chromium answers in fractional minutes for a zone's local
 * mean time before standard time (São Paulo before 1914 is UTC-03:06:28): seconds are shown when
 * the offset has any, so no offset is ever a fraction.
 */
export function utcOffset(at: Date = new Date(), timeZone?: string): string {
  const name =
    new Intl.DateTimeFormat("en-US", { timeZoneName: "longOffset", ...(timeZone === undefined ? {} : { timeZone }) }).formatToParts(Number.isNaN(at.getTime()) ? new Date() : at).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  // "GMT" alone is UTC itself; otherwise "GMT-03:00" or "GMT-03:06:28".
  const m = /^GMT([+\-\u2212])([0-9]{1,2})(?::?([0-9]{2}))?(?::?([0-9]{2}))?$/.exec(name);
  if (m === null) return "UTC+00:00";
  const sign = m[1] === "+" ? "+" : "-";
  const seconds = m[4] === undefined || m[4] === "00" ? "" : `:${m[4]}`;
  return `UTC${sign}${(m[2] ?? "0").padStart(2, "0")}:${m[3] ?? "00"}${seconds}`;
}

/** The browser's time zone as a label for date inputs ("America/Sao_Paulo, UTC-03:00"); `timeZone` for another zone. */
export function localZoneLabel(at: Date = new Date(), timeZone?: string): string {
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${zone}, ${utcOffset(at, timeZone)}`;
}

/** Whether the instant is the first instant of a UTC month (the ledger's periods and monthly charges are UTC months). */
export function isUtcMonthStart(iso: string): boolean {
  const d = new Date(iso);
  return !Number.isNaN(d.getTime()) && d.getUTCDate() === 1 && d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0;
}

/** The first instant of the UTC month `offset` months from the one `iso` is in. */
export function utcMonthStart(iso: string, offset: number): string {
  const d = new Date(iso);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1)).toISOString();
}

/** The balance `?at=` that is a period's closing: the end is exclusive, a balance at an instant inclusive (GET /v1/accounts/…/balance). */
export function closingAt(end: string): string {
  return new Date(Date.parse(end) - 1).toISOString();
}

/** The UTC month start nearest to an instant (the ledger's month boundary a local one is closest to). */
export function nearestUtcMonthStart(iso: string): string {
  const t = new Date(iso).getTime();
  const [a, b] = [utcMonthStart(iso, 0), utcMonthStart(iso, 1)];
  return t - Date.parse(a) <= Date.parse(b) - t ? a : b;
}

/** A month as "YYYY-MM" (an input of type month): [year, month 1..12], or null unless the year has four digits. */
export function parseMonth(value: string): [number, number] | null {
  const m = /^([0-9]{4})-([0-9]{2})$/.exec(value.trim());
  if (m === null) return null;
  const [y, mo] = [Number(m[1]), Number(m[2])];
  // Year 0999 and before are a year still being typed (a month field shows 0002 after the first "2").
  return y >= 1000 && mo >= 1 && mo <= 12 ? [y, mo] : null;
}

/** The month after [year, month], without `Date` (whose two-digit years are 1900 + year). */
function nextMonth([y, m]: [number, number]): [number, number] {
  return m === 12 ? [y + 1, 1] : [y, m + 1];
}

const monthText = ([y, m]: [number, number]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}`;

/**
 * A month's bounds as datetime-local values in the browser's zone: its first instant and the next
 * month's, in the reader's zone ("local") or UTC's ("utc": the ledger's periods), or null when
 * `month` is not a complete month (see `parseMonth`).
 */
export function monthBounds(month: string, zone: "local" | "utc"): { from: string; to: string } | null {
  const ym = parseMonth(month);
  if (ym === null) return null;
  const [start, end] = [monthText(ym), monthText(nextMonth(ym))];
  if (zone === "local") return { from: `${start}-01T00:00`, to: `${end}-01T00:00` };
  return { from: isoToLocalInput(`${start}-01T00:00:00.000Z`), to: isoToLocalInput(`${end}-01T00:00:00.000Z`) };
}

/**
 * The month a period [from, to) is, when it is one: "YYYY-MM" and whether its bounds are the
 * reader's zone's or UTC's (the reader's first, when the two are the same); else null.
 */
export function monthOf(fromIso: string, toIso: string): { month: string; zone: "local" | "utc" } | null {
  const from = new Date(fromIso);
  if (Number.isNaN(from.getTime()) || Number.isNaN(new Date(toIso).getTime())) return null;
  const same = (a: string, b: string) => Date.parse(a) === Date.parse(b);
  const local = monthText([from.getFullYear(), from.getMonth() + 1]);
  const l = monthBounds(local, "local");
  if (l !== null && same(localInputToIso(l.from) ?? "", fromIso) && same(localInputToIso(l.to) ?? "", toIso)) return { month: local, zone: "local" };
  const utc = monthText([from.getUTCFullYear(), from.getUTCMonth() + 1]);
  if (isUtcMonthStart(fromIso) && same(utcMonthStart(fromIso, 1), toIso) && parseMonth(utc) !== null) return { month: utc, zone: "utc" };
  return null;
}

/** An ISO 8601 instant with a zone (Z or an offset) inside a sentence. */
const INSTANT = /\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})/g;

/** An instant for a reader: "2025-01-01 00:00 (Asia/Shanghai, UTC+08:00; 2024-12-31T16:00:00.000Z)". */
export function instantInWords(iso: string, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${formatLocal(iso, timeZone)} (${localZoneLabel(d, timeZone)}; ${iso})`;
}

/** A service's sentence with each ISO instant in it also shown in the reader's zone (the fields were entered in it). */
export function withLocalInstants(sentence: string, timeZone?: string): string {
  return sentence.replace(INSTANT, (iso) => instantInWords(iso, timeZone));
}

/** A whole number of minor units and its ISO code in a service's sentence ("debited 1234500 CNY"); not a number's tail ("12.50 USD") nor an id's ("ENT-BP-7 USD"). */
const MINOR_AMOUNT = /(?<![0-9A-Za-z.,_-])(-?[0-9]+) ([A-Z]{3})\b( \(minor units\))?/g;

/**
 * A service's sentence whose amounts are minor units (the bank rail's exception details: "debited
 * 1234500 CNY for an instruction of 1234400 CNY") with each amount placed by its currency's minor
 * unit ("debited 12,345.00 CNY"); a code the console does not know is left as written.
 */
export function withMajorAmounts(sentence: string): string {
  // "500 EUR (minor units)" (a reconciliation's gateway cost) is "5.00 EUR": the note goes with the conversion.
  return sentence.replace(MINOR_AMOUNT, (all, minor: string, code: string) => (exponentOf(code) === null ? all : formatMoney(minor, code)));
}

/**
 * Why a revaluation left a currency out, in words (the service says it as "CODE: message"): the
 * words first, the stable code apart (null when there is none). A stale rate says until when the
 * last one was valid, in the reader's zone.
 */
export function skipReason(s: { code: string; reason: string }, timeZone?: string): { words: string; code: string | null } {
  const code = s.code.startsWith("ENT_") ? s.code : null;
  const message = s.reason;
  const until = /\(([A-Z0-9]+)\/([A-Z0-9]+)\) was valid until (\S+?)\.?$/.exec(message);
  if (code === "ENT_FX_RATE_STALE" && until !== null) {
    return { words: `no fresh rate was published for this instant: the last ${until[1]}/${until[2]} rate was valid until ${instantInWords(until[3] ?? "", timeZone)}`, code };
  }
  const old = /rate \S+ as of (\S+) is ([0-9]+)s old \(max ([0-9]+)s\)/.exec(message);
  if (code === "ENT_FX_RATE_STALE" && old !== null) {
    return { words: `no fresh rate was published for this instant: the last one, as of ${instantInWords(old[1] ?? "", timeZone)}, is older than the ${old[3]} s the service accepts`, code };
  }
  if (code === "ENT_FX_RATE_NOT_FOUND") return { words: "no rate against USD has been published for it", code };
  return { words: withLocalInstants(message, timeZone), code };
}

/**
 * When a published rate is from: a daily figure (its instant is 00:00 UTC, as FRED's are, which
 * name a day and no time) is its UTC day, never a time of the evening before in a zone behind
 * UTC; any other instant is shown in the reader's zone with its UTC time beside.
 */
export function rateAsOf(iso: string, timeZone?: string): { text: string; day: boolean } {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return { text: iso, day: false };
  const utc = d.toISOString();
  if (utc.endsWith("T00:00:00.000Z")) return { text: `${utc.slice(0, 10)} (UTC day)`, day: true };
  return { text: `${formatLocal(iso, timeZone)} (${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC)`, day: false };
}

/** A JSON value shown as text: strings and numbers as they are, anything else as `fallback`. */
export function text(v: unknown, fallback = "–"): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "bigint" ? String(v) : fallback;
}

/**
 * What a reconciliation item is about, for the queue: the gateway's reference, else the report's
 * lines, else (an item found only in the ledger has neither) the gateway event and the settlement.
 */
export function reconItemReference(item: { gatewayReference: string | null; lines: readonly number[]; gatewayEventId?: string | null; settlementId: string | null }): string {
  if (item.gatewayReference !== null && item.gatewayReference !== "") return item.gatewayReference;
  if (item.lines.length > 0) return `line ${item.lines.join(", ")}`;
  const parts = [item.gatewayEventId === undefined || item.gatewayEventId === null ? null : `event ${item.gatewayEventId}`, item.settlementId === null ? null : `settlement ${item.settlementId}`].filter((p) => p !== null);
  return parts.length === 0 ? "–" : `${parts.join(" · ")} (ledger only)`;
}
