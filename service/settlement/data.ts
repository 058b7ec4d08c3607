/**
 * The default program data: markets, tax rules and fee schedules, versioned by effective date.
 * Figures live HERE (and in the database rows loaded from here), never in the engine's code.
 * Demo figures, not legal or commercial advice; each tax rule carries its reasoning in `note`.
 */
import type { FeeSchedule, Market, TaxRule } from "./types.js";

const d = (iso: string) => new Date(`${iso}T00:00:00.000Z`);
const noFixed = { logistics: 0n, warehousing: 0n, fulfilment: 0n };

export const MARKETS: Market[] = [
  { code: "US", currency: "USD", name: "United States" },
  { code: "ES", currency: "EUR", name: "Spain" },
  { code: "FR", currency: "EUR", name: "France" },
  { code: "DE", currency: "EUR", name: "Germany" },
  { code: "PL", currency: "PLN", name: "Poland" },
  { code: "BR", currency: "BRL", name: "Brazil" },
  { code: "KR", currency: "KRW", name: "South Korea" },
  { code: "SA", currency: "SAR", name: "Saudi Arabia" },
];

/**
 * The EU's cases for a marketplace selling a seller's goods to a consumer, per member state: imports
 * (IOSS up to EUR 150, customs above), goods already in the EU (the deemed supplier for a seller
 * established outside the EU, the seller's own VAT for one established inside), and the platform's
 * own stock (full hosting).
 */
const eu = (market: string, rateBps: number): TaxRule[] => [
  {
    id: `tax-${market}-ioss-2021`,
    market,
    effectiveFrom: d("2021-07-01"),
    kind: "vat",
    scheme: "EU_IOSS",
    rateBps,
    collectedBy: "marketplace",
    authority: `${market}-VAT`,
    note: "EU VAT on distance sales of imported goods up to EUR 150 intrinsic value, collected by the marketplace as deemed supplier under IOSS at the buyer's member-state standard rate.",
    supply: "import",
    maxValue: { currency: "EUR", amount: 15_000n },
    // The EUR 150 is the intrinsic value: the goods without separately charged shipping, converted
    // at the ECB rate of the day payment was accepted (VAT Directive art. 91(2)), the default.
    basis: { bandValue: "intrinsic" },
  },
  {
    id: `tax-${market}-import-customs-2021`,
    market,
    effectiveFrom: d("2021-07-01"),
    kind: "vat",
    scheme: "EU_IMPORT_CUSTOMS",
    rateBps,
    collectedBy: "none",
    authority: `${market}-CUSTOMS`,
    note: "Imports above EUR 150 intrinsic value are outside IOSS: import VAT and duty are levied at customs clearance (from the buyer or the carrier), not by the marketplace.",
    supply: "import",
  },
  {
    id: `tax-${market}-deemed-supplier-2021`,
    market,
    effectiveFrom: d("2021-07-01"),
    kind: "vat",
    scheme: "EU_DEEMED_SUPPLIER",
    rateBps,
    collectedBy: "marketplace",
    authority: `${market}-VAT`,
    note: "Goods already in the EU (an EU warehouse) sold by a seller established outside the EU to a consumer: the marketplace is the deemed supplier (VAT Directive art. 14a(2)) and charges the buyer's member-state VAT (declared through OSS, or domestically when shipped within the state).",
    supply: "domestic",
    // Art. 14a(2) makes the marketplace the supplier only for a seller not established in the EU.
    sellerEstablished: "outside_market_area",
  },
  {
    id: `tax-${market}-seller-vat-2021`,
    market,
    effectiveFrom: d("2021-07-01"),
    kind: "vat",
    scheme: "EU_SELLER_VAT",
    rateBps,
    collectedBy: "seller",
    authority: `${market}-VAT`,
    note: "Goods already in the EU sold by a seller established in the EU (or Northern Ireland): the seller is the supplier and declares the buyer's member-state VAT itself (domestically, or through the Union OSS for a distance sale from another member state, VAT Directive art. 33 and 369a-369k). The marketplace is no deemed supplier (art. 14a(2) covers sellers established outside the EU only) and collects nothing.",
    supply: "domestic",
  },
  {
    id: `tax-${market}-principal-2021`,
    market,
    effectiveFrom: d("2021-07-01"),
    kind: "vat",
    scheme: "EU_PRINCIPAL_VAT",
    rateBps,
    collectedBy: "marketplace",
    authority: `${market}-VAT`,
    note: "Full hosting from an EU warehouse: the platform sells its own stock as principal, its own supply (not the deemed-supplier scheme, which is for a third-party seller's goods), at the buyer's member-state rate, declared domestically or through the Union OSS for a distance sale from another member state.",
    supply: "domestic",
    program: "full_hosting",
  },
];

