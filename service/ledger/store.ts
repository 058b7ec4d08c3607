/**
 * Every SQL statement of the ledger, and the one place its rows become ledger values. Raw SQL on
 * the driver (db.sql), not the ORM: the ORM would issue one statement per row on the hot path.
 * NUMERIC columns are read as text and parsed to bigint (never JS numbers); JSON columns (jsonb
 * metadata, json_agg) arrive parsed from the driver (service/db/sql.ts), so nothing here parses JSON.
 */
import type { SqlRunner, TxRunner } from "../db/index.js";
import type { Account, AccountSpec, Direction, JournalTransaction, PeriodClose, Posting, TransactionKind, StaleClosingRate, TransactionStatus, UnrevaluedPosition } from "./types.js";
import { ORIGINAL_EFFECTIVE_AT, type AccountState, type FlushPlan, type Head, type Phase, type StoredPosting, type StoredTransaction } from "./plan.js";

// ---------------------------------------------------------------------------------------------
// The write of a flush, and the journal lock

// Migrations 20261124160000_ledger_fast_write and 20261209100000_settlement_write_once: checks,
// locks and writes a whole flush in one call, with the rows attached to its transactions.
const APPLY_FLUSH = `SELECT "id" FROM "ledger_apply_flush"($1::bigint, $2::text, $3::bigint, $4::text, $5::timestamptz,
  $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::timestamptz[], $14::bigint[],
  $15::timestamptz[], $16::text[], $17::text[], $18::bigint[], $19::bigint[], $20::numeric[], $21::numeric[], $22::numeric[],
  $23::numeric[], $24::bigint[], $25::bigint[], $26::text[], $27::bigint[], $28::bigint[], $29::text[], $30::text[], $31::text[],
  $32::numeric[], $33::numeric[], $34::numeric[], $35::numeric[], $36::numeric[], $37::numeric[], $38::jsonb) AS f("id")`;
const HEAD_LOCK = `SELECT "sequence", "hash", "booked_at", "closed_before" FROM "ledger_journal_head" WHERE "id" = 1 FOR UPDATE`;

/**
 * Writes a planned flush on top of `from` with one ledger_apply_flush call, which re-checks under
 * lock that the head and every account are still as planned (else SQLSTATE 40001, nothing written).
 * Returns the posting ids in posting order. The statement is sent before the first await.
 */
export async function applyFlush(sql: SqlRunner, from: Head, plan: FlushPlan): Promise<bigint[]> {
  return flushIds(await sql.q<Array<{ id: bigint }>>(APPLY_FLUSH, ...flushValues(from, plan)));
}

/**
 * applyFlush under the journal lock, and the commit in the same message (PostgreSQL): the lock is
 * held one round trip less.
 */
export async function applyFlushAndCommit(tx: TxRunner, from: Head, plan: FlushPlan): Promise<bigint[]> {
  return flushIds(await tx.commitWith<Array<{ id: bigint }>>({ text: APPLY_FLUSH, values: flushValues(from, plan) }));
}

// Ids come from one sequence, drawn in row order under the head lock: ascending = input order.
function flushIds(rows: Array<{ id: bigint }>): bigint[] {
  return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function flushValues(from: Head, plan: FlushPlan): unknown[] {
  const { created, accounts, statusChanges } = plan;
  const postings = created.flatMap((t) => t.postings.map((p) => ({ t, p })));
  return [
    from.sequence,
    from.hash,
    plan.head.sequence,
    plan.head.hash,
    plan.head.bookedAt,
    created.map((t) => t.id),
    created.map((t) => t.kind),
    created.map((t) => t.status),
    created.map((t) => t.idempotencyKey),
    created.map((t) => t.requestHash),
    created.map((t) => JSON.stringify(t.metadata)),
    created.map((t) => t.description),
    created.map((t) => t.effectiveAt),
    created.map((t) => t.referencesId),
    created.map((t) => t.pendingExpiresAt),
    created.map((t) => t.previousHash),
    created.map((t) => t.hash),
    accounts.map((a) => a.after.id),
    accounts.map((a) => a.seenLast),
    accounts.map((a) => a.after.postedDebits),
    accounts.map((a) => a.after.postedCredits),
    accounts.map((a) => a.after.pendingDebits),
    accounts.map((a) => a.after.pendingCredits),
    accounts.map((a) => a.after.lastTransactionId),
    statusChanges.map((s) => s.id),
    statusChanges.map((s) => s.status),
    postings.map((x) => x.t.id),
    postings.map((x) => x.p.account.id),
    postings.map((x) => x.p.account.currency),
    postings.map((x) => x.p.direction),
    postings.map((x) => x.p.phase),
    postings.map((x) => x.p.amount),
    postings.map((x) => x.p.balanceAfter),
    postings.map((x) => x.p.totalsAfter.postedDebits),
    postings.map((x) => x.p.totalsAfter.postedCredits),
    postings.map((x) => x.p.totalsAfter.pendingDebits),
    postings.map((x) => x.p.totalsAfter.pendingCredits),
    attachmentsOf(plan),
  ];
}

/** The rows attached to the flush's created transactions (ledger_attach), each with its transaction's id and booking instant; null when none. */
function attachmentsOf(plan: FlushPlan): string | null {
  const docs = plan.created.flatMap((t) =>
    t.attachment === undefined ? [] : [{ kind: t.attachment.kind, tx: t.id.toString(), at: t.bookedAt.toISOString(), row: t.attachment.row }],
  );
  return docs.length === 0 ? null : JSON.stringify(docs);
}

const REFUSALS = {
  any: ["ledger flush is stale", "ledger flush is early"],
  stale: ["ledger flush is stale"],
  early: ["ledger flush is early"],
  // The head and accounts as planned, but a key of the flush is in the journal already.
  replay: ["ledger flush is stale: idempotency key already used"],
} as const;

/** ledger_apply_flush refused the plan (the head or an account moved, a key is used, or it came early): nothing was written. */
export function isStaleFlush(e: unknown, only: keyof typeof REFUSALS = "any"): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (err?.code !== "40001" || typeof err.message !== "string") return false;
  const message = err.message;
  return REFUSALS[only].some((prefix) => message.startsWith(prefix));
}

