/**
 * Removes expired rows of a shared-state table (`expires_at < now`), started by the flushes that
 * use the table, so no timer is needed: at most `batch` rows per sweep, every `everyMs`, and again
 * at the next flush while a backlog remains. A sweep runs beside the flush that started it, on
 * another connection of the pool, never in front of it: a backlog (a minute of claims at a
 * thousand requests a second is 60,000 rows, 15 ms a 10,000-row DELETE on an idle machine) must not
 * hold up the requests waiting for that flush. One sweep at a time per table and process; with
 * several instances each sweeps, and the DELETEs of expired rows are harmless to repeat or overlap.
 * Only rows already expired are deleted, and no flush writes one (its rows expire in the future).
 */
import type { SqlRunner } from "../../db/index.js";

export class ExpirySweeper {
  private nextAt = 0;
  private backlog = false;
  private running = false;

  constructor(
    private readonly sql: SqlRunner,
    private readonly table: "http_replay_claims" | "http_counters",
    private readonly everyMs: number,
    private readonly batch = 10_000,
  ) {}

  /** Starts a sweep when one is due and none is running; never waits for it, never throws. */
  sweepBeside(nowMs: number): void {
    if (this.running || (!this.backlog && nowMs < this.nextAt)) return;
    this.nextAt = nowMs + this.everyMs;
    this.running = true;
    this.sweep(nowMs)
      .catch(() => {
        // The table is only tidied: a failed sweep leaves expired rows, which nothing reads as live
        // (every read compares expires_at or the window); the next one due tries again.
        this.backlog = false;
      })
      .finally(() => {
        this.running = false;
      });
  }

  private async sweep(nowMs: number): Promise<void> {
    const rows = await this.sql.q<Array<{ n: number }>>(
      `WITH gone AS (
         DELETE FROM "${this.table}" WHERE ctid IN (
           SELECT ctid FROM "${this.table}" WHERE "expires_at" < $1 LIMIT ${this.batch})
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      new Date(nowMs),
    );
    this.backlog = (rows[0]?.n ?? 0) === this.batch;
  }
}
