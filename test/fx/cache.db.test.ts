/**
 * The in-process cache of rate rows and quotes (service/fx/cache.ts) against the real tables:
 * a publish through this process is seen at once, another process's publish within the TTL and
 * not from a stale answer after it, truncated pairs fall back to the database with the same
 * answer, stale/missing stay errors exactly as without the cache, and a pair in use is re-read
 * ahead of its expiry without a lookup waiting for it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CachingFxRepository } from "../../service/fx/cache.js";
import { FxService, PrismaFxRepository, type PublishRateInput } from "../../service/fx/index.js";
import { isAppError } from "../../service/errors.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { gate, heldMethod } from "../support/held.js";

const T0 = new Date("2025-01-02T00:00:00.000Z");
const HOUR = 3_600_000;
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);
const rate = (
  base: string,
  quote: string,
  value: string,
  from: number,
  until: number,
  source = "cache-test",
): PublishRateInput => ({
  base,
  quote,
  rate: value,
  source,
  asOf: at(from),
  validFrom: at(from),
  validUntil: at(until),
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
  return "ok";
}

const kinds = await testDatabaseKinds();

describe.each(kinds)("FX rate cache on %s", (kind) => {
  let db: TestDatabase;
  const clock = { ms: at(1).getTime() };

  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  it("sees its own publishes at once and another process's only after the TTL", async () => {
    const repo = new CachingFxRepository(new PrismaFxRepository(db.prisma), { ttlMs: 60_000, clock: () => clock.ms });
    const mine = new FxService(repo);
    const other = new FxService(db.prisma, { rateCacheSeconds: 0 }); // another process, same database
    await mine.publishRates([rate("EUR", "USD", "1.1", 0, 24)]);
    expect((await mine.latestRate("EUR", "USD", at(2))).rate).toBe("1.1");
    // Own publish: invalidates at once, a later validFrom wins.
    await mine.publishRates([rate("EUR", "USD", "1.2", 1, 24)]);
    expect((await mine.latestRate("EUR", "USD", at(2))).rate).toBe("1.2");
    // Another process publishes a newer rate: the cache may answer from its rows until the TTL...
    await other.publishRates([rate("EUR", "USD", "1.3", 1.5, 24)]);
    expect((await mine.latestRate("EUR", "USD", at(2))).rate).toBe("1.2");
    expect((await other.latestRate("EUR", "USD", at(2))).rate).toBe("1.3");
    // ...and not one moment longer.
    clock.ms += 60_000;
    expect((await mine.latestRate("EUR", "USD", at(2))).rate).toBe("1.3");
    // Validity windows are judged per instant from the cached rows: before 1.5h the 1.2 row.
    expect((await mine.latestRate("EUR", "USD", at(1.2))).rate).toBe("1.2");
  });

  it("re-reads a pair in use ahead of its expiry in the background: no lookup waits for the read", async () => {
    let reads = 0;
    const answers = gate();
    // The database as the cache sees it, with its reads held back at will.
    const slow = heldMethod(new PrismaFxRepository(db.prisma), "recentRates", (recentRates) => async (pairs, limit) => {
      reads++;
      await answers.wait();
      return recentRates(pairs, limit);
    });
    const t = { ms: at(1).getTime() };
    const mine = new FxService(new CachingFxRepository(slow, { ttlMs: 1_000, clock: () => t.ms }));
    const other = new FxService(db.prisma, { rateCacheSeconds: 0 });
    await other.publishRates([rate("AUD", "USD", "0.66", 0, 24)]);
    expect((await mine.latestRate("AUD", "USD", at(2))).rate).toBe("0.66");
    expect(reads).toBe(1);

    // Another process publishes; at 3/4 of the TTL a lookup answers from the rows it has at once,
    // while the read it started is held back, and lookups meanwhile start no second read.
    await other.publishRates([rate("AUD", "USD", "0.67", 1.5, 24)]);
    const open = answers.hold();
    t.ms += 750;
    expect((await mine.latestRate("AUD", "USD", at(2))).rate).toBe("0.66");
    expect((await mine.latestRate("AUD", "USD", at(2))).rate).toBe("0.66");
    expect(reads).toBe(2);
    open();
    await vi.waitFor(async () => expect((await mine.latestRate("AUD", "USD", at(2))).rate).toBe("0.67"));
    expect(reads).toBe(2);

    // Past the TTL (nothing looked it up in between) the lookup waits for the read, as before:
    // rows older than ttlMs are never answered from.
    await other.publishRates([rate("AUD", "USD", "0.68", 1.7, 24)]);
    const late = answers.hold();
    t.ms += 1_000;
    let answered: string | null = null;
    const lookup = mine.latestRate("AUD", "USD", at(2)).then((r) => (answered = r.rate));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBeNull();
    late();
    await lookup;
    expect(answered).toBe("0.68");
    expect(reads).toBe(3);
  });

  it("keeps stale and missing rates errors, with the same codes as the database lookup", async () => {
    const cached = new FxService(new CachingFxRepository(new PrismaFxRepository(db.prisma), { ttlMs: 60_000 }));
    const direct = new FxService(db.prisma, { rateCacheSeconds: 0 });
    await cached.publishRates([rate("GBP", "USD", "1.25", 0, 2)]);
    for (const fx of [cached, direct]) {
      expect(await codeOf(fx.latestRate("GBP", "USD", at(3)))).toBe("ENT_FX_RATE_STALE");
      expect(await codeOf(fx.latestRate("GBP", "USD", at(-1)))).toBe("ENT_FX_RATE_NOT_FOUND");
      expect(await codeOf(fx.latestRate("CHF", "USD", at(1)))).toBe("ENT_FX_RATE_NOT_FOUND");
    }
  });

  it("answers like the database when a pair has more rows than it keeps", async () => {
    const inner = new PrismaFxRepository(db.prisma);
    const small = new FxService(new CachingFxRepository(inner, { ttlMs: 60_000, rowsPerPair: 2 }));
    const direct = new FxService(db.prisma, { rateCacheSeconds: 0 });
    // Hourly JPY rates with long windows: the oldest lie beyond the two cached rows.
    await small.publishRates(
      Array.from({ length: 6 }, (_, h) => rate("USD", "JPY", `15${h}`, h, h === 0 ? 100 : h + 1)),
    );
    for (const hours of [0.5, 1.5, 3.5, 5.5, 7, 50, 200]) {
      const [a, b] = await Promise.all([codeOrRate(small, hours), codeOrRate(direct, hours)]);
      expect(a, `at +${hours}h`).toBe(b);
    }
    async function codeOrRate(fx: FxService, hours: number): Promise<string> {
      try {
        return (await fx.latestRate("USD", "JPY", at(hours))).rate;
      } catch (e) {
        if (isAppError(e)) return e.code;
        throw e;
      }
    }
  });

  it("serves quotes by id from the cache, and unknown ids still as not found", async () => {
    const repo = new CachingFxRepository(new PrismaFxRepository(db.prisma), { ttlMs: 60_000 });
    const fx = new FxService(repo, { now: () => at(1) });
    const q = await fx.quote({ base: "EUR", quote: "USD", at: at(1.2) });
    const other = new FxService(db.prisma, { rateCacheSeconds: 0 });
    const fromDb = await other.getQuote(q.id);
    expect(await fx.getQuote(q.id)).toEqual(fromDb);
    expect(await codeOf(fx.getQuote("fxq_unknown"))).toBe("ENT_FX_QUOTE_NOT_FOUND");
  });
});
