/**
 * "Each signature is accepted once", across every instance on the database: a signature is claimed
 * by inserting (key id, signature) into `http_replay_claims`, whose primary key lets exactly one
 * claim win, whichever instance makes it. Concurrent claims of one process go together in one
 * `INSERT ... ON CONFLICT DO NOTHING RETURNING` per flush (group commit), sorted so that two
 * instances inserting overlapping sets take the key locks in the same order and cannot deadlock.
 *
 * A claim expires 2x the replay window after it is made: a signed timestamp is accepted up to one
 * window either side of now, so by then the timestamp check refuses the signature on its own.
 * Expired rows are swept beside the flushes, never in front of them (`ExpirySweeper`).
 */
import type { SqlRunner } from "../../db/index.js";
import { GroupCommit } from "../../group-commit.js";
import { ExpirySweeper } from "./sweeper.js";

export interface ReplayGuard {
  /** True when this signature of this key was never claimed inside the window (and claims it). */
  claim(keyId: string, signature: string, nowMs: number): Promise<boolean>;
}

/**
 * Flushes in flight at once: a flush is one statement (and, on PostgreSQL, one commit), so a
 * second one keeps the pool busy while the first commits. Measured on the pipeline bench: 2 beat
 * 1 (callers wait behind a whole commit) and 4 (more, smaller statements cost CPU that a
 * two-core machine lacks). Overlapping flushes take their row locks in the same sorted order, so
 * they cannot deadlock.
 */
const IN_FLIGHT = 2;

interface Claim {
  keyId: string;
  signature: string;
  expiresAt: Date;
}

export class DatabaseReplayGuard implements ReplayGuard {
  private readonly batcher: GroupCommit<Claim, boolean>;
  private readonly sweeper: ExpirySweeper;
  private readonly now: () => number;

  constructor(
    private readonly sql: SqlRunner,
    private readonly windowMs: number,
    opts: { sweepEveryMs?: number; now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.sweeper = new ExpirySweeper(sql, "http_replay_claims", opts.sweepEveryMs ?? Math.min(60_000, windowMs));
    this.batcher = new GroupCommit((claims) => this.flush(claims), 1_000, IN_FLIGHT);
  }

  claim(keyId: string, signature: string, nowMs: number): Promise<boolean> {
    return this.batcher.submit({ keyId, signature, expiresAt: new Date(nowMs + 2 * this.windowMs) });
  }

  private async flush(claims: readonly Claim[]): Promise<boolean[]> {
    this.sweeper.sweepBeside(this.now());
    // The same signature twice in one flush: the first wins, as it would one flush apart.
    const first = new Map<string, Claim>();
    for (const c of claims) if (!first.has(`${c.keyId}:${c.signature}`)) first.set(`${c.keyId}:${c.signature}`, c);
    const unique = [...first.values()].sort((a, b) => (a.keyId === b.keyId ? cmp(a.signature, b.signature) : cmp(a.keyId, b.keyId)));
    const won = await this.sql.q<Array<{ key_id: string; signature: string }>>(
      `INSERT INTO "http_replay_claims" ("key_id", "signature", "expires_at")
       SELECT * FROM unnest($1::varchar[], $2::char(64)[], $3::timestamptz[])
       ON CONFLICT DO NOTHING
       RETURNING "key_id", "signature"`,
      unique.map((c) => c.keyId),
      unique.map((c) => c.signature),
      unique.map((c) => c.expiresAt),
    );
    const fresh = new Set(won.map((r) => `${r.key_id}:${r.signature}`));
    const answered = new Set<string>();
    return claims.map((c) => {
      const k = `${c.keyId}:${c.signature}`;
      if (!fresh.has(k) || answered.has(k)) return false;
      answered.add(k);
      return true;
    });
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
