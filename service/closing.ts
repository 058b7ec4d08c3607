/**
 * Period closes, anchored. Closing a period (the ledger's closePeriod) freezes its figures; the
 * close's report, the trial balance of the closed period with the journal head it closed at, is
 * then fixed for good, so its sha256 is anchored on chain like a reconciliation report: anyone can
 * recompute the report later (GET /v1/ledger/periods/:id/report) and check it against the digest
 * the chain holds (GET /v1/ledger/periods/:id/proof), without trusting our database.
 *
 * A close must not leave FX positions unrestated at the period's end (IAS 21: monetary items at the
 * closing rate at each reporting date). Closing before B plans, without booking, the revaluation at
 * B's last instant (B - 1 ms) as `POST /v1/fx/revaluations` would plan it; a line that would book a
 * change, or a position it would skip (no rate in force; a token's position, no currency, is not
 * restated and does not count), refuses the close (409
 * ENT_LEDGER_PERIOD_FX_NOT_REVALUED, per currency). `fxNotRevalued: "accept"` with a note closes
 * anyway and keeps what was left with the close and in its report.
 *
 * The closing rate is the spot rate at the period's end, not whatever rate was last published: a
 * position that stands at the rate in force at B - 1 ms (its line books no change) is checked for
 * that rate's age there (B - 1 ms less the rate's own `asOf`, the oldest leg's for a cross rate). Older
 * than `maxRateAgeMs` (CLOSE_MAX_RATE_AGE_DAYS, 4 days by default: a daily figure of the Friday
 * before a Monday holiday still closes the Monday), the close is refused (409
 * ENT_LEDGER_PERIOD_FX_RATE_STALE, per currency: the rate, its instant, its age and the limit).
 * Publishing the period end's rates and revaluing again at B - 1 ms books the change and lets it
 * close; `fxRateStale: "accept"` with a note closes anyway and keeps the stale rates with the close
 * and in its report. A position of zero is worth zero at any rate and is not checked; a position
 * left unrevalued (above) is not either: it stands at no closing rate, and it refuses the close first.
 *
 * Serialisation: what was checked is what closes. The first checks are optimistic: the plan reads
 * the journal as of a head sequence S read first, without a lock, and the ledger's close, under the
 * head lock every journal writer takes, refuses (ENT_LEDGER_PERIOD_CHANGED) when a transaction
 * booked after S is effective before B and moves an `fx:` account (a revaluation at B - 1 ms, a late
 * event in a foreign currency); bookings into the period that move no FX position (USD events still
 * arriving) change nothing checked and do not hold the close back. The last check is fenced: the
 * plan runs under the head lock, reading the journal through the lock's own transaction (PGlite's
 * one connection; on PostgreSQL no second pool connection while writers queue on the lock), with
 * the closing rates resolved just before taking it (they live in another store). Nothing can be
 * booked between that check and the close, so a gateway still posting converted events into the
 * period (the normal case just after month end) cannot hold the close back: its writers wait for
 * the fenced check (measured in the README), then book after the close, at B. It holds across
 * instances on one PostgreSQL: the fence is the head row's lock. A revaluation inside a closed
 * period is refused, and one racing the close is either seen by it or booked after it, effective in
 * the open period (the ledger moves it there).
 */
import { AnchorErrors } from "./anchoring/errors.js";
import { jsonDocumentDigest, PERIOD_CLOSE_DOCUMENT } from "./anchoring/leaf.js";
import { Errors, isAppError } from "./errors.js";
import { LedgerErrors } from "./ledger/errors.js";
import type { Ledger, PeriodClose, StaleClosingRate, TrialBalance, UnrevaluedPosition } from "./ledger/types.js";
import { ClosingRatesMissing, NOT_A_CURRENCY, type ClosingRates, type RevaluationJournal, type RevaluationLine, type SkippedPosition } from "./settlement/realisation.js";

const REPORT_FORMAT = "entrepot.period_close.v1";

/** What a close is asked with (POST /v1/ledger/periods/close). */
interface CloseInput {
  before: Date;
  closedBy?: string | null;
  note?: string | null;
  fxNotRevalued?: "accept" | null;
  fxRateStale?: "accept" | null;
}

