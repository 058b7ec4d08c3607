/**
 * Cash reconciliation: the platform's bank statements (ISO 20022 camt.053) against the ledger.
 *
 * Every statement of a file is of the platform's account (BANK_ACCOUNT_IBAN or _NUMBER, compared as
 * the bank rail's camt.054 are: `accountRefusal`) in its currency (BANK_ACCOUNT_CURRENCY): the
 * statement's Acct/Ccy, or, where a bank leaves it out, the currency its balances are in, which is
 * the account's. Else nothing of the file is imported: `platform:cash:bank` is that one account.
 *
 * Per statement of an imported file:
 * - its entries, each in the account's currency (else the statement is refused) and each counted
 *   once: a batch booking's transactions are matched one by one when each carries its own amount
 *   and together they make the entry's, else the entry is one item (`itemsOf`);
 * - its booked balances: opening (OPBD) + every booked entry must equal closing (CLBD), else a
 *   `difference` shows (a missing page, or a bank that dates its balance by value date); the opening
 *   must equal the previous statement's closing for the account, else a `gap` shows (a statement
 *   never imported);
 * - each booked entry is matched once across all statements: a credit to a gateway remittance
 *   booked through POST /v1/remittances (same currency and settled amount, and the remittance id in
 *   the entry's references or texts: Adyen's payout batch reference, Stripe's payout id), a debit
 *   to a bank payout by its EndToEndId and the amount the bank debited (final, partly paid, or
 *   returned since),
 *   a credit to the return after final of a bank payout by its EndToEndId and the amount the bank
 *   credited back; anything else is an exception (`unmatched`), never absorbed;
 * - remittances booked up to the statement's last booking date that no statement has shown yet are
 *   listed as in transit.
 * A statement is imported once: the account's statement with the same id (not the electronic
 * sequence number: banks restart it) answers `exists` when its content is the same (another file:
 * line breaks, a new MsgId) and is a conflict when it is not; a unique key in the database holds
 * this across instances.
 * Matching reads the ledger and the bank rail; it books nothing: the money was booked when the
 * remittance or the bank's camt.054 arrived.
 *
 * Unmatched entries form a queue across statements, aged from the bank's booking date (the import
 * only where the statement gives no date: 0-7, 8-30 and over 30 days); an exception is resolved
 * once, with a note and, where the books lack the money (bank charges, interest, an unidentified
 * credit), an adjusting entry posted through the ledger under the key `cash:<statement>:<entry>`:
 * the same request again answers `exists`, another one is a conflict.
 * The adjusting entry books what the bank did: it moves `platform:cash:bank` in the entry's currency
 * by exactly the entry's amount (a credit on the statement is a debit of the cash), and it never
 * touches a seller's account. It credits a gateway's receivable at most with what the gateway owes
 * when it is booked (the ledger holds it there, across instances), unless the request says it goes
 * beyond (`exceedsReceivable`: the platform then owes the gateway the excess). It is effective when the bank booked the entry (`bookingInstant`),
 * so the cash at a month's end ties to that day's statement, or at the `effectiveAt` requested; the
 * ledger books an instant in a closed period at the close instant (reconciliation/booking.ts).
 */
import { createHash } from "node:crypto";
import { adjustmentAccountSpecs, adjustmentEffectiveAt, adjustmentRefusal, canonicalJson, checkAdjustmentScope } from "../reconciliation/index.js";
import { DEFAULT_MAX_AMOUNT_MINOR } from "../settlement/validate.js";
import type { SqlRunner } from "../db/sql.js";
import { readOpenItems, type OpenItems, type OpenPeriod } from "../open-items.js";
import { isUniqueViolation } from "../db/errors.js";
import { balanceOrNull } from "../ledger/index.js";
import type { JournalTransaction, Ledger, PostingInput } from "../ledger/types.js";
import { Mutex } from "../concurrency.js";
import { exponentOrNull, formatMinor } from "../money/index.js";
import { accountRefusal, BankMessageError, readBankMessage, type BankAccountRef, type BankEntry, type BankReport } from "../payouts/index.js";
import { Accounts, accountSpec } from "../settlement/index.js";
import { CashErrors } from "./errors.js";
import { Errors, isAppError, type AppError } from "../errors.js";
import { LedgerErrors } from "../ledger/index.js";

export interface CashMatchView {
  kind: "remittance" | "bank_payout" | "bank_return";
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
  /** Of the unmatched entries, how many are not resolved yet (as of the read; not stored). */
  open?: number;
  /** Remittances booked up to this statement's last booking date that no statement has shown. */
  inTransit: Array<{ ref: string; currency: string; amount: string; occurredAt: string; transactionId: string }>;
  /** `platform:cash:bank` in the statement's currency as the ledger had it when the statement was imported. */
  ledgerBalance: string;
  importedAt: string;
  importedBy: string;
}

