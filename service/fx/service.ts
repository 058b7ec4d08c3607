/**
 * The FX service: publish rates, resolve the latest valid rate for a pair, lock quotes, convert.
 * Markup is applied in the platform's favour: the platform receives `base` and pays out `quote`,
 * so the all-in rate is mid x (1 - bps / 10 000), rounded DOWN to RATE_DECIMALS: the counterparty
 * never gets a rate better than mid minus markup. The converted amount is then rounded once with
 * the rounding mode the caller names (per settlement rule).
 */
import { randomUUID } from "node:crypto";
import { MoneyDecimal, convertMinor, currency, parseRounding, rateToString } from "../money/index.js";
import { FxErrors } from "./errors.js";
import type { FxRepository, NewFxRate } from "./repository.js";
import { RATE_DECIMALS, RATE_INTEGER_DIGITS, RateResolver } from "./resolve.js";
import type {
  ConvertInput,
  ConvertResult,
  FxQuote,
  FxRate,
  FxServiceOptions,
  PublishRateInput,
  QuoteRequest,
  ResolvedRate,
} from "./types.js";
import { PrismaFxRepository, type FxPrismaClient } from "./prisma-repository.js";
import { CachingFxRepository, hasPairRowSource } from "./cache.js";

const RATE_PATTERN = new RegExp(`^\\d{1,${RATE_INTEGER_DIGITS}}(\\.\\d{1,${RATE_DECIMALS}})?$`);
const MAX_PUBLISH_BATCH = 10_000;

function invalidRequest(field: string, message: string) {
  return FxErrors.invalidRequest(`${field}: ${message}`, { fields: [{ field, message }] });
}

function checkDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw invalidRequest(field, "must be a valid date-time");
  return value;
}

function checkBps(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= 10_000) {
    throw invalidRequest(field, "must be an integer number of basis points in 0..9999");
  }
  return value;
}

/** mid x (1 - bps/10 000), rounded down: exact decimal arithmetic, one rounding. */
export function allInRate(midRate: string, markupBps: number): string {
  const factor = new MoneyDecimal(10_000 - markupBps).div(10_000);
  return rateToString(new MoneyDecimal(midRate).times(factor).toDecimalPlaces(RATE_DECIMALS, MoneyDecimal.ROUND_DOWN));
}

/** An unknown quote id, and another gateway's quote, answer exactly alike. */
function quoteNotFound(id: string) {
  return FxErrors.quoteNotFound(`no FX quote ${JSON.stringify(String(id).slice(0, 64))}`, {
    fields: [{ field: "quoteId", message: "unknown quote id" }],
  });
}

export class FxService {
  private readonly resolver: RateResolver;
  readonly pivot: string;
  private readonly defaultMarkupBps: number;
  private readonly pairMarkupBps: ReadonlyMap<string, number>;
  private readonly quoteTtlMs: number;
  private readonly rateValidityMs: number;
  private readonly now: () => Date;

  /** Production constructor: rates and quotes live in the database behind `prisma`. */
  constructor(prisma: FxPrismaClient, options?: FxServiceOptions);
  /** Any repository (tests of the pure rules use an in-memory one). */
  constructor(repository: FxRepository, options?: FxServiceOptions);
  constructor(storage: FxPrismaClient | FxRepository, options: FxServiceOptions = {}) {
    const repo = "insertRates" in storage ? storage : new PrismaFxRepository(storage);
    const cacheSeconds = options.rateCacheSeconds ?? 1;
    if (!Number.isFinite(cacheSeconds) || cacheSeconds < 0) throw invalidRequest("rateCacheSeconds", "must be >= 0");
    // Rate rows and quotes are immutable evidence: caching them saves one or two queries per
    // conversion (cache.ts says why this is sound and how staleness is bounded).
    this.repo =
      cacheSeconds > 0 && hasPairRowSource(repo)
        ? new CachingFxRepository(repo, { ttlMs: Math.round(cacheSeconds * 1000) })
        : repo;
    this.pivot = currency(options.pivot ?? "USD", "pivot").code;
    this.defaultMarkupBps = checkBps(options.defaultMarkupBps ?? 0, "defaultMarkupBps");
    const pairs = new Map<string, number>();
    for (const [pair, bps] of Object.entries(options.pairMarkupBps ?? {})) {
      const [base = "", quote = "", ...rest] = pair.split("/");
      if (rest.length > 0) throw invalidRequest(`pairMarkupBps.${pair}`, "keys must be BASE/QUOTE");
      currency(base, `pairMarkupBps.${pair}`);
      currency(quote, `pairMarkupBps.${pair}`);
      pairs.set(`${base}/${quote}`, checkBps(bps, `pairMarkupBps.${pair}`));
    }
    this.pairMarkupBps = pairs;
    const ttl = options.quoteTtlSeconds ?? 60;
    if (!Number.isFinite(ttl) || ttl <= 0) throw invalidRequest("quoteTtlSeconds", "must be > 0");
    this.quoteTtlMs = Math.round(ttl * 1000);
    const validity = options.rateValiditySeconds ?? 86_400;
    if (!Number.isFinite(validity) || validity <= 0) throw invalidRequest("rateValiditySeconds", "must be > 0");
    this.rateValidityMs = Math.round(validity * 1000);
    const maxAge = options.maxRateAgeSeconds;
    if (maxAge !== undefined && (!Number.isFinite(maxAge) || maxAge <= 0))
      throw invalidRequest("maxRateAgeSeconds", "must be > 0");
    this.now = options.now ?? (() => new Date());
    this.resolver = new RateResolver(this.repo, { pivot: this.pivot, maxRateAgeSeconds: maxAge });
  }

