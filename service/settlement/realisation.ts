/**
 * FX where it really happens. A capture converts the buyer's currency B at the mid rate into the
 * clearing account fx:B-USD (plan.ts): the account then holds a position, the B the acquirer will
 * convert (gross less its fee, less the tax kept in B) against the USD it was booked at.
 *
 * - A gateway's REMITTANCE clears the receivable in B at the rate the acquirer really applied
 *   (USD received / B cleared) and realises FX: the B leaves the position at its average booked
 *   rate; its value at the published mid rate less that is `platform:fx:realised_gain_loss`, and
 *   what arrived less the mid value is the acquirer's spread, `platform:expense:fx_conversion`.
 *   What exceeds the open short position is the tax the captures kept in B, converted by the
 *   acquirer too: it goes to fx:B-USD:tax at mid (nothing to realise; B to buy back), its spread
 *   with the rest.
 * - A REVALUATION restates every open position at the published mid rate at an instant: the
 *   account fx:X-USD:revaluation is brought to the position's unrealised result (so that the
 *   clearing account and it are worth zero together at that rate) against
 *   `platform:fx:unrealised_gain_loss`. Each revaluation books only the change from the one
 *   before, which is the previous one reversed and the new one booked, netted in one entry.
 *
 * Both read a balance and then post: a capture posted in between moves the position a little, so
 * the realised/unrealised split can be off by that, never the books (whatever a remittance leaves
 * in the clearing account, the next revaluation finds). Calls are serialised per currency in this
 * process. Every figure used is in the transaction's metadata, so the entry is its own evidence.
 */
import { createHash } from "node:crypto";
import { KeyedLock } from "../concurrency.js";
import { isAppError } from "../errors.js";
import type { ResolvedRate } from "../fx/types.js";
import { LedgerErrors } from "../ledger/errors.js";
import { postedDebitBalance } from "../ledger/lookup.js";
import { bookOnce } from "./once.js";
import type { Account, AccountFilter, Balance, JournalTransaction, Ledger, PostingInput } from "../ledger/types.js";
import { convertMinor, divideRounded, exponentOrNull, impliedRate, rateFractionToString } from "../money/index.js";
import { Accounts, accountSpec, SETTLEMENT_CURRENCY } from "./accounts.js";
import { SettlementErrors } from "./errors.js";
import { DEFAULT_EVENT_LIMITS } from "./validate.js";

const USD = SETTLEMENT_CURRENCY;
/** The skip code of a position in a token (the vault's USDC), which is no ISO 4217 currency: never restated. */
export const NOT_A_CURRENCY = "not_iso_4217";
/** What a remittance id may be (1-128 of A-Z a-z 0-9 . _ : -): a gateway payout batch must fit it. */
export const REMITTANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** How far an acquirer's applied rate may be from the published mid rate (10%: spreads are a few percent at most). */
export const MAX_RATE_DEVIATION_BPS = 1_000;

export interface RemittanceInput {
  gateway: string;
  /** The gateway's own reference of the payout (batch) to the platform's bank. */
  remittanceId: string;
  /** The receivable's currency, cleared by `amount`. */
  currency: string;
  amount: bigint;
  /** What reached the bank: USD (the settlement currency). */
  settledCurrency: string;
  settledAmount: bigint;
  occurredAt: Date;
}

export interface Remittance extends RemittanceInput {
  transactionId: string;
  /** USD per unit of `currency` the acquirer applied (settledAmount / amount), 10 significant places. */
  appliedRate: string;
  /** The position's average booked rate the cleared amount left at (null: no open position to close). */
  bookedRate: string | null;
  /** The USD value the cleared amount had in the books: the closed part at its booked rate, the tax part at mid. */
  bookedUsd: bigint;
  /**
   * The realised exchange difference (platform:fx:realised_gain_loss): the closed part's value at
   * the mid rate less its booked value, gain positive. A remittance booked before the acquirer's
   * spread was kept apart: settledAmount - bookedUsd (its `conversion` 0).
   */
  realised: bigint;
  /**
   * The acquirer's conversion spread (platform:expense:fx_conversion): settledAmount less the mid
   * value of all it converted, negative a cost. settledAmount = bookedUsd + realised + conversion.
   */
  conversion: bigint;
  /** The published mid rate at occurredAt, for comparison (null when none is published). */
  midRate: string | null;
  bookedAt: Date;
}

