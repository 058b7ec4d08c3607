/**
 * FX storage in the shared database (tables fx_rates, fx_quotes; see the `// ---- fx ----`
 * section of service/db/schema.prisma). Rates are NUMERIC(38,18) in SQL and canonical decimal
 * strings in code; ids are BIGINT in SQL and decimal strings in code.
 */
import { Prisma, type PrismaClient } from "../db/generated/client.js";
import { MoneyDecimal, rateToString } from "../money/index.js";
import { pairKey, type FxRepository, type NewFxRate, type PairKey, type RateLookup } from "./repository.js";
import type { FxQuote, FxRate, RateLeg } from "./types.js";

/** The part of the Prisma client the FX module uses (a transaction client fits too). */
export type FxPrismaClient = Pick<PrismaClient, "fxRate" | "fxQuote" | "$queryRaw">;

type RateRow = Prisma.FxRateModel;
type QuoteRow = Prisma.FxQuoteModel;

// createMany and the OR-lookup stay well under PostgreSQL's 65 535 bind parameters per statement.
const INSERT_CHUNK = 1_000;
const LOOKUP_CHUNK = 500;

function toRate(row: RateRow): FxRate {
  return {
    id: row.id.toString(),
    base: row.base,
    quote: row.quote,
    rate: row.rate.toFixed(),
    source: row.source,
    asOf: row.asOf,
    validFrom: row.validFrom,
    validUntil: row.validUntil,
    publishedAt: row.publishedAt,
  };
}

function toQuote(row: QuoteRow): FxQuote {
  if (!Array.isArray(row.legs)) throw new Error(`fx_quotes.legs of ${row.id} is not an array`);
  return {
    id: row.id,
    base: row.base,
    quote: row.quote,
    midRate: row.midRate.toFixed(),
    markupBps: row.markupBps,
    allInRate: row.allInRate.toFixed(),
    path: row.path,
    // Written only by insertQuote below from RateLeg[]; the table is not writable through the API.
    legs: row.legs as unknown as RateLeg[],
    rateIds: row.rateIds.map((id) => id.toString()),
    ratesAt: row.ratesAt,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    gateway: row.gateway,
  };
}

interface RawRateRow {
  id: string;
  base: string;
  quote: string;
  rate: string;
  source: string;
  as_of: Date | string;
  valid_from: Date | string;
  valid_until: Date | string;
  published_at: Date | string;
  is_valid: boolean;
}

// Drivers differ in how they hand back timestamptz from raw queries (Date or ISO text).
const toDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function fromRaw(row: RawRateRow): FxRate {
  return {
    id: row.id,
    base: row.base,
    quote: row.quote,
    // NUMERIC(38,18)::text keeps trailing zeros; the canonical spelling drops them.
    rate: rateToString(new MoneyDecimal(row.rate)),
    source: row.source,
    asOf: toDate(row.as_of),
    validFrom: toDate(row.valid_from),
    validUntil: toDate(row.valid_until),
    publishedAt: toDate(row.published_at),
  };
}

const keyOf = (r: { base: string; quote: string; source: string; validFrom: Date }) =>
  `${r.base}/${r.quote}/${r.validFrom.toISOString()}/${r.source}`;

export class PrismaFxRepository implements FxRepository {
  constructor(private readonly prisma: FxPrismaClient) {}

