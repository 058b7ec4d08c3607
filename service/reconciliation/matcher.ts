/**
 * The three-way matcher: report rows (streamed, one at a time) against the ledger window (held
 * compactly), then every posted event of the period against the chain. Pure apart from the
 * ChainView calls; the run service feeds it and persists what it returns.
 *
 * Streaming pass (per row): exact-reference match -> on the spot: duplicate, currency mismatch,
 * FX difference, timing difference; amounts and fees are summed per event (a split capture is
 * several rows on one event). Rows without a match are kept (up to `leftoverCap`) for the
 * fallback rules. Finish: amounts per event, fallback rules (amount + date window, many-to-one,
 * one-to-many, merchant reference pairing, fee totals), payout batches, what is left unmatched on
 * either side, then the chain states. See rules.ts for the rules and their parameters.
 */
import { createHash, type Hash } from "node:crypto";
import { differsByMoreThanBps, parseRateFraction, rateFraction, rateFractionToString, relativeDifferenceBps, type RateFraction } from "../money/index.js";
import { SETTLEMENT_CURRENCY, type SettlementEventType } from "../settlement/index.js";
import type { ChainView } from "./chain-view.js";
import { BigColumn, EventCode, fnv1a, type LedgerWindow } from "./ledger-window.js";
import { stateAtLeast, type MatchingRules } from "./rules.js";
import type { RefusedAtImport, ReconItem, ReportFormat, ReportRow, RowKind, RuleName, RunSummary } from "./types.js";

const HOUR = 3_600_000;
/** Lines of refused records named per import (the import lists them all). */
const REFUSED_LINES_SHOWN = 20;

export interface MatchSource {
  importId: string;
  format: ReportFormat;
}

export interface MatcherOptions {
  gateway: string;
  period: { from: Date; to: Date };
  /**
   * The period was not named but taken from the span of the report's rows: then "booked outside
   * the period" means nothing for a matched pair (a capture booked minutes before its row is not a
   * timing difference); only instants further apart than the timing tolerance are.
   */
  periodFromReport?: boolean;
  rules: MatchingRules;
  window: LedgerWindow;
  sources: readonly MatchSource[];
  /** Unmatched rows kept for the fallback rules; beyond it they are reported missing at once. */
  leftoverCap?: number;
  /** "Now" for the chain grace period. */
  now?: Date;
}

export interface MatchOutcome {
  items: ReconItem[];
  summary: Omit<RunSummary, "gateway" | "periodFrom" | "periodTo" | "imports">;
  matchedSha256: string;
}

/** The settlement event type a row of each kind is matched to (also the remittances' ledger lookup, service.ts). */
export const COMPATIBLE: Record<RowKind, SettlementEventType | null> = {
  capture: "capture",
  refund: "refund",
  chargeback: "chargeback",
  chargeback_reversal: "chargeback_reversal",
  fee: "fee_adjustment",
  payout: null,
  other: null,
};

/**
 * By EventCode: 1 for the event types a report row can state (COMPATIBLE's targets). Release and
 * reserve_release are internal bookings no gateway reports: never matched, never "missing".
 */
const REPORTED = new Uint8Array(256);
for (const type of Object.values(COMPATIBLE)) if (type !== null) REPORTED[EventCode[type]] = 1;

const iso = (ms: number) => new Date(ms).toISOString();
const abs = (v: bigint) => (v < 0n ? -v : v);

type ItemDraft = Omit<ReconItem, "seq" | "gateway">;

export class Matcher {
  private readonly w: LedgerWindow;
  private readonly rules: MatchingRules;
  private readonly from: number;
  private readonly to: number;
  private readonly leftoverCap: number;
  private readonly amountTol: bigint;
  private readonly feeTol: bigint;
  private readonly fxTolerance: RateFraction;
  private readonly now: number;
  private readonly items: ReconItem[] = [];
  private readonly matchedHash: Hash = createHash("sha256");
  private readonly byRule: Record<string, number> = {};
  private readonly rowsByKind: Record<string, number> = {};
  private matchedRows = 0;
  private reportRows = 0;
  private leftoverCapped = 0;
  // Per ledger event (by window index).
  private hits: Uint32Array;
  // Sums of several rows: each row is below 2^63 (formats/common.ts), their sum need not be.
  private sumAmount: BigColumn;
  private sumFee: BigColumn;
  private sumSlack: BigColumn;
  private feeUnknown: Uint8Array;
  private firstLine: Uint32Array;
  private firstSource: Uint16Array;
  private firstRowHash: Uint32Array;
  /** Set when a currency mismatch was reported for the event (its amounts are not compared). */
  private currencyFlag: Uint8Array;
  /** Rows whose amount or fee differ from their event's, kept as evidence (rare). */
  private readonly differing = new Map<number, ReportRow[]>();
  /** Lines of every row matched to an event with more than one row. */
  private readonly multiLines = new Map<number, Array<[number, number]>>();
  private readonly multiIds = new Map<number, Set<string>>();
  private readonly matchRule = new Map<number, RuleName>();
  private readonly leftovers: ReportRow[] = [];
  private readonly leftoverIds = new Set<string>();
  private readonly feeRows: ReportRow[] = [];
  private readonly payoutRows = new Map<string, ReportRow[]>();
  private readonly batchNet = new Map<string, { net: bigint; rows: number }>();
  private payoutChecked = 0;
  private payoutMismatched = 0;
  /** Per source: records refused at import (this run cannot read them), their first lines, the last line seen. */
  private readonly refused = new Map<number, { rows: number; lines: number[]; last: number }>();
  private refusedSummary: RefusedAtImport = { rows: 0, imports: [], note: null };