/**
 * Runs `fn` in one transaction that starts by locking the journal head row (sent with BEGIN): every
 * journal writer takes this lock first, so what `fn` reads of the journal cannot change under it.
 */
export function underJournalLock<R>(sql: SqlRunner, fn: (tx: TxRunner, head: Head) => Promise<R>): Promise<R> {
  return sql.transaction(async (tx, rows) => {
    const head = rows[0] as { sequence: bigint; hash: string; booked_at: Date; closed_before: Date | null } | undefined;
    if (!head) throw new Error("ledger journal head row is missing (migrations not applied?)");
    return fn(tx, { sequence: head.sequence, hash: head.hash, bookedAt: head.booked_at, closedBefore: head.closed_before });
  }, HEAD_LOCK);
}

/** What the locking path of a batch of plain posts asks for along with the head lock. */
export interface PostsLockRequest {
  keys: string[];
  /** The accounts the batch posts to (locked in id order). */
  accounts: Array<{ code: string; currency: string }>;
  /** Accounts to create first where missing. */
  create: AccountSpec[];
}

/** What it gets back, under the lock: the journal head, the keys already in the journal, the locked accounts. */
export interface PostsLocked {
  head: Head;
  existing: Map<string, { id: bigint; requestHash: string }>;
  accounts: AccountState[];
}

type LockAnswer = {
  head: { sequence: string; hash: string; bookedAt: string; closedBefore: string | null };
  keys: Array<[string, string, string]>;
  accounts: Array<[string, string, string, Direction, boolean, string, string, string, string, string | null]>;
};

const LOCK_POSTS = `SELECT "ledger_lock_posts"($1::text[], $2::text[], $3::text[], $4::jsonb) AS "locked"`;

/**
 * Runs `fn` in one transaction that starts, in the same message as BEGIN, with one call of
 * ledger_lock_posts (migration 20261212100000_ledger_lock_posts): the journal head locked as in
 * underJournalLock, the missing accounts created, the keys looked up and the accounts locked in id
 * order. One round trip where the same steps took four.
 */
export function underPostsLock<R>(sql: SqlRunner, req: PostsLockRequest, fn: (tx: TxRunner, locked: PostsLocked) => Promise<R>): Promise<R> {
  const first = {
    text: LOCK_POSTS,
    values: [
      req.keys,
      req.accounts.map((a) => a.code),
      req.accounts.map((a) => a.currency),
      req.create.length === 0
        ? null
        : JSON.stringify(
            req.create.map((s) => ({
              code: s.code,
              currency: s.currency,
              ownerType: s.ownerType,
              ownerId: s.ownerId,
              normalBalance: s.normalBalance,
              allowNegative: s.allowNegative,
              metadata: s.metadata ?? {},
            })),
          ),
    ],
  };
  return sql.transaction(async (tx, rows) => {
    const a = (rows[0] as { locked: LockAnswer } | undefined)?.locked;
    if (!a) throw new Error("ledger_lock_posts answered nothing");
    const head: Head = {
      sequence: BigInt(a.head.sequence),
      hash: a.head.hash,
      bookedAt: new Date(a.head.bookedAt),
      closedBefore: a.head.closedBefore === null ? null : new Date(a.head.closedBefore),
    };
    const existing = new Map(a.keys.map(([key, id, requestHash]) => [key, { id: BigInt(id), requestHash }]));
    const accounts = a.accounts.map(([id, code, currency, normal_balance, allow_negative, posted_debits, posted_credits, pending_debits, pending_credits, last]) =>
      accountState({
        id: BigInt(id),
        code,
        currency,
        normal_balance,
        allow_negative,
        posted_debits,
        posted_credits,
        pending_debits,
        pending_credits,
        last_transaction_id: last === null ? null : BigInt(last),
      }),
    );
    return fn(tx, { head, existing, accounts });
  }, first);
}

/** The batch's idempotency keys already in the journal. */
export async function findKeys(sql: SqlRunner, keys: string[]): Promise<Map<string, { id: bigint; requestHash: string }>> {
  const rows = await sql.q<Array<{ id: bigint; idempotency_key: string; request_hash: string }>>(
    `SELECT "id", "idempotency_key", "request_hash" FROM "ledger_transactions" WHERE "idempotency_key" = ANY($1::text[])`,
    keys,
  );
  return new Map(rows.map((r) => [r.idempotency_key, { id: r.id, requestHash: r.request_hash }]));
}

/** Of the given transactions, those a reversal already refers to. */
export async function findReversed(sql: SqlRunner, ids: bigint[]): Promise<Set<bigint>> {
  const rows = await sql.q<Array<{ references_id: bigint }>>(
    `SELECT "references_id" FROM "ledger_transactions" WHERE "kind" = 'reversal' AND "references_id" = ANY($1::bigint[])`,
    ids,
  );
  return new Set(rows.map((r) => r.references_id));
}

