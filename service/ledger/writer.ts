/**
 * The ledger's write path (TigerBeetle-like group commit): every write (post, commit, void, reverse)
 * is queued and a single flusher writes what is queued so far (up to `maxBatch` items and
 * `maxPostings` postings) with ONE call of the SQL function `ledger_apply_flush` (migrations
 * 20261124160000_ledger_fast_write, 20261209100000_settlement_write_once), which locks the journal
 * head row, then the touched accounts in id order (no deadlock with any other writer), re-checks what
 * the plan assumed, and inserts/updates everything with set-based statements.
 *
 * Two ways to plan a flush (plan.ts: planFlush), one way to write it (store.ts: applyFlush):
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
 *   5. plan items one by one in memory — an item that fails (unbalanced, insufficient funds, ...)
 *      gets its own error and changes nothing; the others go on;
 *   6. ledger_apply_flush under the same transaction, read back the replayed originals, COMMIT.
 *   A batch of plain posts sends 1, 2 and 4 as one call (ledger_lock_posts) in BEGIN's message,
 *   and, with no replay to read back, step 6 in COMMIT's: the head is held over two round trips
 *   instead of five. That is the path every flush takes while two processes write.
 * Row locks are held for one flush, not per transfer, so a hot account (platform revenue) costs one
 * fsync per batch rather than one per transfer.
 *
 * Faults (the flush as a whole fails, which planning should have prevented): a transient database
 * error (deadlock, serialization failure, lost connection: db/errors.ts isTransient) is retried
 * with bounded exponential backoff and jitter, then answered ENT_LEDGER_UNAVAILABLE (503, retry
 * later), never a 4xx; any other error is isolated by bisection: the halves are flushed apart, so
 * one poisoned item fails alone (a numeric overflow as ENT_LEDGER_LIMIT_EXCEEDED) and every other
 * item of the flush commits. An optimistic flush that fails for any other reason than staleness
 * is retried on the locking path, which does the same.
 *
 * Pipeline: up to `pipeline` optimistic flushes in flight, each planned on top of the one before
 * (assumed to commit). One that does not commit makes every later one stale (head check): their
 * items are retried on the locking path, and `known` is dropped until a flush commits again.
 */
import type { SqlRunner, TxRunner } from "../db/index.js";
import { isNumericOverflow, isTransient, isUniqueViolation } from "../db/errors.js";
import { Errors, isAppError, type AppError } from "../errors.js";
import { LedgerErrors } from "./errors.js";
import { accountKey, batchKeys, planFlush, postInputs, withPostingIds, type AccountState, type FlushPlan, type Head, type Op, type StoredTransaction } from "./plan.js";
import * as store from "./store.js";
import type { AccountSpec, JournalTransaction, PostResult } from "./types.js";

export type ItemResult = PostResult | { status: "error"; error: AppError };

export interface WriterOptions {
  /** Most items written in one flush. */
  maxBatch: number;
  /**
   * Most postings written in one flush (an item larger than this still goes, alone). A flush is one
   * protocol message, and a large message costs more than its size: on the bench machine a 3.5 MB
   * parameter took 50 ms to reach PostgreSQL where 350 KB took 2.6 ms. 1,000 settlements (10
   * postings, an attachment and metadata each) are about 3.5 MB; cut at 2,500 postings they go in
   * four flushes, and the HTTP batch endpoint took 1,677-1,826 events/s against 1,380-1,404.
   */
  maxPostings: number;
  /** Optimistic flushes in flight at once. */
  pipeline: number;
  now: () => Date;
  /** Tries of a flush that fails transiently before answering ENT_LEDGER_UNAVAILABLE. Default 6. */
  transientAttempts?: number;
  /** First backoff after a transient failure, doubled per try (with jitter). Default 10 ms. */
  transientBackoffMs?: number;
  /** Test hook: called before each flush is written (either path); may throw to inject a fault. */
  beforeWrite?: (ops: readonly Op[]) => void;
}

export interface Writer {
  /** Queues one validated write; resolves with its own answer (an item's error does not reject). */
  submit(op: Op): Promise<ItemResult>;
  /** Accounts read outside a flush (just ensured), offered to the optimistic base. */
  learn(accounts: AccountState[]): void;
  /** Resolves once the queue is empty and no flush runs. */
  drain(): Promise<void>;
}

interface Queued {
  op: Op;
  resolve(r: ItemResult): void;
}

/** The head and account totals an optimistic flush plans on. */
interface Known {
  head: Head;
  /** By accountKey; totals and last_transaction_id as committed (or planned by a flush in flight). */
  accounts: Map<string, AccountState>;
}

interface FlushOutcome {
  results: ItemResult[];
  /** The head the flush started from, and the state it committed. */
  base: Head;
  known: Known;
  /** Written by the optimistic path (its totals are already in `known`). */
  fast: boolean;
}