export interface CashOptions {
  sql: SqlRunner;
  ledger: Ledger;
  /**
   * The platform's bank account (BANK_ACCOUNT_*): the one `platform:cash:bank` is, and the only one
   * whose statements are imported (the bank rail's debtor, checked as its camt.054 are). Null (a
   * configuration without one): no statement is imported.
   */
  account: (Pick<BankAccountRef, "iban" | "accountNumber"> & { accountCurrency: string }) | null;
  /** The bank rail's payouts, by EndToEndId (absent: statement debits can only be unmatched). */
  bankPayouts?: { payoutByEndToEndId(endToEndId: string): Promise<BankPayoutFacts | null> };
  /** The largest amount of one adjusting posting, minor units (MAX_AMOUNT_MINOR); default 10^15. */
  maxAmount?: (currency: string) => bigint;
  /** How far back an adjusting entry may be dated (EVENT_MAX_AGE_DAYS); default 3,660 days. */
  maxAgeMs?: number;
}

export type AgeBucket = "0-7" | "8-30" | "over-30";

export interface CashAdjustment {
  postings: PostingInput[];
  description?: string;
  /** When the entry is effective, overriding the bank's booking date (not in the future). */
  effectiveAt?: Date;
  /** The entry credits a gateway's receivable beyond its balance on purpose (the note says why). */
  exceedsReceivable?: boolean;
}

export interface CashResolutionView {
  note: string;
  adjustment: { postings: Array<Omit<PostingInput, "amount"> & { amount: string }>; description?: string; effectiveAt?: string; exceedsReceivable?: boolean } | null;
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
  /** What the age counts from: the bank's booking date (bookingInstant), else the import. */
  agedFrom: string;
  ageDays: number;
  status: "open" | "resolved";
  resolution: CashResolutionView | null;
}

type BankPayoutFacts = {
  id: bigint;
  status: string;
  settledCurrency: string | null;
  settledAmount: bigint | null;
  cashTxId: string | null;
  returned: { currency: string; amount: bigint } | null;
  returnTxId: string | null;
};

/** A statement with the balances it is checked by (refused before anything is read without them). */
interface Balanced {
  s: BankReport;
  opening: BankReport["balances"][number];
  closing: BankReport["balances"][number];
  currency: string;
  /** What is matched and listed (see itemsOf). */
  items: BankEntry[];
  /** SHA-256 of the statement as read: the same statement from another file has the same. */
  content: string;
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
  const currency = s.currency ?? closing.currency;
  for (const b of [opening, closing]) {
    if (b.currency !== currency) throw CashErrors.statementInvalid(`statement ${s.id}: its ${b.type} balance is in ${b.currency}, the account ${s.account} is in ${currency}`);
  }
  // An amount in another currency cannot be added to the account's balance (nor matched as if it were its currency).
  const foreign = s.entries.find((e) => e.entry.currency !== currency);
  if (foreign !== undefined) {
    throw CashErrors.entryCurrency(`statement ${s.id}: entry ${foreign.entry.index} is booked in ${foreign.entry.currency} (${formatMinor(foreign.entry.amount, foreign.entry.currency)}), the account ${s.account} is in ${currency}`, {
      details: { statement: s.id, entry: foreign.entry.index, currency: foreign.entry.currency, accountCurrency: currency },
    });
  }
  return { s, opening, closing, currency, items: itemsOf(s.entries), content: contentSha256(s, currency) };
}

/**
 * What is matched and listed per entry (Ntry) of a statement: its transactions (TxDtls) when each
 * carries its own amount in the entry's currency and together they make the entry's amount (a
 * batch booking of several payments); else the entry as one item with all its transactions'
 * references and texts (a batch whose details carry no amounts, or amounts that do not add up, e.g.
 * charges taken from the entry). The items of an entry always add up to it, so the balance moves by
 * each entry once, in the entry's direction.
 */
export function itemsOf(entries: readonly BankEntry[]): BankEntry[] {
  const out: BankEntry[] = [];
  for (let i = 0; i < entries.length; ) {
    const first = entries[i]!;
    let end = i + 1;
    while (end < entries.length && entries[end]!.entry.index === first.entry.index) end++;
    const txs = entries.slice(i, end);
    i = end;
    const { entry } = first;
    if (txs.every((t) => t.ownAmount && t.currency === entry.currency) && txs.reduce((t, x) => t + x.amount, 0n) === entry.amount) {
      out.push(...txs);
      continue;
    }
    const one = txs.length === 1;
    out.push({
      ...first,
      currency: entry.currency,
      amount: entry.amount,
      endToEndId: new Set(txs.map((t) => t.endToEndId)).size === 1 ? first.endToEndId : null,
      instructed: one ? first.instructed : null,
      returnReason: one ? first.returnReason : null,
      texts: [...new Set(txs.flatMap((t) => t.texts))],
      ownAmount: false,
    });
  }
  return out;
}