export interface RevaluationLine {
  currency: string;
  /** fx:X-USD's balance with fx:X-USD:tax's, in X and in USD at the instant (debit positive). */
  position: bigint;
  positionUsd: bigint;
  midRate: string;
  source: string;
  /** The rate's own instant (the oldest leg's `asOf`): when its source observed it. */
  asOf: string;
  /**
   * How old the rate was at the revaluation's instant: `at` less `asOf`, in whole seconds (a daily
   * figure dated 00:00 UTC is 86 399 s old at that day's last instant). Kept in the booked
   * revaluation's metadata (`reval.<X>.rateAgeSeconds`); a period close refuses a closing rate
   * older than its limit (service/closing.ts).
   */
  rateAgeSeconds: number;
  /** The unrealised result of the position at the mid rate (gain positive), cumulative. */
  unrealised: bigint;
  /** What this revaluation booked: unrealised minus the previous revaluation's figure. */
  change: bigint;
}

export interface Revaluation {
  transactionId: string | null;
  at: Date;
  lines: RevaluationLine[];
  /**
   * Open positions left out: the fx module's code (ENT_FX_RATE_STALE, ENT_FX_RATE_NOT_FOUND, ...;
   * `not_iso_4217` for a token) and why in words. Kept in the booked revaluation's metadata
   * (`reval.<X>.skipped`, `.skippedReason`), so a revaluation read back says what it left out.
   */
  skipped: Array<{ currency: string; code: string; reason: string }>;
  bookedAt: Date | null;
}

/** A position a revaluation plan leaves out, with the position (X minor units then) a period close keeps; not in the booked revaluation's metadata. */
export type SkippedPosition = Revaluation["skipped"][number] & { position: bigint };

/** A skipped position as a booked revaluation says it (and reads it back). */
const asBooked = ({ currency, code, reason }: SkippedPosition): Revaluation["skipped"][number] => ({ currency, code, reason });

export interface RealisationRates {
  latestRate(base: string, quote: string, at?: Date): Promise<ResolvedRate>;
}

type RealisationLedger = Pick<Ledger, "post" | "balance" | "postedAtEffective" | "listAccounts" | "listTransactions" | "periodCloses">;

/** What a revaluation plan reads of the journal: the ledger's own reads, or those of the transaction holding the journal head lock (a fenced period close). */
export type RevaluationJournal = Pick<Ledger, "listAccounts" | "balance" | "postedAtEffective">;

/**
 * The X->USD rates in force at one instant, resolved before a plan that reads the journal under the
 * head lock: the rates live in another store, read on another connection, which the lock's holder
 * must not wait for (PGlite has one connection; on PostgreSQL the writers queued on the lock hold
 * the pool's). A currency the plan meets that was not resolved (a position opened since) is noted in
 * `missing`, and the plan ends with ClosingRatesMissing: the caller resolves it too and plans again.
 */
export class ClosingRates implements RealisationRates {
  readonly #resolved = new Map<string, { rate: ResolvedRate } | { error: unknown }>();
  readonly missing = new Set<string>();

  constructor(
    readonly at: Date,
    private readonly source: RealisationRates,
  ) {}

  /** Resolves `currencies` (those not resolved yet) at `at`, a refusal (no rate in force, stale) kept as the answer. */
  async resolve(currencies: Iterable<string>): Promise<void> {
    for (const X of currencies) {
      if (this.#resolved.has(X)) continue;
      try {
        this.#resolved.set(X, { rate: await this.source.latestRate(X, USD, this.at) });
      } catch (error) {
        this.#resolved.set(X, { error });
      }
    }
  }

  /** Resolves what a plan found missing, for the next plan. */
  async resolveMissing(): Promise<void> {
    const missing = [...this.missing];
    this.missing.clear();
    await this.resolve(missing);
  }

  async latestRate(base: string, quote: string, at?: Date): Promise<ResolvedRate> {
    const r = quote === USD && at?.getTime() === this.at.getTime() ? this.#resolved.get(base) : undefined;
    if (r === undefined) {
      this.missing.add(base);
      throw new Error(`${base}->${quote} at ${at?.toISOString() ?? "now"} was not resolved before the plan`);
    }
    if ("error" in r) throw r.error;
    return r.rate;
  }
}

/** A plan under the head lock met positions whose rates were not resolved before it: resolve them, and plan again. */
export class ClosingRatesMissing extends Error {
  constructor(readonly currencies: string[]) {
    super(`closing rates not resolved before the plan: ${currencies.join(", ")}`);
  }
}

const REMITTANCE_KIND = "remittance";
const REVALUATION_KIND = "fx_revaluation";

export class FxRealisation {
  readonly #locks = new KeyedLock();

