/**
 * Cash reconciliation: the platform's bank statements (ISO 20022 camt.053) against the ledger.
 *
 * Per statement of an imported file:
 * - its booked balances: opening (OPBD) + every booked entry must equal closing (CLBD), else a
 *   `difference` shows (a missing page, or a bank that dates its balance by value date); the opening
 *   must equal the previous statement's closing for the account, else a `gap` shows (a statement
 *   never imported);
 * - each booked entry is matched once across all statements: a credit to a gateway remittance
 *   booked through POST /v1/remittances (same currency and settled amount, and the remittance id in
 *   the entry's references or texts: Adyen's payout batch reference, Stripe's payout id), a debit
 *   to a bank payout by its EndToEndId and the amount the bank debited; anything else is an
 *   exception (`unmatched`), never absorbed;
 * - remittances booked up to the statement's last booking date that no statement has shown yet are
 *   listed as in transit.
 * The file's SHA-256 makes an import idempotent. Matching reads the ledger and the bank rail; it
 * books nothing: the money was booked when the remittance or the bank's camt.054 arrived.
 *
 * Unmatched entries form a queue across statements (age since import, 0-7, 8-30 and over 30 days);
 * an exception is resolved once, with a note and, where the books lack the money (bank charges,
 * interest, an unidentified credit), an adjusting entry posted through the ledger under the key
 * `cash:<statement>:<entry>`: the same request again answers `exists`, another one is a conflict.
 */
import { createHash } from "node:crypto";
import { adjustmentAccountSpecs, canonicalJson } from "../reconciliation/index.js";
import type { SqlRunner } from "../db/sql.js";
import { isUniqueViolation } from "../db/errors.js";
import { balanceOrNull } from "../ledger/index.js";
import type { JournalTransaction, Ledger, PostingInput } from "../ledger/types.js";
import { Mutex } from "../concurrency.js";
import { BankMessageError, readBankMessage, type BankEntry, type BankReport } from "../payouts/index.js";
import { Accounts } from "../settlement/index.js";
import { CashErrors } from "./errors.js";

export interface CashMatchView {
  kind: "remittance" | "bank_payout";
  ref: string;
  transactionId: string | null;
}

export interface CashEntryView {
  index: number;
  side: "debit" | "credit";
  currency: string;
  amount: string;
  status: string;
  bookingDate: string | null;
  valueDate: string | null;
  bankReference: string | null;
  texts: string[];
  match: CashMatchView | null;
  /** Why it is an exception: `unmatched` (nothing of ours), `not_booked` (PDNG/INFO: not counted). */
  exception: "unmatched" | null;
}

export interface CashStatementReport {
  id: string;
  messageId: string;
  statementId: string;
  account: string;
  currency: string;
  sequence: string | null;
  opening: string;
  closing: string;
  /** closing - opening - sum of the booked entries (0 when the statement adds up). */
  difference: string;
  /** The previous statement of the account closed at another balance than this one opens with. */
  gap: { previousStatementId: string; previousClosing: string } | null;
  entries: CashEntryView[];
  matched: number;
  unmatched: number;
  /** Remittances booked up to this statement's last booking date that no statement has shown. */
  inTransit: Array<{ ref: string; currency: string; amount: string; occurredAt: string; transactionId: string }>;
  /** `platform:cash:bank` in the statement's currency as the ledger has it now. */
  ledgerBalance: string;
  importedAt: string;
  importedBy: string;
}

export interface CashOptions {
  sql: SqlRunner;
  ledger: Ledger;
  /** The bank rail's payouts, by EndToEndId (absent: statement debits can only be unmatched). */
  bankPayouts?: { payoutByEndToEndId(endToEndId: string): Promise<BankPayoutFacts | null> };
}

export type AgeBucket = "0-7" | "8-30" | "over-30";

export interface CashAdjustment {
  postings: PostingInput[];
  description?: string;
}

export interface CashResolutionView {
  note: string;
  adjustment: { postings: Array<Omit<PostingInput, "amount"> & { amount: string }>; description?: string } | null;
  journalTransactionId: string | null;
  resolvedBy: string;
  resolvedAt: string;
}