/** The pending transactions (neither committed nor voided) effective in [from, to): how many, their pending debits per currency, and the first `limit` ids by effective instant. */
export async function pendingIn(sql: SqlRunner, from: Date | null, to: Date, limit: number): Promise<{ n: number; amounts: Array<{ currency: string; amount: string }>; ids: bigint[] }> {
  const pending = `t."status" = 'pending' AND t."effective_at" < $1 AND ($2::timestamptz IS NULL OR t."effective_at" >= $2::timestamptz)`;
  const [n] = await sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM "ledger_transactions" t WHERE ${pending}`, to, from);
  const amounts = await sql.q<Array<{ currency: string; amount: string }>>(
    `SELECT p."currency", sum(p."amount")::text AS amount
       FROM "ledger_transactions" t JOIN "ledger_postings" p ON p."transaction_id" = t."id"
      WHERE ${pending} AND p."phase" = 'pending' AND p."direction" = 'debit'
      GROUP BY p."currency" ORDER BY p."currency"`,
    to, from,
  );
  const ids = await sql.q<Array<{ id: bigint }>>(`SELECT t."id" FROM "ledger_transactions" t WHERE ${pending} ORDER BY t."effective_at", t."id" LIMIT $3`, to, from, limit);
  return { n: n?.n ?? 0, amounts, ids: ids.map((r) => r.id) };
}

export async function expiredPendingIds(sql: SqlRunner, now: Date): Promise<bigint[]> {
  const rows = await sql.q<Array<{ id: bigint }>>(
    `SELECT "id" FROM "ledger_transactions" WHERE "status" = 'pending' AND "pending_expires_at" <= $1 ORDER BY "id"`,
    now,
  );
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Accounts

const ACCOUNT_COLUMNS = `"id", "code", "currency", "owner_type", "owner_id", "normal_balance", "allow_negative", "metadata",
  "posted_debits"::text AS posted_debits, "posted_credits"::text AS posted_credits,
  "pending_debits"::text AS pending_debits, "pending_credits"::text AS pending_credits, "last_transaction_id", "created_at"`;

export interface AccountRow {
  id: bigint;
  code: string;
  currency: string;
  owner_type: string;
  owner_id: string;
  normal_balance: Direction;
  allow_negative: boolean;
  metadata: Record<string, string>;
  posted_debits: string;
  posted_credits: string;
  pending_debits: string;
  pending_credits: string;
  last_transaction_id: bigint | null;
  created_at: Date;
}

/** The columns an account's state is read from. */
type AccountStateRow = Pick<
  AccountRow,
  "id" | "code" | "currency" | "normal_balance" | "allow_negative" | "posted_debits" | "posted_credits" | "pending_debits" | "pending_credits" | "last_transaction_id"
>;

export function accountState(r: AccountStateRow): AccountState {
  return {
    id: r.id,
    code: r.code,
    currency: r.currency,
    normalBalance: r.normal_balance,
    allowNegative: r.allow_negative,
    postedDebits: BigInt(r.posted_debits),
    postedCredits: BigInt(r.posted_credits),
    pendingDebits: BigInt(r.pending_debits),
    pendingCredits: BigInt(r.pending_credits),
    lastTransactionId: r.last_transaction_id,
  };
}

export function toAccount(r: AccountRow): Account {
  return {
    id: r.id.toString(),
    code: r.code,
    currency: r.currency,
    ownerType: r.owner_type as Account["ownerType"],
    ownerId: r.owner_id,
    normalBalance: r.normal_balance,
    allowNegative: r.allow_negative,
    metadata: r.metadata,
    createdAt: r.created_at,
  };
}

/** Creates the accounts that do not exist yet; an existing (code, currency) is left as it is. */
export async function insertAccounts(sql: SqlRunner, specs: AccountSpec[]): Promise<void> {
  await sql.q(
    `INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance", "allow_negative", "metadata")
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::jsonb[])
     ON CONFLICT ("code", "currency") DO NOTHING`,
    specs.map((s) => s.code),
    specs.map((s) => s.currency),
    specs.map((s) => s.ownerType),
    specs.map((s) => s.ownerId),
    specs.map((s) => s.normalBalance),
    specs.map((s) => s.allowNegative),
    specs.map((s) => JSON.stringify(s.metadata ?? {})),
  );
}

/** The existing accounts among `pairs`, unlocked (any snapshot; the write re-checks versions). */
export function selectAccounts(sql: SqlRunner, pairs: Array<{ code: string; currency: string }>): Promise<AccountRow[]> {
  return sql.q<AccountRow[]>(
    `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" WHERE ("code", "currency") IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    pairs.map((a) => a.code),
    pairs.map((a) => a.currency),
  );
}

/** The existing accounts among `pairs`, locked in id order (every writer's order: no deadlock). */
export function lockAccounts(tx: SqlRunner, pairs: Array<{ code: string; currency: string }>): Promise<AccountRow[]> {
  return tx.q<AccountRow[]>(
    `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts"
      WHERE ("code", "currency") IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY "id" FOR UPDATE`,
    pairs.map((a) => a.code),
    pairs.map((a) => a.currency),
  );
}

/** Accounts by id, above `afterId`, filtered; at most `limit`. */
export function listAccounts(
  sql: SqlRunner,
  f: { ownerType?: string; ownerId?: string; codePrefix?: string; currency?: string; afterId?: bigint; limit: number },
): Promise<AccountRow[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (cond: (n: number) => string, v: unknown) => {
    params.push(v);
    where.push(cond(params.length));
  };
  if (f.ownerType !== undefined) add((n) => `"owner_type" = $${n}`, f.ownerType);
  if (f.ownerId !== undefined) add((n) => `"owner_id" = $${n}`, f.ownerId);
  // starts_with, not LIKE: no pattern characters to escape, and no collation in the comparison.
  if (f.codePrefix !== undefined) add((n) => `starts_with("code", $${n})`, f.codePrefix);
  if (f.currency !== undefined) add((n) => `"currency" = $${n}`, f.currency);
  if (f.afterId !== undefined) add((n) => `"id" > $${n}`, f.afterId);
  params.push(f.limit);
  return sql.q<AccountRow[]>(
    `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`} ORDER BY "id" LIMIT $${params.length}`,
    ...params,
  );
}

export async function findAccount(sql: SqlRunner, code: string, currency: string): Promise<AccountRow | null> {
  const [r] = await sql.q<AccountRow[]>(`SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" WHERE "code" = $1 AND "currency" = $2`, code, currency);
  return r ?? null;
}

// ---------------------------------------------------------------------------------------------
// Transactions

