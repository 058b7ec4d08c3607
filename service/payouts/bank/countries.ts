/**
 * ISO 3166-1 alpha-2: the 249 officially assigned codes (ISO 3166 Maintenance Agency, as of 2024),
 * the country a seller's bank account is in. No package in the tree carries the list, and ICU's
 * region names (`Intl.DisplayNames`) also name codes that are not countries (`ZZ` "Unknown Region",
 * `EU`, `UN`, `QO`, the withdrawn `AN`, `YU`, `SU`, …), so they cannot be the test of a code.
 * test/payouts/bank-countries.unit.test.ts checks the list against ICU: every code here has a name
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

/** An officially assigned ISO 3166-1 alpha-2 code, upper case as stored. */
export function isCountry(code: unknown): code is string {
  return typeof code === "string" && ISO_3166_ALPHA2.has(code);
}
