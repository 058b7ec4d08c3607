/**
 * ISO 4217 currencies and their minor-unit exponents, from the `currency-codes` package (which
 * ingests ISO's list one). Nothing here is typed by hand: the list ships with the package, and
 * the "no minor units" flag comes from the ISO XML the package ships alongside its data.
 *
 * Decision on `N.A.` exponents: ISO marks metals (XAU, XAG, XPD, XPT), the SDR (XDR), bond-market
 * units (XBA..XBD), XSU, XUA, the testing code XTS and "no currency" XXX with minor units "N.A.".
 * `currency-codes` flattens that to 0, which would silently turn one troy ounce of gold into an
 * indivisible unit. These codes cannot be settled in minor units, so they are rejected with
 * ENT_MONEY_UNKNOWN_CURRENCY like an unknown code. Fund codes that do have minor units (CLF 4,
 * USN 2, BOV 2, ...) are accepted and flagged `fund: true`; refusing them is a policy for the
 * caller (e.g. a seller program's allowed currencies), not a property of the unit.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { MoneyErrors } from "./errors.js";

export interface Currency {
  /** ISO 4217 alphabetic code, upper case. */
  readonly code: string;
  /** Number of decimal digits of the minor unit: 0 for JPY, 2 for USD, 3 for KWD, 4 for CLF. */
  readonly exponent: number;
  /** ISO 4217 numeric code, as a 3-digit string. */
  readonly number: string;
  readonly name: string;
  /** ISO marks the entry as a fund (e.g. USN, CLF), not a circulating currency. */
  readonly fund: boolean;
}

interface IsoRecord {
  code: string;
  number: string;
  digits: number;
  currency: string;
}

const require = createRequire(import.meta.url);

function loadTable(): Map<string, Currency> {
  const records = (require("currency-codes") as { data: IsoRecord[] }).data;
  const xml = readFileSync(require.resolve("currency-codes/iso-4217-list-one.xml"), "utf8");
  // Each <CcyNtry> names a country; the same code appears once per country with the same units.
  const noMinorUnits = new Set<string>();
  const funds = new Set<string>();
  for (const entry of xml.matchAll(/<CcyNtry>([\s\S]*?)<\/CcyNtry>/g)) {
    const body = entry[1] ?? "";
    const code = /<Ccy>([A-Z]{3})<\/Ccy>/.exec(body)?.[1];
    if (code === undefined) continue; // Antarctica and the like: a country without a currency.
    const units = /<CcyMnrUnts>([^<]*)<\/CcyMnrUnts>/.exec(body)?.[1]?.trim();
    if (units === undefined || !/^\d+$/.test(units)) noMinorUnits.add(code);
    if (/<CcyNm IsFund="true">/.test(body)) funds.add(code);
  }
  if (noMinorUnits.size === 0 || noMinorUnits.size > 40) {
    // A changed XML layout would otherwise silently accept XAU with exponent 0.
    throw new Error(`currency-codes XML parsed to ${noMinorUnits.size} codes without minor units; layout changed?`);
  }
  const table = new Map<string, Currency>();
  for (const r of records) {
    if (noMinorUnits.has(r.code) || !Number.isInteger(r.digits) || r.digits < 0) continue;
    table.set(r.code, Object.freeze({ code: r.code, exponent: r.digits, number: r.number, name: r.currency.trim(), fund: funds.has(r.code) }));
  }
  return table;
}

const TABLE = loadTable();

/** True when `code` is a supported ISO 4217 code (exact upper case, minor units defined). */
export function isCurrency(code: unknown): code is string {
  return typeof code === "string" && TABLE.has(code);
}

/**
 * The currency for an ISO 4217 code. Codes are matched exactly (upper case): "usd" is rejected
 * rather than normalised, so that what is stored is always what was sent.
 */
export function currency(code: string, field = "currency"): Currency {
  const found = typeof code === "string" ? TABLE.get(code) : undefined;
  if (found === undefined) {
    const shown = typeof code === "string" ? JSON.stringify(code.slice(0, 16)) : typeof code;
    throw MoneyErrors.unknownCurrency(`${field}: ${shown} is not a supported ISO 4217 currency with minor units`, {
      fields: [{ field, message: "must be an ISO 4217 currency code with minor units, e.g. USD" }],
      details: { currency: typeof code === "string" ? code.slice(0, 16) : typeof code },
    });
  }
  return found;
}

/** The minor-unit exponent of `code` (throws ENT_MONEY_UNKNOWN_CURRENCY). */
export function exponentOf(code: string, field?: string): number {
  return currency(code, field).exponent;
}

/** The minor-unit exponent of `code`, or null when it is not a supported currency (no throw: for per-row validation). */
export function exponentOrNull(code: string): number | null {
  return TABLE.get(code)?.exponent ?? null;
}

/** Every supported currency, sorted by code. */
export function listCurrencies(): Currency[] {
  return [...TABLE.values()].sort((a, b) => a.code.localeCompare(b.code));
}

/** Publication date of the ISO list the table came from (for reports and the docs). */
export function isoListDate(): string {
  return (require("currency-codes") as { publishDate: string }).publishDate;
}