export async function loadTransactions(sql: SqlRunner, ids: bigint[]): Promise<StoredTransaction[]> {
  if (ids.length === 0) return [];
  const rows = await sql.q<
    Array<{
      id: bigint;
      kind: TransactionKind;
      status: TransactionStatus;
      idempotency_key: string;
      request_hash: string;
      metadata: Record<string, string>;
      description: string | null;
      effective_at: Date;
      booked_at: Date;
      references_id: bigint | null;
      pending_expires_at: Date | null;
      previous_hash: string;
      hash: string;
    }>
  >(
    `SELECT "id", "kind", "status", "idempotency_key", "request_hash", "metadata", "description", "effective_at", "booked_at",
            "references_id", "pending_expires_at", "previous_hash", "hash"
       FROM "ledger_transactions" WHERE "id" = ANY($1::bigint[])`,
    ids,
  );
  const postings = await sql.q<
    Array<{ id: bigint; transaction_id: bigint; account_id: bigint; code: string; currency: string; direction: Direction; phase: Phase; amount: string; balance_after: string }>
  >(
    `SELECT p."id", p."transaction_id", p."account_id", a."code", p."currency", p."direction", p."phase",
            p."amount"::text AS amount, p."balance_after"::text AS balance_after
       FROM "ledger_postings" p JOIN "ledger_accounts" a ON a."id" = p."account_id"
      WHERE p."transaction_id" = ANY($1::bigint[]) ORDER BY p."id"`,
    ids,
  );
  const byTx = new Map<bigint, StoredPosting[]>();
  for (const p of postings) {
    const list = byTx.get(p.transaction_id) ?? [];
    list.push({
      id: p.id,
      accountId: p.account_id,
      code: p.code,
      currency: p.currency,
      direction: p.direction,
      phase: p.phase,
      amount: BigInt(p.amount),
      balanceAfter: BigInt(p.balance_after),
    });
    byTx.set(p.transaction_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: r.status,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    metadata: r.metadata,
    description: r.description,
    effectiveAt: r.effective_at,
    bookedAt: r.booked_at,
    referencesId: r.references_id,
    pendingExpiresAt: r.pending_expires_at,
    previousHash: r.previous_hash,
    hash: r.hash,
    postings: byTx.get(r.id) ?? [],
  }));
}

/** The public shape of a stored transaction. */
export function toJournal(t: StoredTransaction): JournalTransaction {
  return {
    id: t.id.toString(),
    sequence: t.id,
    kind: t.kind,
    status: t.status,
    idempotencyKey: t.idempotencyKey,
    postings: t.postings.map(
      (p): Posting => ({ id: p.id.toString(), account: p.code, currency: p.currency, direction: p.direction, amount: p.amount, balanceAfter: p.balanceAfter, phase: p.phase }),
    ),
    metadata: t.metadata,
    description: t.description,
    effectiveAt: t.effectiveAt,
    bookedAt: t.bookedAt,
    referencesId: t.referencesId === null ? null : t.referencesId.toString(),
    hash: t.hash,
    previousHash: t.previousHash,
  };
}

/** Ids of the transactions matching the filter, newest first, at most `limit`. */
export async function transactionIds(
  sql: SqlRunner,
  f: { beforeId?: bigint; account?: string; metadata?: Record<string, string>; from?: Date; to?: Date; limit: number },
): Promise<bigint[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, v: unknown) => {
    params.push(v);
    where.push(cond.replace("?", `$${params.length}`));
  };
  if (f.beforeId !== undefined) add(`t."id" < ?`, f.beforeId);
  if (f.account) {
    add(`EXISTS (SELECT 1 FROM "ledger_postings" p JOIN "ledger_accounts" a ON a."id" = p."account_id"
                 WHERE p."transaction_id" = t."id" AND a."code" = ?)`, f.account);
  }
  if (f.metadata && Object.keys(f.metadata).length > 0) add(`t."metadata" @> ?::jsonb`, JSON.stringify(f.metadata));
  if (f.from) add(`t."booked_at" >= ?`, f.from);
  if (f.to) add(`t."booked_at" < ?`, f.to);
  params.push(f.limit);
  const rows = await sql.q<Array<{ id: bigint }>>(
    `SELECT t."id" FROM "ledger_transactions" t ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY t."id" DESC LIMIT $${params.length}`,
    ...params,
  );
  return rows.map((r) => r.id);
}

/** Ids from `fromId` up, ascending, at most `limit`. */
export async function transactionIdsFrom(sql: SqlRunner, fromId: bigint, limit: number, toId: bigint): Promise<bigint[]> {
  const rows = await sql.q<Array<{ id: bigint }>>(`SELECT "id" FROM "ledger_transactions" WHERE "id" >= $1 AND "id" <= $3 ORDER BY "id" LIMIT $2`, fromId, limit, toId);
  return rows.map((r) => r.id);
}

/**
 * Transactions with id > `afterSequence`, ascending, with their postings. Keyset on the primary key
 * (id = sequence): one index range scan, however long the journal. Postings come aggregated per
 * transaction (json_agg: one row per transaction, not per posting): the anchoring worker reads
 * thousands at a time, and row-per-posting decoding cost ~2.5x more.
 */
export async function journalAfter(sql: SqlRunner, afterSequence: bigint, limit: number): Promise<JournalTransaction[]> {
  const rows = await sql.q<
    Array<{
      id: bigint;
      kind: TransactionKind;
      status: TransactionStatus;
      idempotency_key: string;
      metadata: Record<string, string>;
      description: string | null;
      effective_at: Date;
      booked_at: Date;
      references_id: bigint | null;
      hash: string;
      previous_hash: string;
      // json_agg of no rows is NULL.
      postings: Array<[string, string, string, Direction, Phase, string, string]> | null;
    }>
  >(
    `SELECT t."id", t."kind", t."status", t."idempotency_key", t."metadata", t."description", t."effective_at", t."booked_at",
            t."references_id", t."hash", t."previous_hash",
            (SELECT json_agg(json_build_array(p."id"::text, a."code", p."currency", p."direction", p."phase", p."amount"::text,
                                              p."balance_after"::text) ORDER BY p."id")
               FROM "ledger_postings" p JOIN "ledger_accounts" a ON a."id" = p."account_id"
              WHERE p."transaction_id" = t."id") AS "postings"
       FROM "ledger_transactions" t WHERE t."id" > $1 ORDER BY t."id" LIMIT $2`,
    afterSequence,
    limit,
  );
  return rows.map(
    (r): JournalTransaction => ({
      id: r.id.toString(),
      sequence: r.id,
      kind: r.kind,
      status: r.status,
      idempotencyKey: r.idempotency_key,
      postings: (r.postings ?? []).map(([id, account, currency, direction, phase, amount, balanceAfter]) => ({
        id,
        account,
        currency,
        direction,
        amount: BigInt(amount),
        balanceAfter: BigInt(balanceAfter),
        phase,
      })),
      metadata: r.metadata,
      description: r.description,
      effectiveAt: r.effective_at,
      bookedAt: r.booked_at,
      referencesId: r.references_id === null ? null : r.references_id.toString(),
      hash: r.hash,
      previousHash: r.previous_hash,
    }),
  );
}

