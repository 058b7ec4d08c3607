/**
 * Shared TypeBox schemas. Amounts cross the HTTP boundary as strings of integer minor units (JSON
 * numbers lose precision above 2^53); dates as RFC 3339 strings. Types are derived from these
 * schemas, never written twice.
 */
import { Type } from "typebox";
import { GATEWAY_NAME, GATEWAY_NAME_RULE } from "../../settlement/validate.js";

/** Signed integer minor units; 38 digits is the NUMERIC(38,0) column's capacity. */
export const Amount = Type.String({ pattern: "^-?(0|[1-9][0-9]{0,37})$", description: "Integer amount in minor units, as a string", examples: ["14990"] });
export const NonNegativeAmount = Type.String({ pattern: "^(0|[1-9][0-9]{0,37})$", description: "Non-negative integer amount in minor units, as a string", examples: ["14990"] });
export const CurrencyCode = Type.String({ pattern: "^[A-Z]{3}$", description: "ISO 4217 currency code", examples: ["BRL"] });
/** What a ledger account holds: an ISO 4217 code or a token (USDC), as the ledger accepts them. */
export const AssetCode = Type.String({ pattern: "^[A-Z][A-Z0-9]{2,11}$", description: "ISO 4217 currency code or token symbol (3-12 of [A-Z0-9])", examples: ["BRL", "USDC"] });
/**
 * Years 1970-9999 only: an instant before 1970 has no unsigned epoch milliseconds (the anchored leaf's
 * uint64) and year 0000 is no date PostgreSQL reads; both were refused only once they reached the
 * database or the anchoring worker. plugins/errors.ts words this pattern's failure.
 */
export const DATE_TIME_YEARS = "^(19[7-9][0-9]|[2-9][0-9]{3})-";
export const DateTime = Type.String({ format: "date-time", pattern: DATE_TIME_YEARS, description: "RFC 3339 instant, years 1970-9999 once converted to UTC, at most millisecond precision (digits past the third are zeros)", examples: ["2024-12-02T09:00:00Z"] });

/** 10000-01-01T00:00:00Z, the first instant past the years 1970-9999. */
export const INSTANT_END_MS = Date.UTC(10000, 0, 1);
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3})(\d*))?(?:[Zz]|([+-])(\d{2}):?(\d{2}))$/;

/**
 * The `date-time` format of every request schema (app.ts replaces ajv-formats' with this one): an
 * RFC 3339 instant whose UTC instant lies in the years 1970-9999, the bound `DATE_TIME_YEARS` puts on
 * the written year alone. `9999-12-31T23:59:59.999-23:59` is year 10000 in UTC (PostgreSQL: "time zone
 * displacement out of range", a 500) and `1970-01-01T00:00:00+23:59` is 1969 (no unsigned epoch ms).
 * Also refused: what `new Date()` reads otherwise than the text says (a 30 February rolled into
 * March, a leap second or an offset `+01` it cannot read: Invalid Date, a 500) and non-zero digits
 * past the millisecond, which the ledger would drop (two different instants booked as one).
 */
export function isInstant(s: string): boolean {
  const m = RFC3339.exec(s);
  if (m === null) return false;
  const [, y, mo, d, h, mi, sec, ms = "0", subMs = "", sign, oh = "0", om = "0"] = m;
  if (/[^0]/.test(subMs) || Number(oh) > 23 || Number(om) > 59) return false;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(ms.padEnd(3, "0")));
  const wall = new Date(local);
  // Date.UTC rolls 30 February into March and 24:00 into the next day: the text must be the date it names.
  if (wall.getUTCFullYear() !== Number(y) || wall.getUTCMonth() !== Number(mo) - 1 || wall.getUTCDate() !== Number(d) || wall.getUTCHours() !== Number(h) || wall.getUTCMinutes() !== Number(mi) || wall.getUTCSeconds() !== Number(sec)) return false;
  const utc = local - (sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000);
  // Routes read the value with `new Date(text)`: it must read the same instant.
  return utc >= 0 && utc < INSTANT_END_MS && Date.parse(s) === utc;
}
/** What a failed `date-time` format says (plugins/errors.ts). */
export const INSTANT_MESSAGE = "must be an RFC 3339 instant in the years 1970 to 9999 once converted to UTC, with no non-zero digits past the millisecond";
/** A calendar day, YYYY-MM-DD (UTC), years 1970-9999. */
export const DAY_PATTERN = `${DATE_TIME_YEARS}(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`;
/** A calendar month, YYYY-MM (UTC), years 1970-9999. */
export const MONTH_PATTERN = `${DATE_TIME_YEARS}(0[1-9]|1[0-2])$`;
/** What a failed date pattern says, by pattern (plugins/errors.ts). */
export const DATE_PATTERN_MESSAGES: ReadonlyMap<string, string> = new Map([
  [DATE_TIME_YEARS, "must be an instant in the years 1970 to 9999"],
  [DAY_PATTERN, "must be a day YYYY-MM-DD in the years 1970 to 9999"],
  [MONTH_PATTERN, "must be a month YYYY-MM in the years 1970 to 9999"],
]);
export const Identifier = Type.String({ pattern: "^[A-Za-z0-9._:-]{1,120}$", description: "1-120 characters of [A-Za-z0-9._:-]" });
/** A gateway's name, as events carry it and as a gateway key is bound to it. */
export const GatewayName = Type.String({ pattern: GATEWAY_NAME.source, description: `Gateway name, ${GATEWAY_NAME_RULE}`, examples: ["adyen"] });
/**
 * A settlement record id or event key `settlement:<gateway>:<gatewayEventId>` (of [A-Za-z0-9._:-],
 * and `~`, which only the system's own events carry: a release is `auto-release~<capture id>`).
 */
