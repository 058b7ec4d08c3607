/**
 * In-process cache of published rate rows, per pair. Sound because fx_rates is append-only
 * (rows are evidence, never updated: see the fx_guards migration), so a cached row never
 * changes; the only thing a cache can miss is a NEWER row:
 * - published through this process: `invalidate()` runs after every publish, and a load that
 *   started before the publish is discarded (generation counter), so it is seen at once;
 * - published by another process: seen after at most `ttlMs` (bounded staleness, documented in
 *   the module README). A rate published for an instant is normally published ahead of it.
 *   A pair in use is re-read in the background from `refreshMs` on, so lookups do not wait for it.
 * The lookup rules are unchanged: `pick` is the same "latest valid" / "latest started" choice as
 * the SQL in PrismaFxRepository.findRates (validFrom, asOf, id descending), and stale or missing
 * rates still fail in RateResolver exactly as before.
 */
import { pairKey, type FxRepository, type NewFxRate, type PairKey, type RateLookup } from "./repository.js";
import type { FxQuote, FxRate } from "./types.js";

/** A repository that can list a pair's most recent rows (latest first), for the cache. */
export interface PairRowSource {
  /** Up to `limit` rows per pair, ordered validFrom, asOf, id descending. */
  recentRates(
    pairs: ReadonlyArray<readonly [base: string, quote: string]>,
    limit: number,
  ): Promise<Map<PairKey, FxRate[]>>;
}

interface Entry {
  loadedAt: number;
  rows: FxRate[];
  /** More rows exist than were loaded: a lookup answered by none of the loaded rows goes to the database. */
  truncated: boolean;
}

/** id is a BIGINT as a decimal string: compare numerically without BigInt allocation. */
function idDesc(a: string, b: string): number {
  return a.length !== b.length ? b.length - a.length : a < b ? 1 : a > b ? -1 : 0;
}

export function latestFirst(a: FxRate, b: FxRate): number {
  return b.validFrom.getTime() - a.validFrom.getTime() || b.asOf.getTime() - a.asOf.getTime() || idDesc(a.id, b.id);
}

function pick(rows: readonly FxRate[], t: number): RateLookup {
  let latestStarted: FxRate | null = null;
  for (const r of rows) {
    if (r.validFrom.getTime() > t) continue;
    latestStarted ??= r;
    if (r.validUntil.getTime() > t) return { valid: r, latestStarted };
  }
  return { valid: null, latestStarted };
}

export interface RateCacheOptions {
  /** How long a pair's rows are trusted for publishes made by OTHER processes. */
  ttlMs: number;
  /** Age at which a pair looked up is re-read in the background, before it expires. Default 3/4 of ttlMs. */
  refreshMs?: number;
  /** Rows kept per pair (the most recent); older instants beyond them are looked up in the database. */
  rowsPerPair?: number;
  /** Quotes kept by id (immutable rows); the oldest entry is dropped first. */
  maxQuotes?: number;
  clock?: () => number;
}

export class CachingFxRepository implements FxRepository {
  private readonly entries = new Map<PairKey, Entry>();
  private readonly loading = new Map<PairKey, Promise<void>>();
  private readonly quotes = new Map<string, FxQuote>();
  private generation = 0;
  private readonly ttlMs: number;
  private readonly refreshMs: number;
  private readonly rowsPerPair: number;
  private readonly maxQuotes: number;
  private readonly clock: () => number;

  constructor(
    private readonly inner: FxRepository & PairRowSource,
    options: RateCacheOptions,
  ) {
    this.ttlMs = options.ttlMs;
    this.refreshMs = Math.min(options.ttlMs, options.refreshMs ?? Math.round((options.ttlMs * 3) / 4));
    this.rowsPerPair = options.rowsPerPair ?? 1_000;
    this.maxQuotes = options.maxQuotes ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Forget every cached rate row (after a publish). Quotes stay: they are immutable. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }

