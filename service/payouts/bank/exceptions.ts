/**
 * The bank rail's exceptions (`bank_payout_exceptions`, migration 20261214100000_bank_payout_exceptions):
 * every camt.054 entry the rail did not apply (`unmatched`, `mismatch`, `exception`) and what the
 * worker could not book, kept for an operator with the entry, its code and detail, who sent it and
 * when; read on the payout and as a queue, and resolved once with a note (like the cash
 * reconciliation's queue; the booking an item may call for, such as a return after final, is the
 * operator's, in the cash queue or the ledger: the resolution names it, the journal transaction
 * and/or the cash statement entry, migration 20261216110000_bank_exception_resolution_refs).
 * Recorded once per notification entry (`key`: `<MsgId>#<n>`), so the same file again records
 * nothing new. An exception the rail itself overtakes (a refused cash booking that later books, a
 * cleared one the bank's return settles) is resolved by `system`, naming the transaction it booked.
 */
import type { SqlRunner } from "../../db/sql.js";
import type { BankExceptionCode } from "./matching.js";
import type { OpenItems } from "../../open-items.js";

export type BankExceptionOutcome = "unmatched" | "mismatch" | "exception";

/** The entry as the bank reported it (minor units as strings). */
export interface BankExceptionEntry {
  side: string;
  status: string;
  currency: string;
  amount: string;
  instructed: { currency: string; amount: string } | null;
  reversal: boolean;
  returnReason: string | null;
  bankReference: string | null;
  bookingDate: string | null;
}

export interface BankException {
  id: bigint;
  messageId: string | null;
  payoutId: bigint | null;
  endToEndId: string | null;
  outcome: BankExceptionOutcome;
  code: BankExceptionCode;
  detail: string;
  entry: BankExceptionEntry | null;
  receivedBy: string;
  createdAt: Date;
  status: "open" | "resolved";
  resolution: BankExceptionResolution | null;
}

/** What a resolution names beside its note: the journal transaction, the cash statement entry. */
export interface BankExceptionRefs {
  journalTransactionId: string | null;
  cashEntry: { statementId: string; index: number } | null;
}

export interface BankExceptionResolution extends BankExceptionRefs {
  note: string;
  resolvedBy: string;
  resolvedAt: Date;
}

/** What recording one takes: its fields as read back, less what the database sets, and its one-record key. */
export type NewBankException = Omit<BankException, "id" | "createdAt" | "status" | "resolution"> & { key: string };

type Row = Record<string, unknown>;

const idText = (v: unknown): string | null => (typeof v === "bigint" || typeof v === "number" || typeof v === "string" ? v.toString() : null);

function exceptionOf(r: Row): BankException {
  const resolvedAt = (r["resolved_at"] as Date | null) ?? null;
  return {
    id: r["id"] as bigint,
    messageId: (r["message_id"] as string | null) ?? null,
    payoutId: (r["payout_id"] as bigint | null) ?? null,
    endToEndId: (r["end_to_end_id"] as string | null) ?? null,
    outcome: r["outcome"] as BankExceptionOutcome,
    code: r["code"] as BankExceptionCode,
    detail: r["detail"] as string,
    entry: (r["entry"] as BankExceptionEntry | null) ?? null,
    receivedBy: r["received_by"] as string,
    createdAt: r["created_at"] as Date,
    status: resolvedAt === null ? "open" : "resolved",
    resolution:
      resolvedAt === null
        ? null
        : {
            note: r["resolution_note"] as string,
            resolvedBy: r["resolved_by"] as string,
            resolvedAt,
            journalTransactionId: idText(r["resolution_tx_id"]),
            cashEntry: idText(r["resolution_cash_statement_id"]) === null ? null : { statementId: idText(r["resolution_cash_statement_id"])!, index: Number(r["resolution_cash_entry_index"]) },
          },
  };
}

export class BankExceptionStore {
  constructor(private readonly sql: SqlRunner) {}

  /** Records it once per key; the first record of the key otherwise (the same notification again). */
  async record(x: NewBankException): Promise<{ exception: BankException; created: boolean }> {
    const [r] = await this.sql.q(
      `INSERT INTO bank_payout_exceptions (key, message_id, payout_id, end_to_end_id, outcome, code, detail, entry, received_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) ON CONFLICT (key) DO NOTHING RETURNING *`,
      x.key,
      x.messageId,
      x.payoutId,
      x.endToEndId,
      x.outcome,
      x.code,
      x.detail,
      x.entry === null ? null : JSON.stringify(x.entry),
      x.receivedBy,
    );
    if (r !== undefined) return { exception: exceptionOf(r), created: true };
    const [prior] = await this.sql.q(`SELECT * FROM bank_payout_exceptions WHERE key = $1`, x.key);
    return { exception: exceptionOf(prior!), created: false };
  }