  private readonly repo: FxRepository;

  /** The markup for a pair (direction matters), falling back to the default. */
  markupFor(base: string, quote: string): number {
    return this.pairMarkupBps.get(`${base}/${quote}`) ?? this.defaultMarkupBps;
  }

  /**
   * Publish rates. Idempotent per (base, quote, source, validFrom): republishing the same rate
   * returns the stored row; a different rate or window for the same key is ENT_FX_RATE_CONFLICT
   * (a correction is a new publication with a new validFrom, never an overwrite of evidence).
   */
  async publishRates(inputs: readonly PublishRateInput[]): Promise<FxRate[]> {
    // Array.isArray narrows a readonly array to any[]: keep the declared element type.
    const list: readonly PublishRateInput[] = inputs;
    if (!Array.isArray(inputs) || list.length === 0 || list.length > MAX_PUBLISH_BATCH) {
      throw invalidRequest("rates", `must be an array of 1..${MAX_PUBLISH_BATCH} rates`);
    }
    const rows = list.map((input, i) => this.validateRate(input, `rates.${i}`));
    const seen = new Map<string, number>();
    rows.forEach((r, i) => {
      const key = `${r.base}/${r.quote}/${r.source}/${r.validFrom.toISOString()}`;
      const first = seen.get(key);
      if (first !== undefined) {
        throw FxErrors.invalidRate(`rates.${i}: same pair, source and validFrom as rates.${first}`, {
          fields: [{ field: `rates.${i}`, message: `duplicates rates.${first}` }],
        });
      }
      seen.set(key, i);
    });
    // Each row is its own piece of evidence: rows of a batch that do not conflict are stored even
    // when another row conflicts, and re-sending the corrected batch is safe (idempotent per row).
    const stored = await this.repo.insertRates(rows);
    stored.forEach((s, i) => {
      const r = rows[i] as NewFxRate;
      if (
        s.rate !== r.rate ||
        s.asOf.getTime() !== r.asOf.getTime() ||
        s.validUntil.getTime() !== r.validUntil.getTime()
      ) {
        throw FxErrors.rateConflict(
          `rates.${i}: ${r.base}/${r.quote} from ${r.source} valid from ${r.validFrom.toISOString()} is already published as ${s.rate} (id ${s.id})`,
          {
            fields: [{ field: `rates.${i}`, message: "conflicts with a published rate" }],
            details: { existingId: s.id, existingRate: s.rate },
          },
        );
      }
    });
    return stored;
  }