  constructor(private readonly o: MatcherOptions) {
    this.w = o.window;
    this.rules = o.rules;
    this.from = o.period.from.getTime();
    this.to = o.period.to.getTime();
    this.leftoverCap = o.leftoverCap ?? 200_000;
    this.amountTol = BigInt(o.rules.amountToleranceMinor);
    this.feeTol = BigInt(o.rules.feeToleranceMinor);
    this.fxTolerance = rateFraction(o.rules.fxToleranceBps, "rules.fxToleranceBps");
    this.now = (o.now ?? new Date()).getTime();
    const n = Math.max(1, this.w.size);
    this.hits = new Uint32Array(n);
    this.sumAmount = new BigColumn(n);
    this.sumFee = new BigColumn(n);
    this.sumSlack = new BigColumn(n);
    this.feeUnknown = new Uint8Array(n);
    this.firstLine = new Uint32Array(n);
    this.firstSource = new Uint16Array(n);
    this.firstRowHash = new Uint32Array(n);
    this.currencyFlag = new Uint8Array(n);
  }

  private emit(d: ItemDraft): void {
    this.items.push({ seq: this.items.length + 1, gateway: this.o.gateway, ...d });
  }

  private inPeriod(ms: number): boolean {
    return ms >= this.from && ms < this.to;
  }

  private isFeeAdjustment(i: number): boolean {
    return this.w.type[i] === EventCode.fee_adjustment;
  }

  /** True for an event of a type report rows state (see REPORTED). */
  private isReported(i: number): boolean {
    return REPORTED[this.w.type[i]!] === 1;
  }

  /** The amount of an event that a report row states: the fee for a fee adjustment, else the amount. */
  private comparable(i: number): bigint {
    return this.isFeeAdjustment(i) ? this.w.fee.get(i) : this.w.amount.get(i);
  }

  private ledgerEvidence(i: number): Record<string, unknown> {
    const w = this.w;
    return {
      gatewayEventId: w.eventId(i),
      settlementId: w.settlementOf(i),
      type: w.typeOf(i),
      currency: w.currencyOf(i),
      amount: w.amount.get(i).toString(),
      gatewayFee: w.fee.get(i).toString(),
      occurredAt: iso(w.occurredAt[i]!),
      journalTransactionId: w.journalOf(i),
      sellerId: w.sellerOf(i),
      market: w.marketOf(i),
      buyerToUsdRate: w.rateOf(i),
    };
  }

  private rowEvidence(r: ReportRow): Record<string, unknown> {
    return {
      importId: this.o.sources[r.source]?.importId ?? null,
      line: r.line,
      recordType: r.recordType,
      kind: r.kind,
      rowId: r.rowId,
      references: r.refs,
      settlementRef: r.settlementRef,
      occurredAt: iso(r.occurredAt),
      currency: r.currency,
      amount: r.amount?.toString() ?? null,
      fee: r.fee?.toString() ?? null,
      rate: r.rate === null ? null : rateFractionToString(r.rate, 10, "half-up"),
      netCurrency: r.netCurrency,
      net: r.net?.toString() ?? null,
      batch: r.batch,
    };
  }

  /** Item fields that come from the ledger event (market, seller, ids). */
  private eventFields(i: number): Pick<ReconItem, "market" | "sellerId" | "currency" | "settlementId" | "gatewayEventId" | "journalTransactionId"> {
    const w = this.w;
    return {
      market: w.marketOf(i),
      sellerId: w.sellerOf(i),
      currency: w.currencyOf(i),
      settlementId: w.settlementOf(i),
      gatewayEventId: w.eventId(i),
      journalTransactionId: w.journalOf(i),
    };
  }

  /** Item fields of one report row compared with one ledger event under `rule` (amounts not subtracted). */
  private rowOnEvent(r: ReportRow, i: number, rule: RuleName): Omit<ItemDraft, "category" | "evidence"> {
    return { rule, ...this.eventFields(i), gatewayReference: r.rowId, lines: [r.line], reportAmount: r.amount, ledgerAmount: this.comparable(i), difference: null };
  }

  private recordMatch(r: ReportRow, i: number, rule: RuleName): void {
    this.matchedRows++;
    this.byRule[rule] = (this.byRule[rule] ?? 0) + 1;
    this.matchedHash.update(`${this.o.sources[r.source]?.importId ?? r.source}:${r.line}>${this.w.eventId(i)}:${rule}\n`);
  }

  /**
   * An error of a record of import `source` that was refused at import (reported per error, in
   * file order: a record with several errors counts once). Such a row is in no sum of the run, so
   * what it would have matched or paid out looks wrong: the messages say so.
   */
  refusedRecord(source: number, line: number): void {
    let s = this.refused.get(source);
    if (s === undefined) this.refused.set(source, (s = { rows: 0, lines: [], last: -1 }));
    if (line === s.last) return;
    s.last = line;
    s.rows++;
    if (s.lines.length < REFUSED_LINES_SHOWN) s.lines.push(line);
  }

  /** The reason of an exception a refused row may explain, with the refused rows named. */
  private withRefused(reason: string): string {
    const note = this.refusedSummary.note;
    return note === null ? reason : `${reason}. ${note}`;
  }

  private refusedEvidence(): Record<string, unknown> {
    return this.refusedSummary.rows === 0 ? {} : { refusedAtImport: { rows: this.refusedSummary.rows, imports: this.refusedSummary.imports } };
  }