/** What closing needs from anchoring (AnchorService satisfies it). */
export interface CloseAnchor {
  enqueueDocument(doc: { kind: string; id: string; digest: string }): Promise<void>;
  proofOfDocument(kind: string, id: string): Promise<unknown>;
}

/** What closing needs from FX (FxRealisation satisfies it): the revaluation at an instant, planned, not booked. */
export interface CloseFx {
  /**
   * The plan; with `fenced`, read through `journal` (the ledger's reads on the transaction holding the
   * head lock) with the rates resolved before it (ClosingRatesMissing: a position whose rate was not).
   */
  previewRevaluation(at: Date, fenced?: { journal: RevaluationJournal; rates: ClosingRates }): Promise<{ lines: RevaluationLine[]; skipped: SkippedPosition[] }>;
  /** The rates at `at` of the currencies with a position, resolved now, for a fenced plan. */
  closingRates(at: Date): Promise<ClosingRates>;
}

/**
 * What the FX check reads: the `fx:<X>-USD` positions, the tax kept in X and their revaluation. Only
 * a booking into the period that moves one of them changes what was checked.
 */
const FX_ACCOUNTS = "fx:";

/**
 * How many times a close checks the FX positions: optimistically (no lock, writers unaffected) until
 * the last, which checks under the journal head lock (fenced: nothing can overtake it).
 */
const CLOSE_ATTEMPTS = 3;

const DAY_MS = 86_400_000;
/** How old a closing rate may be at the period's last instant by default (CLOSE_MAX_RATE_AGE_DAYS): a weekend and a bank holiday. */
export const DEFAULT_CLOSE_MAX_RATE_AGE_DAYS = 4;

export interface PeriodCloseReport {
  format: typeof REPORT_FORMAT;
  close: { id: string; closedBefore: string; previousClosedBefore: string | null; journalSequence: string; journalHash: string };
  /** The closed period's trial balance: [previousClosedBefore, closedBefore), amounts as strings. */
  trialBalance: {
    accounts: Array<{ account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }>;
    currencies: Array<{ currency: string; debits: string; credits: string; balanced: boolean }>;
  };
  /**
   * Only in the report of a close accepted with FX positions unrevalued at its end (absent
   * otherwise, so every other report, and its anchored digest, is as it always was): what was left.
   */
  fxNotRevalued?: UnrevaluedPosition[];
  /** Only in the report of a close accepted on closing rates older than the limit (absent otherwise): those rates. */
  fxRateStale?: StaleClosingRate[];
}

/**
 * What a revaluation plan at a period's last instant leaves unrestated: each line that would book a
 * change, each position it would skip; by currency. Empty: the positions stand at the closing rate.
 */
export function unrevaluedPositions(plan: { lines: RevaluationLine[]; skipped: SkippedPosition[] }): UnrevaluedPosition[] {
  const out: UnrevaluedPosition[] = [];
  for (const l of plan.lines) {
    if (l.change === 0n) continue;
    out.push({
      currency: l.currency,
      status: "would_book",
      position: l.position.toString(),
      change: l.change.toString(),
      midRate: l.midRate,
      code: null,
      reason: `the revaluation would book ${l.change} USD minor units to fx:${l.currency}-USD:revaluation (position ${l.position} ${l.currency} minor units at the mid rate ${l.midRate}, ${l.source} as of ${l.asOf}): it moved since the last revaluation`,
    });
  }
  for (const s of plan.skipped) {
    // A token's position (the vault's USDC against USD, at 1:1) is no foreign currency: IAS 21 has
    // no closing rate for it, so it is not restated and cannot hold a close back (the revaluation
    // still lists it as skipped, not_iso_4217).
    if (s.code === NOT_A_CURRENCY) continue;
    out.push({ currency: s.currency, status: "skipped", position: s.position.toString(), change: null, midRate: null, code: s.code, reason: s.reason });
  }
  return out.sort((a, b) => a.currency.localeCompare(b.currency));
}

/** An age in days, in words: "8.99 days" (rounded down to hundredths, so never younger than it is said). */
function days(ms: number): string {
  const hundredths = Math.floor(ms / (DAY_MS / 100));
  return `${(hundredths / 100).toFixed(2)} days`;
}

/**
 * The positions that stand at the closing rate in force at the period's last instant (`at`), that
 * rate older there than `maxAgeMs`: by currency. A position of zero is worth zero at any rate, and a
 * line that would book a change is not standing at its rate (unrevaluedPositions lists it).
 */