/**
 * US marketplace-facilitator sales tax: the state's base rate (local rates are not modelled), in
 * force from the state's facilitator law; shipping untaxed where the state exempts a separately
 * stated delivery charge. Oregon has no sales tax.
 */
const US_STATES: Array<{ state: string; from: string; rateBps: number; shipping?: "untaxed"; authority: string; note: string }> = [
  { state: "CA", from: "2019-10-01", rateBps: 725, shipping: "untaxed", authority: "US-CA-CDTFA", note: "California's 7.25% state rate; separately stated delivery by common carrier is not taxed." },
  { state: "NY", from: "2019-06-01", rateBps: 400, authority: "US-NY-DTF", note: "New York's 4% state rate; shipping charged to the buyer is taxed." },
  { state: "TX", from: "2019-10-01", rateBps: 625, authority: "US-TX-CPA", note: "Texas' 6.25% state rate; shipping is part of the taxable sales price." },
  {
    state: "FL",
    from: "2021-07-01",
    rateBps: 600,
    authority: "US-FL-DOR",
    note: "Florida's 6% state rate; shipping is taxed: a delivery charge is exempt only when separately stated and avoidable by the buyer, and a cross-border seller shipping by mail or common carrier leaves no way to avoid it (Fla. Admin. Code 12A-1.045(3)).",
  },
  { state: "WA", from: "2018-01-01", rateBps: 650, authority: "US-WA-DOR", note: "Washington's 6.5% state rate; delivery charges are taxed." },
  { state: "OR", from: "2018-01-01", rateBps: 0, authority: "none", note: "Oregon has no sales tax: nothing to collect." },
];

function usState(s: (typeof US_STATES)[number]): TaxRule {
  return {
    id: `tax-US-${s.state}-sales-${s.from.slice(0, 4)}`,
    market: "US",
    effectiveFrom: d(s.from),
    kind: s.rateBps === 0 ? "none" : "sales_tax",
    scheme: "US_SALES_TAX",
    rateBps: s.rateBps,
    collectedBy: s.rateBps === 0 ? "none" : "marketplace",
    authority: s.authority,
    note: `${s.note} Collected by the marketplace as facilitator; on the price before the tax.`,
    level: "state",
    region: `US-${s.state}`,
    ...(s.shipping === undefined ? {} : { basis: { shipping: s.shipping } }),
  };
}

/**
 * Brazil's ICMS on Remessa Conforme imports, by the state the goods ship to: 17% from the program's
 * start (ICMS agreement 81/2023), 20% from April 2025 in the states that raised it. "Por dentro":
 * the rate is on a base that contains the ICMS itself (goods, shipping, import tax and ICMS), so
 * ICMS = gross x rate, and the federal import tax is on what is left.
 */
const BR_ICMS: Array<{ state: string; from: string; rateBps: number }> = [
  { state: "SP", from: "2023-08-01", rateBps: 1700 },
  { state: "RJ", from: "2023-08-01", rateBps: 1700 },
  { state: "PR", from: "2023-08-01", rateBps: 1700 },
  { state: "MG", from: "2023-08-01", rateBps: 1700 },
  { state: "MG", from: "2025-04-01", rateBps: 2000 },
  { state: "BA", from: "2023-08-01", rateBps: 1700 },
  { state: "BA", from: "2025-04-01", rateBps: 2000 },
];

/**
 * Spanish territories outside the EU VAT territory (VAT Directive art. 6(1)(b) and (c)): goods sent
 * there are exports from the mainland or imports into the territory, taxed on import by the
 * territory's own tax (IGIC in the Canary Islands, IPSI in Ceuta and Melilla), never IOSS or the
 * deemed supplier's VAT: nothing for the marketplace to collect.
 */
const ES_OUTSIDE_VAT: Array<{ territory: string; name: string; tax: string }> = [
  { territory: "ES-CN", name: "the Canary Islands", tax: "IGIC" },
  { territory: "ES-CE", name: "Ceuta", tax: "IPSI" },
  { territory: "ES-ML", name: "Melilla", tax: "IPSI" },
];

function outsideVatTerritory(t: (typeof ES_OUTSIDE_VAT)[number]): TaxRule {
  return {
    id: `tax-${t.territory}-outside-vat-2021`,
    market: "ES",
    effectiveFrom: d("2021-07-01"),
    kind: "none",
    scheme: "EU_OUTSIDE_VAT_TERRITORY",
    rateBps: 0,
    collectedBy: "none",
    authority: "none",
    note: `Goods shipped to ${t.name}, outside the EU VAT territory (VAT Directive art. 6): no EU VAT, no IOSS; the local ${t.tax} is levied on import, not by the marketplace.`,
    territory: t.territory,
  };
}