  async insertRates(rows: readonly NewFxRate[]): Promise<FxRate[]> {
    try {
      return await this.inner.insertRates(rows);
    } finally {
      // Even when the insert failed part-way some rows may be committed: forget everything.
      this.invalidate();
    }
  }

  async findRates(
    pairs: ReadonlyArray<readonly [base: string, quote: string]>,
    at: Date,
  ): Promise<Map<PairKey, RateLookup>> {
    const now = this.clock();
    const missing: Array<readonly [string, string]> = [];
    const ageing: Array<readonly [string, string]> = [];
    for (const p of pairs) {
      const key = pairKey(p[0], p[1]);
      const e = this.entries.get(key);
      const age = e === undefined ? Infinity : now - e.loadedAt;
      if (age >= this.ttlMs || age < 0) missing.push(p);
      else if (age >= this.refreshMs && !this.loading.has(key)) ageing.push(p);
    }
    // Re-read ahead of expiry, in the background: this lookup and those meanwhile use rows at most
    // ttlMs old, and under steady traffic none waits for a load. A failed one is retried by the first
    // lookup past ttlMs, which waits for it and gets its error.
    if (ageing.length > 0) this.load(ageing).catch(() => undefined);
    if (missing.length > 0) await this.load(missing);
    const t = at.getTime();
    const result = new Map<PairKey, RateLookup>();
    const fallback: Array<readonly [string, string]> = [];
    for (const [b, q] of pairs) {
      const key = pairKey(b, q);
      const e = this.entries.get(key);
      if (e === undefined) {
        fallback.push([b, q]); // invalidated while loading: ask the database
        continue;
      }
      const found = pick(e.rows, t);
      if (e.truncated && (found.valid === null || found.latestStarted === null)) fallback.push([b, q]);
      else result.set(key, found);
    }
    if (fallback.length > 0) for (const [k, v] of await this.inner.findRates(fallback, at)) result.set(k, v);
    return result;
  }

  /** Concurrent lookups of the same pairs share one load. */
  private async load(pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const waits: Promise<void>[] = [];
    const fresh: Array<readonly [string, string]> = [];
    for (const p of pairs) {
      const inflight = this.loading.get(pairKey(p[0], p[1]));
      if (inflight !== undefined) waits.push(inflight);
      else fresh.push(p);
    }
    if (fresh.length > 0) {
      const generation = this.generation;
      const startedAt = this.clock();
      const job = this.inner.recentRates(fresh, this.rowsPerPair + 1).then((found) => {
        if (generation !== this.generation) return; // a publish happened meanwhile: this answer may miss it
        for (const [b, q] of fresh) {
          const key = pairKey(b, q);
          const rows = found.get(key) ?? [];
          this.entries.set(key, {
            loadedAt: startedAt,
            rows: rows.slice(0, this.rowsPerPair),
            truncated: rows.length > this.rowsPerPair,
          });
        }
      });
      const done = job.finally(() => {
        for (const [b, q] of fresh) if (this.loading.get(pairKey(b, q)) === done) this.loading.delete(pairKey(b, q));
      });
      for (const [b, q] of fresh) this.loading.set(pairKey(b, q), done);
      waits.push(done);
    }
    await Promise.all(waits);
  }

  async insertQuote(quote: FxQuote): Promise<void> {
    await this.inner.insertQuote(quote);
    this.remember(quote);
  }

  async findQuote(id: string): Promise<FxQuote | null> {
    const hit = this.quotes.get(id);
    if (hit !== undefined) return hit;
    const found = await this.inner.findQuote(id);
    // Only found quotes are kept: an unknown id may be inserted by another process a moment later.
    if (found !== null) this.remember(found);
    return found;
  }

  private remember(q: FxQuote): void {
    if (this.quotes.size >= this.maxQuotes) {
      const oldest = this.quotes.keys().next();
      if (oldest.done !== true) this.quotes.delete(oldest.value);
    }
    this.quotes.set(q.id, q);
  }
}

export function hasPairRowSource(r: FxRepository): r is FxRepository & PairRowSource {
  return typeof (r as Partial<PairRowSource>).recentRates === "function";
}