export interface CashException {
  statementId: string;
  statement: string;
  account: string;
  entry: CashEntryView;
  importedAt: string;
  ageDays: number;
  status: "open" | "resolved";
  resolution: CashResolutionView | null;
}

type BankPayoutFacts = { id: bigint; status: string; settledCurrency: string | null; settledAmount: bigint | null; cashTxId: string | null };

/** A statement with the balances it is checked by (refused before anything is read without them). */
interface Balanced {
  s: BankReport;
  opening: BankReport["balances"][number];
  closing: BankReport["balances"][number];
  currency: string;
}

/** What the ledger and the bank rail say about the file's currencies and debits. */
interface Facts {
  remittances: Map<string, Remittance[]>;
  cash: Map<string, bigint>;
  payouts: Map<string, BankPayoutFacts | null>;
}

function balancesOf(s: BankReport): Balanced {
  const opening = s.balances.find((b) => b.type === "OPBD" || b.type === "PRCD");
  const closing = s.balances.find((b) => b.type === "CLBD");
  if (opening === undefined || closing === undefined) throw CashErrors.statementInvalid(`statement ${s.id}: no opening (OPBD) or closing (CLBD) booked balance`);
  return { s, opening, closing, currency: s.currency ?? closing.currency };
}

/** A booked entry's match: a credit to a remittance not yet taken, a debit to a final bank payout. */
function matchOf(e: BankEntry, remittances: readonly Remittance[], payouts: ReadonlyMap<string, BankPayoutFacts | null>, taken: ReadonlySet<string>): CashMatchView | null {
  if (e.side === "credit" && !e.reversal) {
    const r = remittances.find((x) => !taken.has(`remittance:${x.ref}`) && x.currency === e.currency && x.amount === e.amount && e.texts.some((t) => mentions(t, x.remittanceId)));
    return r === undefined ? null : { kind: "remittance", ref: r.ref, transactionId: r.transactionId };
  }
  if (e.side === "debit" && e.endToEndId !== null && !taken.has(`bank_payout:${e.endToEndId}`)) {
    const p = payouts.get(e.endToEndId);
    if (p !== undefined && p !== null && p.status === "final" && p.settledCurrency === e.currency && p.settledAmount === e.amount) return { kind: "bank_payout", ref: e.endToEndId, transactionId: p.cashTxId };
  }
  return null;
}

interface Remittance {
  ref: string;
  remittanceId: string;
  currency: string;
  amount: bigint;
  occurredAt: string;
  transactionId: string;
}

export class CashReconciliation {
  readonly #o: CashOptions;
  readonly #lock = new Mutex();

  constructor(options: CashOptions) {
    this.#o = options;
  }

