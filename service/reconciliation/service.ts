/**
 * ReconciliationService: imports gateway reports, runs three-way reconciliations (gateway report
 * vs ledger vs chain), stores immutable runs with their exceptions, resolves exceptions (a note
 * and, where money is wrong, an adjusting journal entry through the ledger) and anchors each
 * run's report digest.
 *
 * It reads the ledger side only through the settlement module's API
 * (`SettlementService.iterateForReconciliation`), writes money only through the `Ledger`, and
 * reaches the chain only through `ChainView` (the anchoring service).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { createDeflateRaw, createInflateRaw } from "node:zlib";
import type { AccountSpec, JournalTransaction, Ledger, PostingInput } from "../ledger/index.js";
import type { ReconciliationRecord, SettlementEventType } from "../settlement/types.js";
import { canonicalJson, ReportDigest } from "./canonical.js";
import { REPORT_DOCUMENT_KIND, type ChainView } from "./chain-view.js";
import { adjustmentEffectiveAt, adjustmentRefusal, checkAdjustmentBound, checkAdjustmentScope, exceptionBound, exceptionInstant } from "./booking.js";
import { DEFAULT_MAX_AMOUNT_MINOR } from "../settlement/validate.js";
import { ReconErrors } from "./errors.js";
import { Errors } from "../errors.js";
import { LedgerWindow } from "./ledger-window.js";
import { COMPATIBLE, Matcher } from "./matcher.js";
import { ContentHash } from "./content-hash.js";
import { ReportReader } from "./reader.js";
import { PayoutRemittances, type BookedSide } from "./remittances.js";
import type { ReconRepository } from "./repository.js";
import { isUniqueViolation } from "../db/errors.js";
import { GATEWAY_NAME, GATEWAY_NAME_RULE } from "../settlement/validate.js";
import type { OpenItems, OpenPeriod } from "../open-items.js";
import { DEFAULT_RULES, resolveRules, rulesSha256, type AnchorStateName } from "./rules.js";
import {
  DEFAULT_GATEWAY,
  REPORT_FORMATS,
  type AdjustmentRequest,
  type ExceptionQuery,
  type ImportError,
  type ImportRecord,
  type ImportResult,
  type ItemFilter,
  type ReconItem,
  type ReportFormat,
  type Resolution,
  type RunRecord,
  type RunSummary,
} from "./types.js";

/** What reconciliation needs from the settlement module (SettlementService satisfies it). */
export interface SettlementReader {
  iterateForReconciliation(opts: { gateway: string; from: Date; to: Date; batchSize?: number; types?: readonly SettlementEventType[] }): AsyncIterable<ReconciliationRecord[]>;
}

export interface ReconciliationOptions {
  repository: ReconRepository;
  settlement: SettlementReader;
  ledger: Ledger;
  /** The anchoring service; without it runs skip the chain check and digests are not anchored. */
  chain?: ChainView | null;
  /** Largest report accepted, bytes. Default 1 GiB. */
  maxImportBytes?: number;
  /** Import errors stored per import (all are counted). Default 10,000. */
  maxStoredErrors?: number;
  /** Unmatched rows kept in memory for the fallback rules. Default 200,000. */
  leftoverCap?: number;
  /** Ledger page size. Default 20,000. */
  ledgerPageSize?: number;
  log?: { warn(o: object, m?: string): void };
  now?: () => Date;
  /** Called with the duration of each phase of a run (ledger, report, finish, persist), for benches. */
  onPhase?: (phase: string, ms: number) => void;
  /** The largest amount of one adjusting posting, minor units (MAX_AMOUNT_MINOR); default 10^15. */
  maxAmount?: (currency: string) => bigint;
  /** How far back an adjusting entry may be dated (EVENT_MAX_AGE_DAYS); default 3,660 days. */
  maxAgeMs?: number;
}

const CHUNK = 1 << 20;

export interface ResolutionResult {
  status: "created" | "exists";
  resolution: Resolution;
  transaction: JournalTransaction | null;
}

export class ReconciliationService {
  private readonly repo: ReconRepository;
  private readonly settlement: SettlementReader;
  private readonly ledger: Ledger;
  private readonly chain: ChainView | null;
  private readonly maxImportBytes: number;
  private readonly maxStoredErrors: number;
  private readonly leftoverCap: number;
  private readonly pageSize: number;
  private readonly now: () => Date;

