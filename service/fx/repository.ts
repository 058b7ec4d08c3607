/**
 * Storage behind the FX service. The service holds the rules (validation, resolution, markup,
 * expiry); a repository only stores and finds rows. The production implementation is
 * `PrismaFxRepository` (prisma-repository.ts); tests of the pure rules may use an in-memory one.
 */
import type { FxQuote, FxRate } from "./types.js";

export interface NewFxRate {
  base: string;
  quote: string;
  rate: string;
  source: string;
  asOf: Date;
  validFrom: Date;
  validUntil: Date;
}

/**
 * "Latest" orders by validFrom, then asOf, then id, all descending: the most recent publication
 * wins, and an index on (base, quote, valid_from) finds it from the instant backwards.
 */
export interface RateLookup {
  /** The latest rate valid at the instant (validFrom <= at < validUntil). */
  valid: FxRate | null;
  /** The latest rate whose validity has started (validFrom <= at), valid or not: reports staleness. */
  latestStarted: FxRate | null;
}

/** "BASE/QUOTE" */
export type PairKey = string;
export const pairKey = (base: string, quote: string): PairKey => `${base}/${quote}`;

export interface FxRepository {
  /**
   * Store rates; a row with the same (base, quote, source, validFrom) is not stored twice. Returns
   * the stored row for every input, in input order (the existing row for a duplicate), so the
   * caller can tell a replay from a conflict.
   */
  insertRates(rows: readonly NewFxRate[]): Promise<FxRate[]>;
  /** Look up several pairs at one instant in one round trip; every asked pair is in the result. */
  findRates(pairs: ReadonlyArray<readonly [base: string, quote: string]>, at: Date): Promise<Map<PairKey, RateLookup>>;
  insertQuote(quote: FxQuote): Promise<void>;
  findQuote(id: string): Promise<FxQuote | null>;
}