  /**
   * Imports a camt.053 (XML text): one report per statement, all of the file's statements recorded
   * in one transaction (never a part of a file); the same file again answers `exists`, also when
   * another instance imported it meanwhile.
   */
  async importStatement(xml: string, by: string): Promise<{ status: "created" | "exists"; statements: CashStatementReport[] }> {
    let message;
    try {
      message = readBankMessage(xml, "camt.053");
    } catch (e) {
      if (e instanceof BankMessageError) throw CashErrors.statementInvalid(e.message);
      throw e;
    }
    const statements = message.reports.map(balancesOf);
    const sha = createHash("sha256").update(xml).digest("hex");
    return this.#lock.run(async () => {
      for (let attempt = 0; ; attempt++) {
        const existing = await this.#o.sql.q<Array<{ report: CashStatementReport }>>(`SELECT report FROM cash_statements WHERE file_sha256 = $1 ORDER BY id`, sha);
        if (existing.length > 0) return { status: "exists" as const, statements: existing.map((r) => r.report) };
        // What the ledger and the bank rail say is read before the transaction that records the file.
        const facts = await this.#facts(statements);
        try {
          const reports = await this.#o.sql.transaction(async (tx) => {
            const out: CashStatementReport[] = [];
            for (const st of statements) out.push(await this.#record(tx, st, facts, message.messageId, sha, by));
            return out;
          });
          return { status: "created" as const, statements: reports };
        } catch (e) {
          // Another instance recorded this file, or matched one of its entries, meanwhile: read again.
          if (attempt === 0 && isUniqueViolation(e)) continue;
          throw e;
        }
      }
    });
  }

  async #facts(statements: readonly Balanced[]): Promise<Facts> {
    const currencies = [...new Set(statements.map((s) => s.currency))];
    const payouts = new Map<string, BankPayoutFacts | null>();
    if (this.#o.bankPayouts !== undefined) {
      for (const st of statements) {
        for (const e of st.s.entries) if (e.side === "debit" && e.endToEndId !== null && !payouts.has(e.endToEndId)) payouts.set(e.endToEndId, await this.#o.bankPayouts.payoutByEndToEndId(e.endToEndId));
      }
    }
    return {
      remittances: new Map(await Promise.all(currencies.map(async (c) => [c, await this.#remittances(c)] as const))),
      cash: new Map(await Promise.all(currencies.map(async (c) => [c, await this.#cash(c)] as const))),
      payouts,
    };
  }

  async #record(tx: SqlRunner, st: Balanced, facts: Facts, messageId: string, sha: string, by: string): Promise<CashStatementReport> {
    const { s, opening, closing, currency } = st;
    const booked = s.entries.filter((e) => e.status === "BOOK");
    const net = (list: readonly BankEntry[]) => list.reduce((t, e) => t + (e.side === "credit" ? e.amount : -e.amount), 0n);
    const difference = closing.amount - opening.amount - net(booked);
    const [previous] = await tx.q<Array<{ statement_id: string; closing: string }>>(
      `SELECT statement_id, closing::text AS closing FROM cash_statements WHERE account = $1 AND currency = $2 ORDER BY id DESC LIMIT 1`,
      s.account,
      currency,
    );
    const remittances = facts.remittances.get(currency) ?? [];
    const taken = new Set((await tx.q<Array<{ kind: string; ref: string }>>(`SELECT kind, ref FROM cash_matches`)).map((r) => `${r.kind}:${r.ref}`));
    const entries: CashEntryView[] = [];
    const matches: CashMatchView[] = [];
    for (const [i, e] of s.entries.entries()) {
      const match = e.status === "BOOK" ? matchOf(e, remittances, facts.payouts, taken) : null;
      if (match !== null) {
        taken.add(`${match.kind}:${match.ref}`);
        matches.push(match);
      }
      entries.push({
        index: i + 1,
        side: e.side,
        currency: e.currency,
        amount: e.amount.toString(),
        status: e.status,
        bookingDate: e.bookingDate,
        valueDate: e.valueDate,
        bankReference: e.bankReference,
        texts: e.texts,
        match,
        exception: match === null && e.status === "BOOK" ? "unmatched" : null,
      });
    }
    const lastDay = booked.map((e) => e.bookingDate ?? "").sort().at(-1) ?? closing.date ?? "";
    const inTransit = remittances
      .filter((r) => !taken.has(`remittance:${r.ref}`) && r.occurredAt.slice(0, 10) <= lastDay)
      .map((r) => ({ ref: r.ref, currency: r.currency, amount: r.amount.toString(), occurredAt: r.occurredAt, transactionId: r.transactionId }));
    const report: Omit<CashStatementReport, "id" | "importedAt"> = {
      messageId,
      statementId: s.id,
      account: s.account,
      currency,
      sequence: s.sequence,
      opening: opening.amount.toString(),
      closing: closing.amount.toString(),
      difference: difference.toString(),
      gap: previous !== undefined && BigInt(previous.closing) !== opening.amount ? { previousStatementId: previous.statement_id, previousClosing: previous.closing } : null,
      entries,
      matched: matches.length,
      unmatched: entries.filter((e) => e.exception !== null).length,
      inTransit,
      ledgerBalance: (facts.cash.get(currency) ?? 0n).toString(),
      importedBy: by,
    };
    const [row] = await tx.q<Array<{ id: bigint; imported_at: Date }>>(
      `INSERT INTO cash_statements (file_sha256, message_id, statement_id, account, currency, sequence, opening, closing, unmatched, report, imported_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '{}'::jsonb, $10) RETURNING id, imported_at`,
      sha,
      messageId.slice(0, 35),
      s.id.slice(0, 35),
      s.account.slice(0, 34),
      currency,
      s.sequence,
      opening.amount,
      closing.amount,
      report.unmatched,
      by,
    );
    const full: CashStatementReport = { id: row!.id.toString(), ...report, importedAt: row!.imported_at.toISOString() };
    await tx.q(`UPDATE cash_statements SET report = $2::jsonb WHERE id = $1`, row!.id, JSON.stringify(full));
    for (const m of matches) await tx.q(`INSERT INTO cash_matches (kind, ref, statement_id) VALUES ($1, $2, $3)`, m.kind, m.ref, row!.id);
    return full;
  }

  /** Every remittance booked in `currency` (settled), with its `gateway:remittanceId` key. */
  async #remittances(currency: string): Promise<Remittance[]> {
    const out: Remittance[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#o.ledger.listTransactions({ metadata: { kind: "remittance" }, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      for (const t of page.items) {
        const r = remittanceOf(t);
        if (r !== null && r.currency === currency) out.push(r);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return out;
  }

  async #cash(currency: string): Promise<bigint> {
    return (await balanceOrNull(this.#o.ledger, Accounts.bank, currency))?.posted ?? 0n;
  }

  /** Unmatched entries across statements, oldest first, with their age and resolution; open ones per age bucket. */
  async exceptions(q: { status?: "open" | "resolved"; age?: AgeBucket; limit?: number }, now = new Date()): Promise<{ items: CashException[]; openByAge: Record<AgeBucket, number> }> {
    const rows = await this.#o.sql.q<Array<{ id: bigint; report: CashStatementReport; imported_at: Date }>>(`SELECT id, report, imported_at FROM cash_statements WHERE unmatched > 0 ORDER BY id`);
    const resolutions = new Map((await this.#o.sql.q(`SELECT * FROM cash_resolutions`)).map((r) => [`${String(r["statement_id"])}:${String(r["entry_index"])}`, resolutionOf(r)]));
    const all: CashException[] = [];
    for (const r of rows) {
      for (const e of r.report.entries) {
        if (e.exception === null) continue;
        const resolution = resolutions.get(`${r.id}:${e.index}`) ?? null;
        all.push({
          statementId: r.id.toString(),
          statement: r.report.statementId,
          account: r.report.account,
          entry: e,
          importedAt: r.imported_at.toISOString(),
          ageDays: Math.floor((now.getTime() - r.imported_at.getTime()) / 86_400_000),
          status: resolution === null ? "open" : "resolved",
          resolution,
        });
      }
    }
    const bucket = (days: number): AgeBucket => (days <= 7 ? "0-7" : days <= 30 ? "8-30" : "over-30");
    const openByAge: Record<AgeBucket, number> = { "0-7": 0, "8-30": 0, "over-30": 0 };
    for (const x of all) if (x.status === "open") openByAge[bucket(x.ageDays)]++;
    const items = all.filter((x) => (q.status === undefined || x.status === q.status) && (q.age === undefined || bucket(x.ageDays) === q.age)).slice(0, q.limit ?? 100);
    return { items, openByAge };
  }

  /** Resolves one unmatched entry (see the module comment); `exists` when the same request was made before. */
  async resolve(statementId: bigint, index: number, input: { note: string; adjustment?: CashAdjustment; by: string }): Promise<{ status: "created" | "exists"; resolution: CashResolutionView }> {
    const statement = await this.get(statementId);
    const entry = statement.entries.find((e) => e.index === index);
    if (entry === undefined) throw CashErrors.statementNotFound(`bank statement ${statementId} has no entry ${index}`, { fields: [{ field: "params.index", message: "unknown entry" }] });
    if (entry.exception === null) throw CashErrors.notAnException(`entry ${index} of bank statement ${statementId} is ${entry.match === null ? "not booked by the bank" : `matched to ${entry.match.kind} ${entry.match.ref}`}: nothing to resolve`);
    const adjustment = input.adjustment === undefined ? null : { postings: input.adjustment.postings.map((p) => ({ ...p, amount: p.amount.toString() })), ...(input.adjustment.description === undefined ? {} : { description: input.adjustment.description }) };
    const requestHash = createHash("sha256").update(canonicalJson({ note: input.note, adjustment })).digest("hex");
    const replay = async (): Promise<{ status: "exists"; resolution: CashResolutionView } | null> => {
      const [prior] = await this.#o.sql.q(`SELECT * FROM cash_resolutions WHERE statement_id = $1 AND entry_index = $2`, statementId, index);
      if (prior === undefined) return null;
      if (prior["request_hash"] !== requestHash) throw CashErrors.resolutionConflict(`entry ${index} of bank statement ${statementId} was resolved before with another note or adjustment`);
      return { status: "exists", resolution: resolutionOf(prior) };
    };
    return this.#lock.run(async () => {
      const prior = await replay();
      if (prior !== null) return prior;
      let transactionId: string | null = null;
      if (input.adjustment !== undefined) {
        const posted = await this.#o.ledger.post({
          idempotencyKey: `cash:${statementId}:${index}`,
          postings: input.adjustment.postings,
          accounts: adjustmentAccountSpecs(input.adjustment.postings),
          metadata: { source: "cash_reconciliation", cashStatementId: statementId.toString(), statement: statement.statementId, entryIndex: String(index), bankReference: entry.bankReference ?? "" },
          description: input.adjustment.description ?? `Bank statement ${statement.statementId} entry ${index}: ${input.note}`.slice(0, 500),
        });
        transactionId = posted.transaction.id;
      }
      // Another instance may record its resolution first (the adjusting entry is one either way: the
      // ledger key is the entry's): then this request is that one again, or a conflict.
      const [row] = await this.#o.sql.q(
        `INSERT INTO cash_resolutions (statement_id, entry_index, note, adjustment, journal_transaction_id, request_hash, resolved_by)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *`,
        statementId,
        index,
        input.note,
        adjustment === null ? null : JSON.stringify(adjustment),
        transactionId,
        requestHash,
        input.by,
      );
      if (row === undefined) return (await replay())!;
      return { status: "created" as const, resolution: resolutionOf(row) };
    });
  }

  async list(limit = 50): Promise<CashStatementReport[]> {
    return (await this.#o.sql.q<Array<{ report: CashStatementReport }>>(`SELECT report FROM cash_statements ORDER BY id DESC LIMIT $1`, limit)).map((r) => r.report);
  }

  async get(id: bigint): Promise<CashStatementReport> {
    const [r] = await this.#o.sql.q<Array<{ report: CashStatementReport }>>(`SELECT report FROM cash_statements WHERE id = $1`, id);
    if (r === undefined) throw CashErrors.statementNotFound(`bank statement ${id} does not exist`);
    return r.report;
  }
}

function resolutionOf(r: Record<string, unknown>): CashResolutionView {
  return {
    note: r["note"] as string,
    adjustment: (r["adjustment"] as CashResolutionView["adjustment"]) ?? null,
    journalTransactionId: typeof r["journal_transaction_id"] === "bigint" ? r["journal_transaction_id"].toString() : null,
    resolvedBy: r["resolved_by"] as string,
    resolvedAt: (r["created_at"] as Date).toISOString(),
  };
}

/** `id` appears in `text` as a whole reference (not inside a longer one: "PO-1" is not in "PO-12"). */
export function mentions(text: string, id: string): boolean {
  const word = /[A-Za-z0-9]/;
  for (let i = text.indexOf(id); i >= 0; i = text.indexOf(id, i + 1)) {
    const before = text[i - 1];
    const after = text[i + id.length];
    if ((before === undefined || !word.test(before)) && (after === undefined || !word.test(after))) return true;
  }
  return false;
}

function remittanceOf(t: JournalTransaction): Remittance | null {
  const m = t.metadata;
  const id = m["remittanceId"];
  const settled = m["settledAmount"];
  const currency = m["settledCurrency"];
  if (id === undefined || settled === undefined || currency === undefined) return null;
  return { ref: m["remittanceKey"] ?? `${m["gateway"] ?? ""}:${id}`, remittanceId: id, currency, amount: BigInt(settled), occurredAt: m["occurredAt"] ?? t.effectiveAt.toISOString(), transactionId: t.id };
}
