/**
 * Removes expired rows of a shared-state table (`expires_at < now`) from inside the flushes that
 * use the table, so no timer or extra connection is needed: at most `batch` rows per call, every
 * `everyMs`, and on every call while a backlog remains. A sweep never holds up a flush for long
 * (one bounded DELETE on the `expires_at` index), and with several instances each sweeps; the
 * DELETEs of expired rows are harmless to repeat.
 */
import type { SqlRunner } from "../../db/index.js";

export class ExpirySweeper {
  private nextAt = 0;
  private backlog = false;

  constructor(
    private readonly sql: SqlRunner,
    private readonly table: "http_replay_claims" | "http_counters",
    private readonly everyMs: number,
    private readonly batch = 10_000,
  ) {}

  async maybeSweep(nowMs: number): Promise<number> {
    if (!this.backlog && nowMs < this.nextAt) return 0;
    this.nextAt = nowMs + this.everyMs;
    const rows = await this.sql.q<Array<{ n: number }>>(
      `WITH gone AS (
         DELETE FROM "${this.table}" WHERE ctid IN (
           SELECT ctid FROM "${this.table}" WHERE "expires_at" < $1 LIMIT ${this.batch})
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      new Date(nowMs),
    );
    const n = rows[0]?.n ?? 0;
    this.backlog = n === this.batch;
    return n;
  }
}
