/**
 * Who is liable for a sale's tax, as booked: the platform (a tax payable), the seller (nothing
 * booked, the sale recorded under the scheme with `taxCollectedBy: "seller"`), or customs (nothing
 * collected at the sale). Each case is the law's: EU VAT Directive art. 14a(2) and 6, Saudi and
 * Korean VAT on goods, Brazil's Remessa Conforme ceiling.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, csvRows, DAY, json, openHarness, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Booked {
  settlement: { breakdown: { taxRuleId: string; taxScheme: string; taxRateBps: number; taxCollectedBy?: string; stateTax?: unknown; lines: { tax: string; stateTax: string } } };
  transaction: { postings: Array<{ account: string; amount: string }>; metadata: Record<string, string> };
}

describe.each(kinds)("tax liability on %s", (kind) => {
  let h: Harness;
  let n = 0;
  const book = async (over: Record<string, unknown>): Promise<Booked> => {
    n += 1;
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `liab-${n}`, settlementId: `ORD-LIAB-${n}`, category: "home", ...over }));
    expect(r.statusCode, r.body).toBe(201);
    return json<Booked>(r);
  };
  /** The rule, scheme, liability and tax of a booked capture, and the tax payables its postings moved. */
  const taxOf = (b: Booked) => [
    b.settlement.breakdown.taxRuleId,
    b.settlement.breakdown.taxScheme,
    b.settlement.breakdown.taxCollectedBy,
    b.settlement.breakdown.lines.tax,
    b.transaction.postings.filter((p) => p.account.startsWith("tax:")).map((p) => `${p.account} ${p.amount}`),
  ];

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const seller = { id: "S-POP-DE-EU", name: "Berlin GmbH", program: "pop", payoutCurrency: "EUR", homeCountry: "DE", warehouse: "DE", gateways: ["adyen"] };
    expect((await h.post("/v1/sellers", seller, h.keys.admin)).statusCode).toBe(201);
  });
  afterAll(async () => h.close());

  it("EU: a seller established in the EU sells from its German stock to Spain: the seller's VAT, nothing booked to the platform; a non-EU seller's same sale is the platform's as deemed supplier", async () => {
    const es = { market: "ES", currency: "EUR", amount: "10000", gatewayFee: "290" };
    const eu = await book({ ...es, sellerId: "S-POP-DE-EU" });
    expect(taxOf(eu)).toEqual(["tax-ES-seller-vat-2021", "EU_SELLER_VAT", "seller", "0", []]);
    expect([eu.settlement.breakdown.taxRateBps, eu.transaction.metadata["tax.collectedBy"], eu.transaction.metadata["tax.taxableBase"]]).toEqual([0, "seller", "10000"]);
    // Art. 14a(2): the marketplace is the deemed supplier for a seller NOT established in the EU.
    const cn = await book({ ...es, sellerId: "S-OVS-NB-01", shipFrom: "DE" });
    expect(taxOf(cn)).toEqual(["tax-ES-deemed-supplier-2021", "EU_DEEMED_SUPPLIER", "marketplace", "1736", ["tax:ES:EU_DEEMED_SUPPLIER:payable 1736"]]);
    // Imports into the EU stay IOSS whoever sells (art. 14a(1) does not ask where the seller is).
    expect(taxOf(await book({ ...es, sellerId: "S-POP-DE-EU", shipFrom: "CN" }))).toEqual(["tax-ES-ioss-2021", "EU_IOSS", "marketplace", "1736", ["tax:ES:EU_IOSS:payable 1736"]]);
  });

  it("Spain: orders to the Canary Islands, Ceuta and Melilla are outside the EU VAT territory: no IOSS, no deemed supplier, nothing collected", async () => {
    for (const [region, over] of [
      ["ES-CN", { sellerId: "S-POP-SZ-01" }],
      ["ES-CN", { sellerId: "S-OVS-NB-01", shipFrom: "DE" }],
      ["ES-CE", { sellerId: "S-POP-SZ-01" }],
      ["ES-ML", { sellerId: "S-SEMI-HZ-01" }],
    ] as const) {
      const b = await book({ market: "ES", currency: "EUR", amount: "10000", gatewayFee: "290", shipToRegion: region, ...over });
      expect(taxOf(b), `${region} ${JSON.stringify(over)}`).toEqual([`tax-${region}-outside-vat-2021`, "EU_OUTSIDE_VAT_TERRITORY", "none", "0", []]);
    }
  });

  it("Saudi Arabia: imports pay VAT at customs, a seller's goods in the kingdom are its own VAT, only full hosting's own stock is the platform's", async () => {
    const sa = { market: "SA", currency: "SAR", amount: "10000", gatewayFee: "290" };
    expect(taxOf(await book({ ...sa, sellerId: "S-POP-SZ-01" }))).toEqual(["tax-SA-import-customs-2020", "SA_IMPORT_CUSTOMS", "none", "0", []]);
    expect(taxOf(await book({ ...sa, sellerId: "S-FULL-GZ-01", supplyPrice: "100" }))).toEqual(["tax-SA-import-customs-2020", "SA_IMPORT_CUSTOMS", "none", "0", []]);
    expect(taxOf(await book({ ...sa, sellerId: "S-OVS-NB-01", shipFrom: "SA" }))).toEqual(["tax-SA-vat-2020", "SA_VAT", "seller", "0", []]);
    // 15% inside 100.00 SAR: 10000 x 15 / 115 = 1304, the platform's output VAT as principal.
    expect(taxOf(await book({ ...sa, sellerId: "S-FULL-GZ-01", supplyPrice: "100", shipFrom: "SA" }))).toEqual([
      "tax-SA-principal-2020",
      "SA_PRINCIPAL_VAT",
      "marketplace",
      "1304",
      ["tax:SA:SA_PRINCIPAL_VAT:payable 1304"],
    ]);
  });

  it("Korea: a POP seller's goods in a Korean warehouse are its own 10% VAT; full hosting's own stock is the platform's", async () => {
    const kr = { market: "KR", currency: "KRW", amount: "100000", gatewayFee: "2900", shipFrom: "KR" };
    expect(taxOf(await book({ ...kr, sellerId: "S-POP-SZ-01" }))).toEqual(["tax-KR-vat-2020", "KR_VAT", "seller", "0", []]);
    // 100000 x 10 / 110 = 9091.
    expect(taxOf(await book({ ...kr, sellerId: "S-FULL-GZ-01", supplyPrice: "100" }))).toEqual(["tax-KR-principal-2020", "KR_PRINCIPAL_VAT", "marketplace", "9091", ["tax:KR:KR_PRINCIPAL_VAT:payable 9091"]]);
  });

  it("Brazil: above Remessa Conforme's USD 3,000 ceiling the order is a formal import: neither the import tax nor the ICMS is collected at checkout", async () => {
    // 40,000.00 BRL to Sao Paulo: under the regime the goods would be 20,825.39 BRL, about USD 3,450.
    const big = await book({ sellerId: "S-POP-SZ-01", amount: "4000000", gatewayFee: "0", shipToRegion: "BR-SP" });
    expect(taxOf(big)).toEqual(["tax-BR-import-customs-2024", "BR_IMPORT_CUSTOMS", "none", "0", []]);
    expect([big.settlement.breakdown.stateTax, big.settlement.breakdown.lines.stateTax]).toEqual([undefined, "0"]);
    // 30,000.00 BRL (goods about USD 2,600) is still inside the regime: 60% less USD 20, and ICMS 17%.
    const inside = await book({ sellerId: "S-POP-SZ-01", amount: "3000000", gatewayFee: "0", shipToRegion: "BR-SP" });
    expect([inside.settlement.breakdown.taxRuleId, inside.settlement.breakdown.lines.stateTax]).toEqual(["tax-BR-remessa-60-2024", "510000"]);
  });

  it("names a state tax's region on every row of its CSV return", async () => {
    await book({ market: "US", currency: "USD", sellerId: "S-SEMI-HZ-01", amount: "10000", gatewayFee: "100", shipToRegion: "US-CA" });
    const csv = async (q: string) => csvRows((await h.get(`/v1/tax/returns?${q}&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z&format=csv`)).body);
    const ca = await csv("market=US&region=US-CA&scheme=US_SALES_TAX");
    const at = ca[0]!.indexOf("region");
    expect(at).toBeGreaterThan(0);
    expect(ca.slice(1).map((row) => [row[4], row[at]])).toEqual([
      ["opening", "US-CA"],
      ["capture", "US-CA"],
      ["collected", "US-CA"],
      ["given_back", "US-CA"],
      ["total", "US-CA"],
      ["rate", "US-CA"],
      ["closing", "US-CA"],
    ]);
    // A national tax's return has no region: the column is empty.
    expect((await csv("market=ES&scheme=EU_IOSS")).slice(1).every((row) => row[at] === "")).toBe(true);
  });

  it("lists the sales of a scheme the platform does not collect, with a tax of 0, the rule's rate and the liable party; a collected scheme's lines name the platform", async () => {
    // The EU seller's sale of the first case (liab-1, 100.00 EUR, the seller's own VAT), refunded in part.
    const refund = await h.signedPost(
      "/v1/settlements/events",
      capture({ type: "refund", gatewayEventId: "liab-1-r", settlementId: "ORD-LIAB-1", originalEventId: "liab-1", sellerId: "S-POP-DE-EU", market: "ES", currency: "EUR", category: "home", amount: "2500", gatewayFee: "0", occurredAt: `${DAY}T12:00:00.000Z` }),
    );
    expect(refund.statusCode, refund.body).toBe(201);
    interface Line { what: string; settlementId: string; gross: string; tax: string; taxableBase: string | null; ruleId: string; rateBps: number; collectedBy: string; sellerId: string; shipFrom: string | null; shipTo: string }
    interface Body { opening: string; collected: string; refunded: string; closing: string; lines: Line[]; bases: { collected: { taxableBase: string }; refunded: { taxableBase: string }; net: { taxableBase: string } }; byRate: Array<{ rateBps: number; lines: number; collected: string }> }
    const on = (q: string) => `/v1/tax/returns?${q}&from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`;
    const seller = json<Body>(await h.get(on("market=ES&scheme=EU_SELLER_VAT")));
    const row = (l: Line) => [l.what, l.settlementId, l.gross, l.tax, l.taxableBase, l.ruleId, l.rateBps, l.collectedBy, l.sellerId, l.shipFrom, l.shipTo];
    expect(seller.lines.map(row)).toEqual([
      ["capture", "ORD-LIAB-1", "10000", "0", "10000", "tax-ES-seller-vat-2021", 2100, "seller", "S-POP-DE-EU", "DE", "ES"],
      ["refund", "ORD-LIAB-1", "-2500", "0", "-2500", "tax-ES-seller-vat-2021", 2100, "seller", "S-POP-DE-EU", "DE", "ES"],
    ]);
    // Nothing payable: the platform collected nothing; the bases count on the side each sale would.
    expect([seller.opening, seller.collected, seller.refunded, seller.closing]).toEqual(["0", "0", "0", "0"]);
    expect([seller.bases.collected.taxableBase, seller.bases.refunded.taxableBase, seller.bases.net.taxableBase]).toEqual(["10000", "2500", "7500"]);
    expect(seller.byRate).toMatchObject([{ rateBps: 2100, lines: 2, collected: "0" }]);
    // Imports levied at customs, and the territories outside the VAT area: collected by no one at the sale.
    const sa = json<Body>(await h.get(on("market=SA&scheme=SA_IMPORT_CUSTOMS")));
    expect(sa.lines.map((l) => [l.what, l.sellerId, l.tax, l.collectedBy])).toEqual([
      ["capture", "S-POP-SZ-01", "0", "none"],
      ["capture", "S-FULL-GZ-01", "0", "none"],
    ]);
    const canary = json<Body>(await h.get(on("market=ES&scheme=EU_OUTSIDE_VAT_TERRITORY")));
    expect(canary.lines.map((l) => [l.shipTo, l.collectedBy])).toEqual([["ES-CN", "none"], ["ES-CN", "none"], ["ES-CE", "none"], ["ES-ML", "none"]]);
    // A collected scheme: the platform's postings only, each naming the platform, the seller and the route.
    const deemed = json<Body>(await h.get(on("market=ES&scheme=EU_DEEMED_SUPPLIER")));
    expect(deemed.lines.map(row)).toEqual([["capture", "ORD-LIAB-2", "10000", "1736", "8264", "tax-ES-deemed-supplier-2021", 2100, "marketplace", "S-OVS-NB-01", "DE", "ES"]]);
    // The CSV carries the same, in columns appended after the region.
    const rows = csvRows((await h.get(`${on("market=ES&scheme=EU_SELLER_VAT")}&format=csv`)).body);
    const col = (name: string) => rows[0]!.indexOf(name);
    expect(rows[0]!.slice(-5)).toEqual(["region", "collected_by", "seller_id", "ship_from", "ship_to"]);
    expect(rows.slice(1).map((r) => [r[4], r[col("tax_minor")], r[col("collected_by")], r[col("seller_id")], r[col("ship_from")], r[col("ship_to")]])).toEqual([
      ["opening", "0", "", "", "", ""],
      ["capture", "0", "seller", "S-POP-DE-EU", "DE", "ES"],
      ["refund", "0", "seller", "S-POP-DE-EU", "DE", "ES"],
      ["collected", "0", "", "", "", ""],
      ["given_back", "0", "", "", "", ""],
      ["total", "0", "", "", "", ""],
      ["rate", "0", "", "", "", ""],
      ["closing", "0", "", "", "", ""],
    ]);
  });
});