  private summariseRefused(): void {
    const imports = [...this.refused.entries()]
      .sort(([a], [b]) => a - b)
      .map(([source, s]) => ({ importId: this.o.sources[source]?.importId ?? String(source), rows: s.rows, lines: s.lines }));
    const rows = imports.reduce((n, i) => n + i.rows, 0);
    if (rows === 0) return;
    const named = imports.map((i) => `import ${i.importId}, line${i.rows === 1 ? "" : "s"} ${i.lines.join(", ")}${i.rows > i.lines.length ? ` and ${i.rows - i.lines.length} more` : ""}`).join("; ");
    const note = `${rows} row${rows === 1 ? " was" : "s were"} refused at import and ${rows === 1 ? "is" : "are"} not in this run (${named}): check ${rows === 1 ? "it" : "them"} first, a refused row may be the one missing here (GET /v1/reconciliation/imports/<id> lists why)`;
    this.refusedSummary = { rows, imports, note };
  }

  /** One validated report row. Rows must come in file order per import. */
  row(r: ReportRow): void {
    this.reportRows++;
    this.rowsByKind[r.kind] = (this.rowsByKind[r.kind] ?? 0) + 1;
    this.countInBatch(r, 1);
    if (r.kind === "payout") {
      const key = `${r.batch ?? ""}\u0000${r.currency ?? ""}`;
      const list = this.payoutRows.get(key);
      if (list === undefined) this.payoutRows.set(key, [r]);
      else list.push(r);
      return;
    }
    const wanted = COMPATIBLE[r.kind];
    if (wanted === null) {
      // Rows that match no event (deductions, corrections) are still counted once in their batch.
      if (r.rowId !== "") {
        const key = `${r.kind}\u0000${r.rowId}`;
        if (this.leftoverIds.has(key)) {
          this.duplicateRow(r, null);
          return;
        }
        this.leftoverIds.add(key);
      }
      this.gatewayCost(r);
      return;
    }
    const i = this.lookup(r, wanted);
    if (i < 0) {
      this.leftover(r);
      return;
    }
    this.onMatched(r, i, "exact_reference");
  }

  /**
   * A row's net counts toward its payout batch's total (+1), or stops counting (-1) once the row
   * is found to be a duplicate: a line the gateway sent twice is paid out once.
   */
  private countInBatch(r: ReportRow, sign: 1 | -1): void {
    if (r.batch === null || r.net === null || r.netCurrency === null || r.kind === "payout") return;
    const key = `${r.batch}\u0000${r.netCurrency}`;
    const b = this.batchNet.get(key);
    if (b === undefined) this.batchNet.set(key, { net: r.net, rows: 1 });
    else {
      b.net += sign > 0 ? r.net : -r.net;
      b.rows += sign;
    }
  }

  private lookup(r: ReportRow, wanted: SettlementEventType): number {
    const names = this.rules.references[this.o.sources[r.source]?.format ?? "adyen_settlement_details"];
    for (const name of names) {
      const ref = r.refs[name];
      if (ref === undefined) continue;
      const i = this.w.find(ref);
      if (i >= 0 && this.w.typeOf(i) === wanted) return i;
    }
    return -1;
  }

  private leftover(r: ReportRow): void {
    const key = `${r.kind}\u0000${r.rowId}`;
    if (r.rowId !== "" && this.leftoverIds.has(key)) {
      this.duplicateRow(r, this.leftovers.find((x) => x.kind === r.kind && x.rowId === r.rowId) ?? this.feeRows.find((x) => x.rowId === r.rowId) ?? null);
      return;
    }
    if (r.kind === "fee") {
      if (r.rowId !== "") this.leftoverIds.add(key);
      this.feeRows.push(r);
      return;
    }
    if (this.leftovers.length >= this.leftoverCap) {
      this.leftoverCapped++;
      this.missingInLedger(r, { cappedFallback: true });
      return;
    }
    if (r.rowId !== "") this.leftoverIds.add(key);
    this.leftovers.push(r);
  }

  /**
   * A row that moves the merchant's balance without any event of ours (a cost the gateway deducted,
   * a correction it credited): never absorbed in the payout sum silently, but reported with the
   * adjusting entry that books it against the receivable (`platform:reconciliation:gateway_costs`),
   * which a resolution posts as proposed or changed.
   */
  private gatewayCost(r: ReportRow): void {
    if (r.net === null || r.net === 0n || r.netCurrency === null || !this.inPeriod(r.occurredAt)) return;
    const amount = abs(r.net);
    const receivable = `gateway:${this.o.gateway}:receivable`;
    const cost = "platform:reconciliation:gateway_costs";
    const [debit, credit] = r.net < 0n ? [cost, receivable] : [receivable, cost];
    this.emit({
      category: "gateway_cost",
      rule: "gateway_cost_row",
      market: null,
      sellerId: null,
      currency: r.netCurrency,
      settlementId: r.settlementRef,
      gatewayReference: r.rowId === "" ? null : r.rowId,
      gatewayEventId: null,
      journalTransactionId: null,
      lines: [r.line],
      reportAmount: r.net,
      ledgerAmount: 0n,
      difference: r.net,
      evidence: {
        reason: `${r.recordType}: the gateway ${r.net < 0n ? "deducted" : "credited"} ${amount} ${r.netCurrency} (minor units) that no event of ours carries`,
        report: this.rowEvidence(r),
        proposedAdjustment: {
          postings: [
            { account: debit, currency: r.netCurrency, direction: "debit", amount: amount.toString() },
            { account: credit, currency: r.netCurrency, direction: "credit", amount: amount.toString() },
          ],
          description: `${r.recordType} ${r.rowId === "" ? `line ${r.line}` : r.rowId} booked from the gateway report`,
        },
      },
    });
  }