  async insertRates(rows: readonly NewFxRate[]): Promise<FxRate[]> {
    // ON CONFLICT DO NOTHING (skipDuplicates) makes concurrent publishers of the same rate safe:
    // whoever loses the race reads the winner's row and compares it below.
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await this.prisma.fxRate.createMany({
        data: rows.slice(i, i + INSERT_CHUNK).map((r) => ({ ...r })),
        skipDuplicates: true,
      });
    }
    const found = new Map<string, FxRate>();
    for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
      const chunk = rows.slice(i, i + LOOKUP_CHUNK);
      const stored = await this.prisma.fxRate.findMany({
        where: { OR: chunk.map((r) => ({ base: r.base, quote: r.quote, source: r.source, validFrom: r.validFrom })) },
      });
      for (const s of stored) found.set(keyOf(s), toRate(s));
    }
    return rows.map((r) => {
      const s = found.get(keyOf(r));
      if (s === undefined) throw new Error(`fx rate ${keyOf(r)} neither inserted nor found`);
      return s;
    });
  }

  /**
   * Raw SQL because this is on the conversion hot path: the resolver needs up to six pair
   * directions (direct, inverse, both legs through the pivot, each both ways) and the ORM would
   * take up to twelve round trips; this is one. Per pair, two LIMIT 1 probes walk
   * fx_rates_pair_valid_from_idx backwards from the instant: the latest valid row and the latest
   * started row (for the staleness report).
   */
  async findRates(
    pairs: ReadonlyArray<readonly [base: string, quote: string]>,
    at: Date,
  ): Promise<Map<PairKey, RateLookup>> {
    const result = new Map<PairKey, RateLookup>();
    for (const [b, q] of pairs) result.set(pairKey(b, q), { valid: null, latestStarted: null });
    if (pairs.length === 0) return result;
    const instant = at.toISOString();
    const values = Prisma.join(pairs.map(([b, q]) => Prisma.sql`(${b}::varchar, ${q}::varchar)`));
    const rows = await this.prisma.$queryRaw<RawRateRow[]>`
      SELECT r.id::text AS id, r.base, r.quote, r.rate::text AS rate, r.source,
             r.as_of, r.valid_from, r.valid_until, r.published_at, r.is_valid
      FROM (VALUES ${values}) AS p(base, quote)
      CROSS JOIN LATERAL (
        (SELECT f.*, true AS is_valid FROM fx_rates f
          WHERE f.base = p.base AND f.quote = p.quote
            AND f.valid_from <= ${instant}::timestamptz AND f.valid_until > ${instant}::timestamptz
          ORDER BY f.valid_from DESC, f.as_of DESC, f.id DESC LIMIT 1)
        UNION ALL
        (SELECT f.*, false AS is_valid FROM fx_rates f
          WHERE f.base = p.base AND f.quote = p.quote AND f.valid_from <= ${instant}::timestamptz
          ORDER BY f.valid_from DESC, f.as_of DESC, f.id DESC LIMIT 1)
      ) AS r`;
    for (const row of rows) {
      const lookup = result.get(pairKey(row.base, row.quote));
      if (lookup === undefined) continue;
      const rate = fromRaw(row);
      if (row.is_valid) lookup.valid = rate;
      else lookup.latestStarted = rate;
    }
    return result;
  }

  /**
   * The cache's loader (cache.ts): the most recent `limit` rows of each pair in one round trip,
   * in the same order findRates uses (validFrom, asOf, id descending).
   */
  async recentRates(
    pairs: ReadonlyArray<readonly [base: string, quote: string]>,
    limit: number,
  ): Promise<Map<PairKey, FxRate[]>> {
    const result = new Map<PairKey, FxRate[]>();
    for (const [b, q] of pairs) result.set(pairKey(b, q), []);
    if (pairs.length === 0) return result;
    const values = Prisma.join(pairs.map(([b, q]) => Prisma.sql`(${b}::varchar, ${q}::varchar)`));
    const rows = await this.prisma.$queryRaw<RawRateRow[]>`
      SELECT r.id::text AS id, r.base, r.quote, r.rate::text AS rate, r.source,
             r.as_of, r.valid_from, r.valid_until, r.published_at, true AS is_valid
      FROM (VALUES ${values}) AS p(base, quote)
      CROSS JOIN LATERAL (
        SELECT f.* FROM fx_rates f
        WHERE f.base = p.base AND f.quote = p.quote
        ORDER BY f.valid_from DESC, f.as_of DESC, f.id DESC LIMIT ${limit}::int
      ) AS r
      ORDER BY r.base, r.quote, r.valid_from DESC, r.as_of DESC, r.id DESC`;
    for (const row of rows) result.get(pairKey(row.base, row.quote))?.push(fromRaw(row));
    return result;
  }

  async insertQuote(q: FxQuote): Promise<void> {
    await this.prisma.fxQuote.create({
      data: {
        id: q.id,
        base: q.base,
        quote: q.quote,
        midRate: q.midRate,
        markupBps: q.markupBps,
        allInRate: q.allInRate,
        path: q.path,
        legs: q.legs as unknown as Prisma.InputJsonValue,
        rateIds: q.rateIds.map((id) => BigInt(id)),
        ratesAt: q.ratesAt,
        createdAt: q.createdAt,
        expiresAt: q.expiresAt,
        gateway: q.gateway,
      },
    });
  }

  async findQuote(id: string): Promise<FxQuote | null> {
    const row = await this.prisma.fxQuote.findUnique({ where: { id } });
    return row === null ? null : toQuote(row);
  }
}