  constructor(private readonly o: ReconciliationOptions) {
    this.repo = o.repository;
    this.settlement = o.settlement;
    this.ledger = o.ledger;
    this.chain = o.chain ?? null;
    this.maxImportBytes = o.maxImportBytes ?? 1 << 30;
    this.maxStoredErrors = o.maxStoredErrors ?? 10_000;
    this.leftoverCap = o.leftoverCap ?? 200_000;
    this.pageSize = o.ledgerPageSize ?? 20_000;
    this.now = o.now ?? (() => new Date());
  }

  get chainConfigured(): boolean {
    return this.chain !== null;
  }

  /** The same service reading the chain through `chain` (the AnchorService, once the chain is up). */
  withChain(chain: ChainView): ReconciliationService {
    return new ReconciliationService({ ...this.o, chain });
  }

  // ---- imports ----

  /**
   * Streams a report in: every chunk is hashed, parsed and validated (rows counted, malformed
   * records collected with their line) and compressed to a temporary file; nothing of the file is
   * held in memory. Then, if these bytes were never imported, the file, the summary and the errors
   * are stored in one transaction. The same bytes again, or the same content in other bytes (a
   * copy re-saved with other line endings, without its byte order mark, with blank lines at its
   * end: content-hash.ts), answer `exists` with the original import (under another format or
   * gateway: ENT_RECON_DUPLICATE_IMPORT).
   */
  async importReport(input: {
    format: string;
    gateway?: string;
    fileName?: string;
    body: AsyncIterable<Uint8Array>;
    importedBy?: string;
    /** IANA zone of the report's local times, for a Stripe report without created_utc (stored with the import). */
    timeZone?: string;
  }): Promise<ImportResult> {
    if (!(REPORT_FORMATS as readonly string[]).includes(input.format)) {
      throw ReconErrors.unknownFormat(`unknown report format ${JSON.stringify(input.format.slice(0, 60))}`, {
        fields: [{ field: "query.format", message: `must be one of ${REPORT_FORMATS.join(", ")}` }],
      });
    }
    const format = input.format as ReportFormat;
    const gateway = input.gateway ?? DEFAULT_GATEWAY[format];
    if (!GATEWAY_NAME.test(gateway)) throw ReconErrors.unknownFormat(`gateway must be ${GATEWAY_NAME_RULE}`, { fields: [{ field: "query.gateway", message: "invalid gateway name" }] });
    const timeZone = input.timeZone;
    if (timeZone !== undefined && !isTimeZone(timeZone)) {
      throw ReconErrors.reportFormat(`${JSON.stringify(timeZone.slice(0, 64))} is not an IANA time zone`, { fields: [{ field: "query.timezone", message: "an IANA time zone name, e.g. America/Los_Angeles" }] });
    }

    const errors: ImportError[] = [];
    let errorEntries = 0;
    let rowCount = 0;
    let minAt = Infinity;
    let maxAt = -Infinity;
    const recordTypes: Record<string, number> = {};
    const currencies: Record<string, number> = {};
    const reader = new ReportReader(format, 0, {
      row: (r) => {
        rowCount++;
        recordTypes[r.recordType] = (recordTypes[r.recordType] ?? 0) + 1;
        if (r.currency !== null) currencies[r.currency] = (currencies[r.currency] ?? 0) + 1;
        if (r.occurredAt < minAt) minAt = r.occurredAt;
        if (r.occurredAt > maxAt) maxAt = r.occurredAt;
      },
      error: (e) => {
        errorEntries++;
        if (errors.length < this.maxStoredErrors) errors.push(e);
      },
    }, timeZone === undefined ? {} : { timeZone });

    const dir = await mkdtemp(join(tmpdir(), "entrepot-recon-"));
    const path = join(dir, "report.deflate");
    try {
      const hash = createHash("sha256");
      const content = new ContentHash();
      let bytes = 0;
      const deflate = createDeflateRaw({ level: 1 });
      const out = createWriteStream(path);
      deflate.pipe(out);
      const written = finished(out);
      try {
        for await (const chunk of input.body) {
          bytes += chunk.byteLength;
          if (bytes > this.maxImportBytes) {
            throw ReconErrors.importTooLarge(`the report exceeds ${this.maxImportBytes} bytes`, { details: { maxBytes: this.maxImportBytes } });
          }
          hash.update(chunk);
          content.update(chunk);
          reader.pushBytes(chunk);
          if (!deflate.write(chunk)) await new Promise<void>((resolve) => deflate.once("drain", resolve));
        }
        reader.end();
      } catch (e) {
        deflate.destroy();
        out.destroy();
        await written.catch(() => undefined);
        throw e;
      }
      deflate.end();
      await written;
      const sha256 = hash.digest("hex");
      const contentSha256 = content.digest();
      const existing = await this.repo.findImportBySha(sha256, contentSha256);
      if (existing !== null) return this.replayImport(existing, format, gateway, timeZone);
      const compressedBytes = (await stat(path)).size;
      const record: ImportRecord = {
        id: `imp_${randomBytes(10).toString("hex")}`,
        gateway,
        format,
        sha256,
        contentSha256,
        fileName: input.fileName ?? null,
        byteSize: BigInt(bytes),
        lineCount: reader.lineCount,
        rowCount,
        // Records, not errors: a row with two bad cells is one row refused (its errors are listed).
        errorCount: reader.refusedCount,
        minOccurredAt: rowCount === 0 ? null : new Date(minAt),
        maxOccurredAt: rowCount === 0 ? null : new Date(maxAt),
        summary: { header: reader.header ?? [], recordTypes, currencies, errorEntries, errorsStored: errors.length, errorCap: this.maxStoredErrors, compressedBytes, ...(timeZone === undefined ? {} : { timeZone }) },
        importedBy: input.importedBy ?? null,
        createdAt: this.now(),
      };
      try {
        await this.repo.insertImport(record, fileChunks(path), errors);
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const raced = await this.repo.findImportBySha(sha256, contentSha256);
        if (raced === null) throw e;
        return this.replayImport(raced, format, gateway, timeZone);
      }
      return { status: "created", import: record };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private replayImport(existing: ImportRecord, format: ReportFormat, gateway: string, timeZone: string | undefined): ImportResult {
    const zone = existing.summary.timeZone;
    if (existing.format !== format || existing.gateway !== gateway || (zone !== undefined && timeZone !== undefined && zone !== timeZone)) {
      throw ReconErrors.duplicateImport(`this file was already imported as ${existing.format} of ${existing.gateway} (import ${existing.id})`, {
        details: { importId: existing.id, format: existing.format, gateway: existing.gateway, sha256: existing.sha256, ...(zone === undefined ? {} : { timeZone: zone }) },
      });
    }
    return { status: "exists", import: existing };
  }

  /**
   * The finance team's queue: every exception across runs once (its latest occurrence), open or
   * resolved, with when it was first seen (its age), how many runs found it and its owner; plus
   * the open ones per age bucket (0-7, 8-30, over 30 days).
   */
  listExceptions(q: Partial<ExceptionQuery> = {}) {
    return this.repo.listExceptions({ ...q, limit: q.limit ?? 100 }, this.now());
  }

  /** The open exceptions found by runs over a period (the period-close checklist): counts, amounts per currency, the first `limit`. */
  openExceptionsIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    return this.repo.openExceptionsIn(period, limit);
  }

  /** Open exceptions of every gateway per age bucket (0-7, 8-30, over 30 days since first seen). */
  openExceptionsByAge() {
    return this.repo.openByAge(null, this.now());
  }

  /** Assigns an open exception to someone (null: unassigns); 404 for an id no run has. */
  async assignException(exceptionId: string, owner: string | null, by?: string): Promise<void> {
    if (!(await this.repo.assignException(exceptionId, owner, by ?? null))) {
      throw ReconErrors.itemNotFound(`no exception ${exceptionId.slice(0, 64)} in any run`, { fields: [{ field: "params.exceptionId", message: "unknown exception" }] });
    }
  }

  /** Imports newest first (`before`: the last id of the previous page), optionally of one gateway. */
  listImports(opts: { gateway?: string; before?: string; limit?: number } = {}): Promise<ImportRecord[]> {
    return this.repo.listImports({ ...opts, limit: opts.limit ?? 50 });
  }

  /** Runs newest first (`before`: the last id of the previous page), optionally of one gateway. */
  listRuns(opts: { gateway?: string; before?: string; limit?: number } = {}): Promise<RunRecord[]> {
    return this.repo.listRuns({ ...opts, limit: opts.limit ?? 50 });
  }

  async getImport(id: string): Promise<ImportRecord> {
    const found = await this.repo.getImport(id);
    if (found === null) throw ReconErrors.importNotFound(`no import ${JSON.stringify(id.slice(0, 60))}`, { fields: [{ field: "params.id", message: "unknown import" }] });
    return found;
  }

  /**
   * The remittances an import's payout lines stand for (remittances.ts): the stored file streamed
   * through the same reader as at import. The caller books them (the ledger's remittance). A
   * converted row clears what the ledger booked for its event (found by reference, as a run's
   * exact-reference rule does, in the import's span plus the default look-around).
   */
  async payoutRemittances(id: string): Promise<{ gateway: string } & ReturnType<PayoutRemittances["finish"]>> {
    const imp = await this.getImport(id);
    const payouts = new PayoutRemittances();
    const reader = new ReportReader(imp.format, 0, { row: (r) => payouts.row(r), error: () => undefined }, imp.summary.timeZone === undefined ? {} : { timeZone: imp.summary.timeZone });
    for await (const chunk of this.importBytes(imp.id)) reader.pushBytes(chunk);
    reader.end();
    return { gateway: imp.gateway, ...payouts.finish(await this.bookedSide(imp)) };
  }

  /** The ledger's side of an import's rows: amount and fee of the event a row names (remittances.ts `BookedSide`). */
  private async bookedSide(imp: ImportRecord): Promise<BookedSide | undefined> {
    if (imp.minOccurredAt === null || imp.maxOccurredAt === null) return undefined;
    const margin = DEFAULT_RULES.lookaroundHours * 3_600_000;
    const window = new LedgerWindow(1024);
    const span = { gateway: imp.gateway, from: new Date(imp.minOccurredAt.getTime() - margin), to: new Date(imp.maxOccurredAt.getTime() + 1 + margin), batchSize: this.pageSize };
    for await (const page of this.settlement.iterateForReconciliation(span)) for (const r of page) window.add(r);
    const references = DEFAULT_RULES.references[imp.format];
    return (r) => {
      const wanted = COMPATIBLE[r.kind];
      if (wanted === null || wanted === "fee_adjustment") return null;
      for (const name of references) {
        const ref = r.refs[name];
        if (ref === undefined) continue;
        const i = window.find(ref);
        if (i >= 0 && window.typeOf(i) === wanted) return { currency: window.currencyOf(i), amount: window.amount.get(i), fee: window.fee.get(i) };
      }
      return null;
    };
  }

  async listImportErrors(id: string, page: { afterSeq?: number; limit?: number } = {}): Promise<Array<ImportError & { seq: number }>> {
    await this.getImport(id);
    return this.repo.listImportErrors(id, { afterSeq: page.afterSeq ?? -1, limit: page.limit ?? 1000 });
  }

  /** The stored file of an import, decompressed, as a byte stream (exactly the bytes received). */
  importBytes(id: string): AsyncIterable<Uint8Array> {
    return Readable.from(this.repo.importChunks(id)).pipe(createInflateRaw());
  }

  // ---- runs ----

  /**
   * Reconciles the named imports (one gateway) against the ledger over a period (default: the
   * span of the imports' rows) and the chain; stores the run with its exceptions in one
   * transaction, then queues the report digest for anchoring.
   */
  async run(input: { importIds: readonly string[]; from?: Date; to?: Date; rules?: unknown; createdBy?: string }): Promise<RunRecord> {
    const startedAt = this.now();
    const rules = resolveRules(input.rules ?? {});
    const ids = [...input.importIds];
    if (ids.length === 0 || ids.length > 50) throw ReconErrors.invalidRun("a run reconciles 1-50 imports", { fields: [{ field: "importIds", message: "1-50 import ids" }] });
    if (new Set(ids).size !== ids.length) throw ReconErrors.invalidRun("an import is named twice", { fields: [{ field: "importIds", message: "must be distinct" }] });
    const found = await this.repo.getImports(ids);
    const byId = new Map(found.map((i) => [i.id, i]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) throw ReconErrors.importNotFound(`no import ${missing.join(", ")}`, { fields: [{ field: "importIds", message: "unknown import" }], details: { missing } });
    const imports = ids.map((id) => byId.get(id)!);
    const gateway = imports[0]!.gateway;
    if (imports.some((i) => i.gateway !== gateway)) {
      throw ReconErrors.invalidRun("a run reconciles the reports of one gateway", { fields: [{ field: "importIds", message: "imports of different gateways" }] });
    }
    const mins = imports.flatMap((i) => (i.minOccurredAt === null ? [] : [i.minOccurredAt.getTime()]));
    const maxs = imports.flatMap((i) => (i.maxOccurredAt === null ? [] : [i.maxOccurredAt.getTime()]));
    const from = input.from ?? (mins.length === 0 ? null : new Date(Math.min(...mins)));
    const to = input.to ?? (maxs.length === 0 ? null : new Date(Math.max(...maxs) + 1));
    if (from === null || to === null) throw ReconErrors.invalidRun("the imports have no valid rows: name the period (from, to)", { fields: [{ field: "from", message: "required when the imports have no rows" }] });
    if (to.getTime() <= from.getTime()) throw ReconErrors.invalidRun("to must be after from", { fields: [{ field: "to", message: "must be after from" }] });

    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      this.o.onPhase?.(name, now - mark);
      mark = now;
    };
    // Ledger side: the period plus the look-around margin, compactly in memory.
    const margin = rules.lookaroundHours * 3_600_000;
    const window = new LedgerWindow(1024);
    const chain = rules.chain.enabled ? this.chain : null;
    for await (const page of this.settlement.iterateForReconciliation({ gateway, from: new Date(from.getTime() - margin), to: new Date(to.getTime() + margin), batchSize: this.pageSize })) {
      for (const r of page) window.add(r);
    }
    // Chain side: the states of every event with a journal transaction are read on their own
    // connection while the report is streamed and matched (database work beside JavaScript work),
    // in chunks small enough for the anchoring service's lookups to stay on its index.
    const states = chain === null ? Promise.resolve() : this.readChainStates(chain, window);
    states.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    phase("ledger");
    const matcher = new Matcher({
      gateway,
      period: { from, to },
      periodFromReport: input.from === undefined || input.to === undefined,
      rules,
      window,
      sources: imports.map((i) => ({ importId: i.id, format: i.format })),
      leftoverCap: this.leftoverCap,
      now: startedAt,
    });
    // Gateway side: each stored file streamed through the same reader as at import.
    for (const [k, imp] of imports.entries()) {
      let rows = 0;
      const reader = new ReportReader(imp.format, k, {
        row: (r) => {
          rows++;
          matcher.row(r);
        },
        // Recorded at import and listed there; the run names the refused lines where they may matter.
        error: (e) => matcher.refusedRecord(k, e.line),
      }, imp.summary.timeZone === undefined ? {} : { timeZone: imp.summary.timeZone });
      for await (const chunk of this.importBytes(imp.id)) reader.pushBytes(chunk);
      reader.end();
      if (rows !== imp.rowCount) throw new Error(`import ${imp.id} re-read ${rows} rows, ${imp.rowCount} at import`);
    }
    await states;
    phase("report");
    const outcome = await matcher.finish(chain);
    phase("finish");

    const id = `run_${randomBytes(10).toString("hex")}`;
    const finishedAt = this.now();
    const summary: RunSummary = {
      gateway,
      periodFrom: from.toISOString(),
      periodTo: to.toISOString(),
      imports: imports.map((i) => ({ id: i.id, sha256: i.sha256, format: i.format, rows: i.rowCount, errors: i.errorCount })),
      ...outcome.summary,
    };
    const rulesHash = rulesSha256(rules);
    const items: ReconItem[] = outcome.items;
    const run: RunRecord = {
      id,
      gateway,
      periodFrom: from,
      periodTo: to,
      importIds: ids,
      rules,
      rulesVersion: rules.version,
      rulesSha256: rulesHash,
      summary,
      itemCount: items.length,
      matchedSha256: outcome.matchedSha256,
      digest: "",
      startedAt,
      finishedAt,
      createdBy: input.createdBy ?? null,
    };
    const digest = new ReportDigest();
    for (const item of items) digest.addItem(item);
    run.digest = digest.finish(runHeader(run));
    await this.repo.insertRun(run, items);
    // Exceptions already resolved in an earlier run come back resolved, linked to the same entry.
    if (items.length > 0) await this.repo.carryResolutions(run.id);
    phase("persist");
    await this.anchor(run);
    return run;
  }

  private async readChainStates(chain: ChainView, window: LedgerWindow): Promise<void> {
    if (chain.listBatches !== undefined && (await this.statesFromBatches(chain, window))) return;
    const CHUNK_IDS = 2000;
    let ids: string[] = [];
    let at: number[] = [];
    const flush = async () => {
      const got = await chain.statesOf(ids);
      for (let k = 0; k < ids.length; k++) {
        const s = got.get(ids[k]!);
        window.setChain(at[k]!, s?.state ?? "unanchored", s?.batchId ?? null);
      }
      ids = [];
      at = [];
    };
    for (let i = 0; i < window.size; i++) {
      ids.push(window.journalOf(i));
      at.push(i);
      if (ids.length >= CHUNK_IDS) await flush();
    }
    if (ids.length > 0) await flush();
    window.chainRead = true;
  }

  /**
   * States from the batches' journal ranges (see ChainView.listBatches): only the batches down to
   * the window's smallest journal id are read. A sample of the answers is checked against
   * `statesOf`; any disagreement (or a non-numeric id) falls back to asking per id.
   */
  private async statesFromBatches(chain: ChainView, window: LedgerWindow): Promise<boolean> {
    let min = Number.POSITIVE_INFINITY;
    const seqs = new Float64Array(window.size).fill(Number.NaN);
    for (let i = 0; i < window.size; i++) {
      const tx = window.journalOf(i);
      if (!/^\d{1,15}$/.test(tx)) return false;
      seqs[i] = Number(tx);
      if (seqs[i]! < min) min = seqs[i]!;
    }
    const ranges: Array<{ first: number; last: number; state: AnchorStateName; batchId: bigint }> = [];
    let before: bigint | undefined;
    for (;;) {
      const page = await chain.listBatches!({ limit: 1000, ...(before === undefined ? {} : { before }) });
      for (const b of page.items) if (b.journalCount > 0) ranges.push({ first: Number(b.firstSequence), last: Number(b.lastSequence), state: b.state, batchId: b.batchId });
      const oldest = page.items[page.items.length - 1];
      if (page.nextBefore === null || oldest === undefined || Number(oldest.lastSequence) < min) break;
      before = page.nextBefore;
    }
    ranges.sort((a, b) => a.first - b.first);
    const find = (seq: number) => {
      let lo = 0;
      let hi = ranges.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const r = ranges[mid]!;
        if (seq < r.first) hi = mid - 1;
        else if (seq > r.last) lo = mid + 1;
        else return r;
      }
      return null;
    };
    const sample: number[] = [];
    const step = Math.max(1, Math.floor(window.size / 500));
    for (let i = 0; i < window.size; i++) {
      const seq = seqs[i]!;
      if (Number.isNaN(seq)) continue;
      const r = find(seq);
      window.setChain(i, r?.state ?? "unanchored", r?.batchId ?? null);
      if (i % step === 0) sample.push(i);
    }
    const ids = sample.map((i) => window.journalOf(i));
    const truth = await chain.statesOf(ids);
    for (const [k, i] of sample.entries()) {
      const t = truth.get(ids[k]!) ?? { state: "unanchored", batchId: null };
      const mine = window.chainOf(i);
      if (mine === null || mine.state !== t.state || mine.batchId !== t.batchId) {
        this.o.log?.warn({ journalTransactionId: ids[k], fromBatches: mine, statesOf: t }, "anchor batch ranges disagree with statesOf; asking per id");
        return false;
      }
    }
    window.chainRead = true;
    return true;
  }