function icms(s: (typeof BR_ICMS)[number]): TaxRule {
  return {
    id: `tax-BR-${s.state}-icms-${s.from.slice(0, 7)}`,
    market: "BR",
    effectiveFrom: d(s.from),
    kind: "vat",
    scheme: "BR_ICMS",
    rateBps: s.rateBps,
    collectedBy: "marketplace",
    authority: `BR-${s.state}-SEFAZ`,
    note: `ICMS of ${s.rateBps / 100}% for ${s.state} on imports under Remessa Conforme, collected at checkout, computed "por dentro" (included in its own base).`,
    supply: "import",
    level: "state",
    region: `BR-${s.state}`,
    // Collected at checkout only under Remessa Conforme: above its ceiling the goods are a formal
    // import and the ICMS is levied at customs clearance (ICMS agreement 81/2023).
    nationalScheme: "BR_REMESSA_CONFORME",
    computation: "included",
  };
}

export const TAX_RULES: TaxRule[] = [
  ...eu("ES", 2100),
  ...eu("FR", 2000),
  ...eu("DE", 1900),
  ...eu("PL", 2300),
  ...ES_OUTSIDE_VAT.map(outsideVatTerritory),
  {
    id: "tax-US-none-2020",
    market: "US",
    effectiveFrom: d("2020-01-01"),
    kind: "none",
    scheme: "US_NONE",
    rateBps: 0,
    collectedBy: "none",
    authority: "none",
    note: "No federal sales tax: the tax is the state's (the US_SALES_TAX rules below, by the state the goods ship to).",
  },
  ...US_STATES.map(usState),
  {
    id: "tax-BR-remessa-2024",
    market: "BR",
    effectiveFrom: d("2024-08-01"),
    kind: "import_duty",
    scheme: "BR_REMESSA_CONFORME",
    rateBps: 2000,
    collectedBy: "marketplace",
    authority: "BR-RFB",
    note: "Federal import tax of 20% on imported goods up to USD 50 (customs value: goods and shipping) under Remessa Conforme, collected at checkout; the state's ICMS comes on top (BR_ICMS).",
    supply: "import",
    maxValue: { currency: "USD", amount: 5_000n },
  },
  {
    id: "tax-BR-remessa-60-2024",
    market: "BR",
    effectiveFrom: d("2024-08-01"),
    kind: "import_duty",
    scheme: "BR_REMESSA_CONFORME",
    rateBps: 6000,
    collectedBy: "marketplace",
    authority: "BR-RFB",
    note: "Above USD 50 up to USD 3,000 (customs value): 60% of the goods' value less USD 20, collected at checkout under Remessa Conforme; the state's ICMS comes on top (BR_ICMS).",
    supply: "import",
    // The regime's ceiling (Portaria MF 1.086/2024): above it the goods are a formal import.
    maxValue: { currency: "USD", amount: 300_000n },
    deduction: { currency: "USD", amount: 2_000n },
  },
  {
    id: "tax-BR-import-customs-2024",
    market: "BR",
    effectiveFrom: d("2024-08-01"),
    kind: "import_duty",
    scheme: "BR_IMPORT_CUSTOMS",
    rateBps: 0,
    collectedBy: "none",
    authority: "BR-RFB",
    note: "Imports above USD 3,000 of customs value are outside Remessa Conforme: a formal import, whose duties (by tariff line) and ICMS are levied at customs clearance, not by the marketplace.",
    supply: "import",
  },
  ...BR_ICMS.map(icms),
  {
    id: "tax-KR-deminimis-2020",
    market: "KR",
    effectiveFrom: d("2020-01-01"),
    kind: "none",
    scheme: "KR_DE_MINIMIS",
    rateBps: 0,
    collectedBy: "none",
    authority: "none",
    note: "Personal imports up to USD 150 are exempt from duty and VAT; nothing for the marketplace to collect.",
    supply: "import",
    maxValue: { currency: "USD", amount: 15_000n },
  },
  {
    id: "tax-KR-import-customs-2020",
    market: "KR",
    effectiveFrom: d("2020-01-01"),
    kind: "vat",
    scheme: "KR_IMPORT_CUSTOMS",
    rateBps: 1000,
    collectedBy: "none",
    authority: "KR-CUSTOMS",
    note: "Personal imports above USD 150: duty and 10% import VAT are levied at customs clearance, not by the marketplace.",
    supply: "import",
  },
  {
    id: "tax-KR-vat-2020",
    market: "KR",
    effectiveFrom: d("2020-01-01"),
    kind: "vat",
    scheme: "KR_VAT",
    rateBps: 1000,
    collectedBy: "seller",
    authority: "KR-NTS",
    note: "Goods shipped from inside Korea (an overseas warehouse there) are a domestic supply by the seller: 10% VAT, which the seller (or its Korean importer) declares. Korea has no marketplace deemed-supplier rule for goods (the simplified registration of VAT Act art. 53-2 is for electronic services), so the marketplace collects nothing.",
    supply: "domestic",
  },
  {
    id: "tax-KR-principal-2020",
    market: "KR",
    effectiveFrom: d("2020-01-01"),
    kind: "vat",
    scheme: "KR_PRINCIPAL_VAT",
    rateBps: 1000,
    collectedBy: "marketplace",
    authority: "KR-NTS",
    note: "Full hosting from a Korean warehouse: the platform sells its own stock as principal, its own domestic supply, 10% VAT.",
    supply: "domestic",
    program: "full_hosting",
  },
  {
    id: "tax-SA-import-customs-2020",
    market: "SA",
    effectiveFrom: d("2020-07-01"),
    kind: "vat",
    scheme: "SA_IMPORT_CUSTOMS",
    rateBps: 1500,
    collectedBy: "none",
    authority: "SA-ZATCA-CUSTOMS",
    note: "Goods imported into Saudi Arabia: the 15% import VAT (and duty) is collected by customs at clearance from the importer, whatever the value; the marketplace is no deemed supplier for goods (the Implementing Regulations' marketplace rule covers electronic services), so it collects nothing.",
    supply: "import",
  },
  {
    id: "tax-SA-vat-2020",
    market: "SA",
    effectiveFrom: d("2020-07-01"),
    kind: "vat",
    scheme: "SA_VAT",
    rateBps: 1500,
    collectedBy: "seller",
    authority: "SA-ZATCA",
    note: "Goods shipped from inside Saudi Arabia are a domestic supply by the seller, who must register and declares the 15% VAT (since July 2020) itself; the marketplace collects nothing.",
    supply: "domestic",
  },
  {
    id: "tax-SA-principal-2020",
    market: "SA",
    effectiveFrom: d("2020-07-01"),
    kind: "vat",
    scheme: "SA_PRINCIPAL_VAT",
    rateBps: 1500,
    collectedBy: "marketplace",
    authority: "SA-ZATCA",
    note: "Full hosting from a Saudi warehouse: the platform sells its own stock as principal, its own domestic supply, 15% VAT.",
    supply: "domestic",
    program: "full_hosting",
  },
];