/** The journal head as committed (no lock). */
export async function readHead(sql: SqlRunner): Promise<{ sequence: bigint; hash: string }> {
  const [head] = await sql.q<Array<{ sequence: bigint; hash: string }>>(`SELECT "sequence", "hash" FROM "ledger_journal_head" WHERE "id" = 1`);
  if (!head) throw new Error("ledger journal head row is missing");
  return head;
}

/** An account's posted balance in its normal direction, from its running totals (a column of `ledger_accounts`). */
const SIGNED_POSTED = `CASE WHEN "normal_balance" = 'debit' THEN "posted_debits" - "posted_credits" ELSE "posted_credits" - "posted_debits" END`;

/**
 * Per (currency, normal balance): the accounts' posted balances summed from their running totals
 * (no posting is read), the net and gross: those on the normal side, those against it, and how
 * many accounts are against it.
 */
export async function balanceSummary(
  sql: SqlRunner,
): Promise<Array<{ currency: string; normal_balance: "debit" | "credit"; accounts: number; balance: string; on_normal: string; against_normal: string; accounts_against: number }>> {
  return sql.q(
    `SELECT "currency", "normal_balance", count(*)::int AS "accounts", sum("b")::text AS "balance",
            coalesce(sum("b") FILTER (WHERE "b" > 0), 0)::text AS "on_normal",
            coalesce(sum("b") FILTER (WHERE "b" < 0), 0)::text AS "against_normal",
            (count(*) FILTER (WHERE "b" < 0))::int AS "accounts_against"
       FROM (SELECT "currency", "normal_balance", ${SIGNED_POSTED} AS "b" FROM "ledger_accounts") a
      GROUP BY "currency", "normal_balance" ORDER BY "currency", "normal_balance"`,
  );
}

/**
 * The accounts whose posted balance is against their normal side, per (currency, owner type): how
 * many, their sum, and the `perGroup` largest of them by amount (one row each, the group's figures
 * repeated). Groups by the largest sum against the normal side first, FX clearing last (its
 * accounts swing both ways by design).
 */
export async function accountsAgainstNormal(
  sql: SqlRunner,
  perGroup: number,
): Promise<Array<{ currency: string; owner_type: string; accounts: number; total: string; code: string; normal_balance: "debit" | "credit"; balance: string }>> {
  return sql.q(
    `WITH "against" AS (
       SELECT "code", "currency", "owner_type", "normal_balance", ${SIGNED_POSTED} AS "balance"
         FROM "ledger_accounts" WHERE ${SIGNED_POSTED} < 0
     ), "ranked" AS (
       SELECT *, count(*) OVER "g" AS "accounts", sum("balance") OVER "g" AS "total",
              row_number() OVER ("g" ORDER BY "balance", "code") AS "rank"
         FROM "against" WINDOW "g" AS (PARTITION BY "currency", "owner_type")
     )
     SELECT "currency", "owner_type", "accounts"::int AS "accounts", "total"::text AS "total", "code", "normal_balance", "balance"::text AS "balance"
       FROM "ranked" WHERE "rank" <= $1
      ORDER BY "currency", ("owner_type" = 'fx_clearing'), "total", "owner_type", "rank"`,
    perGroup,
  );
}

/** The journal head's sequence, and the booking instant of the first transaction after `afterSequence` (ids are the gapless sequence). */
export async function journalPosition(sql: SqlRunner, afterSequence: bigint): Promise<{ head: bigint; firstAfterBookedAt: Date | null }> {
  const [row] = await sql.q<Array<{ sequence: bigint; booked_at: Date | null }>>(
    `SELECT h."sequence", (SELECT t."booked_at" FROM "ledger_transactions" t WHERE t."id" > $1 ORDER BY t."id" LIMIT 1) AS "booked_at"
       FROM "ledger_journal_head" h WHERE h."id" = 1`,
    afterSequence,
  );
  if (!row) throw new Error("ledger journal head row is missing");
  return { head: BigInt(row.sequence), firstAfterBookedAt: row.booked_at };
}

// ---------------------------------------------------------------------------------------------
// Postings of an account

type TotalsRow = { postedDebits: bigint; postedCredits: bigint; pendingDebits: bigint; pendingCredits: bigint };

/** The account's totals right after its last posting booked at or before `at`, if any. */
export async function totalsAt(sql: SqlRunner, accountId: bigint, at: Date): Promise<{ transactionId: bigint; totals: TotalsRow } | null> {
  // One index lookup on (account_id, booked_at, id).
  const [p] = await sql.q<Array<{ transaction_id: bigint; pd: string; pc: string; qd: string; qc: string }>>(
    `SELECT "transaction_id", "posted_debits_after"::text AS pd, "posted_credits_after"::text AS pc,
            "pending_debits_after"::text AS qd, "pending_credits_after"::text AS qc
       FROM "ledger_postings" WHERE "account_id" = $1 AND "booked_at" <= $2
      ORDER BY "booked_at" DESC, "id" DESC LIMIT 1`,
    accountId,
    at,
  );
  if (!p) return null;
  return {
    transactionId: p.transaction_id,
    totals: { postedDebits: BigInt(p.pd), postedCredits: BigInt(p.pc), pendingDebits: BigInt(p.qd), pendingCredits: BigInt(p.qc) },
  };
}

/** Posted totals from posted and commit legs; pending totals from pending legs less the commits and voids that settled them. */
const PHASE_TOTALS = `
  coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit' AND p."phase" IN ('posted', 'commit')), 0)::text AS pd,
  coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit' AND p."phase" IN ('posted', 'commit')), 0)::text AS pc,
  (coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit' AND p."phase" = 'pending'), 0)
    - coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit' AND p."phase" IN ('commit', 'void')), 0))::text AS qd,
  (coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit' AND p."phase" = 'pending'), 0)
    - coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit' AND p."phase" IN ('commit', 'void')), 0))::text AS qc`;

/**
 * The account's totals from every transaction whose EFFECTIVE instant is at or before `at` (a late
 * event counts where it belongs, whenever it was booked), and the last such transaction.
 */