  /** Queue the run's digest for anchoring (idempotent by run id). Failures are logged, never lose the run. */
  async anchor(run: RunRecord): Promise<boolean> {
    if (this.chain === null) return false;
    try {
      await this.chain.enqueueDocument({ kind: REPORT_DOCUMENT_KIND, id: run.id, digest: run.digest });
      return true;
    } catch (e) {
      this.o.log?.warn({ err: e, runId: run.id }, "reconciliation report digest not queued for anchoring; retry with POST .../anchor");
      return false;
    }
  }

  async getRun(id: string): Promise<RunRecord> {
    const run = await this.repo.getRun(id);
    if (run === null) throw ReconErrors.runNotFound(`no reconciliation run ${JSON.stringify(id.slice(0, 60))}`, { fields: [{ field: "params.id", message: "unknown run" }] });
    return run;
  }

  async listItems(runId: string, filter: ItemFilter = {}, page: { afterSeq?: number; limit?: number } = {}): Promise<ReconItem[]> {
    await this.getRun(runId);
    return this.repo.listItems(runId, filter, { afterSeq: page.afterSeq ?? 0, limit: page.limit ?? 1000 });
  }

  /** Every item of a run matching the filter, page by page (for CSV streaming and digest checks). */
  async *iterateItems(runId: string, filter: ItemFilter = {}, pageSize = 1000): AsyncGenerator<ReconItem[]> {
    let after = 0;
    for (;;) {
      const page = await this.repo.listItems(runId, filter, { afterSeq: after, limit: pageSize });
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1]!.seq;
      if (page.length < pageSize) return;
    }
  }

  async listResolutions(runId: string): Promise<Resolution[]> {
    return this.repo.listResolutions(runId);
  }

  /** The anchoring proof of the run's report digest (via the anchoring service). */
  async proof(runId: string): Promise<unknown> {
    await this.getRun(runId);
    if (this.chain?.proofOfDocument === undefined) throw ReconErrors.chainUnavailable("no anchoring service is configured");
    return this.chain.proofOfDocument(REPORT_DOCUMENT_KIND, runId);
  }

  // ---- resolutions ----

  /**
   * Resolves one exception: a note and, optionally, an adjusting journal entry posted through the
   * ledger with an idempotency key derived from the exception (`recon:<runId>:<seq>`), so a retry
   * books nothing twice. Written once: the same request again answers `exists`; another request
   * for the same exception is ENT_RECON_RESOLUTION_CONFLICT. The entry is effective when what it
   * corrects happened (booking.ts: the report row's instant, else the ledger event's, else the end
   * of the run's period), or at `adjustment.effectiveAt` when given (not in the future); in a
   * closed period the ledger books it at the close instant and keeps the instant as
   * `originalEffectiveAt`.
   */
  async resolve(runId: string, seq: number, input: { note: string; adjustment?: AdjustmentRequest; resolvedBy?: string }): Promise<ResolutionResult> {
    if (input.note.trim() === "") throw Errors.validation("note is blank: say what the exception was and why it is resolved so", { fields: [{ field: "note", message: "must not be blank" }] });
    const item = await this.repo.getItem(runId, seq);
    if (item === null) {
      await this.getRun(runId);
      throw ReconErrors.itemNotFound(`run ${runId} has no item ${seq}`, { fields: [{ field: "params.itemId", message: "unknown item" }] });
    }
    const adjustment = input.adjustment ?? null;
    const requestHash = createHash("sha256").update(canonicalJson({ note: input.note, adjustment })).digest("hex");
    // Resolved here already, or (the same exception) in another run: never a second adjusting entry.
    const prior = (await this.repo.getResolution(runId, seq)) ?? ((await this.repo.carryResolutions(runId, seq)) > 0 ? await this.repo.getResolution(runId, seq) : null);
    if (prior !== null) return this.replayResolution(prior, requestHash);

    let transaction: JournalTransaction | null = null;
    if (adjustment !== null) {
      checkAdjustmentScope(adjustment.postings, { gateways: new Set([item.gateway]), bank: false, maxAmount: this.o.maxAmount ?? (() => DEFAULT_MAX_AMOUNT_MINOR) }, (message, field, why) =>
        ReconErrors.adjustmentInvalid(`exception ${seq} of run ${runId} (${item.gateway}): ${message}`, { fields: [{ field, message: why }] }),
      );
      if (adjustment.exceedsException !== true) {
        checkAdjustmentBound(adjustment.postings, exceptionBound(item), (message, details) =>
          ReconErrors.adjustmentExceedsException(`exception ${seq} of run ${runId} (${item.category}): ${message}`, {
            fields: [{ field: "adjustment.postings", message: `at most the exception's amount in ${details["currency"]} (${details["exceptionAmount"]}), or "exceedsException": true` }],
            details,
          }),
        );
      }
      // Derived from the stored run and item, so a retry after a crash posts the same request.
      const effectiveAt = adjustmentEffectiveAt(adjustment.effectiveAt, exceptionInstant(item, (await this.getRun(runId)).periodTo), this.now(), this.o.maxAgeMs);
      const metadata: Record<string, string> = { source: "reconciliation", runId, itemSeq: String(seq), category: item.category, gateway: item.gateway };
      if (item.settlementId !== null) metadata["settlementId"] = item.settlementId;
      if (item.sellerId !== null) metadata["sellerId"] = item.sellerId;
      if (item.gatewayEventId !== null) metadata["gatewayEventId"] = item.gatewayEventId;
      try {
        const posted = await this.ledger.post({
          idempotencyKey: `recon:${runId}:${seq}`,
          postings: adjustment.postings.map((p) => ({ ...p })),
          metadata: adjustment.exceedsException === true ? { ...metadata, exceedsException: "true" } : metadata,
          description: adjustment.description ?? `Reconciliation adjustment: ${item.category} (run ${runId}, item ${seq})`,
          effectiveAt,
          accounts: adjustmentAccountSpecs(adjustment.postings, item.gateway),
        });
        transaction = posted.transaction;
      } catch (e) {
        throw adjustmentRefusal(e, { conflict: ReconErrors.resolutionConflict, rejected: ReconErrors.adjustmentRejected }, `item ${seq} of run ${runId} already has a different adjusting entry`);
      }
    }
    const resolution: Resolution & { requestHash: string } = {
      runId,
      itemSeq: seq,
      note: input.note,
      adjustment,
      journalTransactionId: transaction?.id ?? null,
      resolvedBy: input.resolvedBy ?? null,
      createdAt: this.now(),
      requestHash,
    };
    try {
      await this.repo.insertResolution(resolution);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const raced = await this.repo.getResolution(runId, seq);
      if (raced === null) throw e;
      return this.replayResolution(raced, requestHash);
    }
    const { requestHash: _h, ...stored } = resolution;
    return { status: "created", resolution: stored, transaction };
  }

  private async replayResolution(prior: Resolution & { requestHash: string }, requestHash: string): Promise<ResolutionResult> {
    if (prior.requestHash !== requestHash) {
      const carried = /^carried from run (\S+) item (\d+): /.exec(prior.note);
      throw ReconErrors.resolutionConflict(
        carried === null
          ? `item ${prior.itemSeq} of run ${prior.runId} was already resolved differently`
          : `item ${prior.itemSeq} of run ${prior.runId} is the same exception as item ${carried[2]} of run ${carried[1]}, already resolved${prior.journalTransactionId === null ? "" : ` with journal transaction ${prior.journalTransactionId}`}`,
        {
          details: {
            resolvedAt: prior.createdAt.toISOString(),
            journalTransactionId: prior.journalTransactionId,
            ...(carried === null ? {} : { resolvedInRun: carried[1], resolvedItem: Number(carried[2]) }),
          },
        },
      );
    }
    const { requestHash: _h, ...stored } = prior;
    const transaction = prior.journalTransactionId === null ? null : await this.ledger.getTransaction(prior.journalTransactionId);
    return { status: "exists", resolution: stored, transaction };
  }
}

