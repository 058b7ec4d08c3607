import { describe, expect, it } from "vitest";
import { FxService, allInRate, type FxServiceOptions, type PublishRateInput } from "../../service/fx/index.js";
import { multiply, convertMinor } from "../../service/money/index.js";
import { AppError } from "../../service/errors.js";
import { MemoryFxRepository } from "./memory-repository.js";
import { rejected as rejection } from "../support/app-errors.js";

const T0 = new Date("2025-01-02T00:00:00.000Z");
const HOUR = 3_600_000;
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

function rate(base: string, quote: string, value: string, extra: Partial<PublishRateInput> = {}): PublishRateInput {
  return { base, quote, rate: value, source: "test-feed", asOf: T0, validFrom: T0, validUntil: at(24), ...extra };
}

function service(options: FxServiceOptions = {}, clock = { now: at(1) }) {
  const repo = new MemoryFxRepository();
  const fx = new FxService(repo, { now: () => clock.now, ...options });
  return { fx, repo, clock };
}

describe("FxService (pure rules, in-memory repository)", () => {
  describe("rate resolution", () => {
    it("uses a direct rate", async () => {
      const { fx } = service();
      const [published] = await fx.publishRates([rate("USD", "BRL", "5.43")]);
      const r = await fx.latestRate("USD", "BRL", at(2));
      expect(r).toMatchObject({ rate: "5.43", path: "USD->BRL", source: "test-feed", asOf: T0.toISOString() });
      expect(r.legs).toEqual([expect.objectContaining({ rateId: published?.id, inverted: false, publishedRate: "5.43" })]);
    });

    it("uses the inverse when only the other direction is published", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "5")]);
      const r = await fx.latestRate("BRL", "USD", at(2));
      expect(r.rate).toBe("0.2");
      expect(r.legs[0]).toMatchObject({ from: "BRL", to: "USD", inverted: true, publishedRate: "5" });
      // 1/3 cannot be exact: rounded once, half-even, to 18 decimals.
      const { fx: fx3 } = service();
      await fx3.publishRates([rate("USD", "EUR", "3")]);
      expect((await fx3.latestRate("EUR", "USD", at(2))).rate).toBe("0.333333333333333333");
    });

    it("prefers the direct rate over a newer inverse", async () => {
      const { fx } = service();
      await fx.publishRates([rate("EUR", "USD", "1.1"), rate("USD", "EUR", "0.95", { asOf: at(1), validFrom: at(1) })]);
      expect((await fx.latestRate("EUR", "USD", at(2))).rate).toBe("1.1");
    });

    it("triangulates through the pivot and records the path with each leg", async () => {
      const { fx } = service();
      const [brl, cny] = await fx.publishRates([rate("USD", "BRL", "5"), rate("USD", "CNY", "7.2", { asOf: at(0.5), source: "other-feed" })]);
      const r = await fx.latestRate("BRL", "CNY", at(2));
      expect(r.path).toBe("BRL->USD->CNY");
      expect(r.rate).toBe("1.44"); // (1/5) x 7.2
      expect(r.legs.map((l) => [l.from, l.to, l.rateId, l.inverted])).toEqual([
        ["BRL", "USD", brl?.id, true],
        ["USD", "CNY", cny?.id, false],
      ]);
      expect(r.asOf).toBe(T0.toISOString()); // the older leg
      expect(r.source).toBe("test-feed + other-feed");
    });

    it("computes the cross rate exactly before the single rounding", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "3"), rate("USD", "JPY", "7")]);
      // 7/3 = 2.333... : one rounding of the exact quotient, not (1/3 rounded) x 7.
      expect((await fx.latestRate("BRL", "JPY", at(2))).rate).toBe("2.333333333333333333");
    });

    it("honours a configurable pivot", async () => {
      const { fx } = service({ pivot: "EUR" });
      await fx.publishRates([rate("EUR", "BRL", "6"), rate("EUR", "KRW", "1500")]);
      expect((await fx.latestRate("BRL", "KRW", at(2))).path).toBe("BRL->EUR->KRW");
      const { fx: usdPivot } = service();
      await usdPivot.publishRates([rate("EUR", "BRL", "6"), rate("EUR", "KRW", "1500")]);
      expect((await rejection(usdPivot.latestRate("BRL", "KRW", at(2)))).code).toBe("ENT_FX_RATE_NOT_FOUND");
    });

    it("is the identity for the same currency", async () => {
      const { fx } = service();
      expect(await fx.latestRate("JPY", "JPY", at(2))).toMatchObject({ rate: "1", path: "JPY", legs: [] });
    });

    it("picks the latest asOf among valid rates", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "5.1"), rate("USD", "BRL", "5.2", { asOf: at(1), validFrom: at(1) })]);
      expect((await fx.latestRate("USD", "BRL", at(0.5))).rate).toBe("5.1");
      expect((await fx.latestRate("USD", "BRL", at(2))).rate).toBe("5.2");
    });
  });

  describe("when the rate is missing or stale", () => {
    it("missing: ENT_FX_RATE_NOT_FOUND naming the pair and the instant", async () => {
      const { fx } = service();
      const e = await rejection(fx.latestRate("BRL", "KWD", at(2)));
      expect(e.code).toBe("ENT_FX_RATE_NOT_FOUND");
      expect(e.message).toContain("BRL->KWD");
      expect(e.details).toMatchObject({ pair: "BRL/KWD", at: at(2).toISOString(), pivot: "USD" });
    });

    it("before the first validFrom is missing, not stale", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "5")]);
      expect((await rejection(fx.latestRate("USD", "BRL", at(-1)))).code).toBe("ENT_FX_RATE_NOT_FOUND");
    });

    it("after validUntil: ENT_FX_RATE_STALE naming the pair, instant and the expired rate", async () => {
      const { fx } = service();
      const [r] = await fx.publishRates([rate("USD", "BRL", "5")]);
      const e = await rejection(fx.latestRate("USD", "BRL", at(24)));
      expect(e.code).toBe("ENT_FX_RATE_STALE");
      expect(e.details).toMatchObject({ pair: "USD/BRL", at: at(24).toISOString(), rateId: r?.id, validUntil: at(24).toISOString() });
    });

    it("a stale leg of a triangulation is stale, and a stale direct pair is not routed around", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "5"), rate("USD", "CNY", "7", { validUntil: at(2) })]);
      expect((await rejection(fx.latestRate("BRL", "CNY", at(3)))).details).toMatchObject({ pair: "BRL/CNY", stalePair: "USD/CNY" });
      await fx.publishRates([rate("BRL", "CNY", "1.4", { validUntil: at(2) }), rate("USD", "CNY", "7.1", { validFrom: at(2), asOf: at(2) })]);
      expect((await rejection(fx.latestRate("BRL", "CNY", at(3)))).details).toMatchObject({ stalePair: "BRL/CNY" });
    });

    it("maxRateAgeSeconds makes an old rate stale inside its window", async () => {
      const { fx } = service({ maxRateAgeSeconds: 3600 });
      await fx.publishRates([rate("USD", "BRL", "5")]);
      expect((await fx.latestRate("USD", "BRL", at(0.5))).rate).toBe("5");
      expect((await rejection(fx.latestRate("USD", "BRL", at(2)))).code).toBe("ENT_FX_RATE_STALE");
    });
  });

  describe("publishing", () => {
    it("is idempotent for the same rate and refuses a conflicting one", async () => {
      const { fx, repo } = service();
      const [a] = await fx.publishRates([rate("USD", "BRL", "5.430")]);
      const [b] = await fx.publishRates([rate("USD", "BRL", "5.43")]);
      expect(b?.id).toBe(a?.id);
      expect(repo.rates).toHaveLength(1);
      const e = await rejection(fx.publishRates([rate("USD", "BRL", "5.44")]));
      expect(e.code).toBe("ENT_FX_RATE_CONFLICT");
      expect(e.status).toBe(409);
    });

    it("rejects the same key twice in one batch", async () => {
      const { fx } = service();
      const e = await rejection(fx.publishRates([rate("USD", "BRL", "5"), rate("USD", "BRL", "5")]));
      expect(e.code).toBe("ENT_FX_INVALID_RATE");
      expect(e.fields?.[0]?.field).toBe("rates.1");
    });

    it.each([
      [{ rate: "-1" }, "rates.0.rate"],
      [{ rate: "0" }, "rates.0.rate"],
      [{ rate: "1.0000000000000000001" }, "rates.0.rate"],
      [{ rate: "1e3" }, "rates.0.rate"],
      [{ quote: "USD" }, "rates.0.quote"],
      [{ quote: "XAU" }, "rates.0.quote"],
      [{ source: "" }, "rates.0.source"],
      [{ validUntil: T0 }, "rates.0.validUntil"],
      [{ asOf: new Date(Number.NaN) }, "rates.0.asOf"],
    ] as Array<[Partial<PublishRateInput>, string]>)("rejects %o naming %s", async (patch, field) => {
      const { fx } = service();
      const e = await rejection(fx.publishRates([rate("USD", "BRL", "5", patch)]));
      expect(e.status).toBe(400);
      expect(e.fields?.[0]?.field).toBe(field);
    });

    it("defaults validFrom to asOf and validUntil to the configured validity", async () => {
      const { fx } = service({ rateValiditySeconds: 600 });
      const [r] = await fx.publishRates([{ base: "USD", quote: "BRL", rate: "5", source: "s", asOf: T0 }]);
      expect(r?.validFrom).toEqual(T0);
      expect(r?.validUntil).toEqual(new Date(T0.getTime() + 600_000));
    });
  });

  describe("quotes", () => {
    it("locks mid, markup and all-in rate with an expiry", async () => {
      const { fx, clock } = service({ defaultMarkupBps: 50, quoteTtlSeconds: 30 });
      const [r] = await fx.publishRates([rate("USD", "BRL", "5.43")]);
      const q = await fx.quote({ base: "USD", quote: "BRL" });
      expect(q).toMatchObject({ base: "USD", quote: "BRL", midRate: "5.43", markupBps: 50, allInRate: "5.40285", path: "USD->BRL", rateIds: [r?.id] });
      expect(q.id).toMatch(/^fxq_[0-9a-f]{32}$/);
      expect(q.createdAt).toEqual(clock.now);
      expect(q.expiresAt.getTime() - q.createdAt.getTime()).toBe(30_000);
      expect(await fx.getQuote(q.id)).toEqual(q);
    });

    it("per-pair markup overrides the default, direction matters", async () => {
      const { fx } = service({ defaultMarkupBps: 10, pairMarkupBps: { "BRL/USD": 100 } });
      await fx.publishRates([rate("USD", "BRL", "5")]);
      expect((await fx.quote({ base: "BRL", quote: "USD" })).markupBps).toBe(100);
      expect((await fx.quote({ base: "USD", quote: "BRL" })).markupBps).toBe(10);
      expect((await fx.quote({ base: "USD", quote: "BRL", markupBps: 0 })).allInRate).toBe("5");
    });

    it("unknown quote id is ENT_FX_QUOTE_NOT_FOUND", async () => {
      const { fx } = service();
      expect((await rejection(fx.getQuote("fxq_nope"))).code).toBe("ENT_FX_QUOTE_NOT_FOUND");
      const e = await rejection(fx.convert({ amount: 1n, from: "USD", to: "BRL", quoteId: "fxq_nope", rounding: "half-even" }));
      expect(e.code).toBe("ENT_FX_QUOTE_NOT_FOUND");
      expect(e.status).toBe(404);
    });

    it("the all-in rate is mid x (1 - bps) rounded down", () => {
      expect(allInRate("1", 1)).toBe("0.9999");
      expect(allInRate("0.333333333333333333", 25)).toBe("0.332499999999999999");
    });
  });

  describe("convert", () => {
    it("scales across exponents: BRL (2) -> KRW (0) -> KWD (3)", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "BRL", "5"), rate("USD", "KRW", "1450"), rate("USD", "KWD", "0.308")]);
      const toKrw = await fx.convert({ amount: 10_000n, from: "BRL", to: "KRW", at: at(2), rounding: "half-even" });
      expect(toKrw.rate).toBe("290"); // 1450 / 5
      expect(toKrw.amount).toBe(29_000n); // 100.00 BRL -> 29 000 KRW
      const toKwd = await fx.convert({ amount: toKrw.amount, from: "KRW", to: "KWD", at: at(2), rounding: "half-even" });
      // 29 000 KRW x (0.308 / 1450) = 6.16 KWD = 6 160 fils
      expect(toKwd.amount).toBe(6_160n);
      expect(toKwd.evidence.path).toBe("KRW->USD->KWD");
      const back = await fx.convert({ amount: 6_160n, from: "KWD", to: "BRL", at: at(2), rounding: "half-even" });
      expect(back.amount).toBe(10_000n);
    });

    it("names the rounding and applies it once", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "JPY", "150.5")]);
      // 0.01 USD x 150.5 = 1.505 JPY
      const r = (rounding: "half-even" | "up" | "down") => fx.convert({ amount: 1n, from: "USD", to: "JPY", at: at(2), rounding });
      expect((await r("half-even")).amount).toBe(2n);
      expect((await r("down")).amount).toBe(1n);
      expect((await r("up")).amount).toBe(2n);
      expect((await r("half-even")).evidence.rounding).toBe("half-even");
      expect((await rejection(fx.convert({ amount: 1n, from: "USD", to: "JPY", at: at(2), rounding: "nearest" as "up" }))).code).toBe("ENT_MONEY_INVALID_ROUNDING");
    });

    it("the evidence reproduces the amount", async () => {
      const { fx } = service({ defaultMarkupBps: 35 });
      await fx.publishRates([rate("USD", "BRL", "5.4321"), rate("USD", "CNY", "7.1234")]);
      const out = await fx.convert({ amount: 123_456_789n, from: "BRL", to: "CNY", at: at(2), rounding: "half-even" });
      expect(out.evidence).toMatchObject({ markupBps: 35, path: "BRL->USD->CNY", rounding: "half-even" });
      expect(out.evidence.rateIds).toHaveLength(2);
      expect(out.rate).toBe(allInRate(out.evidence.midRate, 35));
      expect(out.amount).toBe(multiply(123_456_789n, out.rate, "half-even"));
      expect(out.amount).toBe(convertMinor(123_456_789n, "BRL", "CNY", out.rate, "half-even"));
    });

    it("with a quote: uses the locked rate even after new rates, until expiry", async () => {
      const { fx, clock } = service({ defaultMarkupBps: 100, quoteTtlSeconds: 60 });
      await fx.publishRates([rate("USD", "BRL", "5")]);
      const q = await fx.quote({ base: "USD", quote: "BRL" });
      await fx.publishRates([rate("USD", "BRL", "6", { asOf: at(1), validFrom: at(1) })]);
      const out = await fx.convert({ amount: 10_000n, from: "USD", to: "BRL", at: new Date(clock.now.getTime() + 59_999), quoteId: q.id, rounding: "half-even" });
      expect(out.rate).toBe("4.95");
      expect(out.amount).toBe(49_500n);
      expect(out.evidence).toMatchObject({ quoteId: q.id, markupBps: 100, midRate: "5", rateIds: q.rateIds });
    });

    it("an expired quote is ENT_FX_QUOTE_EXPIRED; a quote for another pair is ENT_FX_QUOTE_MISMATCH", async () => {
      const { fx, clock } = service({ quoteTtlSeconds: 60 });
      await fx.publishRates([rate("USD", "BRL", "5")]);
      const q = await fx.quote({ base: "USD", quote: "BRL" });
      const e = await rejection(fx.convert({ amount: 100n, from: "USD", to: "BRL", at: q.expiresAt, quoteId: q.id, rounding: "half-even" }));
      expect(e.code).toBe("ENT_FX_QUOTE_EXPIRED");
      expect(e.details).toMatchObject({ quoteId: q.id, expiresAt: q.expiresAt.toISOString() });
      clock.now = new Date(q.expiresAt.getTime() + 1);
      expect((await rejection(fx.convert({ amount: 100n, from: "USD", to: "BRL", quoteId: q.id, rounding: "half-even" }))).code).toBe("ENT_FX_QUOTE_EXPIRED");
      expect((await rejection(fx.convert({ amount: 100n, from: "BRL", to: "USD", at: at(1), quoteId: q.id, rounding: "half-even" }))).code).toBe("ENT_FX_QUOTE_MISMATCH");
    });

    it("same currency: unchanged amount, no markup", async () => {
      const { fx } = service({ defaultMarkupBps: 100 });
      const out = await fx.convert({ amount: 12_345n, from: "EUR", to: "EUR", at: at(2), rounding: "half-even" });
      expect(out).toMatchObject({ amount: 12_345n, rate: "1", evidence: { markupBps: 0, path: "EUR", rateIds: [] } });
    });

    it("negative amounts convert symmetrically under a symmetric mode", async () => {
      const { fx } = service();
      await fx.publishRates([rate("USD", "JPY", "150.5")]);
      const pos = await fx.convert({ amount: 333n, from: "USD", to: "JPY", at: at(2), rounding: "half-even" });
      const neg = await fx.convert({ amount: -333n, from: "USD", to: "JPY", at: at(2), rounding: "half-even" });
      expect(neg.amount).toBe(-pos.amount);
    });

    it("rejects bad input naming the field", async () => {
      const { fx } = service();
      expect((await rejection(fx.convert({ amount: 1 as unknown as bigint, from: "USD", to: "BRL", rounding: "half-even" }))).fields?.[0]?.field).toBe("amount");
      expect((await rejection(fx.convert({ amount: 1n, from: "usd", to: "BRL", rounding: "half-even" }))).fields?.[0]?.field).toBe("from");
      expect((await rejection(fx.convert({ amount: 1n, from: "USD", to: "XXX", rounding: "half-even" }))).fields?.[0]?.field).toBe("to");
    });
  });

  it("validates options at construction", () => {
    const repo = new MemoryFxRepository();
    expect(() => new FxService(repo, { pivot: "XAU" })).toThrow(/XAU/);
    expect(() => new FxService(repo, { defaultMarkupBps: -1 })).toThrow(AppError);
    expect(() => new FxService(repo, { pairMarkupBps: { "USD-BRL": 5 } })).toThrow(AppError);
    expect(() => new FxService(repo, { quoteTtlSeconds: 0 })).toThrow(AppError);
  });
});
