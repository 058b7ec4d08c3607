/**
 * The places a capture's tax is decided by, checked against ISO 3166 rather than by shape: a code no
 * country has (`ZZ`) or one that is not ISO's (`EL`, Greece's VAT prefix) read as "outside the EU"
 * and booked an EU warehouse's sale as an import. And the places the law puts elsewhere than their
 * code suggests: Spain's Canary provinces (ES-TF, ES-GC) outside the EU VAT territory (VAT Directive
 * art. 6), Monaco inside France's (art. 7). Then who collects a US state tax, and Florida's shipping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Booked {
  settlement: {
    breakdown: {
      taxRuleId: string;
      taxCollectedBy?: string;
      stateTax?: { ruleId: string; region: string; collectedBy?: string };
      lines: { tax: string; stateTax: string };
    };
  };
  transaction: { postings: Array<{ account: string; amount: string }>; metadata: Record<string, string> };
}
interface Problem {
  code: string;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

describe.each(kinds)("tax places on %s", (kind) => {
  let h: Harness;
  let n = 0;
  const post = async (over: Record<string, unknown>) => {
    n += 1;
    return h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `place-${n}`, settlementId: `ORD-PLACE-${n}`, category: "home", ...over }));
  };
  const book = async (over: Record<string, unknown>): Promise<Booked> => {
    const r = await post(over);
    expect(r.statusCode, r.body).toBe(201);
    return json<Booked>(r);
  };
  /** The status, code and first field of a refusal, with its message. */
  const refusal = async (r: Awaited<ReturnType<typeof post>>) => {
    const p = json<Problem>(r);
    return [r.statusCode, problemCode(r), p.errors?.[0]?.field, p.errors?.[0]?.message];
  };
  const taxOf = (b: Booked) => [b.settlement.breakdown.taxRuleId, b.settlement.breakdown.lines.tax, b.transaction.postings.filter((p) => p.account.startsWith("tax:")).map((p) => `${p.account} ${p.amount}`)];

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
  });
  afterAll(async () => h.close());

  describe("when a country code is not an assigned ISO 3166-1 code", () => {
    it("refuses shipFrom EL (Greece's VAT prefix) naming GR, and ZZ, where a Greek warehouse's 300.00 EUR sale was booked as customs", async () => {
      const es = { market: "ES", currency: "EUR", amount: "30000", gatewayFee: "870", sellerId: "S-OVS-NB-01" };
      expect(await refusal(await post({ ...es, shipFrom: "EL" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", "shipFrom", expect.stringContaining("use GR")]);
      expect(await refusal(await post({ ...es, shipFrom: "ZZ" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", "shipFrom", expect.stringContaining("ISO 3166-1")]);
      // GR itself is in the EU: the non-EU seller's sale from there is the platform's as deemed supplier (art. 14a(2)), 21% inside 300.00.
      expect(taxOf(await book({ ...es, shipFrom: "GR" }))).toEqual(["tax-ES-deemed-supplier-2021", "5207", ["tax:ES:EU_DEEMED_SUPPLIER:payable 5207"]]);
      // Northern Ireland's XI is not ISO's but is in the EU VAT area for goods: still accepted.
      expect(taxOf(await book({ ...es, shipFrom: "XI" }))).toEqual(["tax-ES-deemed-supplier-2021", "5207", ["tax:ES:EU_DEEMED_SUPPLIER:payable 5207"]]);
    });

    it("refuses a seller whose homeCountry is EL or UK, naming the code to use, and one whose warehouse is ZZ", async () => {
      const seller = (over: Record<string, unknown>) => h.post("/v1/sellers", { id: `S-PLACE-${++n}`, name: "Athens Trading", program: "overseas_hosting", payoutCurrency: "EUR", homeCountry: "GR", warehouse: "GR", ...over }, h.keys.admin);
      expect(await refusal(await seller({ homeCountry: "EL" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_SCHEDULE", "homeCountry", expect.stringContaining("use GR")]);
      expect(await refusal(await seller({ homeCountry: "UK" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_SCHEDULE", "homeCountry", expect.stringContaining("use GB")]);
      expect(await refusal(await seller({ warehouse: "ZZ" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_SCHEDULE", "warehouse", expect.stringContaining("ISO 3166-1")]);
    });
  });

  describe("when the law puts a place elsewhere than its code", () => {
    it("Monaco is inside France's VAT territory (art. 7): shipped from there to France, a non-EU seller's sale is the deemed supplier's, not customs", async () => {
      expect(taxOf(await book({ market: "FR", currency: "EUR", amount: "30000", gatewayFee: "870", sellerId: "S-OVS-NB-01", shipFrom: "MC" }))).toEqual([
        "tax-FR-deemed-supplier-2021",
        "5000",
        ["tax:FR:EU_DEEMED_SUPPLIER:payable 5000"],
      ]);
    });

    it("a seller established in Monaco is established in the EU: its stock in Germany sold to Spain is its own VAT", async () => {
      const r = await h.post("/v1/sellers", { id: "S-PLACE-MC", name: "Monte-Carlo Maison", program: "overseas_hosting", payoutCurrency: "EUR", homeCountry: "MC", warehouse: "DE", gateways: ["adyen"] }, h.keys.admin);
      expect(r.statusCode, r.body).toBe(201);
      const b = await book({ market: "ES", currency: "EUR", amount: "10000", gatewayFee: "290", sellerId: "S-PLACE-MC" });
      expect([...taxOf(b), b.settlement.breakdown.taxCollectedBy]).toEqual(["tax-ES-seller-vat-2021", "0", [], "seller"]);
    });

    it("Spain: the Canary provinces ES-TF and ES-GC are the Canary Islands, outside the EU VAT territory; ES-ZZ is refused", async () => {
      const es = { market: "ES", currency: "EUR", amount: "10000", gatewayFee: "290", sellerId: "S-POP-SZ-01" };
      for (const region of ["ES-TF", "ES-GC"]) {
        expect(taxOf(await book({ ...es, shipToRegion: region })), region).toEqual(["tax-ES-CN-outside-vat-2021", "0", []]);
      }
      // A mainland province is mainland Spain: IOSS as without a region.
      expect(taxOf(await book({ ...es, shipToRegion: "ES-M" }))).toEqual(["tax-ES-ioss-2021", "1736", ["tax:ES:EU_IOSS:payable 1736"]]);
      expect(await refusal(await post({ ...es, shipToRegion: "ES-ZZ" }))).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", "shipToRegion", expect.stringContaining("ISO 3166-2")]);
    });

    it("US: a state code no state has is refused as invalid, not as a state without a rule", async () => {
      expect(await refusal(await post({ market: "US", currency: "USD", amount: "10000", gatewayFee: "100", sellerId: "S-SEMI-HZ-01", shipToRegion: "US-ZZ" }))).toEqual([
        400,
        "ENT_SETTLEMENT_INVALID_EVENT",
        "shipToRegion",
        expect.stringContaining("ISO 3166-2"),
      ]);
    });
  });

  describe("US state sales tax", () => {
    it("names the marketplace as collector of the state tax, beside the national rule's none", async () => {
      const b = await book({ market: "US", currency: "USD", amount: "10000", gatewayFee: "100", sellerId: "S-SEMI-HZ-01", shipToRegion: "US-NY" });
      expect([b.settlement.breakdown.taxCollectedBy, b.settlement.breakdown.stateTax?.collectedBy]).toEqual(["none", "marketplace"]);
      expect([b.transaction.metadata["tax.collectedBy"], b.transaction.metadata["tax.state.collectedBy"]]).toEqual(["none", "marketplace"]);
    });

    it("Florida taxes shipping the buyer cannot avoid (Fla. Admin. Code 12A-1.045(3)): 129.99 with 5.99 shipping carries 7.36, where California leaves it out", async () => {
      const us = { market: "US", currency: "USD", amount: "12999", gatewayFee: "100", sellerId: "S-SEMI-HZ-01", shipping: "599" };
      // 6% on the price before the tax, shipping included: 12999 x 6 / 106 = 735.8.
      expect((await book({ ...us, shipToRegion: "US-FL" })).settlement.breakdown.lines.stateTax).toBe("736");
      expect((await book({ ...us, shipToRegion: "US-CA" })).settlement.breakdown.lines.stateTax).toBe("838");
    });
  });
});
