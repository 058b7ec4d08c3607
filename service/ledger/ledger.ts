/**
 * The ledger: the one write path for money.
 *
 * Write path (TigerBeetle-like group commit): every write (post, commit, void, reverse) is queued
 * and a single flusher writes everything queued so far with ONE call of the SQL function
 * `ledger_apply_flush` (migration 20261124160000_ledger_fast_write), which locks the journal head
 * row, then the touched accounts in id order (no deadlock with any other writer), re-checks what
 * the plan assumed, and inserts/updates everything with set-based statements.
 *
 * Two ways to plan a flush, one way to write it:
 * - Optimistic (plain posts over accounts this process knows): plan in memory against the head and
 *   account totals this process last committed (`known`), compute the hash chain here, and send the
 *   single call outside any transaction: one round trip and one commit per flush. The function
 *   refuses (SQLSTATE 40001, nothing written) if the head moved, an account's last_transaction_id
 *   moved, or a key is already in the journal; any item that would not be created also sends the
 *   batch down the locking path, which gives the authoritative per-item answer.
 * - Locking (first flush, replays, commits/voids/reversals, errors, after another process wrote):
 *   1. lock the journal head row (FOR UPDATE) with BEGIN — serialises all journal writers;
 *   2. look up the batch's idempotency keys     — safe from races because of (1);
 *   3. load referenced (pending/reversed) transactions;
 *   4. create missing accounts, lock the touched accounts `ORDER BY id`;
 *   5. apply items one by one in memory — an item that fails (unbalanced, insufficient funds, ...)
 *      gets its own error and changes nothing; the others go on;
 *   6. ledger_apply_flush under the same transaction, COMMIT.
 * Row locks are held for one flush, not per transfer, so a hot account (platform revenue) costs one
 * fsync per batch rather than one per transfer.
 *
 * Hot-path statements are raw SQL on the driver (db.sql): the ORM would issue one statement per row;
 * NUMERIC columns are read as text and parsed to bigint (never JS numbers).
 */
import { isPositiveInt8 } from "../db/int8.js";
import type { SqlRunner } from "../db/index.js";
import { Errors, isAppError, type AppError } from "../errors.js";
import { LedgerErrors } from "./errors.js";
import { GENESIS_HASH, sha256, sortedEntries, transactionHash } from "./hash.js";
import type {
  Account,
  AccountSpec,
  Balance,
  ChainVerification,
  Direction,
  JournalTransaction,
  Ledger,
  Page,
  Posting,
  PostResult,
  TransactionFilter,
  TransactionInput,
  TransactionKind,
  TransactionStatus,
} from "./types.js";

type Tx = SqlRunner;
type Phase = "posted" | "pending" | "commit" | "void";

export interface LedgerOptions {
  /** Most items written in one database transaction (default 4000). */
  maxBatch?: number;
  /** Optimistic flushes in flight at once (default 1). */
  pipeline?: number;
  /** Clock, for tests of timeouts and point-in-time reads. */
  now?: () => Date;
}

export type BatchItemResult = PostResult | { status: "error"; error: { code: string; message: string } };
type ItemResult = PostResult | { status: "error"; error: AppError };

type Op =
  | { op: "post"; input: TransactionInput; requestHash: string }
  | { op: "commit" | "void"; pendingId: bigint; idempotencyKey: string; requestHash: string; expiry?: boolean }
  | { op: "reverse"; targetId: bigint; idempotencyKey: string; requestHash: string; metadata: Record<string, string> };

interface Queued {
  op: Op;
  resolve(r: ItemResult): void;
}

interface AccountState {
  id: bigint;
  code: string;
  currency: string;
  normalBalance: Direction;
  allowNegative: boolean;
  postedDebits: bigint;
  postedCredits: bigint;
  pendingDebits: bigint;
  pendingCredits: bigint;
  lastTransactionId: bigint | null;
}

interface StoredPosting {
  id: bigint;
  accountId: bigint;
  code: string;
  currency: string;
  direction: Direction;
  phase: Phase;
  amount: bigint;
  balanceAfter: bigint;
}

interface StoredTx {
  id: bigint;
  kind: TransactionKind;
  status: TransactionStatus;
  idempotencyKey: string;
  requestHash: string;
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: Date;
  bookedAt: Date;
  referencesId: bigint | null;
  pendingExpiresAt: Date | null;
  previousHash: string;
  hash: string;
  postings: StoredPosting[];
}

interface NewPosting {
  account: AccountState;
  direction: Direction;
  phase: Phase;
  amount: bigint;
  after?: { balance: bigint; pd: bigint; pc: bigint; qd: bigint; qc: bigint };
}

type HeadRow = { sequence: bigint; hash: string; booked_at: Date };
interface Known {
  head: HeadRow;
  /** By key(code, currency); totals and last_transaction_id as committed. */
  accounts: Map<string, AccountState>;
}
interface FlushOutcome {
  results: ItemResult[];
  /** The head the flush started from, and the state it committed. */
  base: HeadRow;
  known: Known;
  /** Written by the optimistic path (its totals are already in `known`). */
  fast: boolean;
}
const MAX_KNOWN_ACCOUNTS = 100_000;
/** ledger_apply_flush refused the plan (the head or an account moved, or it came early): nothing was written. */
function isStale(e: unknown, only: "stale" | "early" | "any" = "any"): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (err?.code !== "40001" || typeof err.message !== "string") return false;
  return only === "any" ? /^ledger flush is (stale|early)/.test(err.message) : err.message.startsWith(`ledger flush is ${only}`);
}
// Migration 20261124160000_ledger_apply_flush: checks, locks and writes a whole flush in one call.
const APPLY_FLUSH = `SELECT "id" FROM "ledger_apply_flush"($1::bigint, $2::text, $3::bigint, $4::text, $5::timestamptz,
  $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::timestamptz[], $14::bigint[],
  $15::timestamptz[], $16::text[], $17::text[], $18::bigint[], $19::bigint[], $20::numeric[], $21::numeric[], $22::numeric[],
  $23::numeric[], $24::bigint[], $25::bigint[], $26::text[], $27::bigint[], $28::bigint[], $29::text[], $30::text[], $31::text[],
  $32::numeric[], $33::numeric[], $34::numeric[], $35::numeric[], $36::numeric[], $37::numeric[]) AS f("id")`;