export async function totalsAtEffective(sql: SqlRunner, accountId: bigint, at: Date, strictlyBefore = false): Promise<{ transactionId: bigint; totals: TotalsRow } | null> {
  const [r] = await sql.q<Array<{ pd: string; pc: string; qd: string; qc: string; last_id: bigint | null }>>(
    `SELECT ${PHASE_TOTALS}, (array_agg(t."id" ORDER BY t."effective_at" DESC, t."id" DESC))[1] AS last_id
       FROM "ledger_postings" p JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."account_id" = $1 AND t."effective_at" ${strictlyBefore ? "<" : "<="} $2`,
    accountId,
    at,
  );
  if (!r || r.last_id === null) return null;
  return {
    transactionId: r.last_id,
    totals: { postedDebits: BigInt(r.pd), postedCredits: BigInt(r.pc), pendingDebits: BigInt(r.qd), pendingCredits: BigInt(r.qc) },
  };
}

/** postedTotalsAtEffective's statement: $1 code, $2 currency, $3 the instant. */
// The transactions effective after `at` first, then each one's postings by its id: the work is
// bounded by what is effective after `at` whatever the planner's statistics say (a join it
// were free to order could walk the account's every posting instead, as the sum did).
export const POSTED_AT_EFFECTIVE = `WITH "after" AS MATERIALIZED (SELECT t."id" FROM "ledger_transactions" t WHERE t."effective_at" > $3)
     SELECT (a."posted_debits" - coalesce(x."debits", 0))::text AS pd, (a."posted_credits" - coalesce(x."credits", 0))::text AS pc
       FROM "ledger_accounts" a
       LEFT JOIN LATERAL (
         SELECT sum(p."amount") FILTER (WHERE p."direction" = 'debit') AS "debits", sum(p."amount") FILTER (WHERE p."direction" = 'credit') AS "credits"
           FROM "after" CROSS JOIN LATERAL (
             SELECT p."amount", p."direction" FROM "ledger_postings" p
              WHERE p."transaction_id" = "after"."id" AND p."account_id" = a."id" AND p."phase" IN ('posted', 'commit')
           ) p
       ) x ON true
      WHERE a."code" = $1 AND a."currency" = $2`;

/**
 * The account's posted debits and credits of every transaction effective at or before `at`, read
 * from its running totals (the account row) less the posted legs of the transactions effective
 * after `at`, in one statement (one snapshot: a flush commits the row and its postings together).
 * What this reads is the transactions effective after `at` (`ledger_transactions_effective_at_idx`;
 * at a period's end, what is booked into the open period so far) and their postings by transaction,
 * never the account's whole history summed, as `totalsAtEffective` does. Null: no such account.
 */
export async function postedTotalsAtEffective(sql: SqlRunner, code: string, currency: string, at: Date): Promise<{ postedDebits: bigint; postedCredits: bigint } | null> {
  const [r] = await sql.q<Array<{ pd: string; pc: string }>>(
    POSTED_AT_EFFECTIVE,
    code,
    currency,
    at,
  );
  return r === undefined ? null : { postedDebits: BigInt(r.pd), postedCredits: BigInt(r.pc) };
}

export interface StatementRow {
  transaction_id: bigint;
  effective_at: Date;
  booked_at: Date;
  kind: string;
  description: string | null;
  metadata: Record<string, string>;
  posting_id: bigint;
  direction: Direction;
  phase: Phase;
  amount: string;
}

/** An account's postings of transactions effective in [from, to), in (effective, sequence, posting) order, at most `limit`. */
export function accountPostingsEffective(sql: SqlRunner, accountId: bigint, from: Date, to: Date, limit: number): Promise<StatementRow[]> {
  return sql.q<StatementRow[]>(
    `SELECT t."id" AS transaction_id, t."effective_at", t."booked_at", t."kind", t."description", t."metadata",
            p."id" AS posting_id, p."direction", p."phase", p."amount"::text AS amount
       FROM "ledger_postings" p JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."account_id" = $1 AND t."effective_at" >= $2 AND t."effective_at" < $3
      ORDER BY t."effective_at", t."id", p."id" LIMIT $4`,
    accountId,
    from,
    to,
    limit,
  );
}

/** Transactions effective in [from, to) whose metadata contains `metadata`, in (effective, sequence) order, at most `limit`. */
export function transactionsEffective(
  sql: SqlRunner,
  metadata: Record<string, string>,
  from: Date,
  to: Date,
  limit: number,
): Promise<Array<{ id: bigint; effective_at: Date; booked_at: Date; kind: TransactionKind; status: TransactionStatus; metadata: Record<string, string> }>> {
  // The containment test uses the GIN index on metadata; the period filters what it finds.
  return sql.q(
    `SELECT "id", "effective_at", "booked_at", "kind", "status", "metadata" FROM "ledger_transactions"
      WHERE "metadata" @> $1::jsonb AND "effective_at" >= $2 AND "effective_at" < $3
      ORDER BY "effective_at", "id" LIMIT $4`,
    JSON.stringify(metadata),
    from,
    to,
    limit,
  );
}

/** An account's postings of the transactions after `afterId` (when given) and before `beforeId`, in sequence order, at most `limit`. */
export function accountPostingsBetween(sql: SqlRunner, accountId: bigint, afterId: bigint | null, beforeId: bigint, limit: number): Promise<StatementRow[]> {
  return sql.q<StatementRow[]>(
    `SELECT t."id" AS transaction_id, t."effective_at", t."booked_at", t."kind", t."description", t."metadata",
            p."id" AS posting_id, p."direction", p."phase", p."amount"::text AS amount
       FROM "ledger_postings" p JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."account_id" = $1 AND ($2::bigint IS NULL OR p."transaction_id" > $2) AND p."transaction_id" < $3
      ORDER BY p."transaction_id", p."id" LIMIT $4`,
    accountId,
    afterId,
    beforeId,
    limit,
  );
}

export interface TrialBalanceRow {
  code: string;
  currency: string;
  normal_balance: Direction;
  opening_debits: string;
  opening_credits: string;
  debits: string;
  credits: string;
}

