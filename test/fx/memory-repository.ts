/**
 * In-memory FxRepository for unit tests of the pure FX rules (resolution, markup, expiry,
 * scaling). It mirrors the SQL semantics of PrismaFxRepository (unique key, ordering); the DB
 * tests in fx.db.test.ts run the same rules against the real tables.
 */
import type { FxQuote, FxRate, FxRepository, NewFxRate, RateLookup } from "../../service/fx/index.js";

export class MemoryFxRepository implements FxRepository {
  readonly rates: FxRate[] = [];
  readonly quotes = new Map<string, FxQuote>();
  private nextId = 1;

  async insertRates(rows: readonly NewFxRate[]): Promise<FxRate[]> {
    return rows.map((r) => {
      const existing = this.rates.find(
        (s) => s.base === r.base && s.quote === r.quote && s.source === r.source && s.validFrom.getTime() === r.validFrom.getTime(),
      );
      if (existing !== undefined) return existing;
      const row: FxRate = { ...r, id: String(this.nextId++), publishedAt: new Date() };
      this.rates.push(row);
      return row;
    });
  }

  async findRates(pairs: ReadonlyArray<readonly [string, string]>, at: Date): Promise<Map<string, RateLookup>> {
    const t = at.getTime();
    const latestFirst = (a: FxRate, b: FxRate) =>
      b.validFrom.getTime() - a.validFrom.getTime() || b.asOf.getTime() - a.asOf.getTime() || Number(b.id) - Number(a.id);
    const out = new Map<string, RateLookup>();
    for (const [base, quote] of pairs) {
      const started = this.rates.filter((r) => r.base === base && r.quote === quote && r.validFrom.getTime() <= t).sort(latestFirst);
      out.set(`${base}/${quote}`, { valid: started.find((r) => r.validUntil.getTime() > t) ?? null, latestStarted: started[0] ?? null });
    }
    return out;
  }

  async insertQuote(q: FxQuote): Promise<void> {
    if (this.quotes.has(q.id)) throw new Error(`duplicate quote id ${q.id}`);
    this.quotes.set(q.id, structuredClone(q));
  }

  async findQuote(id: string): Promise<FxQuote | null> {
    const q = this.quotes.get(id);
    return q === undefined ? null : structuredClone(q);
  }
}