const HEAD_LOCK = `SELECT "sequence", "hash", "booked_at" FROM "ledger_journal_head" WHERE "id" = 1 FOR UPDATE`;

/** Stands in for a replayed transaction until it is read back at the end of the flush. */
const PLACEHOLDER = null as unknown as JournalTransaction;
const key = (code: string, currency: string) => `${code}\u0000${currency}`;
const MAX_KEY = 255;

export function createLedger(db: { sql: SqlRunner; kind?: "pglite" | "postgres" }, opts: LedgerOptions = {}): Ledger & {
  /** Void every pending transaction whose timeout has passed; returns how many were voided. */
  expirePending(): Promise<number>;
  /** Wait for queued writes to finish (for graceful shutdown). */
  drain(): Promise<void>;
} {
  const sql = db.sql;
  const maxBatch = opts.maxBatch ?? 4000;
  const now = opts.now ?? (() => new Date());
  const queue: Queued[] = [];
  let flushing: Promise<void> | null = null;
  // Optimistic fast path: the journal head and account totals as of this process's last committed
  // flush. Never trusted blindly: ledger_apply_flush re-checks head and account versions under lock.
  let known: Known | null = null;
  // After a stale fast flush (another process wrote), take the locking path for a while.
  let slowFlushes = 0;
  // Optimistic flushes in flight at once. Measured with 16 writers on 2 busy cores: 2 was slower
  // than 1 (smaller flushes, a lock wait per flush, overtaking retries), so 1 unless asked.
  const depth = opts.pipeline ?? 1;

  function enqueue(op: Op): Promise<ItemResult> {
    return new Promise((resolve) => {
      queue.push({ op, resolve });
      if (!flushing) flushing = runFlusher();
    });
  }

  async function runFlusher(): Promise<void> {
    // Let concurrent callers of this tick join the first batch.
    await new Promise((r) => setImmediate(r));
    const inFlight: Array<{ batch: Queued[]; settled: Promise<FlushOutcome | null | { error: unknown }> }> = [];
    const retry: Queued[] = [];
    // What the next optimistic flush builds on: the committed state plus every flush in flight
    // (assumed to commit; if one does not, the ones after it fail their head check and are retried).
    let predicted: Known | null = null;
    try {
      for (;;) {
        if (inFlight.length === 0) {
          if (retry.length > 0) queue.unshift(...retry.splice(0));
          if (queue.length === 0) break;
          predicted = slowFlushes > 0 ? null : known;
          if (!predicted) {
            await slowFlush(queue.splice(0, maxBatch));
            continue;
          }
        }
        if (predicted && queue.length > 0 && inFlight.length < depth) {
          // An idle pipeline is filled from both ends: half now, half right behind it.
          const n = Math.min(maxBatch, inFlight.length === 0 && depth > 1 && queue.length > 1 ? Math.ceil(queue.length / 2) : queue.length);
          // Best effort: if this read fails, the locking path below meets (and reports) the same fault.
          await learnAccounts(queue.slice(0, n), predicted).catch(() => undefined);
          const started = startFast(queue.slice(0, n).map((b) => b.op), predicted, inFlight[inFlight.length - 1]?.settled);
          if (started) {
            inFlight.push({ batch: queue.splice(0, n), settled: started.settled });
            predicted = started.next;
            continue;
          }
          // Not for the fast path (an item would fail, a replay, an unknown account, a commit...):
          // drain the pipeline, then the locking path answers it.
          predicted = null;
          if (inFlight.length === 0) {
            await slowFlush(queue.splice(0, maxBatch));
            continue;
          }
        }
        if (inFlight.length === 0) continue;
        const f = inFlight.shift()!;
        const out = await f.settled;
        if (out !== null && !("error" in out)) {
          remember(out);
          f.batch.forEach((b, i) => b.resolve(out.results[i]!));
          // Let the callers just answered queue their next writes before the next flush is cut.
          await new Promise((r) => setImmediate(r));
        } else if (out === null || isStale(out.error)) {
          // Another process wrote, or an earlier flush of the pipeline did not commit: nothing of
          // this one was written; the locking path retries it.
          known = null;
          predicted = null;
          slowFlushes = 16;
          retry.push(...f.batch);
        } else {
          known = null;
          predicted = null;
          failBatch(f.batch, out.error);
        }
      }
    } finally {
      flushing = null;
    }
  }

  /**
   * Reads (without locking) the accounts a batch posts to that `base` does not know yet. Any
   * snapshot of an account row will do: its last_transaction_id is re-checked under lock at write.
   */
  async function learnAccounts(batch: Queued[], base: Known): Promise<void> {
    const missing = new Map<string, { code: string; currency: string }>();
    for (const { op } of batch) {
      if (op.op !== "post") return;
      for (const p of op.input.postings) {
        const k = key(p.account, p.currency);
        if (!base.accounts.has(k)) missing.set(k, { code: p.account, currency: p.currency });
      }
    }
    if (missing.size === 0) return;
    const list = [...missing.values()];
    const rows = await sql.q<AccountRow[]>(
      `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" WHERE ("code", "currency") IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      list.map((a) => a.code),
      list.map((a) => a.currency),
    );
    learn(base, rows);
  }

  /** Adds account rows `base` lacks (never overwrites: known entries may be ahead of the table). */
  function learn(base: Known, rows: AccountRow[]): void {
    if (base.accounts.size + rows.length > MAX_KNOWN_ACCOUNTS) return;
    for (const r of rows) {
      const k = key(r.code, r.currency);
      if (!base.accounts.has(k)) base.accounts.set(k, accountState(r));
    }
  }

  async function slowFlush(batch: Queued[]): Promise<void> {
    if (slowFlushes > 0) slowFlushes--;
    try {
      const ops = batch.map((b) => b.op);
      const out = await sql.transaction(async (tx, head) => {
        const r = await flush(tx, ops, (head as HeadRow[])[0], null);
        if (!r) throw new Error("ledger flush under lock was refused as stale");
        return r;
      }, HEAD_LOCK);
      // Only now is the flush committed: its head and totals become the next optimistic base.
      remember(out);
      batch.forEach((b, i) => b.resolve(out.results[i]!));
    } catch (e) {
      known = null;
      failBatch(batch, e);
    }
  }

  /** A failure of the whole flush (connection lost...) answers every item with the error. */
  function failBatch(batch: Queued[], e: unknown): void {
    const err = isAppError(e) ? e : Errors.internal(`ledger write failed: ${(e as Error).message}`, { cause: e });
    for (const b of batch) b.resolve({ status: "error", error: err });
  }

  function remember({ base, known: k, fast }: FlushOutcome): void {
    if (fast) {
      // Its totals went into known.accounts when it was planned (later flushes of the pipeline
      // may have moved them further since): only the head advances here.
      if (known) known.head = k.head;
      return;
    }
    // Merge only if nobody else wrote in between; otherwise older entries may be stale.
    const same = known !== null && known.head.sequence === base.sequence && known.head.hash === base.hash;
    if (known && same && known.accounts.size + k.accounts.size <= MAX_KNOWN_ACCOUNTS) {
      for (const [id, a] of k.accounts) known.accounts.set(id, a);
      known.head = k.head;
    } else {
      known = { head: k.head, accounts: new Map(k.accounts) };
    }
  }

  /**
   * One round trip, no BEGIN/COMMIT: plan against `base` and let ledger_apply_flush (autocommit)
   * verify it under lock. Only for plain posts over known accounts where every item is created;
   * returns null (nothing sent) otherwise. Planning is synchronous, so when this returns the
   * write is on its way and `next` is the state after it.
   */
  function startFast(ops: Op[], base: Known, predecessor: Promise<unknown> | undefined): { settled: Promise<FlushOutcome | null | { error: unknown }>; next: Known } | null {
    for (const o of ops) {
      if (o.op !== "post") return null;
      for (const p of o.input.postings) if (!base.accounts.has(key(p.account, p.currency))) return null;
    }
    let next: Known | null = null;
    const settled = flush(sql, ops, base.head, base, (k) => {
      next = k;
    }, predecessor).catch((e: unknown) => ({ error: e }));
    if (!next) return null;
    return { settled, next };
  }

  /**
   * Plans the batch and writes it with one ledger_apply_flush call. `fast`: `tx` is not a
   * transaction and nothing was read; the plan uses `known` and returns null at the first item
   * that would not be created (the locking path then answers it authoritatively).
   */
  async function flush(
    tx: Tx,
    ops: Op[],
    head: HeadRow | undefined,
    base: Known | null,
    onPlanned?: (next: Known) => void,
    predecessor?: Promise<unknown>,
  ): Promise<FlushOutcome | null> {
    const fast = base !== null;
    const results = new Array<ItemResult | undefined>(ops.length);
    const pendingExists = new Map<number, bigint>();
    const sameBatchDup = new Map<number, number>();
    // Slow path: locked together with BEGIN (HEAD_LOCK), so every later read of this flush sees all
    // journal writes committed before and the idempotency check below cannot race another writer.
    if (!head) throw new Error("ledger journal head row is missing (migrations not applied?)");

    // Idempotency: keys already in the journal (fast path: ledger_apply_flush refuses if any).
    const keys = [...new Set(ops.map(opKey))];
    const existing = fast
      ? []
      : await tx.q<Array<{ id: bigint; idempotency_key: string; request_hash: string }>>(
          `SELECT "id", "idempotency_key", "request_hash" FROM "ledger_transactions" WHERE "idempotency_key" = ANY($1::text[])`,
          keys,
        );
    const byKey = new Map(existing.map((r) => [r.idempotency_key, { id: r.id, requestHash: r.request_hash }]));

    // Referenced transactions (pending to commit/void, transactions to reverse).
    const refIds = [...new Set(ops.flatMap((o) => (o.op === "post" ? [] : [o.op === "reverse" ? o.targetId : o.pendingId])))];
    const refs = new Map<bigint, StoredTx>();
    // (Guarded: the fast path must reach its write without awaiting anything.)
    if (refIds.length > 0) for (const t of await loadTransactions(tx, refIds)) refs.set(t.id, t);
    // Reversals already made, so a transaction is reversed at most once.
    const reversed = new Set<bigint>();
    if (refIds.length > 0) {
      const rows = await tx.q<Array<{ references_id: bigint }>>(
        `SELECT "references_id" FROM "ledger_transactions" WHERE "kind" = 'reversal' AND "references_id" = ANY($1::bigint[])`,
        refIds,
      );
      for (const r of rows) reversed.add(r.references_id);
    }

    // Accounts: create from specs where missing, then lock everything touched in id order.
    const specs = new Map<string, AccountSpec>();
    const wanted = new Map<string, { code: string; currency: string }>();
    for (const o of ops) {
      if (o.op === "post") {
        for (const s of o.input.accounts ?? []) specs.set(key(s.code, s.currency), s);
        for (const p of o.input.postings) wanted.set(key(p.account, p.currency), { code: p.account, currency: p.currency });
      } else {
        const ref = refs.get(o.op === "reverse" ? o.targetId : o.pendingId);
        for (const p of ref?.postings ?? []) wanted.set(key(p.code, p.currency), { code: p.code, currency: p.currency });
      }
    }
    const accounts = new Map<string, AccountState>();
    if (fast) {
      for (const k of wanted.keys()) accounts.set(k, { ...base.accounts.get(k)! });
    } else if (wanted.size > 0) {
      const toCreate = [...specs.values()].filter((s) => wanted.has(key(s.code, s.currency)));
      if (toCreate.length > 0) await insertAccounts(tx, toCreate);
      const list = [...wanted.values()];
      const rows = await tx.q<AccountRow[]>(
        `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts"
          WHERE ("code", "currency") IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY "id" FOR UPDATE`,
        list.map((a) => a.code),
        list.map((a) => a.currency),
      );
      for (const r of rows) {
        const a = accountState(r);
        accounts.set(key(a.code, a.currency), a);
      }
    }
    // Versions the plan is based on, re-checked by ledger_apply_flush.
    const seenLast = new Map([...accounts.values()].map((a) => [a.id, a.lastTransactionId]));

    // Apply item by item.
    let sequence = head.sequence;
    let previousHash = head.hash;
    const nowAt = now();
    const bookedAt = nowAt.getTime() > head.booked_at.getTime() ? nowAt : head.booked_at;
    const created: Array<{ index: number; t: StoredTx; postings: NewPosting[] }> = [];
    const statusChanges: Array<{ id: bigint; status: TransactionStatus }> = [];
    const seenKeys = new Map<string, { requestHash: string; index: number }>();

    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      const k = opKey(o);
      const prior = byKey.get(k);
      if (prior) {
        if (fast) return null;
        results[i] =
          prior.requestHash === o.requestHash
            ? { status: "exists", transaction: PLACEHOLDER }
            : errorResult(LedgerErrors.idempotencyConflict(`idempotency key ${k} was used for a different request`));
        if (prior.requestHash === o.requestHash) pendingExists.set(i, prior.id);
        continue;
      }
      const sameBatch = seenKeys.get(k);
      if (sameBatch) {
        if (sameBatch.requestHash !== o.requestHash) {
          if (fast) return null;
          results[i] = errorResult(LedgerErrors.idempotencyConflict(`idempotency key ${k} was used for a different request`));
        } else {
          sameBatchDup.set(i, sameBatch.index);
        }
        continue;
      }
      try {
        const plan = planItem(o, accounts, refs, reversed, nowAt);
        const touched = new Map<bigint, AccountState>();
        for (const p of plan.postings) if (!touched.has(p.account.id)) touched.set(p.account.id, { ...p.account });
        for (const p of plan.postings) {
          const a = touched.get(p.account.id)!;
          applyPosting(a, p);
          p.after = { balance: normal(a), pd: a.postedDebits, pc: a.postedCredits, qd: a.pendingDebits, qc: a.pendingCredits };
        }
        for (const a of touched.values()) {
          const before = accounts.get(key(a.code, a.currency))!;
          if (!a.allowNegative && available(a) < 0n && available(a) < available(before)) {
            throw LedgerErrors.insufficientFunds(
              `account ${a.code} (${a.currency}) would have available balance ${available(a)} after this transaction`,
              { details: { account: a.code, currency: a.currency, available: available(before).toString(), shortfall: (-available(a)).toString() } },
            );
          }
        }
        sequence += 1n;
        const t: StoredTx = {
          id: sequence,
          kind: plan.kind,
          status: plan.kind === "pending" ? "pending" : "posted",
          idempotencyKey: k,
          requestHash: o.requestHash,
          metadata: plan.metadata,
          description: plan.description,
          effectiveAt: plan.effectiveAt ?? bookedAt,
          bookedAt,
          referencesId: plan.referencesId,
          pendingExpiresAt: plan.pendingExpiresAt,
          previousHash,
          hash: "",
          postings: [],
        };
        t.hash = transactionHash(
          { ...t, postings: plan.postings.map((p) => ({ accountId: p.account.id, currency: p.account.currency, direction: p.direction, phase: p.phase, amount: p.amount })) },
          previousHash,
        );
        previousHash = t.hash;
        for (const a of touched.values()) {
          a.lastTransactionId = t.id;
          Object.assign(accounts.get(key(a.code, a.currency))!, a);
        }
        if (plan.statusChange) {
          statusChanges.push(plan.statusChange);
          refs.get(plan.statusChange.id)!.status = plan.statusChange.status;
        }
        if (plan.kind === "reversal" && plan.referencesId !== null) reversed.add(plan.referencesId);
        seenKeys.set(k, { requestHash: o.requestHash, index: i });
        created.push({ index: i, t, postings: plan.postings });
      } catch (e) {
        if (!isAppError(e)) throw e;
        if (fast) return null;
        results[i] = errorResult(e);
      }
    }

    const after = new Map<string, AccountState>();
    for (const [k, a] of accounts) after.set(k, { ...a });
    const next: Known = { head: { sequence, hash: previousHash, booked_at: bookedAt }, accounts: after };
    if (fast) {
      if (created.length === 0) return null;
      // The pipeline's next flush is planned on top of this one. Writing the predicted totals into
      // the shared map is safe: any flush that does not commit drops `known` altogether.
      for (const [k, a] of after) base.accounts.set(k, { ...a });
      onPlanned?.({ head: next.head, accounts: base.accounts });
    }

    if (created.length > 0) {
      const flat = created.flatMap((c) => c.postings.map((p) => ({ c, p })));
      const touched = [...new Map(flat.map((x) => [x.p.account.id, accounts.get(key(x.p.account.code, x.p.account.currency))!])).values()];
      const write = () => tx.q<Array<{ id: bigint }>>(
        APPLY_FLUSH,
        head.sequence,
        head.hash,
        sequence,
        previousHash,
        bookedAt,
        created.map((c) => c.t.id),
        created.map((c) => c.t.kind),
        created.map((c) => c.t.status),
        created.map((c) => c.t.idempotencyKey),
        created.map((c) => c.t.requestHash),
        created.map((c) => JSON.stringify(c.t.metadata)),
        created.map((c) => c.t.description),
        created.map((c) => c.t.effectiveAt),
        created.map((c) => c.t.referencesId),
        created.map((c) => c.t.pendingExpiresAt),
        created.map((c) => c.t.previousHash),
        created.map((c) => c.t.hash),
        touched.map((a) => a.id),
        touched.map((a) => seenLast.get(a.id) ?? null),
        touched.map((a) => a.postedDebits),
        touched.map((a) => a.postedCredits),
        touched.map((a) => a.pendingDebits),
        touched.map((a) => a.pendingCredits),
        touched.map((a) => a.lastTransactionId),
        statusChanges.map((s) => s.id),
        statusChanges.map((s) => s.status),
        flat.map((x) => x.c.t.id),
        flat.map((x) => x.p.account.id),
        flat.map((x) => x.p.account.currency),
        flat.map((x) => x.p.direction),
        flat.map((x) => x.p.phase),
        flat.map((x) => x.p.amount),
        flat.map((x) => x.p.after!.balance),
        flat.map((x) => x.p.after!.pd),
        flat.map((x) => x.p.after!.pc),
        flat.map((x) => x.p.after!.qd),
        flat.map((x) => x.p.after!.qc),
      );
      let ids: Array<{ id: bigint }>;
      try {
        ids = await write();
      } catch (e) {
        // Sent on another connection, this flush can overtake the one planned before it: wait for
        // that one to settle and try once more (still early then: it did not commit = stale).
        if (!predecessor || !isStale(e, "early")) throw e;
        await predecessor;
        ids = await write();
      }
      // ids come from one sequence, drawn in row order under the head lock: ascending = input order.
      const sortedIds = ids.map((r) => r.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      flat.forEach((x, j) => {
        x.c.t.postings.push({
          id: sortedIds[j]!,
          accountId: x.p.account.id,
          code: x.p.account.code,
          currency: x.p.account.currency,
          direction: x.p.direction,
          phase: x.p.phase,
          amount: x.p.amount,
          balanceAfter: x.p.after!.balance,
        });
      });
      for (const c of created) results[c.index] = { status: "created", transaction: toJournal(c.t) };
    }

    // Replays: answer with the stored original (read inside the same transaction).
    if (pendingExists.size > 0) {
      const stored = new Map((await loadTransactions(tx, [...new Set(pendingExists.values())])).map((t) => [t.id, t]));
      for (const [i, id] of pendingExists) results[i] = { status: "exists", transaction: toJournal(stored.get(id)!) };
    }
    for (const [i, first] of sameBatchDup) {
      const r = results[first]!;
      results[i] = r.status === "error" ? r : { status: "exists", transaction: r.transaction };
    }
    return { results: results.map((r) => r!), base: head, known: next, fast };
  }

  function planItem(
    o: Op,
    accounts: Map<string, AccountState>,
    refs: Map<bigint, StoredTx>,
    reversed: Set<bigint>,
    nowAt: Date,
  ): {
    kind: TransactionKind;
    postings: NewPosting[];
    metadata: Record<string, string>;
    description: string | null;
    effectiveAt: Date | null;
    referencesId: bigint | null;
    pendingExpiresAt: Date | null;
    statusChange?: { id: bigint; status: TransactionStatus };
  } {
    if (o.op === "post") {
      const inp = o.input;
      const postings: NewPosting[] = inp.postings.map((p, j) => {
        const a = accounts.get(key(p.account, p.currency));
        if (!a) {
          throw LedgerErrors.accountNotFound(`account ${p.account} (${p.currency}) does not exist and no spec was given`, {
            fields: [{ field: `postings.${j}.account`, message: "unknown account" }],
          });
        }
        return { account: a, direction: p.direction, phase: inp.pending ? "pending" : "posted", amount: p.amount };
      });
      return {
        kind: inp.pending ? "pending" : "standard",
        postings,
        metadata: inp.metadata ?? {},
        description: inp.description ?? null,
        effectiveAt: inp.effectiveAt ?? null,
        referencesId: null,
        pendingExpiresAt: inp.pending && inp.pendingTimeoutSeconds ? new Date(nowAt.getTime() + inp.pendingTimeoutSeconds * 1000) : null,
      };
    }
    const targetId = o.op === "reverse" ? o.targetId : o.pendingId;
    const ref = refs.get(targetId);
    if (!ref) throw LedgerErrors.transactionNotFound(`transaction ${targetId} not found`, { details: { transactionId: targetId.toString() } });
    const accountOf = (p: StoredPosting) => accounts.get(key(p.code, p.currency))!;
    if (o.op === "reverse") {
      if (ref.kind !== "standard" && ref.kind !== "commit") {
        throw LedgerErrors.notReversible(`transaction ${ref.id} is a ${ref.kind} transaction; only posted standard or commit transactions can be reversed`);
      }
      if (reversed.has(ref.id)) throw LedgerErrors.notReversible(`transaction ${ref.id} was already reversed`);
      return {
        kind: "reversal",
        postings: ref.postings.map((p) => ({ account: accountOf(p), direction: flip(p.direction), phase: "posted", amount: p.amount })),
        metadata: { ...ref.metadata, ...o.metadata },
        description: `reversal of transaction ${ref.id}`,
        effectiveAt: null,
        referencesId: ref.id,
        pendingExpiresAt: null,
      };
    }
    if (ref.kind !== "pending" || ref.status !== "pending") {
      throw LedgerErrors.notPending(`transaction ${ref.id} is ${ref.kind}/${ref.status}, not pending`, {
        details: { transactionId: ref.id.toString(), status: ref.status },
      });
    }
    if (o.op === "commit" && ref.pendingExpiresAt && ref.pendingExpiresAt.getTime() <= nowAt.getTime()) {
      throw LedgerErrors.pendingExpired(`pending transaction ${ref.id} expired at ${ref.pendingExpiresAt.toISOString()}`);
    }
    return {
      kind: o.op,
      postings: ref.postings.map((p) => ({ account: accountOf(p), direction: p.direction, phase: o.op, amount: p.amount })),
      metadata: o.expiry ? { ...ref.metadata, voidReason: "timeout" } : ref.metadata,
      description: o.expiry ? `timeout of pending transaction ${ref.id}` : null,
      effectiveAt: null,
      referencesId: ref.id,
      pendingExpiresAt: null,
      statusChange: { id: ref.id, status: o.op === "commit" ? "posted" : "voided" },
    };
  }

  async function submit(op: Op): Promise<PostResult> {
    const r = await enqueue(op);
    if (r.status === "error") throw r.error;
    return r;
  }

  function errorResult(e: AppError): ItemResult {
    return { status: "error", error: e };
  }

  const ledger = {
    async post(input: TransactionInput): Promise<PostResult> {
      validateInput(input, "");
      return submit({ op: "post", input, requestHash: requestHash(input) });
    },

    async postBatch(inputs: TransactionInput[]): Promise<BatchItemResult[]> {
      return Promise.all(
        inputs.map((input, i) => {
          try {
            validateInput(input, `${i}.`);
          } catch (e) {
            if (isAppError(e)) return Promise.resolve<BatchItemResult>({ status: "error", error: { code: e.code, message: e.message } });
            throw e;
          }
          return enqueue({ op: "post", input, requestHash: requestHash(input) }).then(
            (r): BatchItemResult => (r.status === "error" ? { status: "error", error: { code: r.error.code, message: r.error.message } } : r),
          );
        }),
      );
    },

    async commitPending(pendingId: string, idempotencyKey: string): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      const id = parseId(pendingId, "pendingId");
      return submit({ op: "commit", pendingId: id, idempotencyKey, requestHash: sha256(JSON.stringify(["commit", id.toString()])) });
    },

    async voidPending(pendingId: string, idempotencyKey: string): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      const id = parseId(pendingId, "pendingId");
      return submit({ op: "void", pendingId: id, idempotencyKey, requestHash: sha256(JSON.stringify(["void", id.toString()])) });
    },

    async reverse(transactionId: string, idempotencyKey: string, metadata: Record<string, string> = {}): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      const id = parseId(transactionId, "transactionId");
      return submit({
        op: "reverse",
        targetId: id,
        idempotencyKey,
        metadata,
        requestHash: sha256(JSON.stringify(["reverse", id.toString(), sortedEntries(metadata)])),
      });
    },

    async expirePending(): Promise<number> {
      const rows = await sql.q<Array<{ id: bigint }>>(
        `SELECT "id" FROM "ledger_transactions" WHERE "status" = 'pending' AND "pending_expires_at" <= $1 ORDER BY "id"`,
        now(),
      );
      const results = await Promise.all(
        rows.map((r) =>
          enqueue({
            op: "void",
            pendingId: r.id,
            idempotencyKey: `ledger:expire:${r.id}`,
            requestHash: sha256(JSON.stringify(["void", r.id.toString()])),
            expiry: true,
          }),
        ),
      );
      return results.filter((r) => r.status === "created").length;
    },

    async drain(): Promise<void> {
      while (flushing) await flushing;
    },

    async getTransaction(id: string): Promise<JournalTransaction | null> {
      if (!isPositiveInt8(id)) return null;
      const [t] = await loadTransactions(sql, [BigInt(id)]);
      return t ? toJournal(t) : null;
    },

    async listTransactions(filter: TransactionFilter): Promise<Page<JournalTransaction>> {
      const limit = clampLimit(filter.limit);
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        params.push(v);
        where.push(sql.replace("?", `$${params.length}`));
      };
      if (filter.cursor) add(`t."id" < ?`, decodeCursor(filter.cursor));
      if (filter.account) {
        add(`EXISTS (SELECT 1 FROM "ledger_postings" p JOIN "ledger_accounts" a ON a."id" = p."account_id"
                     WHERE p."transaction_id" = t."id" AND a."code" = ?)`, filter.account);
      }
      const meta = { ...(filter.metadata ?? {}), ...(filter.sellerId ? { sellerId: filter.sellerId } : {}) };
      if (Object.keys(meta).length > 0) add(`t."metadata" @> ?::jsonb`, JSON.stringify(meta));
      if (filter.from) add(`t."booked_at" >= ?`, filter.from);
      if (filter.to) add(`t."booked_at" < ?`, filter.to);
      params.push(limit + 1);
      const rows = await sql.q<Array<{ id: bigint }>>(
        `SELECT t."id" FROM "ledger_transactions" t ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY t."id" DESC LIMIT $${params.length}`,
        ...params,
      );
      const page = rows.slice(0, limit).map((r) => r.id);
      const loaded = new Map((await loadTransactions(sql, page)).map((t) => [t.id, t]));
      return {
        items: page.map((id) => toJournal(loaded.get(id)!)),
        nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },

    async listJournal(afterSequence: bigint, limit: number): Promise<JournalTransaction[]> {
      if (typeof afterSequence !== "bigint" || afterSequence < 0n) {
        throw LedgerErrors.invalid("afterSequence must be a non-negative bigint", { fields: [{ field: "afterSequence", message: ">= 0" }] });
      }
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw LedgerErrors.invalid("limit must be an integer from 1 to 10000", { fields: [{ field: "limit", message: "1-10000" }] });
      }
      // Keyset on the primary key (id = sequence): one index range scan, however long the journal.
      // Ids are assigned under the journal head lock and committed in order, so a row is visible
      // only once every lower id is: reading "> after" never skips a later-committing lower id.
      // Postings come aggregated per transaction (one row per transaction, not per posting): the
      // anchoring worker reads thousands at a time, and row-per-posting decoding cost ~2.5x more.
      const rows = await sql.q<
        Array<{
          id: bigint;
          kind: TransactionKind;
          status: TransactionStatus;
          idempotency_key: string;
          metadata: Record<string, string> | string;
          description: string | null;
          effective_at: Date;
          booked_at: Date;
          references_id: bigint | null;
          hash: string;
          previous_hash: string;
          postings: Array<[string, string, string, Direction, Phase, string, string]> | string | null;
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
      return rows.map((r): JournalTransaction => {
        const postings = (typeof r.postings === "string" ? JSON.parse(r.postings) : r.postings ?? []) as Array<[string, string, string, Direction, Phase, string, string]>;
        return {
          id: r.id.toString(),
          sequence: r.id,
          kind: r.kind,
          status: r.status,
          idempotencyKey: r.idempotency_key,
          postings: postings.map(([id, account, currency, direction, phase, amount, balanceAfter]) => ({
            id,
            account,
            currency,
            direction,
            amount: BigInt(amount),
            balanceAfter: BigInt(balanceAfter),
            phase,
          })),
          metadata: typeof r.metadata === "string" ? (JSON.parse(r.metadata) as Record<string, string>) : r.metadata,
          description: r.description,
          effectiveAt: r.effective_at,
          bookedAt: r.booked_at,
          referencesId: r.references_id === null ? null : r.references_id.toString(),
          hash: r.hash,
          previousHash: r.previous_hash,
        };
      });
    },

    async ensureAccounts(specs: AccountSpec[]): Promise<Account[]> {
      specs.forEach((s, i) => validateSpec(s, `${i}`));
      if (specs.length === 0) return [];
      await insertAccounts(sql, specs);
      const rows = await sql.q<AccountRow[]>(
        `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" WHERE ("code", "currency") IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        specs.map((s) => s.code),
        specs.map((s) => s.currency),
      );
      if (known) learn(known, rows);
      const byK = new Map(rows.map((r) => [key(r.code, r.currency), r]));
      return specs.map((s) => toAccount(byK.get(key(s.code, s.currency))!));
    },

    async getAccount(code: string, currency: string): Promise<Account | null> {
      const r = await findAccount(code, currency);
      return r ? toAccount(r) : null;
    },

    async balance(account: string, currency: string, at?: Date): Promise<Balance> {
      const a = await findAccount(account, currency);
      if (!a) throw LedgerErrors.accountNotFound(`account ${account} (${currency}) not found`, { fields: [{ field: "account", message: "unknown account" }] });
      const s = accountState(a);
      if (!at) return toBalance(s, s.postedDebits, s.postedCredits, s.pendingDebits, s.pendingCredits, now(), s.lastTransactionId);
      // One index lookup on (account_id, booked_at, id): the last posting at or before `at`.
      const [p] = await sql.q<Array<{ transaction_id: bigint; pd: string; pc: string; qd: string; qc: string }>>(
        `SELECT "transaction_id", "posted_debits_after"::text AS pd, "posted_credits_after"::text AS pc,
                "pending_debits_after"::text AS qd, "pending_credits_after"::text AS qc
           FROM "ledger_postings" WHERE "account_id" = $1 AND "booked_at" <= $2
          ORDER BY "booked_at" DESC, "id" DESC LIMIT 1`,
        s.id,
        at,
      );
      if (!p) return toBalance(s, 0n, 0n, 0n, 0n, at, null);
      return toBalance(s, BigInt(p.pd), BigInt(p.pc), BigInt(p.qd), BigInt(p.qc), at, p.transaction_id);
    },

    async history(account: string, currency: string, page: { limit?: number; cursor?: string }) {
      const a = await findAccount(account, currency);
      if (!a) throw LedgerErrors.accountNotFound(`account ${account} (${currency}) not found`, { fields: [{ field: "account", message: "unknown account" }] });
      const limit = clampLimit(page.limit);
      const params: unknown[] = [a.id];
      let cond = "";
      if (page.cursor) {
        params.push(decodeCursor(page.cursor));
        cond = `AND "id" < $2`;
      }
      params.push(limit + 1);
      const rows = await sql.q<
        Array<{ id: bigint; transaction_id: bigint; direction: Direction; amount: string; balance_after: string; booked_at: Date; phase: Phase }>
      >(
        `SELECT "id", "transaction_id", "direction", "phase", "amount"::text AS amount, "balance_after"::text AS balance_after, "booked_at"
           FROM "ledger_postings" WHERE "account_id" = $1 ${cond}
          ORDER BY "booked_at" DESC, "id" DESC LIMIT $${params.length}`,
        ...params,
      );
      const items = rows.slice(0, limit).map((r) => ({
        id: r.id.toString(),
        account,
        currency,
        direction: r.direction,
        phase: r.phase,
        amount: BigInt(r.amount),
        balanceAfter: BigInt(r.balance_after),
        transactionId: r.transaction_id.toString(),
        bookedAt: r.booked_at,
      }));
      return { items, nextCursor: rows.length > limit ? encodeCursor(rows[limit - 1]!.id) : null };
    },

    async verifyChain(): Promise<ChainVerification> {
      const [head] = await sql.q<Array<{ sequence: bigint; hash: string }>>(
        `SELECT "sequence", "hash" FROM "ledger_journal_head" WHERE "id" = 1`,
      );
      if (!head) throw new Error("ledger journal head row is missing");
      let previous = GENESIS_HASH;
      let expectedId = 1n;
      let checked = 0n;
      for (;;) {
        const ids = await sql.q<Array<{ id: bigint }>>(
          `SELECT "id" FROM "ledger_transactions" WHERE "id" >= $1 ORDER BY "id" LIMIT 500`,
          expectedId,
        );
        if (ids.length === 0) break;
        const txs = await loadTransactions(sql, ids.map((r) => r.id));
        txs.sort((a, b) => (a.id < b.id ? -1 : 1));
        for (const t of txs) {
          const recomputed = transactionHash(
            { ...t, postings: t.postings.map((p) => ({ accountId: p.accountId, currency: p.currency, direction: p.direction, phase: p.phase, amount: p.amount })) },
            previous,
          );
          if (t.id !== expectedId || t.previousHash !== previous || t.hash !== recomputed) {
            return {
              ok: false,
              checked,
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
        headSequence: head.sequence,
        headHash: head.hash,
        ...(headOk ? {} : { firstBreak: { sequence: expectedId, transactionId: "head", expectedHash: previous, storedHash: head.hash } }),
      };
    },
  };

  async function findAccount(code: string, currency: string): Promise<AccountRow | null> {
    const [r] = await sql.q<AccountRow[]>(
      `SELECT ${ACCOUNT_COLUMNS} FROM "ledger_accounts" WHERE "code" = $1 AND "currency" = $2`,
      code,
      currency,
    );
    return r ?? null;
  }

  return ledger;
}

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers

const ACCOUNT_COLUMNS = `"id", "code", "currency", "owner_type", "owner_id", "normal_balance", "allow_negative", "metadata",
  "posted_debits"::text AS posted_debits, "posted_credits"::text AS posted_credits,
  "pending_debits"::text AS pending_debits, "pending_credits"::text AS pending_credits, "last_transaction_id", "created_at"`;

interface AccountRow {
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

function accountState(r: AccountRow): AccountState {
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

function toAccount(r: AccountRow): Account {
  return {
    id: r.id.toString(),
    code: r.code,
    currency: r.currency,
    ownerType: r.owner_type as Account["ownerType"],
    ownerId: r.owner_id,
    normalBalance: r.normal_balance,
    allowNegative: r.allow_negative,
    metadata: typeof r.metadata === "string" ? (JSON.parse(r.metadata) as Record<string, string>) : r.metadata,
    createdAt: r.created_at,
  };
}

async function insertAccounts(tx: Tx, specs: AccountSpec[]): Promise<void> {
  await tx.q(
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

async function loadTransactions(tx: Tx, ids: bigint[]): Promise<StoredTx[]> {
  if (ids.length === 0) return [];
  const rows = await tx.q<
    Array<{
      id: bigint;
      kind: TransactionKind;
      status: TransactionStatus;
      idempotency_key: string;
      request_hash: string;
      metadata: Record<string, string> | string;
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
  const postings = await tx.q<
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
    metadata: typeof r.metadata === "string" ? (JSON.parse(r.metadata) as Record<string, string>) : r.metadata,
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

function toJournal(t: StoredTx): JournalTransaction {
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

function applyPosting(a: AccountState, p: NewPosting): void {
  const debit = p.direction === "debit";
  switch (p.phase) {
    case "posted":
      if (debit) a.postedDebits += p.amount;
      else a.postedCredits += p.amount;
      break;
    case "pending":
      if (debit) a.pendingDebits += p.amount;
      else a.pendingCredits += p.amount;
      break;
    case "commit":
      if (debit) {
        a.pendingDebits -= p.amount;
        a.postedDebits += p.amount;
      } else {
        a.pendingCredits -= p.amount;
        a.postedCredits += p.amount;
      }
      break;
    case "void":
      if (debit) a.pendingDebits -= p.amount;
      else a.pendingCredits -= p.amount;
      break;
  }
}

/** Posted balance in the account's normal direction. */
function normal(a: AccountState): bigint {
  return a.normalBalance === "credit" ? a.postedCredits - a.postedDebits : a.postedDebits - a.postedCredits;
}

/** Posted minus pending outflows (pending inflows are not spendable until committed). */
function available(a: AccountState): bigint {
  return normal(a) - (a.normalBalance === "credit" ? a.pendingDebits : a.pendingCredits);
}

function toBalance(a: AccountState, pd: bigint, pc: bigint, qd: bigint, qc: bigint, asOf: Date, last: bigint | null): Balance {
  const s = { ...a, postedDebits: pd, postedCredits: pc, pendingDebits: qd, pendingCredits: qc };
  return {
    account: a.code,
    currency: a.currency,
    posted: normal(s),
    available: available(s),
    pendingDebits: qd,
    pendingCredits: qc,
    postedDebits: pd,
    postedCredits: pc,
    asOf,
    lastTransactionId: last === null ? null : last.toString(),
  };
}

function flip(d: Direction): Direction {
  return d === "debit" ? "credit" : "debit";
}

function opKey(o: Op): string {
  return o.op === "post" ? o.input.idempotencyKey : o.idempotencyKey;
}

/** Canonical request identity: what must match for a replay to be "the same request". */
export function requestHash(t: TransactionInput): string {
  return sha256(
    JSON.stringify([
      "post-v1",
      t.postings.map((p) => [p.account, p.currency, p.direction, p.amount.toString()]),
      t.pending === true,
      t.pendingTimeoutSeconds ?? null,
      sortedEntries(t.metadata),
      t.description ?? null,
      t.effectiveAt ? t.effectiveAt.toISOString() : null,
    ]),
  );
}

function checkKey(k: unknown, field: string): void {
  if (typeof k !== "string" || k.length === 0 || k.length > MAX_KEY) {
    throw LedgerErrors.invalid(`${field} must be a non-empty string of at most ${MAX_KEY} characters`, {
      fields: [{ field, message: "required, 1-255 characters" }],
    });
  }
}

function parseId(id: string, field: string): bigint {
  if (!isPositiveInt8(id)) throw LedgerErrors.transactionNotFound(`${field} ${id} is not a transaction id`, { fields: [{ field, message: "not a transaction id" }] });
  return BigInt(id);
}

const CURRENCY = /^[A-Z][A-Z0-9]{2,11}$/;

function validateSpec(s: AccountSpec, at: string): void {
  const bad = (field: string, message: string) =>
    LedgerErrors.invalid(`accounts.${at}.${field}: ${message}`, { fields: [{ field: `accounts.${at}.${field}`, message }] });
  if (!s.code || s.code.length > 200) throw bad("code", "required, at most 200 characters");
  if (!CURRENCY.test(s.currency)) throw bad("currency", "must be an upper-case currency code");
  if (s.normalBalance !== "debit" && s.normalBalance !== "credit") throw bad("normalBalance", "must be debit or credit");
  if (!s.ownerId) throw bad("ownerId", "required");
}

function validateInput(t: TransactionInput, prefix: string): void {
  checkKey(t.idempotencyKey, `${prefix}idempotencyKey`);
  const bad = (field: string, message: string) =>
    LedgerErrors.invalid(`${prefix}${field}: ${message}`, { fields: [{ field: `${prefix}${field}`, message }] });
  if (!Array.isArray(t.postings) || t.postings.length < 2) throw bad("postings", "at least two postings are required");
  if (t.postings.length > 1000) throw bad("postings", "at most 1000 postings per transaction");
  const sums = new Map<string, { debits: bigint; credits: bigint }>();
  t.postings.forEach((p, i) => {
    if (typeof p.amount !== "bigint" || p.amount <= 0n) throw bad(`postings.${i}.amount`, "must be a positive integer (minor units)");
    if (p.amount >= 10n ** 36n) throw bad(`postings.${i}.amount`, "too large");
    if (p.direction !== "debit" && p.direction !== "credit") throw bad(`postings.${i}.direction`, "must be debit or credit");
    if (!CURRENCY.test(p.currency)) throw bad(`postings.${i}.currency`, "must be an upper-case currency code");
    if (!p.account) throw bad(`postings.${i}.account`, "required");
    const s = sums.get(p.currency) ?? { debits: 0n, credits: 0n };
    if (p.direction === "debit") s.debits += p.amount;
    else s.credits += p.amount;
    sums.set(p.currency, s);
  });
  for (const [currency, s] of [...sums].sort(([a], [b]) => a.localeCompare(b))) {
    if (s.debits !== s.credits) {
      throw LedgerErrors.unbalanced(
        `transaction does not balance in ${currency}: debits ${s.debits}, credits ${s.credits} (imbalance ${s.debits - s.credits})`,
        { details: { currency, debits: s.debits.toString(), credits: s.credits.toString(), imbalance: (s.debits - s.credits).toString() } },
      );
    }
  }
  if (t.pendingTimeoutSeconds !== undefined) {
    if (!t.pending) throw bad("pendingTimeoutSeconds", "only valid for pending transactions");
    if (!Number.isInteger(t.pendingTimeoutSeconds) || t.pendingTimeoutSeconds <= 0) throw bad("pendingTimeoutSeconds", "must be a positive integer");
  }
  (t.accounts ?? []).forEach((s, i) => validateSpec(s, `${i}`));
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw LedgerErrors.invalid("limit must be an integer from 1 to 1000", { fields: [{ field: "limit", message: "1-1000" }] });
  return limit;
}

function encodeCursor(id: bigint): string {
  return Buffer.from(`v1:${id}`).toString("base64url");
}

function decodeCursor(c: string): bigint {
  const m = /^v1:([1-9]\d{0,18})$/.exec(Buffer.from(c, "base64url").toString());
  // A forged cursor past the int8 range is as invalid as any other forged cursor (never a 500).
  if (!m || !isPositiveInt8(m[1]!)) throw LedgerErrors.invalidCursor("cursor is not one this API returned", { fields: [{ field: "cursor", message: "invalid" }] });
  return BigInt(m[1]!);
}