/**
 * Posted debits and credits per account by effective instant: before `from` (opening) and in
 * [from, to) (the period; everything before `to` when `from` is null, the opening then zero).
 * Accounts with no posted leg before `to` are left out.
 */
export function trialBalance(sql: SqlRunner, from: Date | null, to: Date): Promise<TrialBalanceRow[]> {
  return sql.q<TrialBalanceRow[]>(
    `SELECT a."code", a."currency", a."normal_balance",
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit' AND t."effective_at" < $1::timestamptz), 0)::text AS opening_debits,
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit' AND t."effective_at" < $1::timestamptz), 0)::text AS opening_credits,
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit' AND ($1::timestamptz IS NULL OR t."effective_at" >= $1::timestamptz)), 0)::text AS debits,
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit' AND ($1::timestamptz IS NULL OR t."effective_at" >= $1::timestamptz)), 0)::text AS credits
       FROM "ledger_postings" p
       JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
       JOIN "ledger_accounts" a ON a."id" = p."account_id"
      WHERE p."phase" IN ('posted', 'commit') AND t."effective_at" < $2
      GROUP BY a."id", a."code", a."currency", a."normal_balance"
      ORDER BY a."currency", a."code"`,
    from,
    to,
  );
}

/**
 * The trial balance's period columns for the accounts `accountIds`: posted debits and credits
 * (posted and commit legs) of the transactions effective in [from, to), per account, by the same
 * rules as trialBalance, without the opening balances (which would read the accounts' whole
 * history). Accounts that did not move are left out.
 */
export function periodTotals(sql: SqlRunner, accountIds: readonly bigint[], from: Date, to: Date): Promise<Array<{ account_id: bigint; debits: string; credits: string }>> {
  return sql.q(
    `SELECT p."account_id",
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit'), 0)::text AS debits,
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit'), 0)::text AS credits
       FROM "ledger_postings" p
       JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."phase" IN ('posted', 'commit') AND t."effective_at" >= $2 AND t."effective_at" < $3 AND p."account_id" = ANY($1::bigint[])
      GROUP BY p."account_id"
      ORDER BY p."account_id"`,
    accountIds,
    from,
    to,
  );
}

/** The accounts whose code starts with one of `prefixes` (every currency), in (currency, code) order. */
export function accountsByCodePrefix(sql: SqlRunner, prefixes: readonly string[]): Promise<Array<{ id: bigint; code: string; currency: string; normal_balance: Direction }>> {
  return sql.q(
    `SELECT "id", "code", "currency", "normal_balance" FROM "ledger_accounts"
      WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS x(prefix) WHERE starts_with("code", x.prefix))
      ORDER BY "currency", "code"`,
    prefixes,
  );
}

export interface MovementRow {
  account_id: bigint;
  /** Per group of keys i: `k<i>` the first key the transaction's metadata holds with a value that is not empty, `v<i>` that value; null both when none. */
  [column: `k${number}` | `v${number}`]: string | null;
  debits: string;
  credits: string;
}

/**
 * Posted debits and credits (posted and commit legs, as the trial balance counts them) of the
 * transactions effective in [from, to) on the accounts `accountIds`, per account and per group of
 * metadata keys (`groupBy`: for each, the first key of the list the transaction holds). No index on
 * the effective instant is kept (the write path's sake): PostgreSQL reads the period's transactions
 * and their postings through ledger_postings_transaction_id_idx, or these accounts' postings through
 * ledger_postings_account_booked_idx (its leading account_id), whichever is fewer; never all postings
 * before `to` as the trial balance's openings do. At most `limit` rows.
 */
export function movementsByMetadata(sql: SqlRunner, accountIds: readonly bigint[], from: Date, to: Date, groupBy: readonly (readonly string[])[], limit: number): Promise<MovementRow[]> {
  const params: unknown[] = [accountIds, from, to];
  const columns: string[] = [];
  groupBy.forEach((keys, i) => {
    const whens = keys.map((k) => {
      params.push(k);
      return `WHEN nullif(t."metadata" ->> $${params.length}::text, '') IS NOT NULL THEN $${params.length}::text`;
    });
    const key = keys.length === 0 ? "NULL::text" : `CASE ${whens.join(" ")} END`;
    columns.push(`${key} AS k${i}`, `t."metadata" ->> (${key}) AS v${i}`);
  });
  params.push(limit);
  const grouped = columns.map((_, i) => String(i + 2));
  return sql.q<MovementRow[]>(
    `SELECT p."account_id", ${[...columns, ""].join(", ")}
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'debit'), 0)::text AS debits,
            coalesce(sum(p."amount") FILTER (WHERE p."direction" = 'credit'), 0)::text AS credits
       FROM "ledger_postings" p
       JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."account_id" = ANY($1::bigint[]) AND p."phase" IN ('posted', 'commit')
        AND t."effective_at" >= $2 AND t."effective_at" < $3
      GROUP BY ${["1", ...grouped].join(", ")}
      ORDER BY ${["1", ...grouped].join(", ")} LIMIT $${params.length}`,
    ...params,
  );
}

export interface ExportRow {
  sequence: bigint;
  effective_at: Date;
  booked_at: Date;
  kind: string;
  idempotency_key: string;
  description: string | null;
  metadata: Record<string, string>;
  code: string;
  currency: string;
  direction: Direction;
  phase: Phase;
  amount: string;
  posting_id: bigint;
}

/**
 * The postings of transactions effective in [from, to), in sequence order after `afterSequence`, at
 * most `limit` transactions' worth. Keyset on the journal's primary key: the pages of one export
 * read the journal once between them (no index on the effective instant is kept for this).
 */
export function journalExportPage(sql: SqlRunner, from: Date, to: Date, afterSequence: bigint, limit: number): Promise<ExportRow[]> {
  return sql.q<ExportRow[]>(
    `WITH tx AS (
       SELECT "id", "effective_at", "booked_at", "kind", "idempotency_key", "description", "metadata" FROM "ledger_transactions"
        WHERE "id" > $3 AND "effective_at" >= $1 AND "effective_at" < $2
        ORDER BY "id" LIMIT $4)
     SELECT tx."id" AS sequence, tx."effective_at", tx."booked_at", tx."kind", tx."idempotency_key", tx."description", tx."metadata",
            a."code", p."currency", p."direction", p."phase", p."amount"::text AS amount, p."id" AS posting_id
       FROM tx JOIN "ledger_postings" p ON p."transaction_id" = tx."id" JOIN "ledger_accounts" a ON a."id" = p."account_id"
      ORDER BY tx."id", p."id"`,
    from,
    to,
    afterSequence,
    limit,
  );
}