/** The statement as read, in the fields that make it (not the file's bytes, MsgId or creation time). */
function contentSha256(s: BankReport, currency: string): string {
  const content = {
    account: s.account,
    currency,
    id: s.id,
    sequence: s.sequence,
    balances: s.balances.map((b) => [b.type, b.currency, b.amount.toString(), b.date]),
    entries: s.entries.map((e) => [e.entry.index, e.entry.currency, e.entry.amount.toString(), e.side, e.status, e.reversal, e.currency, e.amount.toString(), e.endToEndId, e.bookingDate, e.valueDate, e.bankReference, e.texts]),
  };
  return createHash("sha256").update(JSON.stringify(content)).digest("hex");
}

/** The statement's identity as stored (the columns' lengths). */
const keyOf = (st: Balanced) => ({ account: st.s.account.slice(0, 34), statementId: st.s.id.slice(0, 35), sequence: st.s.sequence?.slice(0, 20) ?? null });

/**
 * A booked entry's match: a credit to a remittance not yet taken, a debit to a bank payout the bank
 * debited (final, partly paid, or returned after final), the credit of that return to the payout's return.
 */
function matchOf(e: BankEntry, remittances: readonly Remittance[], payouts: ReadonlyMap<string, BankPayoutFacts | null>, taken: ReadonlySet<string>): CashMatchView | null {
  if (e.side === "credit" && !e.reversal && e.endToEndId !== null && !taken.has(`bank_return:${e.endToEndId}`)) {
    const p = payouts.get(e.endToEndId);
    if (p !== undefined && p !== null && p.status === "returned" && p.returned?.currency === e.currency && p.returned.amount === e.amount) return { kind: "bank_return", ref: e.endToEndId, transactionId: p.returnTxId };
  }
  if (e.side === "credit" && !e.reversal) {
    const r = remittances.find((x) => !taken.has(`remittance:${x.ref}`) && x.currency === e.currency && x.amount === e.amount && e.texts.some((t) => mentions(t, x.remittanceId)));
    return r === undefined ? null : { kind: "remittance", ref: r.ref, transactionId: r.transactionId };
  }
  if (e.side === "debit" && e.endToEndId !== null && !taken.has(`bank_payout:${e.endToEndId}`)) {
    const p = payouts.get(e.endToEndId);
    if (p !== undefined && p !== null && (p.status === "final" || p.status === "returned" || p.status === "partially_paid") && p.settledCurrency === e.currency && p.settledAmount === e.amount) {
      return { kind: "bank_payout", ref: e.endToEndId, transactionId: p.cashTxId };
    }
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
   * Imports a camt.053 (XML text, or its bytes: decoded as its BOM, its XML declaration or the
   * `charset` given say): one report per statement, the file's new statements recorded in one
   * transaction (never a part of them). A statement imported before (by account and statement id)
   * is that import when its content is the same, from
   * whatever file (`exists` when the whole file was), and ENT_CASH_STATEMENT_CONFLICT when it is
   * not; also when another instance imported it meanwhile.
   */
  async importStatement(xml: string | Uint8Array, by: string, options: { charset?: string } = {}): Promise<{ status: "created" | "exists"; statements: CashStatementReport[] }> {
    let message;
    try {
      message = readBankMessage(xml, "camt.053", options);
    } catch (e) {
      if (e instanceof BankMessageError) throw CashErrors.statementInvalid(e.message);
      throw e;
    }
    const statements = message.reports.map(balancesOf);
    this.#checkAccount(statements);
    for (const [i, a] of statements.entries()) {
      const ka = keyOf(a);
      const twice = statements.slice(0, i).some((b) => b.s.account === a.s.account && b.currency === a.currency && keyOf(b).statementId === ka.statementId);
      if (twice) throw CashErrors.statementInvalid(`the file holds statement ${a.s.id} of account ${a.s.account} twice`);
    }
    const sha = createHash("sha256").update(xml).digest("hex");
    return this.#lock.run(async () => {
      for (let attempt = 0; ; attempt++) {
        const earlier: Array<CashStatementReport | null> = [];
        for (const st of statements) earlier.push(await this.#earlier(st, sha));
        const fresh = statements.filter((_, i) => earlier[i] === null);
        if (fresh.length === 0) return { status: "exists" as const, statements: await this.#withOpen(earlier as CashStatementReport[]) };
        // What the ledger and the bank rail say is read before the transaction that records the file.
        const facts = await this.#facts(fresh);
        try {
          const reports = await this.#o.sql.transaction(async (tx) => {
            const out: CashStatementReport[] = [];
            for (const st of fresh) out.push(await this.#record(tx, st, facts, message.messageId, sha, by));
            return out;
          });
          return { status: "created" as const, statements: await this.#withOpen(earlier.map((r) => r ?? reports.shift()!)) };
        } catch (e) {
          // Another instance recorded one of these statements, or matched one of their entries, meanwhile: read again.
          if (attempt === 0 && isUniqueViolation(e)) continue;
          throw e;
        }
      }
    });
  }

  /**
   * Every statement is of the platform's account, in its currency (the statement's Acct/Ccy, else
   * its balances' currency: the account's all the same), or nothing of the file is imported: the
   * ledger has one `platform:cash:bank` per currency, and another account's entries would match and
   * resolve against the platform's own money (and take the matches its own statement needs).
   */
  #checkAccount(statements: readonly Balanced[]): void {
    const ours = this.#o.account;
    if (ours === null) throw CashErrors.statementAccount("no platform bank account is configured (BANK_ACCOUNT_*): a statement cannot be checked against it, nothing was imported");
    const refusal = accountRefusal(
      statements.map((st) => ({ id: st.s.account, currency: st.currency })),
      ours,
      { noun: "statement", element: "Stmt" },
    );
    if (refusal === null) return;
    const st = statements[refusal.index];
    // Without Acct/Ccy the account's currency is the one its balances are in.
    const field = refusal.field.endsWith("/Ccy") && st?.s.currency === null ? "Stmt/Bal/Amt/@Ccy" : refusal.field;
    throw CashErrors.statementAccount(`${refusal.message}: nothing of the file was imported`, {
      fields: [{ field, message: refusal.message }],
      details: {
        statement: st?.s.id ?? null,
        account: st?.s.account ?? null,
        currency: st?.currency ?? null,
        expectedAccount: ours.iban ?? ours.accountNumber,
        expectedCurrency: ours.accountCurrency,
      },
    });
  }

  /** The statement's earlier import with the same content; a conflict when it was imported with other content. */
  async #earlier(st: Balanced, sha: string): Promise<CashStatementReport | null> {
    const key = keyOf(st);
    const rows = await this.#o.sql.q<Array<{ id: bigint; statement_id: string; sequence: string | null; file_sha256: string; content_sha256: string | null; report: CashStatementReport }>>(
      `SELECT id, statement_id, sequence, file_sha256, content_sha256, report FROM cash_statements
        WHERE account = $1 AND currency = $2 AND statement_id = $3 ORDER BY id`,
      key.account,
      st.currency,
      key.statementId,
    );
    // Imported before its content was recorded: the same file is the same statement.
    const same = rows.find((r) => r.content_sha256 === st.content || (r.content_sha256 === null && r.file_sha256 === sha && r.statement_id === key.statementId));
    if (same !== undefined) return same.report;
    const other = rows[0];
    if (other === undefined) return null;
    throw CashErrors.statementConflict(
      `statement ${st.s.id} of account ${st.s.account} (${st.currency}) was imported before with other content, as bank statement ${other.id} (statement ${other.statement_id}${other.sequence === null ? "" : `, sequence ${other.sequence}`}); a bank's correction comes as a new statement`,
      { details: { statementId: other.id.toString(), statement: other.statement_id, sequence: other.sequence } },
    );
  }

  async #facts(statements: readonly Balanced[]): Promise<Facts> {
    const currencies = [...new Set(statements.map((s) => s.currency))];
    const payouts = new Map<string, BankPayoutFacts | null>();
    if (this.#o.bankPayouts !== undefined) {
      for (const st of statements) {
        for (const e of st.items) if (e.endToEndId !== null && !payouts.has(e.endToEndId)) payouts.set(e.endToEndId, await this.#o.bankPayouts.payoutByEndToEndId(e.endToEndId));
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
    const key = keyOf(st);
    const booked = st.items.filter((e) => e.status === "BOOK");
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
    for (const [i, e] of st.items.entries()) {
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
      `INSERT INTO cash_statements (file_sha256, message_id, statement_id, account, currency, sequence, opening, closing, unmatched, report, imported_by, content_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '{}'::jsonb, $10, $11) RETURNING id, imported_at`,
      sha,
      messageId.slice(0, 35),
      key.statementId,
      key.account,
      currency,
      key.sequence,
      opening.amount,
      closing.amount,
      report.unmatched,
      by,
      st.content,
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
    const all = await this.#allExceptions(now);
    const bucket = (days: number): AgeBucket => (days <= 7 ? "0-7" : days <= 30 ? "8-30" : "over-30");
    const openByAge: Record<AgeBucket, number> = { "0-7": 0, "8-30": 0, "over-30": 0 };
    for (const x of all) if (x.status === "open") openByAge[bucket(x.ageDays)]++;
    const items = all.filter((x) => (q.status === undefined || x.status === q.status) && (q.age === undefined || bucket(x.ageDays) === q.age)).slice(0, q.limit ?? 100);
    return { items, openByAge };
  }

  /**
   * The open unmatched entries the bank booked in `period` (by what their age counts from: the
   * booking date, else the value date, else the import), for the period-close checklist: how many,
   * their amounts per currency (absolute), the first `limit`, oldest first.
   */
  async openExceptionsIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    // One statement over the statements that still have an open entry (more unmatched entries than
    // resolutions, read by the resolutions' key): only the totals and the first `limit` refs come
    // back. An entry's instant is bookingInstant's (dayInstantSql), else the import, as #allExceptions.
    const r = await readOpenItems<[string, number]>(this.#o.sql, {
      open: `WITH entries AS (
         SELECT s.id AS statement_id, (e->>'index')::int AS entry_index, e->>'currency' AS currency, (e->>'amount')::numeric AS amount,
                coalesce(${dayInstantSql(`e->>'bookingDate'`)}, ${dayInstantSql(`e->>'valueDate'`)}, s.imported_at) AS aged_from
           FROM cash_statements s CROSS JOIN LATERAL jsonb_array_elements(s.report->'entries') AS e
          WHERE s.unmatched > (SELECT count(*) FROM cash_resolutions c WHERE c.statement_id = s.id)
            AND e->>'exception' IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM cash_resolutions c WHERE c.statement_id = s.id AND c.entry_index = (e->>'index')::int)
       ), open AS (
         SELECT * FROM entries WHERE aged_from < $1 AND ($2::timestamptz IS NULL OR aged_from >= $2::timestamptz)
       )`,
      ref: "json_build_array(statement_id::text, entry_index)",
      order: "aged_from, statement_id, entry_index",
      params: [period.to, period.from],
      limit,
    });
    return { ...r, refs: r.refs.map(([statementId, index]) => ({ id: `${statementId}/${index}`, href: `/v1/cash/statements/${statementId}/entries/${index}/resolution` })) };
  }

  /** Every unmatched entry, open or resolved, oldest first. */
  async #allExceptions(now: Date): Promise<CashException[]> {
    const rows = await this.#o.sql.q<Array<{ id: bigint; report: CashStatementReport; imported_at: Date }>>(`SELECT id, report, imported_at FROM cash_statements WHERE unmatched > 0 ORDER BY id`);
    const resolutions = new Map((await this.#o.sql.q(`SELECT * FROM cash_resolutions`)).map((r) => [`${String(r["statement_id"])}:${String(r["entry_index"])}`, resolutionOf(r)]));
    const all: CashException[] = [];
    for (const r of rows) {
      for (const e of r.report.entries) {
        if (e.exception === null) continue;
        const resolution = resolutions.get(`${r.id}:${e.index}`) ?? null;
        // An entry has been waiting since the bank booked it, however late its statement came in.
        const from = bookingInstant(e) ?? r.imported_at;
        all.push({
          statementId: r.id.toString(),
          statement: r.report.statementId,
          account: r.report.account,
          entry: e,
          importedAt: r.imported_at.toISOString(),
          agedFrom: from.toISOString(),
          ageDays: Math.max(0, Math.floor((now.getTime() - from.getTime()) / 86_400_000)),
          status: resolution === null ? "open" : "resolved",
          resolution,
        });
      }
    }
    // Oldest first by what the age counts from (a stable sort: statement and entry order within a day).
    all.sort((a, b) => Date.parse(a.agedFrom) - Date.parse(b.agedFrom));
    return all;
  }

  /** Resolves one unmatched entry (see the module comment); `exists` when the same request was made before. */
  async resolve(statementId: bigint, index: number, input: { note: string; adjustment?: CashAdjustment; by: string }): Promise<{ status: "created" | "exists"; resolution: CashResolutionView }> {
    // The note is what a resolution is read by later (and what an adjusting entry beyond the
    // receivable must say why in): spaces alone say nothing.
    if (input.note.trim() === "") throw Errors.validation("note is blank: say what the entry was and why it is resolved so", { fields: [{ field: "note", message: "must not be blank" }] });
    const statement = await this.get(statementId);
    const entry = statement.entries.find((e) => e.index === index);
    if (entry === undefined) throw CashErrors.statementNotFound(`bank statement ${statementId} has no entry ${index}`, { fields: [{ field: "params.index", message: "unknown entry" }] });
    if (entry.exception === null) throw CashErrors.notAnException(`entry ${index} of bank statement ${statementId} is ${entry.match === null ? "not booked by the bank" : `matched to ${entry.match.kind} ${entry.match.ref}`}: nothing to resolve`);
    const adjustment =
      input.adjustment === undefined
        ? null
        : {
            postings: input.adjustment.postings.map((p) => ({ ...p, amount: p.amount.toString() })),
            ...(input.adjustment.description === undefined ? {} : { description: input.adjustment.description }),
            ...(input.adjustment.effectiveAt === undefined ? {} : { effectiveAt: input.adjustment.effectiveAt.toISOString() }),
            ...(input.adjustment.exceedsReceivable === undefined ? {} : { exceedsReceivable: input.adjustment.exceedsReceivable }),
          };
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
        const where = `entry ${index} of bank statement ${statement.statementId} (id ${statementId})`;
        checkAdjustment(entry, where, input.adjustment.postings, this.#o.maxAmount);
        const exceeds = input.adjustment.exceedsReceivable === true;
        // The gateway receivables the entry credits, each held to its balance (unless the request says
        // it goes beyond): read here for an answer that names the figures, and held by the ledger where
        // the entry is booked (notBelowZero), so resolutions racing on one receivable on any instance,
        // or a remittance or refund meanwhile, never together take it below zero.
        const credited = exceeds ? [] : receivablesCredited(input.adjustment.postings);
        for (const c of credited) {
          // A receivable never opened: the ledger refuses the entry (ENT_LEDGER_ACCOUNT_NOT_FOUND, below).
          const balance = (await balanceOrNull(this.#o.ledger, c.account, c.currency))?.available;
          if (balance !== undefined && c.amount > balance) throw exceedsReceivable(where, c, balance);
        }
        // From the stored statement, so a retry after a crash posts the same request.
        const effectiveAt = adjustmentEffectiveAt(input.adjustment.effectiveAt, bookingInstant(entry) ?? new Date(statement.importedAt), new Date(), this.#o.maxAgeMs);
        const metadata: Record<string, string> = { source: "cash_reconciliation", cashStatementId: statementId.toString(), statement: statement.statementId, entryIndex: String(index), bankReference: entry.bankReference ?? "" };
        let posted: Awaited<ReturnType<Ledger["post"]>>;
        try {
          posted = await this.#o.ledger.post({
            idempotencyKey: `cash:${statementId}:${index}`,
            postings: input.adjustment.postings,
            // The cash account in the entry's currency opens with its first booking (a CHF statement before any CHF remittance).
            accounts: [...adjustmentAccountSpecs(input.adjustment.postings), accountSpec(Accounts.bank, entry.currency)],
            metadata: exceeds ? { ...metadata, exceedsReceivable: "true" } : metadata,
            description: input.adjustment.description ?? `Bank statement ${statement.statementId} entry ${index}: ${input.note}`.slice(0, 500),
            effectiveAt,
            ...(credited.length === 0 ? {} : { notBelowZero: credited.map(({ account, currency }) => ({ account, currency })) }),
          });
        } catch (e) {
          // Another writer took the receivable below what this entry credits since it was read.
          if (isAppError(e) && e.code === LedgerErrors.insufficientFunds.code) {
            const short = credited.find((c) => c.account === e.details?.["account"] && c.currency === e.details["currency"]);
            const available = e.details?.["available"];
            if (short !== undefined) throw exceedsReceivable(where, short, typeof available === "string" ? BigInt(available) : 0n, e);
          }
          // As a reconciliation's resolution says it: the entry refused, its fields named in the request.
          throw adjustmentRefusal(e, { conflict: CashErrors.resolutionConflict, rejected: CashErrors.adjustmentInvalid }, `entry ${index} of bank statement ${statementId} already has a different adjusting entry`);
        }
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
    return this.#withOpen((await this.#o.sql.q<Array<{ report: CashStatementReport }>>(`SELECT report FROM cash_statements ORDER BY id DESC LIMIT $1`, limit)).map((r) => r.report));
  }

  async get(id: bigint): Promise<CashStatementReport> {
    const [r] = await this.#o.sql.q<Array<{ report: CashStatementReport }>>(`SELECT report FROM cash_statements WHERE id = $1`, id);
    if (r === undefined) throw CashErrors.statementNotFound(`bank statement ${id} does not exist`);
    return (await this.#withOpen([r.report]))[0]!;
  }

  /** Each report with `open`: its unmatched entries less those resolved since (the stored `unmatched` is as imported). */
  async #withOpen(reports: CashStatementReport[]): Promise<CashStatementReport[]> {
    const withExceptions = reports.filter((r) => r.unmatched > 0).map((r) => r.id);
    const resolved = new Map<string, number>();
    if (withExceptions.length > 0) {
      const rows = await this.#o.sql.q<Array<{ statement_id: bigint; n: number }>>(
        `SELECT statement_id, count(*)::int AS n FROM cash_resolutions WHERE statement_id = ANY($1::bigint[]) GROUP BY statement_id`,
        withExceptions,
      );
      for (const r of rows) resolved.set(String(r.statement_id), Number(r.n));
    }
    return reports.map((r) => ({ ...r, open: r.unmatched - (resolved.get(String(r.id)) ?? 0) }));
  }
}

/**
 * An adjusting entry books what the bank did to the account, nothing else: `platform:cash:bank`
 * moves in the entry's currency by exactly the entry's amount (a credit on the statement is a
 * debit of the cash, a debit a credit) and in no other currency, and no seller's account is
 * touched (a seller's money moves through settlement and payouts, never from a bank line).
 */
export function checkAdjustment(entry: Pick<CashEntryView, "side" | "currency" | "amount">, where: string, postings: readonly PostingInput[], maxAmount: (currency: string) => bigint = () => DEFAULT_MAX_AMOUNT_MINOR): void {
  const seller = postings.findIndex((p) => p.account.startsWith("seller:"));
  if (seller >= 0) {
    throw CashErrors.adjustmentInvalid(`${where}: the adjusting entry posts to ${postings[seller]!.account}; a bank statement entry never moves a seller's balance`, {
      fields: [{ field: `adjustment.postings.${seller}.account`, message: "a seller's account" }],
    });
  }
  checkAdjustmentScope(postings, { gateways: "any", bank: true, maxAmount }, (message, field, why) => CashErrors.adjustmentInvalid(`${where}: ${message}`, { fields: [{ field, message: why }] }));
  const net = new Map<string, bigint>();
  for (const p of postings) if (p.account === Accounts.bank) net.set(p.currency, (net.get(p.currency) ?? 0n) + (p.direction === "debit" ? p.amount : -p.amount));
  const amount = BigInt(entry.amount);
  const expected = entry.side === "credit" ? amount : -amount;
  if (net.get(entry.currency) === expected && [...net].every(([c, v]) => c === entry.currency || v === 0n)) {
    // The entry books the bank's movement and what it was for: every other leg is on the other side of
    // the bank's, so no pair of legs elsewhere rides along (a receivable moved against a cost account).
    const bankSide = entry.side === "credit" ? "debit" : "credit";
    const along = postings.findIndex((p) => p.account !== Accounts.bank && p.direction === bankSide);
    if (along >= 0) {
      throw CashErrors.adjustmentInvalid(`${where}: posting ${along} (${postings[along]!.account}) is a ${bankSide}, like the bank's own leg: the other legs book what the bank's ${entry.side} was for, on the other side`, {
        fields: [{ field: `adjustment.postings.${along}.direction`, message: `must be ${bankSide === "debit" ? "credit" : "debit"}, the other side of ${Accounts.bank}` }],
      });
    }
    return;
  }
  // Amounts in words as people read them (123.45 USD), the minor units beside, as the postings carry them.
  const money = (v: bigint, c: string) => (exponentOrNull(c) === null ? `${v} ${c}` : `${formatMinor(v, c)} ${c} (${v} minor unit${v === 1n ? "" : "s"})`);
  const must = `${entry.side === "credit" ? "debit" : "credit"} ${Accounts.bank} by ${money(amount, entry.currency)}`;
  const moves = [...net].filter(([, v]) => v !== 0n).map(([c, v]) => `${v > 0n ? "debits" : "credits"} it by ${money(v > 0n ? v : -v, c)}`);
  throw CashErrors.adjustmentInvalid(`${where} is a ${entry.side} of ${money(amount, entry.currency)}: its adjusting entry must ${must}; this one ${moves.length === 0 ? "does not move it" : moves.join(" and ")}`, {
    fields: [{ field: "adjustment.postings", message: `must ${must}` }],
  });
}

/** What an adjusting entry credits, net, to each gateway receivable it credits, with its first credit posting's index. */
export function receivablesCredited(postings: readonly PostingInput[]): Array<{ account: string; currency: string; amount: bigint; posting: number }> {
  const out = new Map<string, { account: string; currency: string; amount: bigint; posting: number }>();
  postings.forEach((p, i) => {
    if (!/^gateway:[^:]+:receivable$/.test(p.account)) return;
    const k = `${p.account}\u0000${p.currency}`;
    const c = out.get(k) ?? { account: p.account, currency: p.currency, amount: 0n, posting: -1 };
    c.amount += p.direction === "credit" ? p.amount : -p.amount;
    if (c.posting < 0 && p.direction === "credit") c.posting = i;
    out.set(k, c);
  });
  return [...out.values()].filter((c) => c.amount > 0n);
}

function exceedsReceivable(where: string, c: { account: string; currency: string; amount: bigint; posting: number }, balance: bigint, cause?: unknown): AppError {
  const held = balance > 0n ? balance : 0n;
  return CashErrors.resolutionExceedsReceivable(
    `${where}: the adjusting entry credits ${c.account} with ${c.amount} minor units of ${c.currency}, its balance is ${balance}: the gateway owes no more; credit it at most ${held} and the rest to platform:suspense:unidentified_receipts, or say "exceedsReceivable": true (the platform then owes the gateway the excess) with a note saying why`,
    {
      fields: [{ field: `adjustment.postings.${c.posting}.amount`, message: `${c.account} holds ${balance} ${c.currency}: credit it at most ${held}, or "exceedsReceivable": true` }],
      details: { account: c.account, currency: c.currency, balance: balance.toString(), amount: c.amount.toString() },
      ...(cause === undefined ? {} : { cause }),
    },
  );
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

/**
 * The instant a bank booked an entry: its booking date, else its value date. A date (camt's Dt) is a
 * day in the bank's calendar, taken as its first instant in UTC, so the entry falls in that day's
 * (and month's) books whatever our zone; a date-time with an offset (DtTm) is that instant, one
 * without an offset (local to the bank, zone unknown) its day. Null when the statement gives neither.
 */
export function bookingInstant(e: Pick<CashEntryView, "bookingDate" | "valueDate">): Date | null {
  return dayInstant(e.bookingDate) ?? dayInstant(e.valueDate);
}

/**
 * dayInstant in SQL, of the text expression `text`: a timestamptz, or NULL where dayInstant answers
 * null, as Date.parse reads the same text (never a cast error): a date with no zone is that day at
 * 00:00 UTC (its time left out, as dayInstant does); a day past the month's end rolls over into the
 * next month ("2024-02-30" is March 1st); T24:00 is the next day's start; milliseconds, no finer.
 * Tested for equality with dayInstant (test/cash/open-exceptions.test.ts).
 */
export function dayInstantSql(text: string): string {
  const t = `regexp_replace(coalesce(${text}, ''), '^\\s+|\\s+$', '', 'g')`;
  // dayInstant's own pattern: 1 year, 2 month, 3 day, 4 the time with its zone, 5 the zone.
  const shape = `'^(\\d{4})-(\\d{2})-(\\d{2})(T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})?)?$'`;
  // With a zone, the time Date.parse takes: 1-3 hour, minute, seconds; 4-6 the same of T24:00; 7 the offset's sign, 8-9 its hours and minutes.
  const zoned = `'^T(?:([01]\\d|2[0-3]):([0-5]\\d)(?::([0-5]\\d(?:\\.\\d+)?))?|(24):(00)(?::(00(?:\\.0+)?))?)(?:Z|([+-])([01]\\d|2[0-3]):([0-5]\\d))$'`;
  const day = `(make_date(CASE WHEN m[1]::int = 0 THEN -1 ELSE m[1]::int END, m[2]::int, 1) + (m[3]::int - 1))`;
  const local = `(${day}::timestamp + make_interval(hours => coalesce(z[1], z[4])::int, mins => coalesce(z[2], z[5])::int,
                                                     secs => trunc(coalesce(z[3], z[6], '0')::numeric, 3)::double precision))`;
  const offset = `(CASE WHEN z[7] IS NULL THEN interval '0' ELSE (CASE z[7] WHEN '-' THEN -1 ELSE 1 END) * make_interval(hours => z[8]::int, mins => z[9]::int) END)`;
  return `(SELECT CASE WHEN m IS NULL OR m[2]::int NOT BETWEEN 1 AND 12 OR m[3]::int NOT BETWEEN 1 AND 31 THEN NULL
                       WHEN m[5] IS NULL THEN ${day}::timestamp AT TIME ZONE 'UTC'
                       WHEN z IS NULL THEN NULL
                       ELSE (${local} - ${offset}) AT TIME ZONE 'UTC' END
             FROM (SELECT m, regexp_match(m[4], ${zoned}) AS z FROM (SELECT regexp_match(${t}, ${shape}) AS m) x) y)`;
}

function dayInstant(d: string | null): Date | null {
  const text = d?.trim() ?? "";
  const m = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (m === null) return null;
  const ms = Date.parse(m[3] === undefined ? `${m[1]!}T00:00:00.000Z` : text);
  return Number.isFinite(ms) ? new Date(ms) : null;
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
