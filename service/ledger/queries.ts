/**
 * The ledger's read API: transactions, the journal in sequence order, accounts, balances now and at
 * past instants, an account's postings, and the hash chain's verification. Reads take no lock and
 * see committed data only (the writer commits whole flushes).
 */
import type { SqlRunner } from "../db/index.js";
import { Errors } from "../errors.js";
import { amountsOf, type OpenItems, type OpenPeriod } from "../open-items.js";
import { LedgerErrors } from "./errors.js";
import { GENESIS_HASH } from "./hash.js";
import { hashOf, toBalance } from "./plan.js";
import * as store from "./store.js";
import { AGAINST_NORMAL_LARGEST, type Account, type AccountFilter, type AccountStatement, type Balance, type BalanceSide, type BalanceSummary, type ChainVerification, type EffectiveTransaction, type HistoryPosting, type JournalExportLine, type JournalTransaction, type Ledger, type MetadataMovements, type OwnerType, type Page, type TransactionFilter, type TrialBalance } from "./types.js";
import { checkJournalPage, clampLimit, decodeCursor, encodeCursor, isTransactionId } from "./validate.js";

type Queries = Pick<
  Ledger,
  "getTransaction" | "getTransactions" | "listTransactions" | "listJournal" | "getAccount" | "listAccounts" | "balance" | "postedAtEffective" | "statement" | "transactionsEffective" | "postingsBetween" | "trialBalance" | "movementsByMetadata" | "balanceSummary" | "pendingIn" | "journalPosition" | "exportJournal" | "history" | "verifyChain"
>;

const VERIFY_PAGE = 500;
/** Transactions per page of a journal export. */
const EXPORT_PAGE = 1_000;
/** Postings one account statement lists at most. */
const STATEMENT_LINES = 10_000;
/** Account and group rows one movementsByMetadata read answers at most. */
const MOVEMENT_ROWS = 10_000;

/** Rows as statement lines: each posted or commit leg changes the balance (signed in the normal direction); pending and void legs list with 0. */
function statementLines(rows: readonly store.StatementRow[], normalBalance: "debit" | "credit", opening: bigint): AccountStatement["lines"] {
  let balance = opening;
  return rows.map((r) => {
    const amount = BigInt(r.amount);
    const moves = r.phase === "posted" || r.phase === "commit";
    const change = !moves ? 0n : (r.direction === normalBalance ? 1n : -1n) * amount;
    balance += change;
    return {
      transactionId: r.transaction_id.toString(),
      effectiveAt: r.effective_at,
      bookedAt: r.booked_at,
      transactionKind: r.kind,
      description: r.description,
      metadata: r.metadata,
      postingId: r.posting_id.toString(),
      direction: r.direction,
      phase: r.phase,
      amount,
      change,
      balance,
    };
  });
}

