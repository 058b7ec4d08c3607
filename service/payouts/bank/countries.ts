/**
 * ISO 3166-1 alpha-2: the 249 officially assigned codes (ISO 3166 Maintenance Agency, as of 2024),
 * the country a seller's bank account is in. No package in the tree carries the list, and ICU's
 * region names (`Intl.DisplayNames`) also name codes that are not countries (`ZZ` "Unknown Region",
 * `EU`, `UN`, `QO`, the withdrawn `AN`, `YU`, `SU`, …), so they cannot be the test of a code.
 * test/payouts/bank-matching.unit.test.ts checks the list against ICU: every code here has a name
 * there, and every other code ICU names is one of the reserved, user-assigned or withdrawn codes.
 */
const ASSIGNED =
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
  "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
  "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
  "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
  "MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
  "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
  "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

export const ISO_3166_ALPHA2: ReadonlySet<string> = new Set(ASSIGNED.split(" "));

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