  /** A row whose id was seen before (matched to no event): reported, and not counted in its batch again. */
  private duplicateRow(r: ReportRow, first: ReportRow | null): void {
    this.countInBatch(r, -1);
    this.emit({
      category: "duplicate",
      rule: "duplicate_reference",
      market: null,
      sellerId: null,
      currency: r.currency,
      settlementId: r.settlementRef,
      gatewayReference: r.rowId,
      gatewayEventId: null,
      journalTransactionId: null,
      lines: first === null ? [r.line] : [first.line, r.line],
      reportAmount: r.amount,
      ledgerAmount: null,
      difference: null,
      evidence: { reason: "the same report row id appears more than once", firstLine: first?.line ?? null, report: this.rowEvidence(r) },
    });
  }

  private onMatched(r: ReportRow, i: number, rule: RuleName): void {
    const w = this.w;
    const hash = fnv1a(r.rowId);
    const n = this.hits[i]!;
    if (n > 0) {
      const ids = this.multiIds.get(i);
      if (hash === this.firstRowHash[i] || ids?.has(r.rowId) === true) {
        this.countInBatch(r, -1);
        this.emit({
          category: "duplicate",
          rule: "duplicate_reference",
          ...this.eventFields(i),
          gatewayReference: r.rowId,
          lines: [this.firstLine[i]!, r.line],
          reportAmount: r.amount,
          ledgerAmount: this.comparable(i),
          difference: null,
          evidence: {
            reason: "a second report row with the same row id matched the same event; it is not counted twice",
            // The report amount is in the row's currency (report.ts reads it from here when it is not the event's).
            ...(r.currency !== w.currencyOf(i) ? { reportCurrency: r.currency } : {}),
            firstLine: this.firstLine[i],
            firstImportId: this.o.sources[this.firstSource[i]!]?.importId ?? null,
            report: this.rowEvidence(r),
            ledger: this.ledgerEvidence(i),
          },
        });
        return;
      }
      if (ids === undefined) this.multiIds.set(i, new Set([r.rowId]));
      else ids.add(r.rowId);
      const lines = this.multiLines.get(i);
      if (lines === undefined) this.multiLines.set(i, [[this.firstSource[i]!, this.firstLine[i]!], [r.source, r.line]]);
      else lines.push([r.source, r.line]);
    } else {
      this.firstLine[i] = r.line;
      this.firstSource[i] = r.source;
      this.firstRowHash[i] = hash;
      this.matchRule.set(i, rule);
    }
    this.hits[i] = n + 1;
    this.recordMatch(r, i, rule);
    const ledgerCurrency = w.currencyOf(i);
    if (r.currency !== ledgerCurrency) {
      this.currencyFlag[i] = 1;
      this.emit({
        category: "currency_mismatch",
        ...this.rowOnEvent(r, i, rule),
        evidence: { reportCurrency: r.currency, ledgerCurrency, report: this.rowEvidence(r), ledger: this.ledgerEvidence(i) },
      });
      return;
    }
    const amount = r.amount ?? 0n;
    this.sumAmount.set(i, this.sumAmount.get(i) + amount);
    if (r.fee === null) this.feeUnknown[i] = 1;
    else {
      this.sumFee.set(i, this.sumFee.get(i) + r.fee);
      this.sumSlack.set(i, this.sumSlack.get(i) + r.feeSlack);
    }
    if (amount !== this.comparable(i) || (!this.isFeeAdjustment(i) && r.fee !== null && r.fee !== w.fee.get(i))) {
      const list = this.differing.get(i);
      if (list === undefined) this.differing.set(i, [r]);
      else list.push(r);
    }
    this.checkTiming(r, i, rule);
    this.checkFx(r, i, rule);
  }

  private checkTiming(r: ReportRow, i: number, rule: RuleName): void {
    const at = this.w.occurredAt[i]!;
    const apart = Math.abs(r.occurredAt - at);
    const outside = this.o.periodFromReport !== true && !this.inPeriod(at);
    if (!outside && apart <= this.rules.timingToleranceHours * HOUR) return;
    this.emit({
      category: "timing_difference",
      ...this.rowOnEvent(r, i, rule),
      evidence: {
        reason: outside ? "the ledger booked the event outside the reconciled period" : "report and ledger instants differ by more than the tolerance",
        reportAt: iso(r.occurredAt),
        ledgerAt: iso(at),
        hoursApart: (apart / HOUR).toFixed(2),
        toleranceHours: this.rules.timingToleranceHours,
        period: { from: iso(this.from), to: iso(this.to) },
        report: this.rowEvidence(r),
        ledger: this.ledgerEvidence(i),
      },
    });
  }