  constructor(
    private readonly ledger: RealisationLedger,
    private readonly rates: RealisationRates,
    private readonly now: () => Date = () => new Date(),
    /** How old a remittance's `occurredAt` may be: the events' limit (EVENT_MAX_AGE_DAYS), as it clears their captures. */
    private readonly maxAgeMs: number = DEFAULT_EVENT_LIMITS.maxAgeMs,
  ) {}

  /** Books a gateway's remittance; the same one again answers `exists`, another body under its id a conflict. */
  async remit(input: RemittanceInput): Promise<{ status: "created" | "exists"; remittance: Remittance }> {
    this.checkRemittance(input);
    const key = `remittance:${input.gateway}:${input.remittanceId}`;
    const hash = remittanceHash(input);
    return this.#locks.run(`fx:${input.currency}`, async () => {
      const r = await bookOnce({
        find: () => this.findRemittance(input.gateway, input.remittanceId),
        hash,
        conflict: (tx) => SettlementErrors.remittanceConflict(`${key} was booked with another body`, { details: { transactionId: tx.id } }),
        read: remittanceOf,
        post: async () => {
          const receivableAccount = Accounts.gatewayReceivable(input.gateway);
          const exceeds = (receivable: bigint, cause?: unknown) =>
            SettlementErrors.remittanceExceedsReceivable(`remittance ${input.remittanceId} clears ${input.amount} ${input.currency}, the receivable holds ${receivable}`, {
              fields: [{ field: "amount", message: `at most ${receivable} ${input.currency} minor units are receivable from ${input.gateway}` }],
              details: { receivable: receivable.toString() },
              ...(cause === undefined ? {} : { cause }),
            });
          const receivable = await this.posted(receivableAccount, input.currency);
          if (input.amount > receivable) throw exceeds(receivable);
          const plan = await this.planRemittance(input);
          try {
            return await this.ledger.post({
              idempotencyKey: key,
              postings: plan.postings,
              accounts: accountsOf(plan.postings),
              effectiveAt: input.occurredAt,
              description: `remittance ${input.remittanceId} from ${input.gateway}: ${input.amount} ${input.currency} -> ${input.settledAmount} ${input.settledCurrency}`,
              metadata: { ...plan.metadata, requestHash: hash },
              // The read above is this process's (its lock is per process): the ledger holds the
              // receivable where the remittance is booked, so another instance's remittance or a cash
              // resolution meanwhile never takes it below zero together with this one.
              notBelowZero: [{ account: receivableAccount, currency: input.currency }],
            });
          } catch (e) {
            if (isAppError(e) && e.code === LedgerErrors.insufficientFunds.code && e.details?.["account"] === receivableAccount) {
              const available = e.details["available"];
              throw exceeds(typeof available === "string" ? BigInt(available) : 0n, e);
            }
            throw e;
          }
        },
      });
      return { status: r.status, remittance: r.value };
    });
  }

  async getRemittance(gateway: string, remittanceId: string): Promise<Remittance> {
    const tx = REMITTANCE_ID.test(remittanceId) ? await this.findRemittance(gateway, remittanceId) : null;
    if (tx === null) throw SettlementErrors.remittanceNotFound(`no remittance ${remittanceId} from ${gateway}`);
    return remittanceOf(tx);
  }

  /** What a gateway owes the platform now, per currency (the posted receivable, debit positive). */
  async receivables(gateway: string): Promise<Array<{ currency: string; amount: bigint }>> {
    const out: Array<{ currency: string; amount: bigint }> = [];
    for await (const a of this.accounts({ ownerType: "gateway", ownerId: gateway })) {
      if (a.code === Accounts.gatewayReceivable(gateway)) out.push({ currency: a.currency, amount: a.balance.posted });
    }
    return out.sort((a, b) => a.currency.localeCompare(b.currency));
  }

  /**
   * Restates every open fx:X-USD position at the published mid rate at `at` (idempotent per
   * instant). `nothing`: no position moved or every one was skipped, so nothing was booked and none
   * is recorded (the same call again says so again; it does not count as the latest revaluation).
   */
  async revalue(at: Date): Promise<{ status: "created" | "exists" | "nothing"; revaluation: Revaluation }> {
    if (at.getTime() > this.now().getTime()) {
      throw SettlementErrors.invalidRevaluation(`revaluation at ${at.toISOString()} is in the future`, { fields: [{ field: "at", message: "must not be in the future" }] });
    }
    const { closedBefore } = await this.ledger.periodCloses();
    if (closedBefore !== null && at.getTime() < closedBefore.getTime()) {
      throw SettlementErrors.revaluationOutOfOrder(`the period before ${closedBefore.toISOString()} is closed`, {
        fields: [{ field: "at", message: `must be at or after ${closedBefore.toISOString()}, where the open period starts` }],
      });
    }
    return this.#locks.run("fx:revaluation", async () => {
      const last = (await this.ledger.listTransactions({ metadata: { kind: REVALUATION_KIND }, limit: 1 })).items[0];
      let idempotencyKey = `fx-revaluation:${at.toISOString()}`;
      let planned: Awaited<ReturnType<FxRealisation["planRevaluation"]>> | undefined;
      if (last !== undefined) {
        const lastAt = new Date(last.metadata.revaluationAt ?? last.effectiveAt);
        if (lastAt.getTime() > at.getTime()) {
          throw SettlementErrors.revaluationOutOfOrder(`a revaluation at ${lastAt.toISOString()} is already booked`, {
            fields: [{ field: "at", message: `must be after ${lastAt.toISOString()}, the latest revaluation` }],
          });
        }
        if (lastAt.getTime() === at.getTime()) {
          // The same instant again: a retry finds nothing to book and answers the one booked. But a
          // transaction booked since, effective by then (a late event), moved a position the period's
          // end must restate (a close checks exactly this instant): its change is booked too, keyed
          // on the one before so that two processes doing the same book it once.
          planned = await this.planRevaluation(at);
          if (planned.postings.length === 0) return { status: "exists", revaluation: revaluationOf(last) };
          idempotencyKey = `fx-revaluation:${at.toISOString()}:after:${last.id}`;
        }
      }
      const { postings, metadata, lines, skipped } = planned ?? (await this.planRevaluation(at));
      if (postings.length === 0) return { status: "nothing", revaluation: { transactionId: null, at, lines, skipped: skipped.map(asBooked), bookedAt: null } };
      const r = await this.ledger.post({
        idempotencyKey,
        postings,
        accounts: accountsOf(postings),
        effectiveAt: at,
        description: `FX revaluation of open positions at ${at.toISOString()}`,
        metadata,
      });
      return { status: r.status, revaluation: { ...revaluationOf(r.transaction), skipped: skipped.map(asBooked) } };
    });
  }

  /**
   * What a revaluation at `at` would book (lines with a non-zero change) and leave out (skipped),
   * planned as `revalue` plans it, without booking anything: a period close checks its last instant.
   * `fenced`: read through `journal` (a period close's, under the journal head lock) with the rates
   * of `closingRates(at)`, no other read; ClosingRatesMissing when a position's rate is not among them.
   */
  async previewRevaluation(at: Date, fenced?: { journal: RevaluationJournal; rates: ClosingRates }): Promise<{ lines: RevaluationLine[]; skipped: SkippedPosition[] }> {
    if (fenced === undefined) {
      const { lines, skipped } = await this.planRevaluation(at);
      return { lines, skipped };
    }
    if (fenced.rates.at.getTime() !== at.getTime()) throw new Error(`closing rates of ${fenced.rates.at.toISOString()} given for a plan at ${at.toISOString()}`);
    const { lines, skipped } = await this.planRevaluation(at, fenced.journal, fenced.rates);
    if (fenced.rates.missing.size > 0) throw new ClosingRatesMissing([...fenced.rates.missing].sort());
    return { lines, skipped };
  }

  /** The rates at `at` of every currency with an FX position now (read without a lock), for previewRevaluation's plan through a journal under the head lock. */
  async closingRates(at: Date): Promise<ClosingRates> {
    const rates = new ClosingRates(at, this.rates);
    await rates.resolve(await this.positionCurrencies(this.ledger));
    return rates;
  }

  /** Revaluations, newest first. */
  async listRevaluations(page: { limit?: number; cursor?: string }): Promise<{ items: Revaluation[]; nextCursor: string | null }> {
    const p = await this.ledger.listTransactions({ metadata: { kind: REVALUATION_KIND }, ...page });
    return { items: p.items.map(revaluationOf), nextCursor: p.nextCursor };
  }

  private checkRemittance(input: RemittanceInput): void {
    if (!REMITTANCE_ID.test(input.remittanceId)) {
      throw SettlementErrors.invalidEvent("remittanceId: 1-128 letters, digits and ._:-", { fields: [{ field: "remittanceId", message: "1-128 of A-Z a-z 0-9 . _ : -" }] });
    }
    if (input.settledCurrency !== USD && input.settledCurrency !== input.currency) {
      // A USD receivable settles only in USD (named once).
      const usdOnly = input.currency === USD;
      throw SettlementErrors.invalidEvent(`settledCurrency must be ${usdOnly ? USD : `${USD} or ${input.currency}`}`, {
        fields: [{ field: "settledCurrency", message: usdOnly ? `the settlement currency, ${USD}` : `the settlement currency, ${USD}, or ${input.currency} when the acquirer did not convert` }],
      });
    }
    if (input.currency === input.settledCurrency && input.settledAmount !== input.amount) {
      throw SettlementErrors.invalidEvent("a remittance in its own currency settles exactly what it clears", {
        fields: [{ field: "settledAmount", message: `must equal amount (${input.amount}) when nothing is converted` }],
      });
    }
    const at = input.occurredAt.getTime();
    if (at > this.now().getTime()) {
      throw SettlementErrors.invalidEvent("occurredAt is in the future", { fields: [{ field: "occurredAt", message: "must not be in the future" }] });
    }
    if (!(at >= this.now().getTime() - this.maxAgeMs)) {
      const days = Math.round(this.maxAgeMs / 86_400_000);
      throw SettlementErrors.invalidEvent(`occurredAt is more than ${days} days ago`, { fields: [{ field: "occurredAt", message: `must not be older than ${days} days` }] });
    }
  }

  private async planRemittance(input: RemittanceInput): Promise<{ postings: PostingInput[]; metadata: Record<string, string> }> {
    const B = input.currency;
    const A = input.amount;
    const R = input.settledAmount;
    const postings: PostingInput[] = [
      { account: Accounts.bank, currency: input.settledCurrency, direction: "debit", amount: R },
      { account: Accounts.gatewayReceivable(input.gateway), currency: B, direction: "credit", amount: A },
    ];
    const metadata: Record<string, string> = {
      kind: REMITTANCE_KIND,
      remittanceKey: `${input.gateway}:${input.remittanceId}`,
      gateway: input.gateway,
      remittanceId: input.remittanceId,
      currency: B,
      amount: A.toString(),
      settledCurrency: input.settledCurrency,
      settledAmount: R.toString(),
      occurredAt: input.occurredAt.toISOString(),
    };
    if (B === USD) return { postings, metadata: { ...metadata, appliedRate: "1", bookedUsd: R.toString(), realised: "0" } };
    // Paid out in B, unconverted: the platform holds B at the bank; its fx:B-USD position stays open
    // (revalued) until the platform converts it, which is where that FX is realised.
    if (input.settledCurrency === B) return { postings, metadata: { ...metadata, appliedRate: "1", realised: "0" } };

    // The acquirer's rate must be near the published mid rate: a gateway key cannot book an
    // arbitrary realised gain or loss (and cash) by naming any settled amount.
    const mid = await this.rates.latestRate(B, USD, input.occurredAt).catch(() => null);
    if (mid === null) {
      throw SettlementErrors.fxUnavailable(`no published ${B}->USD rate at ${input.occurredAt.toISOString()} to check the remittance's rate against`, {
        fields: [{ field: "occurredAt", message: `no ${B}->USD rate published for this instant` }],
      });
    }
    const midUsd = convertMinor(A, B, USD, mid.rate, "half-even");
    const deviation = R > midUsd ? R - midUsd : midUsd - R;
    if (deviation * 10_000n > midUsd * BigInt(MAX_RATE_DEVIATION_BPS)) {
      throw SettlementErrors.remittanceRateOutOfRange(`remittance ${input.remittanceId}: ${R} USD for ${A} ${B} is more than ${MAX_RATE_DEVIATION_BPS / 100}% from the mid rate's ${midUsd}`, {
        fields: [{ field: "settledAmount", message: `must be within ${MAX_RATE_DEVIATION_BPS / 100}% of ${midUsd} (${A} ${B} at the published mid rate ${mid.rate})` }],
        details: { midRate: mid.rate, midUsd: midUsd.toString() },
      });
    }
    const clearing = Accounts.fxClearing(B);
    const pB = await this.posted(clearing, B);
    const pU = await this.posted(clearing, USD);
    // Average cost: the part that closes the open short position (what captures converted) leaves
    // at its booked rate. The rest is the tax the captures kept in B, which the acquirer converted
    // too: it goes to fx:B-USD:tax, the B to buy back for the tax authority, so the conversion
    // position itself never turns long on tax and every later remittance still finds its captures'
    // short position to realise against.
    // Two results, apart (IAS 21.52(a) discloses only the first): the realised exchange difference,
    // what the closed part is worth at the published mid rate at this instant less what it was booked
    // at; and the acquirer's conversion spread, what arrived less the mid value of all it converted
    // (platform:expense:fx_conversion, a cost when negative). The tax part enters fx:B-USD:tax at mid
    // for the same reason: at the remittance's own rate its spread would be restated by the next
    // revaluation as an unrealised exchange difference, which it is not.
    const closes = pB < 0n ? (A < -pB ? A : -pB) : 0n;
    const bookedClosed = closes === 0n ? 0n : divideRounded(closes * pU, -pB, "half-even");
    const midClosed = convertMinor(closes, B, USD, mid.rate, "half-even");
    const taxUsd = midUsd - midClosed;
    const bookedUsd = bookedClosed + taxUsd;
    const realised = midClosed - bookedClosed;
    const conversion = R - midUsd;
    postings.push(
      { account: clearing, currency: B, direction: "debit", amount: closes },
      { account: clearing, currency: USD, direction: "credit", amount: bookedClosed },
      { account: Accounts.fxTaxKept(B), currency: B, direction: "debit", amount: A - closes },
      { account: Accounts.fxTaxKept(B), currency: USD, direction: "credit", amount: taxUsd },
    );
    if (realised !== 0n) postings.push({ account: Accounts.fxRealised, currency: USD, direction: realised > 0n ? "credit" : "debit", amount: realised > 0n ? realised : -realised });
    // An expense: a spread (less than the mid value arrived) is a debit.
    if (conversion !== 0n) postings.push({ account: Accounts.fxConversion, currency: USD, direction: conversion < 0n ? "debit" : "credit", amount: conversion < 0n ? -conversion : conversion });
    return {
      postings: postings.filter((p) => p.amount !== 0n),
      metadata: {
        ...metadata,
        appliedRate: rateFractionToString(impliedRate(A, B, R, USD), 10, "half-even"),
        "position.before": pB.toString(),
        "position.beforeUsd": pU.toString(),
        ...(closes === 0n ? {} : { bookedRate: rateFractionToString(impliedRate(-pB, B, pU, USD), 10, "half-even") }),
        bookedUsd: bookedUsd.toString(),
        midUsd: midUsd.toString(),
        realised: realised.toString(),
        conversion: conversion.toString(),
        midRate: mid.rate,
        midSource: mid.source,
        midAsOf: mid.asOf,
      },
    };
  }

  /** The currencies X of the fx:X-USD conversion accounts, sorted. */
  private async positionCurrencies(journal: RevaluationJournal): Promise<string[]> {
    const currencies = new Set<string>();
    for await (const a of this.accounts({ ownerType: "fx_clearing", codePrefix: "fx:" }, journal)) {
      const m = /^fx:([A-Z0-9]{3,12})-USD$/.exec(a.code);
      if (m !== null && m[1] !== USD && a.currency === m[1]) currencies.add(m[1]);
    }
    return [...currencies].sort();
  }

  private async planRevaluation(
    at: Date,
    journal: RevaluationJournal = this.ledger,
    rates: RealisationRates = this.rates,
  ): Promise<{ postings: PostingInput[]; metadata: Record<string, string>; lines: RevaluationLine[]; skipped: SkippedPosition[] }> {
    // Each position as of `at` (a period close's last instant) from the account's totals less what
    // is effective after `at`: a fenced close holds the journal head lock while this runs, and
    // summing the positions' whole history made every writer wait longer as they grew.
    const posted = async (account: string, currency: string) => {
      const t = await journal.postedAtEffective(account, currency, at);
      return t === null ? 0n : t.postedDebits - t.postedCredits;
    };

    const postings: PostingInput[] = [];
    const lines: RevaluationLine[] = [];
    const skipped: SkippedPosition[] = [];
    const metadata: Record<string, string> = { kind: REVALUATION_KIND, revaluationAt: at.toISOString() };
    let net = 0n;
    for (const X of await this.positionCurrencies(journal)) {
      const clearing = Accounts.fxClearing(X);
      // The conversion position and the tax converted with it: one exposure to X.
      const position = (await posted(clearing, X)) + (await posted(Accounts.fxTaxKept(X), X));
      const positionUsd = (await posted(clearing, USD)) + (await posted(Accounts.fxTaxKept(X), USD));
      const previous = await posted(Accounts.fxRevaluation(X), USD);
      if (position === 0n && positionUsd === 0n && previous === 0n) continue;
      if (exponentOrNull(X) === null) {
        skipped.push({ currency: X, code: NOT_A_CURRENCY, reason: "not an ISO 4217 currency: no published mid rate applies", position });
        continue;
      }
      let mid: ResolvedRate;
      try {
        mid = await rates.latestRate(X, USD, at);
      } catch (e) {
        skipped.push({ currency: X, position, ...(isAppError(e) ? { code: e.code, reason: e.message } : { code: "no_rate", reason: "no published rate" }) });
        continue;
      }
      const fair = position < 0n ? -convertMinor(-position, X, USD, mid.rate, "half-even") : convertMinor(position, X, USD, mid.rate, "half-even");
      // Worth of the clearing account at mid; the revaluation account is brought to minus that.
      const unrealised = -(fair + positionUsd);
      const change = unrealised - previous;
      const rateAgeSeconds = rateAge(at, mid.asOf);
      lines.push({ currency: X, position, positionUsd, midRate: mid.rate, source: mid.source, asOf: mid.asOf, rateAgeSeconds, unrealised, change });
      Object.assign(metadata, {
        [`reval.${X}.position`]: position.toString(),
        [`reval.${X}.positionUsd`]: positionUsd.toString(),
        [`reval.${X}.midRate`]: mid.rate,
        [`reval.${X}.source`]: mid.source,
        [`reval.${X}.asOf`]: mid.asOf,
        [`reval.${X}.rateAgeSeconds`]: String(rateAgeSeconds),
        [`reval.${X}.unrealised`]: unrealised.toString(),
        [`reval.${X}.change`]: change.toString(),
      });
      if (change === 0n) continue;
      postings.push({ account: Accounts.fxRevaluation(X), currency: USD, direction: change > 0n ? "debit" : "credit", amount: change > 0n ? change : -change });
      net += change;
    }
    if (net !== 0n) postings.push({ account: Accounts.fxUnrealised, currency: USD, direction: net > 0n ? "credit" : "debit", amount: net > 0n ? net : -net });
    for (const s of skipped) Object.assign(metadata, { [`reval.${s.currency}.skipped`]: s.code, [`reval.${s.currency}.skippedReason`]: s.reason.slice(0, 500) });
    return { postings, metadata, lines, skipped };
  }

  /** Every account the filter matches, page after page. */
  private async *accounts(filter: Omit<AccountFilter, "limit" | "cursor">, journal: RevaluationJournal = this.ledger): AsyncGenerator<Account & { balance: Balance }> {
    let cursor: string | undefined;
    do {
      const page = await journal.listAccounts({ ...filter, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** An account's posted balance (debit-normal accounts: debits - credits), 0 when it does not exist yet. */
  private async posted(account: string, currency: string, at?: Date): Promise<bigint> {
    return postedDebitBalance(this.ledger, account, currency, at, "effective");
  }

  private async findRemittance(gateway: string, remittanceId: string): Promise<JournalTransaction | null> {
    return (await this.ledger.listTransactions({ metadata: { kind: REMITTANCE_KIND, remittanceKey: `${gateway}:${remittanceId}` }, limit: 1 })).items[0] ?? null;
  }
}

function accountsOf(postings: PostingInput[]) {
  return postings.map((p) => accountSpec(p.account, p.currency));
}

function remittanceHash(i: RemittanceInput): string {
  const canonical = [i.gateway, i.remittanceId, i.currency, i.amount, i.settledCurrency, i.settledAmount, i.occurredAt.toISOString()].join("\n");
  return createHash("sha256").update(canonical).digest("hex");
}

function remittanceOf(tx: JournalTransaction): Remittance {
  const m = tx.metadata;
  return {
    gateway: m.gateway ?? "",
    remittanceId: m.remittanceId ?? "",
    currency: m.currency ?? "",
    amount: BigInt(m.amount ?? "0"),
    settledCurrency: m.settledCurrency ?? USD,
    settledAmount: BigInt(m.settledAmount ?? "0"),
    occurredAt: new Date(m.occurredAt ?? tx.effectiveAt),
    transactionId: tx.id,
    appliedRate: m.appliedRate ?? "1",
    bookedRate: m.bookedRate ?? null,
    bookedUsd: BigInt(m.bookedUsd ?? "0"),
    realised: BigInt(m.realised ?? "0"),
    conversion: BigInt(m.conversion ?? "0"),
    midRate: m.midRate ?? null,
    bookedAt: tx.bookedAt,
  };
}

/** A rate's age at `at`: `at` less the rate's `asOf`, in whole seconds (rounded down). */
function rateAge(at: Date, asOf: string): number {
  return Math.floor((at.getTime() - Date.parse(asOf)) / 1000);
}

function revaluationOf(tx: JournalTransaction): Revaluation {
  const m = tx.metadata;
  const at = new Date(m.revaluationAt ?? tx.effectiveAt);
  const currencies = Object.keys(m)
    .map((k) => /^reval\.([A-Z0-9]{3,12})\.midRate$/.exec(k)?.[1])
    .filter((c): c is string => c !== undefined)
    .sort();
  return {
    transactionId: tx.id,
    at,
    lines: currencies.map((X) => ({
      currency: X,
      position: BigInt(m[`reval.${X}.position`] ?? "0"),
      positionUsd: BigInt(m[`reval.${X}.positionUsd`] ?? "0"),
      midRate: m[`reval.${X}.midRate`] ?? "",
      source: m[`reval.${X}.source`] ?? "",
      asOf: m[`reval.${X}.asOf`] ?? "",
      // Revaluations booked before the age was kept: the same figure, from the instant and asOf they kept.
      rateAgeSeconds: m[`reval.${X}.rateAgeSeconds`] !== undefined ? Number(m[`reval.${X}.rateAgeSeconds`]) : rateAge(at, m[`reval.${X}.asOf`] ?? at.toISOString()),
      unrealised: BigInt(m[`reval.${X}.unrealised`] ?? "0"),
      change: BigInt(m[`reval.${X}.change`] ?? "0"),
    })),
    skipped: Object.keys(m)
      .map((k) => /^reval\.([A-Z0-9]{3,12})\.skipped$/.exec(k)?.[1])
      .filter((c): c is string => c !== undefined)
      .sort()
      .map((X) => ({ currency: X, code: m[`reval.${X}.skipped`] ?? "", reason: m[`reval.${X}.skippedReason`] ?? "" })),
    bookedAt: tx.bookedAt,
  };
}
