/**
 * Booking a request once when its postings depend on what the ledger holds when it is booked (a
 * position's average rate, the rate in force): the ledger's own idempotency compares postings, so
 * a replay priced later would read as a conflict. The request is found by a metadata key instead
 * and compared by its hash; a concurrent first booking elsewhere is found the same way.
 */
import { isAppError, type AppError } from "../errors.js";
import { LedgerErrors } from "../ledger/errors.js";
import type { JournalTransaction, PostResult } from "../ledger/types.js";

export async function bookOnce<T>(opts: {
  /** The transaction already booked for this request's key, if any. */
  find: () => Promise<JournalTransaction | null>;
  /** The request's hash, kept in the booked transaction's metadata as `requestHash`. */
  hash: string;
  conflict: (tx: JournalTransaction) => AppError;
  read: (tx: JournalTransaction) => T;
  /** Plans and posts the request (called only when nothing is booked yet). */
  post: () => Promise<PostResult>;
}): Promise<{ status: "created" | "exists"; value: T }> {
  const answer = (tx: JournalTransaction) => {
    if (tx.metadata.requestHash !== opts.hash) throw opts.conflict(tx);
    return { status: "exists" as const, value: opts.read(tx) };
  };
  const existing = await opts.find();
  if (existing !== null) return answer(existing);
  try {
    const r = await opts.post();
    return { status: r.status, value: opts.read(r.transaction) };
  } catch (e) {
    // The same request booked at once elsewhere, priced against another state of the ledger.
    if (!isAppError(e) || e.code !== LedgerErrors.idempotencyConflict.code) throw e;
    const raced = await opts.find();
    if (raced === null) throw e;
    return answer(raced);
  }
}
