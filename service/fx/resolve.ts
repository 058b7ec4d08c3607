/**
 * Rate resolution: from a repository of published rates to the mid rate for from -> to at an
 * instant, with the path it took. Decisions (documented in README.md):
 * 1. Identity: from = to is rate 1 with no legs.
 * 2. Direct first: the latest (most recent validFrom, then asOf, then id) published from/to
 *    valid at the instant. Then its inverse: a published
 *    to/from, used as 1/rate. A direct rate wins over an inverse one even if the inverse is newer:
 *    the direct quote is what the source actually said for that direction.
 * 3. Otherwise triangulate through the pivot (USD by default): from -> pivot -> to, each leg
 *    direct or inverse, path "BRL->USD->CNY".
 * 4. A pair that HAS rates, none valid at the instant, is STALE and is not routed around through
 *    the pivot: a feed that stopped must be noticed, not silently replaced by another route.
 *    A pair with no rate at all at the instant falls through to the next option; when nothing
 *    is left, ENT_FX_RATE_NOT_FOUND names the pair, the instant and the pivot.
 * The mid rate is the exact product of the leg rates (inverses computed at 100 significant
 * digits), rounded ONCE, half-even, to RATE_DECIMALS places: the recorded rate is the applied one.
 */
import { MoneyDecimal, rateToString, type MoneyDecimal as Decimal } from "../money/index.js";
import { FxErrors } from "./errors.js";
import { pairKey, type FxRepository, type RateLookup } from "./repository.js";
import type { FxRate, RateLeg, ResolvedRate } from "./types.js";

/** Rates are stored as NUMERIC(38,18): 18 decimals, 20 integer digits. */
export const RATE_DECIMALS = 18;
export const RATE_INTEGER_DIGITS = 20;

export interface ResolveOptions {
  pivot: string;
  maxRateAgeSeconds: number | undefined;
}

type LegResult =
  | { kind: "ok"; leg: RateLeg; rate: Decimal }
  | { kind: "missing" }
  | { kind: "stale"; rate: FxRate; reason: string };

function legOf(row: FxRate, inverted: boolean): { leg: RateLeg; rate: Decimal } {
  const published = new MoneyDecimal(row.rate);
  return {
    leg: {
      from: inverted ? row.quote : row.base,
      to: inverted ? row.base : row.quote,
      rateId: row.id,
      publishedRate: row.rate,
      inverted,
      source: row.source,
      asOf: row.asOf.toISOString(),
      validUntil: row.validUntil.toISOString(),
    },
    rate: inverted ? new MoneyDecimal(1).div(published) : published,
  };
}

export class RateResolver {
  constructor(
    private readonly repo: FxRepository,
    private readonly options: ResolveOptions,
  ) {}

  private tooOld(row: FxRate, at: Date): string | null {
    const max = this.options.maxRateAgeSeconds;
    if (max === undefined) return null;
    const ageSeconds = (at.getTime() - row.asOf.getTime()) / 1000;
    return ageSeconds > max ? `rate ${row.id} as of ${row.asOf.toISOString()} is ${Math.floor(ageSeconds)}s old (max ${max}s)` : null;
  }

  /** One hop from -> to: the direct published rate, else the inverse of to/from. */
  private leg(found: Map<string, RateLookup>, from: string, to: string, at: Date): LegResult {
    const none: RateLookup = { valid: null, latestStarted: null };
    const direct = found.get(pairKey(from, to)) ?? none;
    const inverse = found.get(pairKey(to, from)) ?? none;
    let stale: LegResult | null = null;
    for (const [lookup, inverted] of [
      [direct, false],
      [inverse, true],
    ] as const) {
      if (lookup.valid !== null) {
        const old = this.tooOld(lookup.valid, at);
        if (old === null) return { kind: "ok", ...legOf(lookup.valid, inverted) };
        stale ??= { kind: "stale", rate: lookup.valid, reason: old };
      } else if (lookup.latestStarted !== null) {
        const r = lookup.latestStarted;
        stale ??= { kind: "stale", rate: r, reason: `rate ${r.id} (${r.base}/${r.quote}) was valid until ${r.validUntil.toISOString()}` };
      }
    }
    return stale ?? { kind: "missing" };
  }

  private staleError(from: string, to: string, at: Date, failed: Extract<LegResult, { kind: "stale" }>) {
    const r = failed.rate;
    return FxErrors.rateStale(`no valid ${from}->${to} rate at ${at.toISOString()}: ${failed.reason}`, {
      details: {
        pair: `${from}/${to}`,
        at: at.toISOString(),
        stalePair: `${r.base}/${r.quote}`,
        rateId: r.id,
        asOf: r.asOf.toISOString(),
        validUntil: r.validUntil.toISOString(),
      },
    });
  }

  async resolve(from: string, to: string, at: Date): Promise<ResolvedRate> {
    if (from === to) {
      return { from, to, rate: "1", path: from, legs: [], asOf: at.toISOString(), source: "identity", at: at.toISOString() };
    }
    const pivot = this.options.pivot;
    const viaPivot = from !== pivot && to !== pivot;
    // Every pair direction the decision may need, fetched in one round trip.
    const pairs: Array<[string, string]> = [
      [from, to],
      [to, from],
    ];
    if (viaPivot) pairs.push([from, pivot], [pivot, from], [pivot, to], [to, pivot]);
    const found = await this.repo.findRates(pairs, at);
    const single = this.leg(found, from, to, at);
    if (single.kind === "ok") return this.result(from, to, at, [single]);
    if (single.kind === "stale") throw this.staleError(from, to, at, single);

    if (viaPivot) {
      const first = this.leg(found, from, pivot, at);
      const second = this.leg(found, pivot, to, at);
      if (first.kind === "ok" && second.kind === "ok") return this.result(from, to, at, [first, second]);
      if (first.kind === "stale") throw this.staleError(from, to, at, first);
      if (second.kind === "stale") throw this.staleError(from, to, at, second);
    }
    throw FxErrors.rateNotFound(`no ${from}->${to} rate at ${at.toISOString()} (direct, inverse or through ${pivot})`, {
      details: { pair: `${from}/${to}`, at: at.toISOString(), pivot },
    });
  }

  private result(from: string, to: string, at: Date, legs: Array<{ leg: RateLeg; rate: Decimal }>): ResolvedRate {
    let exact = new MoneyDecimal(1);
    for (const l of legs) exact = exact.times(l.rate);
    const rate = exact.toDecimalPlaces(RATE_DECIMALS, MoneyDecimal.ROUND_HALF_EVEN);
    if (rate.isZero()) {
      throw FxErrors.rateNotFound(`the ${from}->${to} rate at ${at.toISOString()} is below 1e-${RATE_DECIMALS} and cannot be represented`, {
        details: { pair: `${from}/${to}`, at: at.toISOString() },
      });
    }
    const asOf = legs.map((l) => l.leg.asOf).sort()[0] ?? at.toISOString();
    return {
      from,
      to,
      rate: rateToString(rate),
      path: [from, ...legs.map((l) => l.leg.to)].join("->"),
      legs: legs.map((l) => l.leg),
      asOf,
      source: [...new Set(legs.map((l) => l.leg.source))].join(" + "),
      at: at.toISOString(),
    };
  }
}