  private checkFx(r: ReportRow, i: number, rule: RuleName): void {
    if (r.rate === null || r.netCurrency !== SETTLEMENT_CURRENCY || r.currency === SETTLEMENT_CURRENCY) return;
    const recorded = this.w.rateOf(i);
    if (recorded === null) return;
    const ours = parseRateFraction(recorded);
    if (ours === null) return;
    if (!differsByMoreThanBps(r.rate, ours, this.fxTolerance)) return;
    this.emit({
      category: "fx_difference",
      ...this.rowOnEvent(r, i, rule),
      evidence: {
        from: r.currency,
        to: r.netCurrency,
        gatewayRate: rateFractionToString(r.rate, 10, "half-up"),
        ledgerRate: recorded,
        differenceBps: relativeDifferenceBps(r.rate, ours, 3, "half-up"),
        toleranceBps: this.rules.fxToleranceBps,
        report: this.rowEvidence(r),
        ledger: this.ledgerEvidence(i),
      },
    });
  }

  private missingInLedger(r: ReportRow, extra: Record<string, unknown> = {}): void {
    const tried = this.rules.references[this.o.sources[r.source]?.format ?? "adyen_settlement_details"].filter((n) => r.refs[n] !== undefined);
    const otherType = tried.map((n) => this.w.find(r.refs[n]!)).find((i) => i >= 0);
    this.emit({
      category: "missing_in_ledger",
      rule: "unmatched",
      market: null,
      sellerId: null,
      currency: r.currency,
      settlementId: r.settlementRef,
      gatewayReference: r.rowId,
      gatewayEventId: null,
      journalTransactionId: null,
      lines: [r.line],
      reportAmount: r.amount,
      ledgerAmount: null,
      difference: null,
      evidence: {
        reason: "no settlement event matches this report row under any rule",
        referencesTried: Object.fromEntries(tried.map((n) => [n, r.refs[n]])),
        ...(otherType === undefined ? {} : { referenceNamesEventOfType: this.w.typeOf(otherType), referencedEvent: this.w.eventId(otherType) }),
        ...extra,
        report: this.rowEvidence(r),
      },
    });
  }

  /** Everything after the stream: amounts, fallbacks, payouts, what is left, then the chain. */
  async finish(chain: ChainView | null): Promise<MatchOutcome> {
    this.summariseRefused();
    this.evaluateMatched();
    const remaining = this.fallbacks();
    this.feeTotals();
    this.payouts();
    for (const r of remaining) this.missingInLedger(r);
    const inPeriod = this.unmatchedEvents();
    const chainSummary = await this.checkChain(chain);
    const byCategory: Record<string, number> = {};
    for (const it of this.items) byCategory[it.category] = (byCategory[it.category] ?? 0) + 1;
    let events = 0;
    for (let i = 0; i < this.w.size; i++) if (this.hits[i]! > 0) events++;
    return {
      items: this.items,
      matchedSha256: this.matchedHash.digest("hex"),
      summary: {
        reportRows: this.reportRows,
        rowsByKind: this.rowsByKind,
        ledgerEvents: this.w.size,
        ledgerEventsInPeriod: inPeriod,
        matched: { rows: this.matchedRows, events, byRule: this.byRule },
        exceptions: { total: this.items.length, byCategory },
        payoutBatches: { checked: this.payoutChecked, mismatched: this.payoutMismatched },
        chain: chainSummary,
        leftoverCapped: this.leftoverCapped,
        refusedAtImport: this.refusedSummary,
      },
    };
  }

  private evaluateMatched(): void {
    const w = this.w;
    for (let i = 0; i < w.size; i++) {
      const n = this.hits[i]!;
      if (n === 0 || this.currencyFlag[i]) continue;
      const rule = n > 1 ? "one_to_many" : (this.matchRule.get(i) ?? "exact_reference");
      if (n > 1) this.byRule["one_to_many_events"] = (this.byRule["one_to_many_events"] ?? 0) + 1;
      const lines = this.multiLines.get(i)?.map(([, l]) => l) ?? [this.firstLine[i]!];
      const expected = this.comparable(i);
      const got = this.sumAmount.get(i);
      const rows = this.differing.get(i) ?? [];
      if (abs(got - expected) > this.amountTol) {
        this.emit({
          category: "amount_mismatch",
          rule,
          ...this.eventFields(i),
          gatewayReference: rows[0]?.rowId ?? null,
          lines,
          reportAmount: got,
          ledgerAmount: expected,
          difference: got - expected,
          evidence: {
            field: this.isFeeAdjustment(i) ? "gatewayFee" : "amount",
            rows: n,
            toleranceMinor: this.rules.amountToleranceMinor,
            report: rows.map((r) => this.rowEvidence(r)),
            ledger: this.ledgerEvidence(i),
          },
        });
        continue;
      }
      if (this.isFeeAdjustment(i) || this.feeUnknown[i]) continue;
      const fee = this.sumFee.get(i);
      const ledgerFee = w.fee.get(i);
      const slack = this.sumSlack.get(i);
      if (abs(fee - ledgerFee) > this.feeTol + slack) {
        this.emit({
          category: "amount_mismatch",
          rule,
          ...this.eventFields(i),
          gatewayReference: rows[0]?.rowId ?? null,
          lines,
          reportAmount: fee,
          ledgerAmount: ledgerFee,
          difference: fee - ledgerFee,
          evidence: {
            field: "gatewayFee",
            rows: n,
            toleranceMinor: this.rules.feeToleranceMinor,
            conversionSlackMinor: slack.toString(),
            report: rows.map((r) => this.rowEvidence(r)),
            ledger: this.ledgerEvidence(i),
          },
        });
      }
    }
  }