export function staleClosingRates(plan: { lines: RevaluationLine[] }, at: Date, maxAgeMs: number): StaleClosingRate[] {
  const out: StaleClosingRate[] = [];
  for (const l of plan.lines) {
    if (l.position === 0n || l.change !== 0n) continue;
    const ageMs = at.getTime() - Date.parse(l.asOf);
    if (!(ageMs > maxAgeMs)) continue;
    out.push({
      currency: l.currency,
      position: l.position.toString(),
      midRate: l.midRate,
      source: l.source,
      asOf: new Date(l.asOf).toISOString(),
      ageSeconds: Math.floor(ageMs / 1000),
      maxAgeSeconds: Math.floor(maxAgeMs / 1000),
      reason: `the ${l.currency} position (${l.position} minor units) stands at the mid rate ${l.midRate} (${l.source}) as of ${new Date(l.asOf).toISOString()}, ${days(ageMs)} old at ${at.toISOString()}: more than the ${days(maxAgeMs)} a closing rate may be`,
    });
  }
  return out.sort((a, b) => a.currency.localeCompare(b.currency));
}

function notRevalued(before: Date, revalueAt: string, left: UnrevaluedPosition[], maxAgeMs: number) {
  const each = left.map((p) => (p.status === "would_book" ? `${p.currency} would book ${p.change} USD minor units` : `${p.currency} skipped (${p.code}: ${p.reason})`));
  const action = `publish the rates in force at ${revalueAt} (the closing rates, each no more than ${days(maxAgeMs)} old then), then POST /v1/fx/revaluations?at=${revalueAt}, and close again; or close with "fxNotRevalued": "accept" and a note saying why, kept with the close`;
  return LedgerErrors.periodFxNotRevalued(`the FX positions are not revalued at the period's last instant, ${revalueAt}: ${each.join("; ")}. To close: ${action}`, {
    details: { before: before.toISOString(), revalueAt, positions: left, action },
  });
}

function rateStale(before: Date, revalueAt: string, stale: StaleClosingRate[], maxAgeMs: number) {
  const each = stale.map((r) => `${r.currency} at ${r.midRate} as of ${r.asOf} (${days(r.ageSeconds * 1000)} old)`);
  const action = `publish the period end's rates (in force at ${revalueAt}, observed no more than ${days(maxAgeMs)} before it), then POST /v1/fx/revaluations?at=${revalueAt} (it books the change), and close again; or close with "fxRateStale": "accept" and a note saying why, kept with the close`;
  return LedgerErrors.periodFxRateStale(`the FX positions stand at closing rates older than ${days(maxAgeMs)} at the period's last instant, ${revalueAt}: ${each.join("; ")}. To close: ${action}`, {
    details: { before: before.toISOString(), revalueAt, maxAgeDays: maxAgeMs / DAY_MS, maxAgeSeconds: Math.floor(maxAgeMs / 1000), rates: stale, action },
  });
}

/** The report's digest: sha256 of its canonical text, JSON.stringify of it (keys in a fixed order by construction). */
export function reportDigest(report: PeriodCloseReport): string {
  return jsonDocumentDigest(report);
}

function buildReport(close: PeriodClose, tb: TrialBalance): PeriodCloseReport {
  return {
    format: REPORT_FORMAT,
    close: {
      id: close.id,
      closedBefore: close.closedBefore.toISOString(),
      previousClosedBefore: close.previousClosedBefore === null ? null : close.previousClosedBefore.toISOString(),
      journalSequence: close.journalSequence.toString(),
      journalHash: close.journalHash,
    },
    trialBalance: {
      accounts: tb.accounts.map((a) => ({
        account: a.account,
        currency: a.currency,
        normalBalance: a.normalBalance,
        opening: a.opening.toString(),
        debits: a.debits.toString(),
        credits: a.credits.toString(),
        closing: a.closing.toString(),
      })),
      currencies: tb.currencies.map((c) => ({ currency: c.currency, debits: c.debits.toString(), credits: c.credits.toString(), balanced: c.balanced })),
    },
    ...(close.fxNotRevalued === null ? {} : { fxNotRevalued: close.fxNotRevalued }),
    ...(close.fxRateStale === null ? {} : { fxRateStale: close.fxRateStale }),
  };
}