type Settled = FlushOutcome | null | { error: unknown };

/** What the locking path plans on, read under the head lock. */
interface Locked extends store.PostsLocked {
  referenced: Map<bigint, StoredTransaction>;
  reversed: Set<bigint>;
}

const MAX_KNOWN_ACCOUNTS = 100_000;

export function createWriter(sql: SqlRunner, opts: WriterOptions): Writer {
  const { maxBatch, maxPostings, now } = opts;
  // Optimistic flushes in flight at once. Measured with 16 writers on 2 busy cores: 2 was slower
  // than 1 (smaller flushes, a lock wait per flush, overtaking retries), so 1 unless asked.
  const depth = opts.pipeline;
  const queue: Queued[] = [];
  let flushing: Promise<void> | null = null;
  // Optimistic fast path: the journal head and account totals as of this process's last committed
  // flush. Never trusted blindly: ledger_apply_flush re-checks head and account versions under lock.
  let known: Known | null = null;
  // After a stale fast flush (another process wrote), take the locking path for a while.
  let slowFlushes = 0;

  /**
   * How many queued items the next flush takes: at most `limit` and maxBatch, and at most maxPostings
   * postings (at least one item). A commit, void or reversal counts as two (its postings are read later).
   */
  function cut(limit = maxBatch): number {
    let postings = 0;
    const end = Math.min(limit, maxBatch, queue.length);
    for (let n = 0; n < end; n++) {
      const op = queue[n]!.op;
      if (op.op !== "post") postings += 2;
      else for (const t of postInputs(op.input)) postings += t.postings.length;
      if (postings > maxPostings && n > 0) return n;
    }
    return end;
  }

  function submit(op: Op): Promise<ItemResult> {
    return new Promise((resolve) => {
      queue.push({ op, resolve });
      if (!flushing) flushing = runFlusher();
    });
  }

  async function runFlusher(): Promise<void> {
    // Let concurrent callers of this tick join the first batch.
    await new Promise((r) => setImmediate(r));
    const inFlight: Array<{ batch: Queued[]; settled: Promise<Settled> }> = [];
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
            await lockingFlush(queue.splice(0, cut()));
            continue;
          }
        }
        if (predicted && queue.length > 0 && inFlight.length < depth) {
          // An idle pipeline is filled from both ends: half now, half right behind it.
          const n = cut(inFlight.length === 0 && depth > 1 && queue.length > 1 ? Math.ceil(queue.length / 2) : queue.length);
          // Best effort: if this read fails, the locking path below meets (and reports) the same fault.
          await learnAccounts(queue.slice(0, n), predicted).catch(() => undefined);
          const started = startOptimistic(queue.slice(0, n).map((b) => b.op), predicted, inFlight[inFlight.length - 1]?.settled);
          if (started) {
            inFlight.push({ batch: queue.splice(0, n), settled: started.settled });
            predicted = started.next;
            continue;
          }
          // Not for the fast path (an item would fail, a replay, an unknown account, a commit...):
          // drain the pipeline, then the locking path answers it.
          predicted = null;
          if (inFlight.length === 0) {
            await lockingFlush(queue.splice(0, cut()));
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
        } else {
          // Nothing of this flush was written (one statement, autocommit), and the totals planned
          // into `known` are void. The locking path retries it: with backoff for transient faults,
          // bisection for the rest.
          known = null;
          predicted = null;
          // Another process wrote, an earlier flush of the pipeline did not commit, or a fault: the
          // locking path for the next flushes too. Not for a key already in the journal with the
          // head unmoved: that is a replay the lookups before the ledger did not see (its first
          // delivery still in flight), and its own locking flush answers it. Measured in the HTTP
          // batch bench, where such replays made 16 flushes of 250 events each take the locking path.
          if (out === null || !store.isStaleFlush(out.error, "replay")) slowFlushes = 16;
          retry.push(...f.batch);
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
        const k = accountKey(p.account, p.currency);
        if (!base.accounts.has(k)) missing.set(k, { code: p.account, currency: p.currency });
      }
    }
    if (missing.size === 0) return;
    learnInto(base, (await store.selectAccounts(sql, [...missing.values()])).map(store.accountState));
  }

  /** Adds accounts `base` lacks (never overwrites: known entries may be ahead of the table). */
  function learnInto(base: Known, accounts: AccountState[]): void {
    if (base.accounts.size + accounts.length > MAX_KNOWN_ACCOUNTS) return;
    for (const a of accounts) {
      const k = accountKey(a.code, a.currency);
      if (!base.accounts.has(k)) base.accounts.set(k, a);
    }
  }

  const attempts = Math.max(1, opts.transientAttempts ?? 6);
  const backoffMs = opts.transientBackoffMs ?? 10;

  async function lockingFlush(batch: Queued[]): Promise<void> {
    if (slowFlushes > 0) slowFlushes--;
    const ops = batch.map((b) => b.op);
    for (let attempt = 1; ; attempt++) {
      try {
        const request = postsLockRequest(ops);
        const out = request
          ? await store.underPostsLock(sql, request, (tx, locked) => {
              opts.beforeWrite?.(ops);
              return planAndWrite(tx, ops, { ...locked, referenced: new Map(), reversed: new Set() });
            })
          : await store.underJournalLock(sql, (tx, head) => {
              opts.beforeWrite?.(ops);
              return planAndWriteLocked(tx, ops, head);
            });
        // Only now is the flush committed: its head and totals become the next optimistic base.
        remember(out);
        batch.forEach((b, i) => b.resolve(out.results[i]!));
        return;
      } catch (e) {
        known = null;
        if (isTransient(e)) {
          if (attempt < attempts) {
            await sleep(backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
            continue;
          }
          const err = LedgerErrors.unavailable(`the ledger database failed transiently ${attempts} times in a row; retry later`, {
            details: { retryAfterSeconds: 1 },
            cause: e,
          });
          for (const b of batch) b.resolve({ status: "error", error: err });
          return;
        }
        if (batch.length > 1) {
          // Isolate the fault: each half on its own (recursively), in order.
          const half = Math.ceil(batch.length / 2);
          await lockingFlush(batch.slice(0, half));
          await lockingFlush(batch.slice(half));
          return;
        }
        batch[0]!.resolve({ status: "error", error: itemFault(e) });
        return;
      }
    }
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
  function startOptimistic(ops: Op[], base: Known, predecessor: Promise<unknown> | undefined): { settled: Promise<Settled>; next: Known } | null {
    for (const o of ops) {
      if (o.op !== "post") return null;
      for (const t of postInputs(o.input)) for (const p of t.postings) if (!base.accounts.has(accountKey(p.account, p.currency))) return null;
    }
    const plan = planFlush({ ops, head: base.head, now: now(), accounts: base.accounts, existing: new Map(), referenced: new Map(), reversed: new Set() }, true);
    if (!plan || plan.created.length === 0) return null;
    // The pipeline's next flush is planned on top of this one. Writing the predicted totals into
    // the shared map is safe: any flush that does not commit drops `known` altogether.
    for (const { after } of plan.accounts) base.accounts.set(accountKey(after.code, after.currency), after);
    const next: Known = { head: plan.head, accounts: base.accounts };
    const settled = Promise.resolve()
      .then(() => {
        opts.beforeWrite?.(ops);
        return write(sql, base.head, plan, predecessor);
      })
      .then(async (stored): Promise<Settled> => ({ results: await answer(sql, plan, stored), base: base.head, known: next, fast: true }))
      .catch((e: unknown) => ({ error: e }));
    return { settled, next };
  }

  /**
   * Steps 2-6 of the locking path, under the journal head lock taken with BEGIN, for a batch with
   * commits, voids or reversals (they lock the accounts of the transactions they refer to).
   */
  async function planAndWriteLocked(tx: TxRunner, ops: Op[], head: Head): Promise<FlushOutcome> {
    const existing = await store.findKeys(tx, batchKeys(ops));
    const refIds = [...new Set(ops.flatMap((o) => (o.op === "post" ? [] : [o.op === "reverse" ? o.targetId : o.pendingId])))];
    const referenced = new Map<bigint, StoredTransaction>();
    let reversed = new Set<bigint>();
    if (refIds.length > 0) {
      for (const t of await store.loadTransactions(tx, refIds)) referenced.set(t.id, t);
      reversed = await store.findReversed(tx, refIds);
    }
    const { wanted, create } = touchedAccounts(ops, referenced);
    let locked: AccountState[] = [];
    if (wanted.length > 0) {
      if (create.length > 0) await store.insertAccounts(tx, create);
      locked = (await store.lockAccounts(tx, wanted)).map(store.accountState);
    }
    return planAndWrite(tx, ops, { head, existing, referenced, reversed, accounts: locked });
  }

  /** Steps 5-6: plans the batch on what is locked, writes it and answers each item. */
  async function planAndWrite(tx: TxRunner, ops: Op[], locked: Locked): Promise<FlushOutcome> {
    const { head, existing, referenced, reversed } = locked;
    const accounts = new Map<string, AccountState>();
    for (const a of locked.accounts) accounts.set(accountKey(a.code, a.currency), a);
    const plan = planFlush({ ops, head, now: now(), accounts, existing, referenced, reversed });
    // With no replay to read back under the lock, the write and the commit go in one message.
    const stored =
      plan.created.length > 0 && !plan.items.some((x) => x.status === "exists")
        ? withPostingIds(plan.created, await store.applyFlushAndCommit(tx, head, plan))
        : await write(tx, head, plan);
    const results = await answer(tx, plan, stored);
    // Every account locked here is as committed: locked state, then what this flush moved.
    for (const { after } of plan.accounts) accounts.set(accountKey(after.code, after.currency), after);
    return { results, base: head, known: { head: plan.head, accounts }, fast: false };
  }

  return {
    submit,
    learn(accounts) {
      if (known) learnInto(known, accounts);
    },
    async drain() {
      while (flushing) await flushing;
    },
  };
}

/**
 * The accounts a batch touches (its postings, and those of the transactions its commits, voids and
 * reversals refer to), and the specs given for those among them that may need creating.
 */
function touchedAccounts(ops: readonly Op[], referenced: Map<bigint, StoredTransaction>): { wanted: Array<{ code: string; currency: string }>; create: AccountSpec[] } {
  const wanted = new Map<string, { code: string; currency: string }>();
  const specs = new Map<string, AccountSpec>();
  for (const o of ops) {
    if (o.op === "post") {
      for (const t of postInputs(o.input)) {
        for (const s of t.accounts ?? []) specs.set(accountKey(s.code, s.currency), s);
        for (const p of t.postings) wanted.set(accountKey(p.account, p.currency), { code: p.account, currency: p.currency });
      }
    } else {
      const ref = referenced.get(o.op === "reverse" ? o.targetId : o.pendingId);
      for (const p of ref?.postings ?? []) wanted.set(accountKey(p.code, p.currency), { code: p.code, currency: p.currency });
    }
  }
  return { wanted: [...wanted.values()], create: [...specs].filter(([k]) => wanted.has(k)).map(([, s]) => s) };
}

/** For a batch of plain posts only: what its locking path asks for with the head lock, in one call. */
function postsLockRequest(ops: readonly Op[]): store.PostsLockRequest | null {
  if (!ops.every((o) => o.op === "post")) return null;
  const { wanted, create } = touchedAccounts(ops, new Map());
  return { keys: batchKeys(ops), accounts: wanted, create };
}

/** The answer of a lone item whose flush failed for a reason other than a transient fault. */
function itemFault(e: unknown): AppError {
  if (isAppError(e)) return e;
  if (isNumericOverflow(e)) return LedgerErrors.limitExceeded(`a value of this transaction is out of the ledger's range: ${(e as Error).message}`, { cause: e });
  // The settlement record of an attachment (ledger_attach): its table's unique keys.
  if (isUniqueViolation(e, "settlements_")) return LedgerErrors.recordConflict(`the record attached to this transaction was already written by another writer: ${(e as Error).message}`, { cause: e });
  return Errors.internal(`ledger write failed: ${(e as Error).message}`, { cause: e });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends the plan's one ledger_apply_flush call (nothing when it creates nothing). Sent on another
 * connection, an optimistic flush can overtake the one planned before it: then it waits for that
 * one to settle and tries once more (still early then: it did not commit, so this one is stale).
 */
async function write(tx: SqlRunner, from: Head, plan: FlushPlan, predecessor?: Promise<unknown>): Promise<StoredTransaction[]> {
  if (plan.created.length === 0) return [];
  let ids: bigint[];
  try {
    ids = await store.applyFlush(tx, from, plan);
  } catch (e) {
    if (!predecessor || !store.isStaleFlush(e, "early")) throw e;
    await predecessor;
    ids = await store.applyFlush(tx, from, plan);
  }
  return withPostingIds(plan.created, ids);
}

/** Each item's answer; a replay of a key stored before this flush is read back (under the same lock). */
async function answer(tx: SqlRunner, plan: FlushPlan, stored: StoredTransaction[]): Promise<ItemResult[]> {
  const created = new Map(stored.map((t) => [t.id, store.toJournal(t)]));
  const replayed = [...new Set(plan.items.flatMap((x) => (x.status === "exists" ? [x.id] : [])))];
  const originals = new Map<bigint, JournalTransaction>();
  for (const t of await store.loadTransactions(tx, replayed)) originals.set(t.id, store.toJournal(t));
  const results: ItemResult[] = [];
  for (const item of plan.items) {
    switch (item.status) {
      case "created":
        results.push({ status: "created", transaction: created.get(item.transaction.id)! });
        break;
      case "exists":
        results.push({ status: "exists", transaction: originals.get(item.id)! });
        break;
      case "duplicate": {
        const first = results[item.of]!;
        // planFlush only points a duplicate at a created item; an error would be answered as is.
        results.push(first.status === "error" ? first : { status: "exists", transaction: first.transaction });
        break;
      }
      case "error":
        results.push({ status: "error", error: item.error });
        break;
    }
  }
  return results;
}
