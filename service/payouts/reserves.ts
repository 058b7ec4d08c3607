/**
 * The pending ledger reserve of each payout, posted from the exact request stored with the payout
 * at planning time (idempotency key `payout:<id>:reserve`). The planner posts them right after
 * recording a batch, and first of all for any payout a crash left without one; the executor checks
 * again before sending, so nothing goes out before every reserve of its batch is booked. The
 * planner's run passes its lease: checked before posting (its local deadline) and verified in the
 * transaction that links the reserve to its payout, so a run that lost its lease stops there with
 * ENT_PAYOUT_PLANNER_LEASE_LOST; a reserve it posted meanwhile is the one the next run (or the
 * executor) posts under the same key, never a second one.
 */
import type { SqlRunner } from "../db/sql.js";
import type { Ledger } from "../ledger/types.js";
import { requestFromJson } from "./booking.js";
import type { PlannerRepository } from "./planner-repository.js";
import type { StoredPayout } from "./repository.js";
import type { PayoutLog } from "./types.js";

/** A planning run's lease (run-lease.ts' RunLease). */
export interface RunFence {
  check(): void;
  verify(tx: SqlRunner): Promise<void>;
}

export class Reserves {
  constructor(
    private readonly ledger: Ledger,
    private readonly repo: PlannerRepository,
    private readonly log: PayoutLog | undefined,
  ) {}

  /** Posts the stored pending requests (idempotent by key); a refusal leaves the payout unbooked (retried). */
  async book(payouts: readonly StoredPayout[], lease?: RunFence): Promise<void> {
    const todo = payouts.filter((p) => p.pendingTxId === null);
    if (todo.length === 0) return;
    lease?.check();
    const fence = lease === undefined ? undefined : (tx: SqlRunner) => lease.verify(tx);
    const results = await this.ledger.postBatch(todo.map((p) => requestFromJson(p.ledgerRequest)));
    for (const [i, r] of results.entries()) {
      const p = todo[i]!;
      if (r.status === "error") {
        this.log?.error({ payoutId: p.id.toString(), code: r.error.code, err: r.error.message }, "payout reserve refused by the ledger; retried next run");
        continue;
      }
      await this.repo.setPendingTx(p.id, r.transaction.id, fence);
      p.pendingTxId = r.transaction.id;
    }
  }

  /** Every payout recorded without its reserve (a crash between recording and booking). */
  async bookUnbooked(lease?: RunFence): Promise<void> {
    const unbooked = await this.repo.unbooked();
    if (unbooked.length > 0) await this.book(unbooked, lease);
  }
}
