import { ISO_3166_ALPHA2 } from "../../geo/iso3166.js";

/** The assigned codes, from the one list (service/geo/iso3166.ts). */
export { ISO_3166_ALPHA2 };

/**
 * Codes the banks use for a country ISO 3166-1 has not assigned one to: XK, Kosovo (a user-assigned
 * code to ISO), which the SWIFT IBAN registry lists (XKkk bbbb cccc cccc cccc, 20 characters), its
 * banks' BICs carry (characters 5-6, e.g. RBKOXKPR) and ISO 20022 messages write in Ctry (the
 * schema's pattern is [A-Z]{2}). Refusing it would leave Kosovo's accounts no way in.
 */
export const BANKING_COUNTRY_CODES: ReadonlySet<string> = new Set(["XK"]);

/** An account's or an address's country: an officially assigned ISO 3166-1 alpha-2 code, or one the banks use beside them (XK), upper case as stored. */
export function isCountry(code: unknown): code is string {
  return typeof code === "string" && (ISO_3166_ALPHA2.has(code) || BANKING_COUNTRY_CODES.has(code));
}

/**
 * Territories whose accounts carry another country's IBAN (ISO 13616 registry; the EPC's IBAN/BIC
 * relation): the French overseas departments and collectivities use FR IBANs, Jersey, Guernsey and
 * the Isle of Man GB IBANs, the Åland Islands FI IBANs. Their banks' BICs carry either the
 * territory's own code (BNPARERX, a bank in Réunion) or the parent's (a French bank's FR BIC).
 */
const IBAN_TERRITORIES: Readonly<Record<string, readonly string[]>> = {
  FR: ["GF", "GP", "MQ", "RE", "YT", "BL", "MF", "PM", "NC", "PF", "TF", "WF"],
  GB: ["JE", "GG", "IM"],
  FI: ["AX"],
};
const IBAN_PARENT: ReadonlyMap<string, string> = new Map(Object.entries(IBAN_TERRITORIES).flatMap(([parent, ts]) => ts.map((t) => [t, parent] as const)));
/** Other BIC countries the EPC's IBAN/BIC relation accepts for an account's country: Monaco's accounts at French banks, Ireland's at British ones. */
const BIC_ALSO: Readonly<Record<string, readonly string[]>> = { MC: ["FR"], IE: ["GB"] };

/** The countries whose IBANs start with `prefix`: its own, and the territories that use it. */
export const ibanCountries = (prefix: string): readonly string[] => [prefix, ...(IBAN_TERRITORIES[prefix] ?? [])];

/** An IBAN of this prefix (its first two letters) may be an account in `country`. */
export function ibanFitsCountry(prefix: string, country: string): boolean {
  return ibanCountries(prefix).includes(country);
}

/** A bank whose BIC carries this country code (its characters 5-6) may hold an account in `country`. */
export function bicFitsCountry(bicCountry: string, country: string): boolean {
  return bicCountry === country || IBAN_PARENT.get(country) === bicCountry || (BIC_ALSO[country] ?? []).includes(bicCountry);
}