export const SettlementRef = Type.String({
  pattern: "^[A-Za-z0-9._:~-]{1,255}$",
  description: "Settlement record id, or event key `settlement:<gateway>:<gatewayEventId>` (a release the maintenance worker booked: `…:auto-release~<capture record id>`)",
});

/**
 * Free text as stored: any characters but NUL, which PostgreSQL cannot store in text or JSON
 * (it would surface as a 500). JSON bodies are also screened for NUL as a whole (plugins/errors.ts).
 */
export function Text(maxLength: number, minLength = 0, description?: string) {
  return Type.String({ minLength, maxLength, pattern: "^[^\\u0000]*$", ...(description === undefined ? {} : { description }) });
}

/** One line of text in a path or query string: no control characters (no NUL, no line breaks). */
export function Line(maxLength: number, minLength = 1, description?: string) {
  return Type.String({ minLength, maxLength, pattern: "^[^\\u0000-\\u001f\\u007f]*$", ...(description === undefined ? {} : { description }) });
}

/** Account code in a path or query: one line of at most 200 characters (ledger codes are free-form). */
export const AccountCode = Line(200, 1, "Account code, e.g. seller:S-POP-SZ-01:available");

/**
 * A decimal id of a BIGINT column: digits only, and (format `int8`, PostgreSQL's BIGINT, registered in app.ts) no
 * larger than 2^63-1, so an id past the column's range is a 400 naming the field, never a 500.
 */
export function Int8Id(pattern = "^[0-9]{1,19}$", description = "Decimal id") {
  return Type.String({ pattern, format: "int8", description });
}
export const StringMap = Type.Record(Type.String(), Type.String());
/** Query-string integers stay strings (no type coercion anywhere, so a JSON body never has a number silently turned into an amount). */
export const LimitQuery = Type.String({ pattern: "^(?:[1-9][0-9]{0,2}|1000)$", description: "Page size, 1-1000 (default 100)" });
export const CursorQuery = Type.String({ pattern: "^[A-Za-z0-9_=-]{1,200}$", description: "Opaque cursor from a previous page's nextCursor" });

export const ProblemRef = Type.Ref("Problem");

/** Standard error responses for a route, documented (and served) as application/problem+json. */
export function problems(...statuses: number[]): Record<number, { description: string; content: { "application/problem+json": { schema: typeof ProblemRef } } }> {
  return Object.fromEntries(statuses.map((s) => [s, { description: "RFC 9457 problem document with a stable `code`", content: { "application/problem+json": { schema: ProblemRef } } }]));
}

/** An API key, or (with x-csrf-token on writes) a console session cookie (http/auth/sessions.ts). */
export const bearer: Array<Record<string, string[]>> = [{ apiKey: [] }, { consoleSession: [] }];
/** Signed gateway routes: an API key only (a console session is refused). */
export const bearerOnly = [{ apiKey: [] as string[] }];

/**
 * Documents the signature headers of signed routes. Optional in the schema on purpose: the auth
 * plugin checks them before validation runs and answers with ENT_AUTH_SIGNATURE_* codes, and an
 * admin's writes to the webhook routes are not signed; the descriptions say when they are required.
 */
const SIGNED_WHEN = "Required (else 401 ENT_AUTH_SIGNATURE_MISSING) on the gateway routes (settlement events, FX quotes, remittances) and on every write by a gateway key. ";
export const SignatureHeaders = Type.Object({
  "entrepot-timestamp": Type.Optional(Type.String({ description: `${SIGNED_WHEN}Unix seconds (up to 3 decimals) at signing; must be within the replay window` })),
  "entrepot-signature": Type.Optional(Type.String({ description: SIGNED_WHEN + 'v2=<hex HMAC-SHA256(signingSecret, timestamp + "." + METHOD + "." + target + "." + rawBody)>, the target being the path and query as sent (or v1=<hex HMAC-SHA256(signingSecret, timestamp + "." + rawBody)>, not bound to the route); comma-separate several during secret rotation' })),
});
