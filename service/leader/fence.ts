/**
 * The fence of a leadership term, carried with the work it covers. The workers of a term run
 * inside `runFenced` (AsyncLocalStorage follows their timers and promise continuations), so code
 * deep below them, the transaction sender's nonce allocation, can ask `currentFence()` and verify
 * the term inside its own database transaction without every caller passing it down. Work that
 * is not a worker's (an operator's `POST /v1/payouts/runs`) carries no fence and is not fenced:
 * the sender's own protocol (records before broadcasts, nonces under a row lock) keeps it safe.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { SqlRunner } from "../db/sql.js";

export interface Fence {
  readonly lease: string;
  readonly token: bigint;
  /** The term may still start work (local clock only; no I/O). */
  isValid(): boolean;
  /**
   * Inside `tx`: the term is still the database's current one, and stays so until `tx` ends.
   * Throws ENT_LEADER_LEASE_LOST otherwise (the caller's transaction then rolls back).
   */
  verify(tx: SqlRunner): Promise<void>;
}

const storage = new AsyncLocalStorage<Fence>();

export function runFenced<T>(fence: Fence, fn: () => T): T {
  return storage.run(fence, fn);
}

/** The fence of the worker term the caller runs in, if any. */
export function currentFence(): Fence | undefined {
  return storage.getStore();
}