export class PeriodClosing {
  constructor(
    private readonly ledger: Pick<Ledger, "closePeriod" | "periodCloses" | "trialBalance" | "journalPosition">,
    private readonly anchor: CloseAnchor | null,
    /** The FX positions a close checks at its period's end (null: a ledger without FX, nothing to check). */
    private readonly fx: CloseFx | null,
    private readonly now: () => Date = () => new Date(),
    /** How old a closing rate may be at the period's last instant (CLOSE_MAX_RATE_AGE_DAYS). */
    private readonly maxRateAgeMs: number = DEFAULT_CLOSE_MAX_RATE_AGE_DAYS * DAY_MS,
  ) {}

  /**
   * Closes every period before `input.before` and queues its report's digest for the next anchoring
   * batch (when a chain is configured). Refused while FX positions are not revalued at the period's
   * last instant, unless `fxNotRevalued: "accept"` comes with a note, and while they stand at closing
   * rates older than the limit there, unless `fxRateStale: "accept"` does. The same close again (the
   * latest close, at the same instant with the same note: a retry after a lost answer) answers it as
   * `exists`; any other instant not after the latest close is refused (ENT_LEDGER_PERIOD_CLOSED).
   */
  async close(input: CloseInput): Promise<{ status: "created" | "exists"; close: PeriodClose; digest: string; anchored: boolean }> {
    if (input.fxNotRevalued === "accept" && (input.note ?? "").trim() === "") {
      throw Errors.validation("fxNotRevalued: accepting FX positions left unrevalued at the period's end needs a note saying why", {
        fields: [{ field: "note", message: 'required with "fxNotRevalued": "accept": why the positions are left unrevalued' }],
      });
    }
    if (input.fxRateStale === "accept" && (input.note ?? "").trim() === "") {
      throw Errors.validation("fxRateStale: accepting FX positions at closing rates older than the limit needs a note saying why", {
        fields: [{ field: "note", message: 'required with "fxRateStale": "accept": why the period closes on those rates' }],
      });
    }
    let close: PeriodClose;
    try {
      close = await this.closeChecked(input);
    } catch (e) {
      const latest = isAppError(e) && e.code === LedgerErrors.periodClosed.code ? (await this.ledger.periodCloses()).closes[0] : undefined;
      if (latest === undefined || latest.closedBefore.getTime() !== input.before.getTime() || latest.note !== (input.note ?? null)) throw e;
      return { status: "exists", close: latest, digest: (await this.reportOf(latest)).digest, anchored: this.anchor !== null };
    }
    const { digest } = await this.reportOf(close);
    if (this.anchor !== null) await this.anchor.enqueueDocument({ kind: PERIOD_CLOSE_DOCUMENT, id: close.id, digest });
    return { status: "created", close, digest, anchored: this.anchor !== null };
  }

  /**
   * The ledger's close, after checking the FX positions at the period's end: again when a booking
   * into the period overtook the check, and the last time under the journal head lock (fenced).
   */
  private async closeChecked(input: CloseInput): Promise<PeriodClose> {
    const base = { before: input.before, closedBy: input.closedBy ?? null, note: input.note ?? null };
    for (let attempt = 1; ; attempt++) {
      const { closedBefore } = await this.ledger.periodCloses();
      const B = input.before.getTime();
      // Only a close the ledger would make is checked: an instant not yet passed, or not after the
      // latest close (a retry of it included), is the ledger's to answer (400, 409, or `exists` above).
      if (this.fx === null || Number.isNaN(B) || B > this.now().getTime() || (closedBefore !== null && B <= closedBefore.getTime())) return this.ledger.closePeriod(base);
      const at = new Date(B - 1);
      if (attempt >= CLOSE_ATTEMPTS) return this.closeFenced(this.fx, input, at);
      const { head } = await this.ledger.journalPosition(0n);
      const checked = this.judge(input, at, await this.fx.previewRevaluation(at));
      try {
        return await this.ledger.closePeriod({ ...base, ...checked, checkedAtSequence: head, checkedAccountPrefix: FX_ACCOUNTS });
      } catch (e) {
        if (!(isAppError(e) && e.code === LedgerErrors.periodChanged.code)) throw e;
      }
    }
  }

