/**
 * The ledger: the one write path for money. This file wires its parts and implements `Ledger`:
 * validate.ts checks what callers send, writer.ts queues and group-commits every write (its header
 * states the protocol), plan.ts holds the rules (pure), store.ts every SQL statement, queries.ts
 * the reads.
 */
import type { SqlRunner } from "../db/index.js";
import { isAppError } from "../errors.js";
import { accountKey, Ops, type Op } from "./plan.js";
import { createQueries } from "./queries.js";
import * as store from "./store.js";
import type { Account, AccountSpec, Ledger, PostResult, TransactionInput } from "./types.js";
import { checkKey, parseId, validateInput, validateSpec } from "./validate.js";
import { createPeriods } from "./periods.js";
import { createWriter, type WriterOptions } from "./writer.js";

export interface LedgerOptions {
  /** Most items written in one database transaction (default 4000). */
  maxBatch?: number;
  /** Most postings written in one database transaction; a larger item goes alone (default 2500). */
  maxPostings?: number;
  /** Optimistic flushes in flight at once (default 1). */
  pipeline?: number;
  /** Clock, for tests of timeouts and point-in-time reads. */
  now?: () => Date;
  /** Fault handling of the writer (writer.ts): tries after a transient failure and the first backoff. */
  transientAttempts?: number;
  transientBackoffMs?: number;
  /** Test hook: runs before each flush is written and may throw to inject a fault. */
  beforeWrite?: WriterOptions["beforeWrite"];
}

export type BatchItemResult = PostResult | { status: "error"; error: { code: string; message: string } };

export function createLedger(db: { sql: SqlRunner; kind?: "pglite" | "postgres" }, opts: LedgerOptions = {}): Ledger & {
  /** Void every pending transaction whose timeout has passed; returns how many were voided. */
  expirePending(): Promise<number>;
  /** Wait for queued writes to finish (for graceful shutdown). */
  drain(): Promise<void>;
} {
  const sql = db.sql;
  const now = opts.now ?? (() => new Date());
  const writer = createWriter(sql, {
    maxBatch: opts.maxBatch ?? 4000,
    maxPostings: opts.maxPostings ?? 2500,
    pipeline: opts.pipeline ?? 1,
    now,
    ...(opts.transientAttempts === undefined ? {} : { transientAttempts: opts.transientAttempts }),
    ...(opts.transientBackoffMs === undefined ? {} : { transientBackoffMs: opts.transientBackoffMs }),
    ...(opts.beforeWrite === undefined ? {} : { beforeWrite: opts.beforeWrite }),
  });

  async function submit(op: Op): Promise<PostResult> {
    const r = await writer.submit(op);
    if (r.status === "error") throw r.error;
    return r;
  }

  return {
    async post(input: TransactionInput): Promise<PostResult> {
      validateInput(input, "");
      return submit(Ops.post(input));
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
          return writer.submit(Ops.post(input)).then(
            (r): BatchItemResult => (r.status === "error" ? { status: "error", error: { code: r.error.code, message: r.error.message } } : r),
          );
        }),
      );
    },

    async commitPending(pendingId: string, idempotencyKey: string): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      return submit(Ops.commit(parseId(pendingId, "pendingId"), idempotencyKey));
    },

    async voidPending(pendingId: string, idempotencyKey: string): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      return submit(Ops.void(parseId(pendingId, "pendingId"), idempotencyKey));
    },

    async reverse(transactionId: string, idempotencyKey: string, metadata: Record<string, string> = {}): Promise<PostResult> {
      checkKey(idempotencyKey, "idempotencyKey");
      return submit(Ops.reverse(parseId(transactionId, "transactionId"), idempotencyKey, metadata));
    },

    async expirePending(): Promise<number> {
      const ids = await store.expiredPendingIds(sql, now());
      const results = await Promise.all(ids.map((id) => writer.submit(Ops.void(id, `ledger:expire:${id}`, true))));
      return results.filter((r) => r.status === "created").length;
    },

    drain: () => writer.drain(),

    async ensureAccounts(specs: AccountSpec[]): Promise<Account[]> {
      specs.forEach((s, i) => validateSpec(s, `${i}`));
      if (specs.length === 0) return [];
      await store.insertAccounts(sql, specs);
      const rows = await store.selectAccounts(sql, specs);
      writer.learn(rows.map(store.accountState));
      const byKey = new Map(rows.map((r) => [accountKey(r.code, r.currency), r]));
      return specs.map((s) => store.toAccount(byKey.get(accountKey(s.code, s.currency))!));
    },

    ...createQueries(sql, now),
    ...createPeriods(sql, now),
  };
}
