/**
 * Storage of the reconciliation module (the `recon_*` tables), over the raw SQL runner. Every
 * table is append-only (database triggers): an import is written once with its file and errors,
 * a run once with all its items, a resolution once per item.
 */
import type { SqlRunner } from "../db/sql.js";
import { readOpenItems, type OpenItems, type OpenPeriod } from "../open-items.js";
import type { AdjustmentRequest, AgeBucket, Category, ExceptionEntry, ExceptionQuery, ImportError, ImportRecord, ImportSummary, ItemFilter, ReconItem, ReportFormat, Resolution, RunRecord, RunSummary, RuleName } from "./types.js";

type Row = Record<string, unknown>;

const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? v.toString() : JSON.stringify(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : text(v));
const big = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(text(v)));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(text(v)));
const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

function toImport(r: Row): ImportRecord {
  return {
    id: String(r.id),
    gateway: String(r.gateway),
    format: String(r.format) as ReportFormat,
    sha256: String(r.sha256),
    contentSha256: str(r.content_sha256),
    fileName: str(r.file_name),
    byteSize: BigInt(String(r.byte_size)),
    lineCount: Number(r.line_count),
    rowCount: Number(r.row_count),
    errorCount: Number(r.error_count),
    minOccurredAt: r.min_occurred_at === null ? null : date(r.min_occurred_at),
    maxOccurredAt: r.max_occurred_at === null ? null : date(r.max_occurred_at),
    summary: json<ImportSummary>(r.summary),
    importedBy: str(r.imported_by),
    createdAt: date(r.created_at),
  };
}

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id),
    gateway: String(r.gateway),
    periodFrom: date(r.period_from),
    periodTo: date(r.period_to),
    importIds: (r.import_ids as string[] | null) ?? [],
    rules: json<unknown>(r.rules),
    rulesVersion: String(r.rules_version),
    rulesSha256: String(r.rules_sha256),
    summary: json<RunSummary>(r.summary),
    itemCount: Number(r.item_count),
    matchedSha256: String(r.matched_sha256),
    digest: String(r.digest),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    createdBy: str(r.created_by),
  };
}

function toItem(r: Row): ReconItem {
  return {
    seq: Number(r.seq),
    category: String(r.category) as Category,
    rule: String(r.rule) as RuleName,
    gateway: String(r.gateway),
    market: str(r.market),
    sellerId: str(r.seller_id),
    currency: str(r.currency),
    settlementId: str(r.settlement_id),
    gatewayReference: str(r.gateway_reference),
    gatewayEventId: str(r.gateway_event_id),
    journalTransactionId: str(r.journal_transaction_id),
    lines: ((r.lines as Array<number | string> | null) ?? []).map(Number),
    reportAmount: big(r.report_amount),
    ledgerAmount: big(r.ledger_amount),
    difference: big(r.difference),
    evidence: json<Record<string, unknown>>(r.evidence),
  };
}

function toResolution(r: Row): Resolution & { requestHash: string } {
  const adj = r.adjustment === null ? null : json<{ postings: Array<{ account: string; currency: string; direction: "debit" | "credit"; amount: string }>; description?: string; effectiveAt?: string; exceedsException?: boolean }>(r.adjustment);
  return {
    runId: String(r.run_id),
    itemSeq: Number(r.item_seq),
    note: String(r.note),
    adjustment: adj === null ? null : toAdjustment(adj),
    journalTransactionId: str(r.journal_transaction_id),
    resolvedBy: str(r.resolved_by),
    createdAt: date(r.created_at),
    requestHash: String(r.request_hash),
  };
}

function toAdjustment(a: { postings: Array<{ account: string; currency: string; direction: "debit" | "credit"; amount: string }>; description?: string; effectiveAt?: string; exceedsException?: boolean }): AdjustmentRequest {
  return {
    postings: a.postings.map((p) => ({ ...p, amount: BigInt(p.amount) })),
    ...(a.description === undefined ? {} : { description: a.description }),
    ...(a.effectiveAt === undefined ? {} : { effectiveAt: new Date(a.effectiveAt) }),
    ...(a.exceedsException === undefined ? {} : { exceedsException: a.exceedsException }),
  };
}