  private validateRate(input: PublishRateInput, field: string): NewFxRate {
    const base = currency(input.base, `${field}.base`).code;
    const quote = currency(input.quote, `${field}.quote`).code;
    if (base === quote)
      throw FxErrors.invalidRate(`${field}: base and quote are both ${base}`, {
        fields: [{ field: `${field}.quote`, message: "must differ from base" }],
      });
    if (typeof input.rate !== "string" || !RATE_PATTERN.test(input.rate)) {
      throw FxErrors.invalidRate(
        `${field}.rate: must be a positive decimal string with at most ${RATE_INTEGER_DIGITS} integer digits and ${RATE_DECIMALS} decimals`,
        {
          fields: [
            {
              field: `${field}.rate`,
              message: `must be a decimal string like "5.4321" (at most ${RATE_DECIMALS} decimals)`,
            },
          ],
        },
      );
    }
    const rate = new MoneyDecimal(input.rate);
    if (rate.isZero())
      throw FxErrors.invalidRate(`${field}.rate: must be > 0`, {
        fields: [{ field: `${field}.rate`, message: "must be > 0" }],
      });
    if (typeof input.source !== "string" || input.source.trim() === "" || input.source.length > 200) {
      throw FxErrors.invalidRate(`${field}.source: must be a non-empty string of at most 200 characters`, {
        fields: [{ field: `${field}.source`, message: "required, at most 200 characters" }],
      });
    }
    const asOf = checkDate(input.asOf, `${field}.asOf`);
    const validFrom = input.validFrom === undefined ? asOf : checkDate(input.validFrom, `${field}.validFrom`);
    const validUntil =
      input.validUntil === undefined
        ? new Date(validFrom.getTime() + this.rateValidityMs)
        : checkDate(input.validUntil, `${field}.validUntil`);
    if (validUntil.getTime() <= validFrom.getTime()) {
      throw FxErrors.invalidRate(`${field}.validUntil: must be after validFrom`, {
        fields: [{ field: `${field}.validUntil`, message: "must be after validFrom" }],
      });
    }
    return { base, quote, rate: rateToString(rate), source: input.source, asOf, validFrom, validUntil };
  }

  /** The mid rate for base -> quote at `at` (default now): direct, inverse or through the pivot. */
  async latestRate(base: string, quote: string, at?: Date): Promise<ResolvedRate> {
    const from = currency(base, "base").code;
    const to = currency(quote, "quote").code;
    return this.resolver.resolve(from, to, at === undefined ? this.now() : checkDate(at, "at"));
  }

