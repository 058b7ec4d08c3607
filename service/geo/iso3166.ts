/**
 * ISO 3166 reference lists: the one place a country or subdivision code is checked against the
 * standard (a regular expression only checks a code's shape: `ZZ`, `EL` or `ES-ZZ` fit it).
 *
 * ISO 3166-1 alpha-2: the 249 officially assigned codes (ISO 3166 Maintenance Agency, as of 2024).
 * No package in the tree carries the list, and ICU's region names (`Intl.DisplayNames`) also name
 * codes that are not countries (`ZZ` "Unknown Region", `EU`, `UN`, `QO`, the withdrawn `AN`, `YU`,
 * `SU`, …), so they cannot be the test of a code. test/payouts/bank-matching.unit.test.ts checks the
 * list against ICU: every code here has a name there, and every other code ICU names is one of the
 * reserved, user-assigned or withdrawn codes.
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

/** Whether `code` is an officially assigned ISO 3166-1 alpha-2 code, upper case. */
export function isAssignedCountry(code: unknown): code is string {
  return typeof code === "string" && ISO_3166_ALPHA2.has(code);
}

/**
 * Codes people send for a country that are not its ISO code: `EL`, Greece's prefix in EU VAT numbers
 * and VIES (ISO's `GR`; `EL` is only reserved), and `UK` (ISO's `GB`; `UK` is only reserved). Refused
 * with the code to use: `EL` read as a country of its own made a Greek warehouse an import.
 */
export const NOT_ISO_ALIASES: Readonly<Record<string, string>> = { EL: "GR", UK: "GB" };

/** The refusal message for a code that is not an assigned alpha-2 code, naming the ISO code where `code` is a known alias. */
export function countryRefusal(code: unknown, example = "CN"): string {
  const alias = typeof code === "string" ? NOT_ISO_ALIASES[code] : undefined;
  return alias === undefined
    ? `must be an assigned ISO 3166-1 alpha-2 country code, e.g. ${example}`
    : `must be an assigned ISO 3166-1 alpha-2 country code: ${String(code)} is not one, use ${alias}`;
}

/**
 * ISO 3166-2:ES (ISO Online Browsing Platform; the codes of Spain's INE): the 17 autonomous
 * communities and 2 autonomous cities, each with its provinces (the 50 provinces; a community of one
 * province has two codes, e.g. ES-MD and ES-M for Madrid). Address systems send either level.
 */
const ES_COMMUNITIES: Readonly<Record<string, readonly string[]>> = {
  AN: ["AL", "CA", "CO", "GR", "H", "J", "MA", "SE"], // Andalucía
  AR: ["HU", "TE", "Z"], // Aragón
  AS: ["O"], // Asturias
  CB: ["S"], // Cantabria
  CE: [], // Ceuta (autonomous city)
  CL: ["AV", "BU", "LE", "P", "SA", "SG", "SO", "VA", "ZA"], // Castilla y León
  CM: ["AB", "CR", "CU", "GU", "TO"], // Castilla-La Mancha
  CN: ["GC", "TF"], // Canarias: Las Palmas, Santa Cruz de Tenerife
  CT: ["B", "GI", "L", "T"], // Catalunya
  EX: ["BA", "CC"], // Extremadura
  GA: ["C", "LU", "OR", "PO"], // Galicia
  IB: ["PM"], // Illes Balears
  MC: ["MU"], // Región de Murcia
  MD: ["M"], // Comunidad de Madrid
  ML: [], // Melilla (autonomous city)
  NC: ["NA"], // Navarra
  PV: ["BI", "SS", "VI"], // País Vasco
  RI: ["LO"], // La Rioja
  VC: ["A", "CS", "V"], // Comunitat Valenciana
};

/** ISO 3166-2:US: the 50 states, the District of Columbia and the 6 outlying areas. */
const US_SUBDIVISIONS =
  "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY " +
  "DC AS GU MP PR UM VI";

/** ISO 3166-2:BR: the 26 states and the Federal District. */
const BR_SUBDIVISIONS = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO";

const SUBDIVISIONS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["ES", new Set(Object.entries(ES_COMMUNITIES).flatMap(([c, provinces]) => [c, ...provinces]).map((s) => `ES-${s}`))],
  ["US", new Set(US_SUBDIVISIONS.split(" ").map((s) => `US-${s}`))],
  ["BR", new Set(BR_SUBDIVISIONS.split(" ").map((s) => `BR-${s}`))],
]);

/** The subdivision each subdivision lies in (a Spanish province's autonomous community), where ISO 3166-2 nests them. */
const PARENT: ReadonlyMap<string, string> = new Map(Object.entries(ES_COMMUNITIES).flatMap(([c, provinces]) => provinces.map((p) => [`ES-${p}`, `ES-${c}`] as const)));

const SUBDIVISION_SHAPE = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;

/** The countries whose ISO 3166-2 list is held here: a subdivision of another country is checked by shape only. */
export const SUBDIVISION_LISTS: readonly string[] = [...SUBDIVISIONS.keys()];

/** Whether `code` is an ISO 3166-2 subdivision of `country`: in its list where one is held, else of the right shape. */
export function isSubdivisionOf(code: unknown, country: string): code is string {
  if (typeof code !== "string" || !SUBDIVISION_SHAPE.test(code) || !code.startsWith(`${country}-`)) return false;
  const list = SUBDIVISIONS.get(country);
  return list === undefined || list.has(code);
}

/** Whether subdivision `code` is `area` or lies inside it (ES-TF, Santa Cruz de Tenerife, lies in ES-CN, the Canary Islands). */
export function withinSubdivision(code: string, area: string): boolean {
  return code === area || PARENT.get(code) === area;
}