/** An account's postings, newest first, below `beforeId` when given, at most `limit`. */
export async function accountPostings(
  sql: SqlRunner,
  accountId: bigint,
  beforeId: bigint | undefined,
  limit: number,
): Promise<
  Array<{ id: bigint; transactionId: bigint; direction: Direction; phase: Phase; amount: bigint; balanceAfter: bigint; bookedAt: Date; effectiveAt: Date; originalEffectiveAt: string | null }>
> {
  const params: unknown[] = [accountId];
  let cond = "";
  if (beforeId !== undefined) {
    params.push(beforeId);
    cond = `AND p."id" < $2`;
  }
  params.push(limit);
  // The transaction's effective instant (and the one it was re-dated from by a close) by its key, in the same query.
  const rows = await sql.q<
    Array<{
      id: bigint;
      transaction_id: bigint;
      direction: Direction;
      amount: string;
      balance_after: string;
      booked_at: Date;
      phase: Phase;
      effective_at: Date;
      original_effective_at: string | null;
    }>
  >(
    `SELECT p."id", p."transaction_id", p."direction", p."phase", p."amount"::text AS amount, p."balance_after"::text AS balance_after, p."booked_at",
            t."effective_at", t."metadata"->>'${ORIGINAL_EFFECTIVE_AT}' AS original_effective_at
       FROM "ledger_postings" p JOIN "ledger_transactions" t ON t."id" = p."transaction_id"
      WHERE p."account_id" = $1 ${cond}
      ORDER BY p."booked_at" DESC, p."id" DESC LIMIT $${params.length}`,
    ...params,
  );
  return rows.map((r) => ({
    id: r.id,
    transactionId: r.transaction_id,
    direction: r.direction,
    phase: r.phase,
    amount: BigInt(r.amount),
    balanceAfter: BigInt(r.balance_after),
    bookedAt: r.booked_at,
    effectiveAt: r.effective_at,
    originalEffectiveAt: r.original_effective_at,
  }));
}

// ---------------------------------------------------------------------------------------------
// Period closes

interface CloseRow {
  id: bigint;
  closed_before: Date;
  previous_closed_before: Date | null;
  journal_sequence: bigint;
  journal_hash: string;
  closed_by: string | null;
  note: string | null;
  closed_at: Date;
  fx_not_revalued: UnrevaluedPosition[] | string | null;
  fx_rate_stale: StaleClosingRate[] | string | null;
}

const CLOSE_COLUMNS = `"id", "closed_before", "previous_closed_before", "journal_sequence", "journal_hash", "closed_by", "note", "closed_at", "fx_not_revalued", "fx_rate_stale"`;

function toClose(r: CloseRow): PeriodClose {
  return {
    id: r.id.toString(),
    closedBefore: r.closed_before,
    previousClosedBefore: r.previous_closed_before,
    journalSequence: r.journal_sequence,
    journalHash: r.journal_hash,
    closedBy: r.closed_by,
    note: r.note,
    closedAt: r.closed_at,
    fxNotRevalued: typeof r.fx_not_revalued === "string" ? (JSON.parse(r.fx_not_revalued) as UnrevaluedPosition[]) : r.fx_not_revalued,
    fxRateStale: typeof r.fx_rate_stale === "string" ? (JSON.parse(r.fx_rate_stale) as StaleClosingRate[]) : r.fx_rate_stale,
  };
}

/** Sets the head's closed-before instant and records the close, in `tx` (which holds the head lock). */
export async function closePeriod(
  tx: SqlRunner,
  c: { before: Date; head: Head; closedBy: string | null; note: string | null; at: Date; fxNotRevalued: UnrevaluedPosition[] | null; fxRateStale: StaleClosingRate[] | null },
): Promise<PeriodClose> {
  await tx.q(`UPDATE "ledger_journal_head" SET "closed_before" = $1 WHERE "id" = 1`, c.before);
  const [row] = await tx.q<CloseRow[]>(
    `INSERT INTO "ledger_period_closes" ("closed_before", "previous_closed_before", "journal_sequence", "journal_hash", "closed_by", "note", "closed_at", "fx_not_revalued", "fx_rate_stale")
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb) RETURNING ${CLOSE_COLUMNS}`,
    c.before,
    c.head.closedBefore,
    c.head.sequence,
    c.head.hash,
    c.closedBy,
    c.note,
    c.at,
    c.fxNotRevalued === null ? null : JSON.stringify(c.fxNotRevalued),
    c.fxRateStale === null ? null : JSON.stringify(c.fxRateStale),
  );
  return toClose(row!);
}

/** Whether a transaction after journal sequence `after` is effective before `before` (read under the head lock). */
export async function bookedIntoPeriodSince(tx: SqlRunner, after: bigint, before: Date, accountPrefix?: string): Promise<boolean> {
  const rows =
    accountPrefix === undefined
      ? await tx.q<Array<{ id: bigint }>>(`SELECT "id" FROM "ledger_transactions" WHERE "id" > $1 AND "effective_at" < $2 LIMIT 1`, after, before)
      : await tx.q<Array<{ id: bigint }>>(
          `SELECT t."id" FROM "ledger_transactions" t
            WHERE t."id" > $1 AND t."effective_at" < $2
              AND EXISTS (SELECT 1 FROM "ledger_postings" p JOIN "ledger_accounts" a ON a."id" = p."account_id"
                           WHERE p."transaction_id" = t."id" AND left(a."code", length($3)) = $3)
            LIMIT 1`,
          after,
          before,
          accountPrefix,
        );
  return rows.length > 0;
}

/** Every close, newest first. */
export async function periodCloses(sql: SqlRunner): Promise<PeriodClose[]> {
  return (await sql.q<CloseRow[]>(`SELECT ${CLOSE_COLUMNS} FROM "ledger_period_closes" ORDER BY "id" DESC`)).map(toClose);
}