export function createQueries(sql: SqlRunner, now: () => Date): Queries {
  let verifying: Promise<ChainVerification> | null = null;
  async function accountOrFail(code: string, currency: string): Promise<store.AccountRow> {
    const a = await store.findAccount(sql, code, currency);
    if (!a) throw LedgerErrors.accountNotFound(`account ${code} (${currency}) not found`, { fields: [{ field: "account", message: "unknown account" }] });
    return a;
  }

  return {
    async getTransaction(id: string): Promise<JournalTransaction | null> {
      if (!isTransactionId(id)) return null;
      const [t] = await store.loadTransactions(sql, [BigInt(id)]);
      return t ? store.toJournal(t) : null;
    },

    async getTransactions(ids: readonly string[]): Promise<Map<string, JournalTransaction>> {
      const valid = [...new Set(ids.filter(isTransactionId))];
      const out = new Map<string, JournalTransaction>();
      if (valid.length === 0) return out;
      for (const t of await store.loadTransactions(sql, valid.map(BigInt))) out.set(t.id.toString(), store.toJournal(t));
      return out;
    },

    async listTransactions(filter: TransactionFilter): Promise<Page<JournalTransaction>> {
      const limit = clampLimit(filter.limit);
      const ids = await store.transactionIds(sql, {
        ...(filter.cursor ? { beforeId: decodeCursor(filter.cursor) } : {}),
        ...(filter.account ? { account: filter.account } : {}),
        metadata: { ...(filter.metadata ?? {}), ...(filter.sellerId ? { sellerId: filter.sellerId } : {}) },
        ...(filter.from ? { from: filter.from } : {}),
        ...(filter.to ? { to: filter.to } : {}),
        limit: limit + 1,
      });
      const page = ids.slice(0, limit);
      const loaded = new Map((await store.loadTransactions(sql, page)).map((t) => [t.id, t]));
      return {
        items: page.map((id) => store.toJournal(loaded.get(id)!)),
        nextCursor: ids.length > limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },

    async listJournal(afterSequence: bigint, limit: number): Promise<JournalTransaction[]> {
      checkJournalPage(afterSequence, limit);
      // Ids are assigned under the journal head lock and committed in order, so a row is visible
      // only once every lower id is: reading "> after" never skips a later-committing lower id.
      return store.journalAfter(sql, afterSequence, limit);
    },

    async getAccount(code: string, currency: string): Promise<Account | null> {
      const r = await store.findAccount(sql, code, currency);
      return r ? store.toAccount(r) : null;
    },

    async listAccounts(filter: AccountFilter): Promise<Page<Account & { balance: Balance }>> {
      const limit = clampLimit(filter.limit);
      const rows = await store.listAccounts(sql, {
        ...(filter.ownerType === undefined ? {} : { ownerType: filter.ownerType }),
        ...(filter.ownerId === undefined ? {} : { ownerId: filter.ownerId }),
        ...(filter.codePrefix === undefined ? {} : { codePrefix: filter.codePrefix }),
        ...(filter.currency === undefined ? {} : { currency: filter.currency }),
        ...(filter.cursor === undefined ? {} : { afterId: decodeCursor(filter.cursor) }),
        limit: limit + 1,
      });
      const at = now();
      const items = rows.slice(0, limit).map((r) => {
        const s = store.accountState(r);
        return { ...store.toAccount(r), balance: toBalance(s, s, at, s.lastTransactionId) };
      });
      return { items, nextCursor: rows.length > limit ? encodeCursor(rows[limit - 1]!.id) : null };
    },

    async balance(account: string, currency: string, at?: Date, basis: "booked" | "effective" = "booked"): Promise<Balance> {
      const s = store.accountState(await accountOrFail(account, currency));
      if (!at) return toBalance(s, s, now(), s.lastTransactionId);
      const past = basis === "effective" ? await store.totalsAtEffective(sql, s.id, at) : await store.totalsAt(sql, s.id, at);
      if (!past) return toBalance(s, { postedDebits: 0n, postedCredits: 0n, pendingDebits: 0n, pendingCredits: 0n }, at, null);
      return toBalance(s, past.totals, at, past.transactionId);
    },

    postedAtEffective(account: string, currency: string, at: Date): Promise<{ postedDebits: bigint; postedCredits: bigint } | null> {
      return store.postedTotalsAtEffective(sql, account, currency, at);
    },

    async statement(account: string, currency: string, period: { from: Date; to: Date }): Promise<AccountStatement> {
      if (period.from.getTime() >= period.to.getTime()) throw Errors.validation("from must be before to", { fields: [{ field: "to", message: "must be after from" }] });
      const a = await accountOrFail(account, currency);
      const s = store.accountState(a);
      // One snapshot for the three reads: a transaction committing meanwhile is in all or none.
      // One after another: a connection runs one query at a time (pg queued concurrent calls, and
      // pg 9 refuses them).
      const [before, rows, end] = await sql.transaction(async (tx) => {
        const opening = await store.totalsAtEffective(tx, a.id, period.from, true);
        const postings = await store.accountPostingsEffective(tx, a.id, period.from, period.to, STATEMENT_LINES + 1);
        return [opening, postings, await store.totalsAtEffective(tx, a.id, period.to, true)] as const;
      }, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      if (rows.length > STATEMENT_LINES) {
        throw Errors.validation(`the period holds more than ${STATEMENT_LINES} postings of ${account} (${currency}): ask for a shorter one`, {
          fields: [{ field: "to", message: `at most ${STATEMENT_LINES} postings per statement` }],
        });
      }
      const posted = (t: { postedDebits: bigint; postedCredits: bigint } | undefined) =>
        t === undefined ? 0n : s.normalBalance === "debit" ? t.postedDebits - t.postedCredits : t.postedCredits - t.postedDebits;
      const opening = posted(before?.totals);
      const lines = statementLines(rows, s.normalBalance, opening);
      const balance = lines.length === 0 ? opening : lines[lines.length - 1]!.balance;
      // Read apart from the lines: a check that the lines are the whole period, not a sum of them.
      const closing = posted(end?.totals);
      if (closing !== balance) throw new Error(`statement of ${account} (${currency}): opening + lines = ${balance}, the balance before ${period.to.toISOString()} is ${closing}`);
      return { account, currency, normalBalance: s.normalBalance, from: period.from, to: period.to, opening, lines, closing };
    },

    async transactionsEffective(metadata: Record<string, string>, period: { from: Date; to: Date }): Promise<EffectiveTransaction[]> {
      if (Object.keys(metadata).length === 0) throw new Error("transactionsEffective needs at least one metadata key");
      const rows = await store.transactionsEffective(sql, metadata, period.from, period.to, STATEMENT_LINES + 1);
      if (rows.length > STATEMENT_LINES) {
        throw Errors.validation(`the period holds more than ${STATEMENT_LINES} such transactions: ask for a shorter one`, {
          fields: [{ field: "to", message: `at most ${STATEMENT_LINES} transactions per period` }],
        });
      }
      return rows.map((r) => ({ transactionId: r.id.toString(), effectiveAt: r.effective_at, bookedAt: r.booked_at, transactionKind: r.kind, status: r.status, metadata: r.metadata }));
    },

    async postingsBetween(account: string, currency: string, range: { afterTransactionId: string | null; beforeTransactionId: string }): Promise<AccountStatement["lines"]> {
      const a = await accountOrFail(account, currency);
      const after = range.afterTransactionId === null ? null : BigInt(range.afterTransactionId);
      const rows = await store.accountPostingsBetween(sql, a.id, after, BigInt(range.beforeTransactionId), STATEMENT_LINES + 1);
      if (rows.length > STATEMENT_LINES) {
        throw Errors.validation(`more than ${STATEMENT_LINES} postings of ${account} (${currency}) in the range`, { fields: [{ field: "range", message: `at most ${STATEMENT_LINES} postings` }] });
      }
      return statementLines(rows, a.normal_balance, 0n);
    },

    async pendingIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
      const r = await store.pendingIn(sql, period.from, period.to, limit);
      return { count: r.n, amounts: amountsOf(r.amounts), refs: r.ids.map((id) => ({ id: id.toString(), href: `/v1/transactions/${id}` })) };
    },

    async balanceSummary(): Promise<BalanceSummary[]> {
      // One snapshot for both reads, so each currency's groups add up to its sides' figures.
      const [sides, against] = await sql.transaction(
        async (tx) => [await store.balanceSummary(tx), await store.accountsAgainstNormal(tx, AGAINST_NORMAL_LARGEST)] as const,
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
      );
      const side = (): BalanceSide => ({ accounts: 0, onNormalSide: 0n, againstNormalSide: 0n, accountsAgainst: 0 });
      const byCurrency = new Map<string, BalanceSummary>();
      for (const r of sides) {
        const t = byCurrency.get(r.currency) ?? { currency: r.currency, debitBalances: 0n, creditBalances: 0n, accounts: 0, debitNormal: side(), creditNormal: side(), againstNormal: [] };
        if (r.normal_balance === "debit") t.debitBalances += BigInt(r.balance);
        else t.creditBalances += BigInt(r.balance);
        t.accounts += r.accounts;
        const s = r.normal_balance === "debit" ? t.debitNormal : t.creditNormal;
        s.accounts += r.accounts;
        s.onNormalSide += BigInt(r.on_normal);
        s.againstNormalSide += BigInt(r.against_normal);
        s.accountsAgainst += r.accounts_against;
        byCurrency.set(r.currency, t);
      }
      for (const r of against) {
        const groups = byCurrency.get(r.currency)?.againstNormal;
        if (groups === undefined) continue;
        let g = groups.at(-1);
        if (g === undefined || g.ownerType !== r.owner_type) {
          g = { ownerType: r.owner_type as OwnerType, accounts: r.accounts, balance: BigInt(r.total), largest: [] };
          groups.push(g);
        }
        g.largest.push({ account: r.code, normalBalance: r.normal_balance, balance: BigInt(r.balance) });
      }
      return [...byCurrency.values()];
    },

    journalPosition(afterSequence: bigint) {
      return store.journalPosition(sql, afterSequence);
    },

    async trialBalance(period: { from?: Date; to: Date }): Promise<TrialBalance> {
      if (period.from !== undefined && period.from.getTime() > period.to.getTime()) {
        throw Errors.validation("from must not be after to", { fields: [{ field: "from", message: "must not be after to" }] });
      }
      return trialBalanceOf(period, await store.trialBalance(sql, period.from ?? null, period.to));
    },

    async movementsByMetadata(select: { codePrefixes: readonly string[] }, period: { from: Date; to: Date }, groupBy: readonly (readonly string[])[]): Promise<MetadataMovements> {
      if (period.from.getTime() >= period.to.getTime()) throw Errors.validation("from must be before to", { fields: [{ field: "to", message: "must be after from" }] });
      if (select.codePrefixes.length === 0) throw new Error("movementsByMetadata needs at least one account code prefix");
      // One snapshot: the grouped rows and the trial balance they must add up to see the same journal.
      const [accounts, rows, tb] = await sql.transaction(async (tx) => {
        const found = await store.accountsByCodePrefix(tx, select.codePrefixes);
        const ids = found.map((a) => a.id);
        if (ids.length === 0) return [found, [], []] as const;
        return [found, await store.movementsByMetadata(tx, ids, period.from, period.to, groupBy, MOVEMENT_ROWS + 1), await store.periodTotals(tx, ids, period.from, period.to)] as const;
      }, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      if (rows.length > MOVEMENT_ROWS) {
        throw Errors.validation(`the period holds more than ${MOVEMENT_ROWS} account and group rows: ask for a shorter one`, {
          fields: [{ field: "to", message: `at most ${MOVEMENT_ROWS} account and group rows per period` }],
        });
      }
      const byId = new Map(accounts.map((a) => [a.id, a]));
      return {
        from: period.from,
        to: period.to,
        rows: rows.map((r) => {
          const a = byId.get(r.account_id)!;
          return {
            account: a.code,
            currency: a.currency,
            normalBalance: a.normal_balance,
            groups: groupBy.map((_, i) => ({ key: r[`k${i}`] ?? null, value: r[`v${i}`] ?? null })),
            debits: BigInt(r.debits),
            credits: BigInt(r.credits),
          };
        }),
        trialBalance: tb.map((r) => {
          const a = byId.get(r.account_id)!;
          return { account: a.code, currency: a.currency, normalBalance: a.normal_balance, debits: BigInt(r.debits), credits: BigInt(r.credits) };
        }),
      };
    },

    async *exportJournal(period: { from: Date; to: Date }): AsyncGenerator<JournalExportLine[]> {
      let after = 0n;
      for (;;) {
        const rows = await store.journalExportPage(sql, period.from, period.to, after, EXPORT_PAGE);
        if (rows.length === 0) return;
        yield rows.map((r) => ({
          sequence: r.sequence,
          effectiveAt: r.effective_at,
          bookedAt: r.booked_at,
          kind: r.kind,
          idempotencyKey: r.idempotency_key,
          description: r.description,
          metadata: r.metadata,
          postingId: r.posting_id.toString(),
          account: r.code,
          currency: r.currency,
          direction: r.direction,
          phase: r.phase,
          amount: BigInt(r.amount),
        }));
        after = rows[rows.length - 1]!.sequence;
      }
    },

    async history(account: string, currency: string, page: { limit?: number; cursor?: string }) {
      const a = await accountOrFail(account, currency);
      const limit = clampLimit(page.limit);
      const rows = await store.accountPostings(sql, a.id, page.cursor ? decodeCursor(page.cursor) : undefined, limit + 1);
      const items = rows.slice(0, limit).map((r): HistoryPosting => ({
        id: r.id.toString(),
        account,
        currency,
        direction: r.direction,
        phase: r.phase,
        amount: r.amount,
        balanceAfter: r.balanceAfter,
        transactionId: r.transactionId.toString(),
        bookedAt: r.bookedAt,
        effectiveAt: r.effectiveAt,
        originalEffectiveAt: instantOrNull(r.originalEffectiveAt),
      }));
      return { items, nextCursor: rows.length > limit ? encodeCursor(rows[limit - 1]!.id) : null };
    },

    verifyChain(): Promise<ChainVerification> {
      // A walk of the whole journal (about 0.25 ms a transaction): callers that ask while one runs
      // share it and its answer, which names the head it verified up to.
      verifying ??= verifyWholeChain().finally(() => {
        verifying = null;
      });
      return verifying;
    },
  };

  async function verifyWholeChain(): Promise<ChainVerification> {
    // Verify up to the head as committed when we start, never past it: the head row and the
    // transactions up to its sequence commit together, so all of 1..head are visible from here
    // on, and writes committing meanwhile (beyond the head) cannot make a sound chain look broken.
    const head = await store.readHead(sql);
    let previous = GENESIS_HASH;
    let expectedId = 1n;
    let checked = 0n;
    for (;;) {
      const ids = await store.transactionIdsFrom(sql, expectedId, VERIFY_PAGE, head.sequence);
      if (ids.length === 0) break;
      const txs = await store.loadTransactions(sql, ids);
      txs.sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const t of txs) {
        const recomputed = hashOf(t, previous);
        if (t.id !== expectedId || t.previousHash !== previous || t.hash !== recomputed) {
          return {
            ok: false,
            checked,
            verifiedFrom: 1n,
            verifiedTo: head.sequence,
            headSequence: head.sequence,
            headHash: head.hash,
            firstBreak: { sequence: expectedId, transactionId: t.id.toString(), expectedHash: recomputed, storedHash: t.hash },
          };
        }
        previous = t.hash;
        expectedId += 1n;
        checked += 1n;
      }
    }
    const headOk = head.sequence === checked && head.hash === previous;
    return {
      ok: headOk,
      checked,
      verifiedFrom: 1n,
      verifiedTo: head.sequence,
      headSequence: head.sequence,
      headHash: head.hash,
      ...(headOk ? {} : { firstBreak: { sequence: expectedId, transactionId: "head", expectedHash: previous, storedHash: head.hash } }),
    };
  }
}

/** A trial balance from its rows: signed in each account's normal direction, per currency the period's debits and credits. */
/** A metadata instant, or null when absent or not an instant. */
function instantOrNull(at: string | null): Date | null {
  if (at === null) return null;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? null : d;
}

function trialBalanceOf(period: { from?: Date; to: Date }, rows: readonly store.TrialBalanceRow[]): TrialBalance {
  const byCurrency = new Map<string, { debits: bigint; credits: bigint }>();
  const accounts = rows.map((r) => {
    const [od, oc, d, c] = [BigInt(r.opening_debits), BigInt(r.opening_credits), BigInt(r.debits), BigInt(r.credits)];
    const signed = (debits: bigint, credits: bigint) => (r.normal_balance === "debit" ? debits - credits : credits - debits);
    const t = byCurrency.get(r.currency) ?? { debits: 0n, credits: 0n };
    t.debits += d;
    t.credits += c;
    byCurrency.set(r.currency, t);
    return { account: r.code, currency: r.currency, normalBalance: r.normal_balance, opening: signed(od, oc), debits: d, credits: c, closing: signed(od + d, oc + c) };
  });
  return {
    from: period.from ?? null,
    to: period.to,
    accounts,
    currencies: [...byCurrency].map(([currency, t]) => ({ currency, ...t, balanced: t.debits === t.credits })),
  };
}