/** The header line of a run's report document (see canonical.ts): everything but the items. */
export function runHeader(run: RunRecord): Record<string, unknown> {
  return {
    runId: run.id,
    gateway: run.gateway,
    periodFrom: run.periodFrom.toISOString(),
    periodTo: run.periodTo.toISOString(),
    importIds: run.importIds,
    rulesVersion: run.rulesVersion,
    rulesSha256: run.rulesSha256,
    summary: run.summary,
    matchedSha256: run.matchedSha256,
    itemCount: run.itemCount,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
  };
}

/**
 * Account specs for an adjusting entry's postings that a reconciliation (of gateway reports or of
 * bank statements) may open: the receivable of `gateway` (a gateway reconciliation's own gateway),
 * the platform's reconciliation-difference accounts `platform:reconciliation:<name>` (debit-normal:
 * costs, charges, differences) and its suspense accounts `platform:suspense:<name>` (credit-normal).
 * Any other account must exist (checkAdjustmentScope says which an entry may move at all).
 *
 * A suspense account parks money received from someone not yet identified: it is owed until then,
 * so a credit balance is its normal state, not one to check. It has a family of its own because an
 * account keeps the normal side it was opened with (its postings' running balances are in those
 * terms): a `platform:reconciliation:unidentified…` account opened debit-normal stays so, and only
 * a code no resolution could open before is sure to be opened credit-normal.
 */
export function adjustmentAccountSpecs(postings: readonly Pick<PostingInput, "account" | "currency">[], gateway?: string): AccountSpec[] {
  const out = new Map<string, AccountSpec>();
  for (const p of postings) {
    const [head, owner, tail] = p.account.split(":");
    if (head === "platform" && (owner === "reconciliation" || owner === "suspense") && tail !== undefined) {
      const normalBalance = owner === "suspense" ? "credit" : "debit";
      out.set(`${p.account}\u0000${p.currency}`, { code: p.account, currency: p.currency, ownerType: "platform", ownerId: "platform", normalBalance, allowNegative: true });
    } else if (head === "gateway" && owner !== undefined && owner === gateway && tail === "receivable") {
      out.set(`${p.account}\u0000${p.currency}`, { code: p.account, currency: p.currency, ownerType: "gateway", ownerId: owner, normalBalance: "debit", allowNegative: true });
    }
  }
  return [...out.values()];
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) yield chunk as Buffer;
}

function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