  /** Lock the current rate (plus markup) for base -> quote under an id, until createdAt + TTL. */
  async quote(request: QuoteRequest): Promise<FxQuote> {
    const base = currency(request.base, "base").code;
    const quote = currency(request.quote, "quote").code;
    const createdAt = this.now();
    const ratesAt = request.at === undefined ? createdAt : checkDate(request.at, "at");
    const markupBps =
      request.markupBps === undefined ? this.markupFor(base, quote) : checkBps(request.markupBps, "markupBps");
    const mid = await this.resolver.resolve(base, quote, ratesAt);
    const q: FxQuote = {
      id: `fxq_${randomUUID().replaceAll("-", "")}`,
      base,
      quote,
      midRate: mid.rate,
      markupBps,
      allInRate: allInRate(mid.rate, markupBps),
      path: mid.path,
      legs: mid.legs,
      rateIds: mid.legs.map((l) => l.rateId),
      ratesAt,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + this.quoteTtlMs),
      gateway: request.gateway ?? null,
    };
    await this.repo.insertQuote(q);
    return q;
  }

  /**
   * With `gateway`, only that gateway's quotes exist: another gateway's (or an operator's) quote
   * answers exactly as an unknown id, so a quote id reaches nothing outside its gateway.
   */
  async getQuote(id: string, scope: { gateway?: string | null } = {}): Promise<FxQuote> {
    const found = typeof id === "string" && id.length <= 64 ? await this.repo.findQuote(id) : null;
    if (found === null || (scope.gateway !== undefined && scope.gateway !== null && found.gateway !== scope.gateway)) throw quoteNotFound(id);
    return found;
  }

  /**
   * The quote `id` if it can price a `from`->`to` conversion at `at`: the pair matches and `at` is
   * before its expiry. With `gateway`, a quote another gateway took answers exactly as an unknown
   * id (an operator's quote, taken by no gateway, serves any). Settlement and `convert` both ask
   * here, so a quote is usable by one rule.
   */
  async usableQuote(id: string, use: { from: string; to: string; at: Date; gateway?: string | null }): Promise<FxQuote> {
    const q = await this.getQuote(id);
    if (use.gateway !== undefined && use.gateway !== null && q.gateway !== null && q.gateway !== use.gateway) throw quoteNotFound(id);
    if (q.base !== use.from || q.quote !== use.to) {
      throw FxErrors.quoteMismatch(`quote ${q.id} is for ${q.base}->${q.quote}, not ${use.from}->${use.to}`, {
        fields: [{ field: "quoteId", message: `quote is for ${q.base}->${q.quote}` }],
        details: { quoteId: q.id, quotePair: `${q.base}/${q.quote}`, requestedPair: `${use.from}/${use.to}` },
      });
    }
    // A quote holds its rate within its lifetime of when it starts: a quote taken now, until it
    // expires; one taken for a past instant (`at`), for as long after that instant. Without that
    // bound a quote for any past day would price any later event. An event may also precede the
    // start by up to the lifetime: the gateway's clock, which dates it, is not ours.
    const start = Math.min(q.ratesAt.getTime(), q.createdAt.getTime());
    const lifetime = q.expiresAt.getTime() - q.createdAt.getTime();
    const validUntil = start + lifetime;
    if (use.at.getTime() < start - lifetime) {
      const from = new Date(start - lifetime).toISOString();
      throw FxErrors.quoteNotYetValid(`quote ${q.id} holds from ${from}; conversion at ${use.at.toISOString()}`, {
        fields: [{ field: "quoteId", message: `quote holds from ${from}` }],
        details: { quoteId: q.id, validFrom: from, at: use.at.toISOString() },
      });
    }
    if (use.at.getTime() >= validUntil) {
      const until = new Date(validUntil).toISOString();
      throw FxErrors.quoteExpired(`quote ${q.id} expired at ${until}; conversion at ${use.at.toISOString()}`, {
        fields: [{ field: "quoteId", message: "quote expired" }],
        details: { quoteId: q.id, expiresAt: until, at: use.at.toISOString() },
      });
    }
    return q;
  }

  /**
   * Convert minor units of `from` into minor units of `to`. With a quote: the quote's all-in rate,
   * refused when the pair differs or `at` is at/after its expiry. Without: the rate valid at `at`
   * with the configured markup. The amount is rounded once, with the named mode.
   */
  async convert(input: ConvertInput): Promise<ConvertResult> {
    if (typeof input.amount !== "bigint") throw invalidRequest("amount", "must be a bigint of minor units");
    const from = currency(input.from, "from").code;
    const to = currency(input.to, "to").code;
    const rounding = parseRounding(input.rounding);
    const at = input.at === undefined ? this.now() : checkDate(input.at, "at");

    if (input.quoteId !== undefined) {
      const q = await this.usableQuote(input.quoteId, { from, to, at });
      return {
        amount: convertMinor(input.amount, from, to, q.allInRate, rounding),
        rate: q.allInRate,
        evidence: {
          quoteId: q.id,
          rateIds: q.rateIds,
          path: q.path,
          legs: q.legs,
          asOf: q.legs.map((l) => l.asOf).sort()[0] ?? q.ratesAt.toISOString(),
          source: q.legs.length === 0 ? "identity" : [...new Set(q.legs.map((l) => l.source))].join(" + "),
          markupBps: q.markupBps,
          midRate: q.midRate,
          rounding,
          at: at.toISOString(),
        },
      };
    }

    const { mid, markupBps, rate } = await this.conversionRate(from, to, at);
    return {
      amount: convertMinor(input.amount, from, to, rate, rounding),
      rate,
      evidence: {
        rateIds: mid.legs.map((l) => l.rateId),
        path: mid.path,
        legs: mid.legs,
        asOf: mid.asOf,
        source: mid.source,
        markupBps,
        midRate: mid.rate,
        rounding,
        at: mid.at,
      },
    };
  }

  /**
   * The rate an unquoted conversion uses at `at`: the mid rate in force, less the configured markup
   * for the pair (none within one currency). Every conversion without a quote takes it, so a
   * quote changes only WHEN the rate is fixed, never whether the markup is taken.
   */
  async conversionRate(from: string, to: string, at: Date): Promise<{ mid: ResolvedRate; markupBps: number; rate: string }> {
    const mid = await this.resolver.resolve(from, to, at);
    const markupBps = from === to ? 0 : this.markupFor(from, to);
    return { mid, markupBps, rate: allInRate(mid.rate, markupBps) };
  }
}