export const FEE_SCHEDULES: FeeSchedule[] = [
  {
    id: "pop-any-2024",
    program: "pop",
    market: "*",
    category: "*",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 800,
    paymentFeeBorneBy: "seller",
    fixedFees: noFixed,
    holdUntilConfirmation: true,
    autoConfirmDays: 15,
    reserve: null,
    referenceRates: {},
  },
  {
    id: "pop-any-2025h2",
    program: "pop",
    market: "*",
    category: "*",
    effectiveFrom: d("2025-07-01"),
    commissionBps: 700,
    paymentFeeBorneBy: "seller",
    fixedFees: noFixed,
    holdUntilConfirmation: true,
    autoConfirmDays: 15,
    reserve: null,
    referenceRates: {},
  },
  {
    id: "pop-electronics-2024",
    program: "pop",
    market: "*",
    category: "electronics",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 500,
    paymentFeeBorneBy: "seller",
    fixedFees: noFixed,
    holdUntilConfirmation: true,
    autoConfirmDays: 15,
    reserve: null,
    referenceRates: {},
  },
  {
    id: "full-any-2024",
    program: "full_hosting",
    market: "*",
    category: "*",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 0,
    paymentFeeBorneBy: "platform",
    fixedFees: noFixed,
    holdUntilConfirmation: false,
    autoConfirmDays: 0,
    reserve: null,
    referenceRates: { CNY: "7.1" },
  },
  {
    id: "semi-any-2024",
    program: "semi_hosting",
    market: "*",
    category: "*",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 300,
    paymentFeeBorneBy: "seller",
    fixedFees: { logistics: 450n, warehousing: 0n, fulfilment: 0n },
    holdUntilConfirmation: false,
    autoConfirmDays: 0,
    reserve: { bps: 1000, holdDays: 30 },
    referenceRates: {},
  },
  {
    id: "semi-BR-2024",
    program: "semi_hosting",
    market: "BR",
    category: "*",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 300,
    paymentFeeBorneBy: "seller",
    fixedFees: { logistics: 690n, warehousing: 0n, fulfilment: 0n },
    holdUntilConfirmation: false,
    autoConfirmDays: 0,
    reserve: { bps: 1000, holdDays: 30 },
    referenceRates: {},
  },
  {
    id: "overseas-any-2024",
    program: "overseas_hosting",
    market: "*",
    category: "*",
    effectiveFrom: d("2024-01-01"),
    commissionBps: 500,
    paymentFeeBorneBy: "seller",
    fixedFees: { logistics: 0n, warehousing: 120n, fulfilment: 280n },
    holdUntilConfirmation: false,
    autoConfirmDays: 0,
    reserve: { bps: 500, holdDays: 14 },
    referenceRates: {},
  },
];