  /** Indices of events nobody matched yet, by a grouping key. */
  private openEvents(key: (i: number) => string | null): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (let i = 0; i < this.w.size; i++) {
      if (this.hits[i]! > 0) continue;
      const k = key(i);
      if (k === null) continue;
      const list = out.get(k);
      if (list === undefined) out.set(k, [i]);
      else list.push(i);
    }
    return out;
  }

  private consume(rowsOf: readonly ReportRow[], events: readonly number[], rule: RuleName): void {
    for (const i of events) {
      for (const r of rowsOf) this.recordMatch(r, i, rule);
      this.hits[i] = rowsOf.length;
      this.matchRule.set(i, rule);
    }
    // Currency is equal by construction; the instant is compared once per event (first row),
    // the rate per row when the rows settle one event.
    for (const i of events) this.checkTiming(rowsOf[0]!, i, rule);
    if (events.length === 1) for (const r of rowsOf) this.checkFx(r, events[0]!, rule);
  }

  /** The fallback rules over the rows no reference matched, in order; returns the rows still unmatched. */
  private fallbacks(): ReportRow[] {
    let rows = this.leftovers;
    if (rows.length === 0) return [];
    if (this.rules.amountDateWindow) rows = this.matchAmountDateWindow(rows);
    if (this.rules.manyToOne) rows = this.matchManyToOne(rows);
    if (this.rules.oneToMany) rows = this.matchOneToMany(rows);
    return this.pairMerchantReference(rows);
  }

  /**
   * amount_date_window: a row matches an open event of the same type and currency whose amount is
   * within the amount tolerance and whose instant is within the date window; the same order id
   * wins, then the nearest instant. The fee is compared on the spot.
   */
  private matchAmountDateWindow(rows: readonly ReportRow[]): ReportRow[] {
    const w = this.w;
    const windowMs = this.rules.dateWindowHours * HOUR;
    const byAmount = this.openEvents((i) => (this.isReported(i) ? `${w.typeOf(i)}|${w.currencyOf(i)}|${this.comparable(i)}` : null));
    const rest: ReportRow[] = [];
    for (const r of rows) {
      const type = COMPATIBLE[r.kind];
      let best = -1;
      let bestScore = Infinity;
      if (type !== null && r.currency !== null && r.amount !== null) {
        for (let d = -this.amountTol; d <= this.amountTol; d++) {
          for (const i of byAmount.get(`${type}|${r.currency}|${r.amount + d}`) ?? []) {
            if (this.hits[i]! > 0) continue;
            const apart = Math.abs(w.occurredAt[i]! - r.occurredAt);
            if (apart > windowMs) continue;
            const score = apart + (r.settlementRef !== null && r.settlementRef === w.settlementOf(i) ? 0 : windowMs + 1);
            if (score < bestScore) {
              bestScore = score;
              best = i;
            }
          }
        }
      }
      if (best < 0) {
        rest.push(r);
        continue;
      }
      this.hits[best] = 1;
      this.firstLine[best] = r.line;
      this.firstSource[best] = r.source;
      this.recordMatch(r, best, "amount_date_window");
      this.matchRule.set(best, "amount_date_window");
      this.checkTiming(r, best, "amount_date_window");
      this.checkFx(r, best, "amount_date_window");
      const ledgerFee = w.fee.get(best);
      if (!this.isFeeAdjustment(best) && r.fee !== null && abs(r.fee - ledgerFee) > this.feeTol + r.feeSlack) {
        this.emit({
          category: "amount_mismatch",
          rule: "amount_date_window",
          ...this.eventFields(best),
          gatewayReference: r.rowId,
          lines: [r.line],
          reportAmount: r.fee,
          ledgerAmount: ledgerFee,
          difference: r.fee - ledgerFee,
          evidence: { field: "gatewayFee", toleranceMinor: this.rules.feeToleranceMinor, report: [this.rowEvidence(r)], ledger: this.ledgerEvidence(best) },
        });
      }
    }
    return rest;
  }

  /** Open events of a reported type by order, type and currency (the many-to-one and one-to-many groups). */
  private openByOrder(): Map<string, number[]> {
    const w = this.w;
    return this.openEvents((i) => (this.isReported(i) ? `${w.settlementOf(i)}|${w.typeOf(i)}|${w.currencyOf(i)}` : null));
  }

  /** many_to_one: one row equals (within the amount tolerance) the sum of all 2..maxGroupSize open events of its order, type and currency. */
  private matchManyToOne(rows: readonly ReportRow[]): ReportRow[] {
    const open = this.openByOrder();
    const rest: ReportRow[] = [];
    for (const r of rows) {
      const type = COMPATIBLE[r.kind];
      const events = r.settlementRef === null || type === null ? undefined : open.get(`${r.settlementRef}|${type}|${r.currency}`)?.filter((i) => this.hits[i] === 0);
      if (events === undefined || events.length < 2 || events.length > this.rules.maxGroupSize || r.amount === null) {
        rest.push(r);
        continue;
      }
      const total = events.reduce((s, i) => s + this.comparable(i), 0n);
      if (abs(total - r.amount) > this.amountTol) {
        rest.push(r);
        continue;
      }
      this.consume([r], events, "many_to_one");
    }
    return rest;
  }

  /** one_to_many: the 2..maxGroupSize rows of one order, type and currency sum (within the amount tolerance) to one open event of it. */
  private matchOneToMany(rows: readonly ReportRow[]): ReportRow[] {
    const open = this.openByOrder();
    const groups = new Map<string, ReportRow[]>();
    for (const r of rows) {
      const type = COMPATIBLE[r.kind];
      if (r.settlementRef === null || type === null) continue;
      const k = `${r.settlementRef}|${type}|${r.currency}`;
      const g = groups.get(k);
      if (g === undefined) groups.set(k, [r]);
      else g.push(r);
    }
    const used = new Set<ReportRow>();
    for (const [k, group] of groups) {
      if (group.length < 2 || group.length > this.rules.maxGroupSize) continue;
      const total = group.reduce((s, r) => s + (r.amount ?? 0n), 0n);
      const candidates = (open.get(k) ?? []).filter((i) => this.hits[i] === 0 && abs(this.comparable(i) - total) <= this.amountTol);
      if (candidates.length === 0) continue;
      this.consume(group, [candidates[0]!], "one_to_many");
      for (const r of group) used.add(r);
    }
    return rows.filter((r) => !used.has(r));
  }

  /**
   * merchant_reference: the only row left and the only open event of one order and type are paired;
   * unless they agree on currency and amount (then only the instant is checked), the pair is an
   * amount or currency mismatch.
   */
  private pairMerchantReference(rows: readonly ReportRow[]): ReportRow[] {
    const w = this.w;
    const rowGroups = new Map<string, ReportRow[]>();
    for (const r of rows) {
      const type = COMPATIBLE[r.kind];
      if (r.settlementRef === null || type === null) continue;
      const k = `${r.settlementRef}|${type}`;
      const g = rowGroups.get(k);
      if (g === undefined) rowGroups.set(k, [r]);
      else g.push(r);
    }
    const openByOrder = this.openEvents((i) => (this.isReported(i) ? `${w.settlementOf(i)}|${w.typeOf(i)}` : null));
    const paired = new Set<ReportRow>();
    for (const [k, group] of rowGroups) {
      const events = (openByOrder.get(k) ?? []).filter((i) => this.hits[i] === 0);
      if (group.length !== 1 || events.length !== 1) continue;
      const r = group[0]!;
      const i = events[0]!;
      paired.add(r);
      this.hits[i] = 1;
      this.firstLine[i] = r.line;
      this.recordMatch(r, i, "merchant_reference");
      const sameCurrency = r.currency === w.currencyOf(i);
      const expected = this.comparable(i);
      if (sameCurrency && r.amount !== null && abs(r.amount - expected) <= this.amountTol) {
        // Same order, type, currency and amount, but references and instants beyond the window.
        this.checkTiming(r, i, "merchant_reference");
        continue;
      }
      this.emit({
        category: sameCurrency ? "amount_mismatch" : "currency_mismatch",
        rule: "merchant_reference",
        ...this.eventFields(i),
        gatewayReference: r.rowId,
        lines: [r.line],
        reportAmount: r.amount,
        ledgerAmount: expected,
        difference: sameCurrency && r.amount !== null ? r.amount - expected : null,
        evidence: {
          reason: "no reference matched; the only report row and the only ledger event of this order and type disagree",
          ...(sameCurrency ? { field: "amount", toleranceMinor: this.rules.amountToleranceMinor } : { reportCurrency: r.currency, ledgerCurrency: w.currencyOf(i) }),
          report: [this.rowEvidence(r)],
          ledger: this.ledgerEvidence(i),
        },
      });
    }
    return rows.filter((r) => !paired.has(r));
  }

  /** Fee rows that matched no fee adjustment by reference, against the period's open fee adjustments, per currency. */
  private feeTotals(): void {
    const w = this.w;
    const open = this.openEvents((i) => (this.isFeeAdjustment(i) && this.inPeriod(w.occurredAt[i]!) ? w.currencyOf(i) : null));
    const byCurrency = new Map<string, ReportRow[]>();
    for (const r of this.feeRows) {
      const k = r.currency ?? "";
      const g = byCurrency.get(k);
      if (g === undefined) byCurrency.set(k, [r]);
      else g.push(r);
    }
    for (const [currency, rows] of byCurrency) {
      const events = open.get(currency) ?? [];
      if (events.length === 0) {
        for (const r of rows) this.missingInLedger(r, { rule: "fee_total", note: "no fee adjustment of this currency in the period" });
        continue;
      }
      const reportTotal = rows.reduce((s, r) => s + (r.amount ?? 0n), 0n);
      const ledgerTotal = events.reduce((s, i) => s + w.fee.get(i), 0n);
      for (const i of events) {
        for (const r of rows) this.recordMatch(r, i, "fee_total");
        this.hits[i] = rows.length;
        this.matchRule.set(i, "fee_total");
      }
      if (abs(reportTotal - ledgerTotal) <= BigInt(this.rules.feeToleranceMinor)) continue;
      this.emit({
        category: "amount_mismatch",
        rule: "fee_total",
        market: null,
        sellerId: null,
        currency,
        settlementId: null,
        gatewayReference: null,
        gatewayEventId: null,
        journalTransactionId: null,
        lines: rows.map((r) => r.line),
        reportAmount: reportTotal,
        ledgerAmount: ledgerTotal,
        difference: reportTotal - ledgerTotal,
        evidence: {
          field: "gatewayFee",
          reason: this.withRefused("fee rows of the report vs the fee adjustments booked in the period, in total"),
          ...this.refusedEvidence(),
          toleranceMinor: this.rules.feeToleranceMinor,
          report: rows.slice(0, 100).map((r) => this.rowEvidence(r)),
          ledgerEvents: events.slice(0, 100).map((i) => ({ gatewayEventId: w.eventId(i), gatewayFee: w.fee.get(i).toString(), journalTransactionId: w.journalOf(i) })),
        },
      });
    }
  }

  /** Each payout row vs the sum of the net of the rows of its batch (one-to-many, gateway side). */
  private payouts(): void {
    for (const [key, rows] of this.payoutRows) {
      const [batch = "", currency = ""] = key.split("\u0000");
      const seen = new Set<string>();
      for (const r of rows) {
        if (seen.has(r.rowId)) {
          this.emit({
            category: "duplicate",
            rule: "duplicate_reference",
            market: null,
            sellerId: null,
            currency,
            settlementId: null,
            gatewayReference: r.rowId,
            gatewayEventId: null,
            journalTransactionId: null,
            lines: [rows.find((x) => x.rowId === r.rowId)!.line, r.line],
            reportAmount: r.amount,
            ledgerAmount: null,
            difference: null,
            evidence: { reason: "the same payout appears more than once", batch, report: this.rowEvidence(r) },
          });
          continue;
        }
        seen.add(r.rowId);
        this.payoutChecked++;
        const settled = this.batchNet.get(key) ?? { net: 0n, rows: 0 };
        const paid = r.amount ?? 0n;
        if (abs(paid - settled.net) <= BigInt(this.rules.payoutToleranceMinor)) {
          this.byRule["payout_batch"] = (this.byRule["payout_batch"] ?? 0) + 1;
          continue;
        }
        this.payoutMismatched++;
        this.emit({
          category: "amount_mismatch",
          rule: "payout_batch",
          market: null,
          sellerId: null,
          currency,
          settlementId: null,
          gatewayReference: r.rowId === "" ? batch : r.rowId,
          gatewayEventId: null,
          journalTransactionId: null,
          lines: [r.line],
          reportAmount: paid,
          ledgerAmount: settled.net,
          difference: paid - settled.net,
          evidence: {
            field: "payout",
            reason: this.withRefused("the payout differs from the net of the rows it pays out"),
            ...this.refusedEvidence(),
            batch,
            rowsInBatch: settled.rows,
            netOfRows: settled.net.toString(),
            paidOut: paid.toString(),
            toleranceMinor: this.rules.payoutToleranceMinor,
            report: this.rowEvidence(r),
          },
        });
      }
    }
  }

  /** Events of the period nobody matched: missing at the gateway, or not yet reported (timing). */
  private unmatchedEvents(): number {
    const w = this.w;
    const lagFrom = this.to - this.rules.settlementLagHours * HOUR;
    let inPeriod = 0;
    for (let i = 0; i < w.size; i++) {
      const at = w.occurredAt[i]!;
      if (!this.inPeriod(at)) continue;
      inPeriod++;
      if (this.hits[i]! > 0 || !this.isReported(i)) continue;
      const late = at >= lagFrom;
      this.emit({
        category: late ? "timing_difference" : "missing_at_gateway",
        rule: "unmatched",
        ...this.eventFields(i),
        gatewayReference: null,
        lines: [],
        reportAmount: null,
        ledgerAmount: this.comparable(i),
        difference: null,
        evidence: {
          reason: this.withRefused(
            late
              ? "not in the report, but booked within the settlement lag before the end of the period: expected in a later report"
              : "the ledger booked this gateway event; no row of the report matches it under any rule",
          ),
          ...this.refusedEvidence(),
          settlementLagHours: this.rules.settlementLagHours,
          ledger: this.ledgerEvidence(i),
        },
      });
    }
    return inPeriod;
  }

  private async checkChain(chain: ChainView | null): Promise<RunSummary["chain"]> {
    const summary: RunSummary["chain"] = { checked: 0, notAnchored: 0, byState: {}, enabled: this.rules.chain.enabled && (chain !== null || this.w.chainRead) };
    if (!summary.enabled) return summary;
    const w = this.w;
    const cutoff = this.now - this.rules.chain.graceSeconds * 1000;
    const BATCH = 5000;
    let ids: string[] = [];
    let at: number[] = [];
    const flush = async () => {
      if (ids.length === 0) return;
      // States read ahead with the ledger pages (see the run service), else asked now.
      const states = w.chainRead || chain === null ? null : await chain.statesOf(ids);
      for (let k = 0; k < ids.length; k++) {
        const i = at[k]!;
        const s = (states === null ? w.chainOf(i) : states.get(ids[k]!)) ?? { state: "unanchored" as const, batchId: null };
        summary.checked++;
        summary.byState[s.state] = (summary.byState[s.state] ?? 0) + 1;
        if (stateAtLeast(s.state, this.rules.chain.requiredState)) continue;
        summary.notAnchored++;
        this.emit({
          category: "missing_on_chain",
          rule: "chain_state",
          ...this.eventFields(i),
          gatewayReference: null,
          lines: [],
          reportAmount: null,
          ledgerAmount: this.comparable(i),
          difference: null,
          evidence: {
            reason: `the journal transaction is ${s.state} on chain; ${this.rules.chain.requiredState} or later was required`,
            state: s.state,
            batchId: s.batchId === null ? null : s.batchId.toString(),
            requiredState: this.rules.chain.requiredState,
            recordedAt: iso(w.recordedAt[i]!),
            graceSeconds: this.rules.chain.graceSeconds,
            ledger: this.ledgerEvidence(i),
          },
        });
      }
      ids = [];
      at = [];
    };
    for (let i = 0; i < w.size; i++) {
      if (!this.inPeriod(w.occurredAt[i]!) || w.recordedAt[i]! > cutoff) continue;
      ids.push(w.journalOf(i));
      at.push(i);
      if (ids.length >= BATCH) await flush();
    }
    await flush();
    return summary;
  }
}