/** Every exception once ($1: one gateway or NULL): `items` (each run's items with their exception id), `ids` (per exception: first and last seen, runs, resolved). */
const EXCEPTIONS_BASE = `
      WITH items AS (
        SELECT i.*, u.gateway, u.finished_at,
               recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id,
                                  i.report_amount, i.ledger_amount, i.difference, i.evidence) AS exception_id,
               EXISTS (SELECT 1 FROM recon_resolutions r WHERE r.run_id = i.run_id AND r.item_seq = i.seq) AS resolved
          FROM recon_run_items i JOIN recon_runs u ON u.id = i.run_id
         WHERE ($1::text IS NULL OR u.gateway = $1::text)
      ), ids AS (
        SELECT exception_id, min(finished_at) AS first_seen, max(finished_at) AS last_seen, count(DISTINCT run_id)::int AS runs,
               bool_or(resolved) AS resolved
          FROM items GROUP BY exception_id
      )`;


export class ReconRepository {
  constructor(private readonly sql: SqlRunner) {}

  /** Writes an import, its file chunks and its errors in one transaction. Throws on a sha256 or content_sha256 conflict (unique violation). */
  async insertImport(rec: ImportRecord, chunks: AsyncIterable<Uint8Array>, errors: readonly ImportError[]): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.q(
        `INSERT INTO recon_imports (id, gateway, format, sha256, file_name, byte_size, line_count, row_count, error_count,
           min_occurred_at, max_occurred_at, summary, imported_by, created_at, content_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15)`,
        rec.id, rec.gateway, rec.format, rec.sha256, rec.fileName, rec.byteSize, rec.lineCount, rec.rowCount, rec.errorCount,
        rec.minOccurredAt, rec.maxOccurredAt, JSON.stringify(rec.summary), rec.importedBy, rec.createdAt, rec.contentSha256,
      );
      let seq = 0;
      for await (const chunk of chunks) {
        // Bytes travel as base64 text, decoded by the server: PGlite's bytea parameter and result
        // encoding in JavaScript cost ~10x more (measured: 25 MiB in 7 s vs 0.8 s).
        await tx.q(`INSERT INTO recon_import_chunks (import_id, seq, data) VALUES ($1, $2, decode($3, 'base64'))`, rec.id, seq++, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"));
      }
      for (let i = 0; i < errors.length; i += 1000) {
        const page = errors.slice(i, i + 1000).map((e, k) => ({ seq: i + k, line: e.line, column: e.column, code: e.code, message: e.message }));
        await tx.q(
          `INSERT INTO recon_import_errors (import_id, seq, line, "column", code, message)
           SELECT $1, v.seq, v.line, v."column", v.code, v.message
           FROM jsonb_to_recordset($2::jsonb) AS v(seq int, line int, "column" varchar, code varchar, message text)`,
          rec.id, JSON.stringify(page),
        );
      }
    });
  }

  /** The import of these bytes, else the import of the same content (content-hash.ts) in other bytes. */
  async findImportBySha(sha256: string, contentSha256: string): Promise<ImportRecord | null> {
    const rows = await this.sql.q(
      `SELECT * FROM recon_imports WHERE sha256 = $1 OR content_sha256 = $2 ORDER BY (sha256 = $1) DESC LIMIT 1`,
      sha256, contentSha256,
    );
    return rows[0] === undefined ? null : toImport(rows[0]);
  }

  async getImport(id: string): Promise<ImportRecord | null> {
    const rows = await this.sql.q(`SELECT * FROM recon_imports WHERE id = $1`, id);
    return rows[0] === undefined ? null : toImport(rows[0]);
  }

  /** Imports newest first; `before`: the last id of the previous page. */
  async listImports(opts: { gateway?: string; before?: string; limit: number }): Promise<ImportRecord[]> {
    return (await this.newestFirst("recon_imports", "created_at", opts)).map(toImport);
  }

  /** Runs newest first by finish; `before`: the last id of the previous page. */
  async listRuns(opts: { gateway?: string; before?: string; limit: number }): Promise<RunRecord[]> {
    return (await this.newestFirst("recon_runs", "finished_at", opts)).map(toRun);
  }

  private newestFirst(table: "recon_imports" | "recon_runs", at: "created_at" | "finished_at", opts: { gateway?: string; before?: string; limit: number }): Promise<Row[]> {
    return this.sql.q(
      `SELECT * FROM ${table}
        WHERE ($1::text IS NULL OR gateway = $1::text)
          AND ($2::text IS NULL OR (${at}, id) < (SELECT ${at}, id FROM ${table} WHERE id = $2::text))
        ORDER BY ${at} DESC, id DESC LIMIT $3`,
      opts.gateway ?? null, opts.before ?? null, opts.limit,
    );
  }

  async getImports(ids: readonly string[]): Promise<ImportRecord[]> {
    const rows = await this.sql.q(`SELECT * FROM recon_imports WHERE id = ANY($1::text[])`, [...ids]);
    return rows.map(toImport);
  }

  async listImportErrors(id: string, page: { afterSeq: number; limit: number }): Promise<Array<ImportError & { seq: number }>> {
    const rows = await this.sql.q(
      `SELECT seq, line, "column", code, message FROM recon_import_errors WHERE import_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      id, page.afterSeq, page.limit,
    );
    return rows.map((r) => ({ seq: Number(r.seq), line: Number(r.line), column: str(r.column), code: String(r.code), message: String(r.message) }));
  }

  /** The stored (compressed) file, chunk by chunk, in order. */
  async *importChunks(id: string): AsyncGenerator<Uint8Array> {
    for (let seq = 0; ; seq++) {
      const rows = await this.sql.q(`SELECT encode(data, 'base64') AS data FROM recon_import_chunks WHERE import_id = $1 AND seq = $2`, id, seq);
      const data = rows[0]?.data as string | undefined;
      if (data === undefined) return;
      yield Buffer.from(data, "base64");
    }
  }

  /** Writes a finished run and all its items in one transaction. */
  async insertRun(run: RunRecord, items: readonly ReconItem[]): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.q(
        `INSERT INTO recon_runs (id, gateway, period_from, period_to, import_ids, rules, rules_version, rules_sha256, summary,
           item_count, matched_sha256, digest, started_at, finished_at, created_by)
         VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15)`,
        run.id, run.gateway, run.periodFrom, run.periodTo, run.importIds, JSON.stringify(run.rules), run.rulesVersion, run.rulesSha256,
        JSON.stringify(run.summary), run.itemCount, run.matchedSha256, run.digest, run.startedAt, run.finishedAt, run.createdBy,
      );
      for (let i = 0; i < items.length; i += 1000) {
        const page = items.slice(i, i + 1000).map((it) => ({
          seq: it.seq,
          category: it.category,
          rule: it.rule,
          market: it.market,
          seller_id: it.sellerId,
          currency: it.currency,
          settlement_id: it.settlementId,
          gateway_reference: it.gatewayReference,
          gateway_event_id: it.gatewayEventId,
          journal_transaction_id: it.journalTransactionId,
          lines: it.lines,
          report_amount: it.reportAmount?.toString() ?? null,
          ledger_amount: it.ledgerAmount?.toString() ?? null,
          difference: it.difference?.toString() ?? null,
          evidence: it.evidence,
        }));
        await tx.q(
          `INSERT INTO recon_run_items (run_id, seq, category, rule, market, seller_id, currency, settlement_id, gateway_reference,
             gateway_event_id, journal_transaction_id, lines, report_amount, ledger_amount, difference, evidence)
           SELECT $1, v.seq, v.category, v.rule, v.market, v.seller_id, v.currency, v.settlement_id, v.gateway_reference,
             v.gateway_event_id, v.journal_transaction_id, ARRAY(SELECT jsonb_array_elements_text(v.lines)::int), v.report_amount,
             v.ledger_amount, v.difference, v.evidence
           FROM jsonb_to_recordset($2::jsonb) AS v(seq int, category varchar, rule varchar, market varchar, seller_id varchar,
             currency varchar, settlement_id varchar, gateway_reference varchar, gateway_event_id varchar,
             journal_transaction_id varchar, lines jsonb, report_amount numeric, ledger_amount numeric, difference numeric, evidence jsonb)`,
          run.id, JSON.stringify(page, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
        );
      }
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const rows = await this.sql.q(`SELECT * FROM recon_runs WHERE id = $1`, id);
    return rows[0] === undefined ? null : toRun(rows[0]);
  }

  /** Items of a run in seq order after `afterSeq`, filtered. */
  async listItems(runId: string, filter: ItemFilter, page: { afterSeq: number; limit: number }): Promise<ReconItem[]> {
    const rows = await this.sql.q(
      `SELECT i.*, r.gateway FROM recon_run_items i JOIN recon_runs r ON r.id = i.run_id
       WHERE i.run_id = $1 AND i.seq > $2
         AND ($3::text IS NULL OR i.category = $3) AND ($4::text IS NULL OR i.market = $4)
         AND ($5::text IS NULL OR r.gateway = $5) AND ($6::text IS NULL OR i.seller_id = $6) AND ($7::text IS NULL OR i.currency = $7)
       ORDER BY i.seq LIMIT $8`,
      runId, page.afterSeq, filter.category ?? null, filter.market ?? null, filter.gateway ?? null, filter.sellerId ?? null, filter.currency ?? null, page.limit,
    );
    return rows.map(toItem);
  }

  async getItem(runId: string, seq: number): Promise<ReconItem | null> {
    const rows = await this.sql.q(
      `SELECT i.*, r.gateway FROM recon_run_items i JOIN recon_runs r ON r.id = i.run_id WHERE i.run_id = $1 AND i.seq = $2`,
      runId, seq,
    );
    return rows[0] === undefined ? null : toItem(rows[0]);
  }

  async insertResolution(r: Resolution & { requestHash: string }): Promise<void> {
    await this.sql.q(
      `INSERT INTO recon_resolutions (run_id, item_seq, note, adjustment, journal_transaction_id, request_hash, resolved_by, created_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
      r.runId, r.itemSeq, r.note,
      r.adjustment === null ? null : JSON.stringify({ ...r.adjustment, postings: r.adjustment.postings.map((p) => ({ ...p, amount: p.amount.toString() })) }),
      r.journalTransactionId, r.requestHash, r.resolvedBy, r.createdAt,
    );
  }

  async getResolution(runId: string, seq: number): Promise<(Resolution & { requestHash: string }) | null> {
    const rows = await this.sql.q(`SELECT * FROM recon_resolutions WHERE run_id = $1 AND item_seq = $2`, runId, seq);
    return rows[0] === undefined ? null : toResolution(rows[0]);
  }

  /**
   * An exception keeps its identity across runs: `recon_exception_id` (SQL, migration
   * 20261218010000: gateway, category, currency, references, amounts, and the batch and instant of
   * the report row it stands for, so two charges of one amount are two exceptions), the same identity the
   * exception queue groups by. Resolutions of the same exception in earlier runs are
   * carried to the items of `runId` (`seq` only, or every item) that have none: a re-run shows them
   * resolved, linked to the same adjusting entry, and resolving them again cannot book a second
   * one. Returns how many were carried.
   */
  async carryResolutions(runId: string, seq?: number): Promise<number> {
    const rows = await this.sql.q(
      `INSERT INTO recon_resolutions (run_id, item_seq, note, adjustment, journal_transaction_id, request_hash, resolved_by, created_at)
       SELECT DISTINCT ON (i.seq) i.run_id, i.seq,
              'carried from run ' || r.run_id || ' item ' || r.item_seq || ': ' || r.note,
              NULL, r.journal_transaction_id,
              encode(sha256(convert_to('carried:' || r.run_id || ':' || r.item_seq, 'UTF8')), 'hex'),
              r.resolved_by, now()
         FROM recon_run_items i
         JOIN recon_runs u ON u.id = i.run_id
         JOIN recon_resolutions r ON r.run_id <> i.run_id
         JOIN recon_run_items e ON e.run_id = r.run_id AND e.seq = r.item_seq
         JOIN recon_runs eu ON eu.id = e.run_id
              AND recon_exception_id(eu.gateway, e.category, e.currency, e.gateway_reference, e.gateway_event_id, e.settlement_id,
                                     e.report_amount, e.ledger_amount, e.difference, e.evidence)
                = recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id,
                                     i.report_amount, i.ledger_amount, i.difference, i.evidence)
        WHERE i.run_id = $1 AND ($2::int IS NULL OR i.seq = $2::int)
          AND NOT EXISTS (SELECT 1 FROM recon_resolutions x WHERE x.run_id = i.run_id AND x.item_seq = i.seq)
        ORDER BY i.seq, r.created_at, r.run_id
       ON CONFLICT DO NOTHING
       RETURNING item_seq`,
      runId, seq ?? null,
    );
    return rows.length;
  }

  /** The exception queue across runs (see ExceptionEntry), oldest first, and the open ones per age bucket. */
  async listExceptions(q: ExceptionQuery, now: Date): Promise<{ entries: ExceptionEntry[]; openByAge: Record<AgeBucket, number> }> {
    const ages = { "0-7": [0, 8], "8-30": [8, 31], "over-30": [31, 1_000_000] } as const;
    const [minDays, maxDays] = q.ageBucket === undefined ? [null, null] : ages[q.ageBucket];
    const rows = await this.sql.q(
      `${EXCEPTIONS_BASE}, latest AS (
         SELECT DISTINCT ON (exception_id) * FROM items ORDER BY exception_id, finished_at DESC, run_id DESC
       )
       SELECT l.*, ids.first_seen, ids.last_seen, ids.runs, ids.resolved AS any_resolved, o.owner
         FROM latest l JOIN ids USING (exception_id) LEFT JOIN recon_exception_owners o USING (exception_id)
        WHERE ($2::text IS NULL OR ids.resolved = ($2::text = 'resolved'))
          AND ($3::text IS NULL OR l.category = $3::text)
          AND ($4::text IS NULL OR o.owner = $4::text)
          AND ($5::int IS NULL OR $7::timestamptz - ids.first_seen >= $5::int * interval '1 day')
          AND ($6::int IS NULL OR $7::timestamptz - ids.first_seen < $6::int * interval '1 day')
          AND ($8::text IS NULL OR (ids.first_seen, l.exception_id) > (SELECT min(x.finished_at), $8::text FROM items x WHERE x.exception_id = $8::text))
        ORDER BY ids.first_seen, l.exception_id
        LIMIT $9`,
      q.gateway ?? null, q.status ?? null, q.category ?? null, q.owner ?? null, minDays, maxDays, now, q.after ?? null, q.limit,
    );
    const openByAge = await this.openByAge(q.gateway ?? null, now);
    return {
      entries: rows.map((r) => ({
        exceptionId: String(r.exception_id),
        status: r.any_resolved === true ? "resolved" : "open",
        item: toItem(r),
        runId: String(r.run_id),
        firstSeenAt: date(r.first_seen),
        lastSeenAt: date(r.last_seen),
        runs: Number(r.runs),
        owner: str(r.owner),
      })),
      openByAge,
    };
  }

  /**
   * The open exceptions (resolved in no run) found by a run over `period` (its [period_from,
   * period_to) overlaps it): how many, their amounts per currency (the difference, else the side
   * there: absolute, what is at stake) and the first `limit` by first seen, each at its latest
   * occurrence. One statement, which reads the items of the runs over the period and the resolved
   * items (to know which of their exceptions are resolved, in any run), never every run's items as
   * the queue's EXCEPTIONS_BASE does: first seen and latest occurrence are among those runs (an
   * exception's identity holds its currency and amounts, the same in every run that finds it).
   */
  async openExceptionsIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    const r = await readOpenItems<[string, number]>(this.sql, {
      open: `WITH runs AS (
         SELECT id, gateway, finished_at FROM recon_runs WHERE period_from < $1 AND ($2::timestamptz IS NULL OR period_to > $2::timestamptz)
       ), found AS (
         SELECT i.run_id, i.seq, i.currency, abs(coalesce(i.difference, i.report_amount, i.ledger_amount)) AS amount, u.finished_at,
                recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id,
                                   i.report_amount, i.ledger_amount, i.difference, i.evidence) AS exception_id
           FROM runs u JOIN recon_run_items i ON i.run_id = u.id
       ), resolved AS (
         SELECT recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id,
                                   i.report_amount, i.ledger_amount, i.difference, i.evidence) AS exception_id
           FROM recon_resolutions r JOIN recon_run_items i ON i.run_id = r.run_id AND i.seq = r.item_seq JOIN recon_runs u ON u.id = i.run_id
       ), open AS (
         SELECT DISTINCT ON (f.exception_id) f.*, min(f.finished_at) OVER (PARTITION BY f.exception_id) AS first_seen
           FROM found f WHERE NOT EXISTS (SELECT 1 FROM resolved x WHERE x.exception_id = f.exception_id)
          ORDER BY f.exception_id, f.finished_at DESC, f.run_id DESC
       )`,
      ref: "json_build_array(run_id, seq)",
      order: "first_seen, exception_id",
      params: [period.to, period.from],
      limit,
    });
    return { ...r, refs: r.refs.map(([runId, seq]) => ({ id: `${runId}/${seq}`, href: `/v1/reconciliation/runs/${runId}/exceptions/${seq}/resolution` })) };
  }

  /** Open exceptions (of one gateway, or every gateway) per age bucket since first seen: 0-7, 8-30, over 30 days (the queue's `age` filter). */
  async openByAge(gateway: string | null, now: Date): Promise<Record<AgeBucket, number>> {
    const [c] = await this.sql.q(
      `${EXCEPTIONS_BASE}
       SELECT count(*) FILTER (WHERE $2::timestamptz - first_seen < interval '8 days')::int AS a,
              count(*) FILTER (WHERE $2::timestamptz - first_seen >= interval '8 days' AND $2::timestamptz - first_seen < interval '31 days')::int AS b,
              count(*) FILTER (WHERE $2::timestamptz - first_seen >= interval '31 days')::int AS c
         FROM ids WHERE NOT resolved`,
      gateway, now,
    );
    return { "0-7": Number(c?.a ?? 0), "8-30": Number(c?.b ?? 0), "over-30": Number(c?.c ?? 0) };
  }

  /** Sets (or with null clears) an exception's owner; false when no run has that exception. */
  async assignException(exceptionId: string, owner: string | null, by: string | null): Promise<boolean> {
    const known = await this.sql.q(
      `SELECT 1 FROM recon_run_items i JOIN recon_runs u ON u.id = i.run_id
        WHERE recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id,
                                 i.report_amount, i.ledger_amount, i.difference, i.evidence) = $1 LIMIT 1`,
      exceptionId,
    );
    if (known.length === 0) return false;
    if (owner === null) await this.sql.q(`DELETE FROM recon_exception_owners WHERE exception_id = $1`, exceptionId);
    else {
      await this.sql.q(
        `INSERT INTO recon_exception_owners (exception_id, owner, assigned_by) VALUES ($1, $2, $3)
         ON CONFLICT (exception_id) DO UPDATE SET owner = EXCLUDED.owner, assigned_by = EXCLUDED.assigned_by, assigned_at = now()`,
        exceptionId, owner, by,
      );
    }
    return true;
  }

  async listResolutions(runId: string): Promise<Resolution[]> {
    const rows = await this.sql.q(`SELECT * FROM recon_resolutions WHERE run_id = $1 ORDER BY item_seq`, runId);
    return rows.map((r) => {
      const { requestHash: _h, ...rest } = toResolution(r);
      return rest;
    });
  }
}
