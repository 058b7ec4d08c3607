import { describe, expect, it } from "vitest";
import { countryRefusal, isAssignedCountry, isSubdivisionOf, ISO_3166_ALPHA2, withinSubdivision } from "../../service/geo/iso3166.js";
import { ISO_3166_ALPHA2 as BANK_LIST } from "../../service/payouts/bank/countries.js";
import { inMarketArea, isTaxCountry } from "../../service/settlement/schedules.js";

describe("ISO 3166 lists", () => {
  it("holds one list of assigned codes, the bank rail's too", () => {
    expect(BANK_LIST).toBe(ISO_3166_ALPHA2);
    expect(["GR", "GB", "MC", "EL", "UK", "ZZ", "XI"].map(isAssignedCountry)).toEqual([true, true, true, false, false, false, false]);
    expect(["GR", "XI", "EL", "ZZ"].map(isTaxCountry)).toEqual([true, true, false, false]);
    expect([countryRefusal("EL"), countryRefusal("UK")]).toEqual([expect.stringContaining("use GR"), expect.stringContaining("use GB")]);
  });

  it("holds ISO 3166-2:ES's 17 communities, 2 cities and 50 provinces, the Canary provinces inside ES-CN", () => {
    const es = ["AN", "AR", "AS", "CB", "CE", "CL", "CM", "CN", "CT", "EX", "GA", "IB", "MC", "MD", "ML", "NC", "PV", "RI", "VC"];
    expect(es.every((c) => isSubdivisionOf(`ES-${c}`, "ES"))).toBe(true);
    expect(["ES-TF", "ES-GC", "ES-M", "ES-C", "ES-Z"].every((c) => isSubdivisionOf(c, "ES"))).toBe(true);
    expect(["ES-ZZ", "ES-XX", "US-ZZ", "BR-ZZ", "ES-TF0"].map((c) => isSubdivisionOf(c, c.slice(0, 2)))).toEqual([false, false, false, false, false]);
    expect([withinSubdivision("ES-TF", "ES-CN"), withinSubdivision("ES-GC", "ES-CN"), withinSubdivision("ES-CN", "ES-CN"), withinSubdivision("ES-M", "ES-CN")]).toEqual([true, true, true, false]);
    // A market whose list is not held is checked by shape only.
    expect(isSubdivisionOf("KR-11", "KR")).toBe(true);
  });

  it("puts Monaco in France's VAT territory, so inside the EU", () => {
    expect([inMarketArea("FR", "MC"), inMarketArea("ES", "MC"), inMarketArea("KR", "MC")]).toEqual([true, true, false]);
  });
});