  async get(id: bigint): Promise<BankException | null> {
    const [r] = await this.sql.q(`SELECT * FROM bank_payout_exceptions WHERE id = $1`, id);
    return r ? exceptionOf(r) : null;
  }

  /** A payout's exceptions, oldest first. */
  async ofPayout(payoutId: bigint): Promise<BankException[]> {
    return (await this.sql.q(`SELECT * FROM bank_payout_exceptions WHERE payout_id = $1 ORDER BY id`, payoutId)).map(exceptionOf);
  }

  /** Newest first; `open`: how many are open in all. */
  async list(filter: { status?: "open" | "resolved"; payoutId?: bigint; before?: bigint; limit: number }): Promise<{ items: BankException[]; open: number }> {
    const rows = await this.sql.q(
      `SELECT * FROM bank_payout_exceptions
        WHERE ($1::text IS NULL OR ($1 = 'open') = (resolved_at IS NULL)) AND ($2::bigint IS NULL OR payout_id = $2) AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4`,
      filter.status ?? null,
      filter.payoutId ?? null,
      filter.before ?? null,
      filter.limit,
    );
    const [n] = await this.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM bank_payout_exceptions WHERE resolved_at IS NULL`);
    return { items: rows.map(exceptionOf), open: n?.n ?? 0 };
  }

  /** The open exceptions, whenever received (the bank's notice about a period may come after it), for the period-close checklist: how many, the first `limit`, oldest first. */
  async openItems(limit: number): Promise<OpenItems> {
    const [n] = await this.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM bank_payout_exceptions WHERE resolved_at IS NULL`);
    const first = await this.sql.q<Array<{ id: bigint }>>(`SELECT id FROM bank_payout_exceptions WHERE resolved_at IS NULL ORDER BY id LIMIT $1`, limit);
    // Entries carry the bank's amounts in its own shapes (or none, for the worker's): counted, not summed.
    return { count: n?.n ?? 0, amounts: [], refs: first.map((r) => ({ id: String(r.id), href: `/v1/payouts/bank/exceptions/${String(r.id)}/resolution` })) };
  }

  /** Resolves it if open; the row as it is now (null: no such exception). */
  async resolve(id: bigint, note: string, refs: BankExceptionRefs, by: string): Promise<{ exception: BankException; resolved: boolean } | null> {
    const [r] = await this.sql.q(
      `UPDATE bank_payout_exceptions SET resolved_at = now(), resolved_by = $3, resolution_note = $2,
         resolution_tx_id = $4::bigint, resolution_cash_statement_id = $5::bigint, resolution_cash_entry_index = $6::int
        WHERE id = $1 AND resolved_at IS NULL RETURNING *`,
      id,
      note,
      by,
      refs.journalTransactionId,
      refs.cashEntry?.statementId ?? null,
      refs.cashEntry?.index ?? null,
    );
    if (r !== undefined) return { exception: exceptionOf(r), resolved: true };
    const prior = await this.get(id);
    return prior === null ? null : { exception: prior, resolved: false };
  }

  /**
   * Names `txId` on a resolution that named nothing (a note alone), when an operator later settles
   * the exception by what the bank did (rail.ts): the note, resolver and time stay as recorded.
   * False when it names something already.
   */
  async attachTransaction(id: bigint, txId: string): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payout_exceptions SET resolution_tx_id = $2::bigint
        WHERE id = $1 AND resolved_at IS NOT NULL AND resolution_tx_id IS NULL AND resolution_cash_statement_id IS NULL RETURNING id`,
      id,
      txId,
    );
    return rows.length === 1;
  }

  /** Resolves a payout's open exceptions of these codes (the rail overtook them, booking `txId`); how many. */
  async resolveOpen(payoutId: bigint, codes: readonly BankExceptionCode[], note: string, txId: string): Promise<number> {
    const rows = await this.sql.q(
      `UPDATE bank_payout_exceptions SET resolved_at = now(), resolved_by = 'system', resolution_note = $3, resolution_tx_id = $4::bigint
        WHERE payout_id = $1 AND code = ANY($2::text[]) AND resolved_at IS NULL RETURNING id`,
      payoutId,
      codes,
      note,
      txId,
    );
    return rows.length;
  }
}