  /**
   * The check under the journal head lock: the plan reads the journal through the lock's own
   * transaction, so nothing is booked between the check and the close (writers wait for both).
   * The rates are resolved before the lock (another store); a position whose rate was not (opened
   * since) ends the attempt, its rate is resolved, and the fenced check runs again: each round
   * resolves at least one more currency, so this ends.
   */
  private async closeFenced(fx: CloseFx, input: CloseInput, at: Date): Promise<PeriodClose> {
    const rates = await fx.closingRates(at);
    for (;;) {
      try {
        return await this.ledger.closePeriod({
          before: input.before,
          closedBy: input.closedBy ?? null,
          note: input.note ?? null,
          check: async (journal) => this.judge(input, at, await fx.previewRevaluation(at, { journal, rates })),
        });
      } catch (e) {
        if (!(e instanceof ClosingRatesMissing)) throw e;
        await rates.resolveMissing();
      }
    }
  }

  /**
   * What the close at `before` would check of the FX positions, checked now without booking or
   * locking (the period-close checklist): the revaluation planned at `before` less 1 ms, what it
   * leaves unrevalued and the closing rates older than the limit there, and the refusal that would
   * follow (null: the close would pass the FX checks). A close checks again, as it always does.
   */
  async fxCheck(before: Date): Promise<{ revalueAt: string; positions: UnrevaluedPosition[]; rates: StaleClosingRate[]; refusedWith: string | null; action: string | null }> {
    const at = new Date(before.getTime() - 1);
    const revalueAt = at.toISOString();
    if (this.fx === null) return { revalueAt, positions: [], rates: [], refusedWith: null, action: null };
    const plan = await this.fx.previewRevaluation(at);
    const positions = unrevaluedPositions(plan);
    const rates = staleClosingRates(plan, at, this.maxRateAgeMs);
    const refusal = positions.length > 0 ? notRevalued(before, revalueAt, positions, this.maxRateAgeMs) : rates.length > 0 ? rateStale(before, revalueAt, rates, this.maxRateAgeMs) : null;
    return { revalueAt, positions, rates, refusedWith: refusal?.code ?? null, action: refusal === null ? null : String(refusal.details?.["action"]) };
  }

  /** What the plan at the period's last instant (`at`) leaves, kept with the close; refused unless accepted with a note. */
  private judge(input: CloseInput, at: Date, plan: { lines: RevaluationLine[]; skipped: SkippedPosition[] }): { fxNotRevalued: UnrevaluedPosition[] | null; fxRateStale: StaleClosingRate[] | null } {
    const revalueAt = at.toISOString();
    const left = unrevaluedPositions(plan);
    if (left.length > 0 && input.fxNotRevalued !== "accept") throw notRevalued(input.before, revalueAt, left, this.maxRateAgeMs);
    const stale = staleClosingRates(plan, at, this.maxRateAgeMs);
    if (stale.length > 0 && input.fxRateStale !== "accept") throw rateStale(input.before, revalueAt, stale, this.maxRateAgeMs);
    return { fxNotRevalued: left.length === 0 ? null : left, fxRateStale: stale.length === 0 ? null : stale };
  }

  /** The close's report, recomputed from the journal (a closed period's figures cannot change), and its digest. */
  async report(id: string): Promise<{ report: PeriodCloseReport; digest: string }> {
    const close = (await this.ledger.periodCloses()).closes.find((c) => c.id === id);
    if (close === undefined) throw Errors.notFound(`no period close ${JSON.stringify(id.slice(0, 40))}`, { fields: [{ field: "id", message: "unknown period close" }] });
    return this.reportOf(close);
  }

  private async reportOf(close: PeriodClose): Promise<{ report: PeriodCloseReport; digest: string }> {
    const tb = await this.ledger.trialBalance({ ...(close.previousClosedBefore === null ? {} : { from: close.previousClosedBefore }), to: close.closedBefore });
    const report = buildReport(close, tb);
    return { report, digest: reportDigest(report) };
  }

  /** The inclusion proof of the close's report digest (409 until its batch is submitted). */
  async proof(id: string): Promise<unknown> {
    if (this.anchor === null) throw AnchorErrors.unavailable("anchoring is not configured on this server (no chain)");
    await this.report(id);
    return this.anchor.proofOfDocument(PERIOD_CLOSE_DOCUMENT, id);
  }
}
