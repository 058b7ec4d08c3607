/**
 * The worker lease in PostgreSQL (PGlite alike): one row per lease name with its holder, its
 * fencing token and its expiry. Every time comparison uses the DATABASE's clock, so instances with
 * skewed clocks still agree on who holds the lease; each statement is atomic on its own.
 *  - acquire: only once the lease has expired (or never existed); a takeover adds one to the token.
 *  - renew: only by the holder of the current token, and only before expiry (an expired term is
 *    over even if nobody took it: the next acquire starts a new one with a new token).
 *  - verify (the fence): inside a caller's transaction, the token is still current and unexpired,
 *    and the row is locked FOR SHARE until that transaction ends, so a takeover (an UPDATE of the
 *    row) waits for it: either the fenced write commits before the new term begins, or it fails.
 */
import type { SqlRunner } from "../db/sql.js";

export interface LeaseStatus {
  holder: string;
  token: bigint;
  expiresAt: Date;
  /** Unexpired by the database's clock: its holder runs the workers. */
  live: boolean;
}

/** A worker halted on a state only an operator resolves (service/loop.ts `onHalt`), as the worker leader last saw it. */
export interface WorkerHalt {
  worker: string;
  code: string;
  reason: string;
  details: Record<string, unknown> | null;
  since: Date;
}

export type AcquireResult = { acquired: true; token: bigint } | { acquired: false; holder: string; token: bigint };

export interface LeaseStorePort {
  acquire(name: string, holder: string, ttlMs: number): Promise<AcquireResult>;
  renew(name: string, holder: string, token: bigint, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string, token: bigint): Promise<void>;
  /** True when (holder, token) is the current, unexpired term; locks the row FOR SHARE in `tx`. */
  verify(tx: SqlRunner, name: string, holder: string, token: bigint): Promise<boolean>;
}

const EXPIRY = `clock_timestamp() + ($3::bigint * interval '1 millisecond')`;

export class LeaseStore implements LeaseStorePort {
  constructor(private readonly sql: SqlRunner) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<AcquireResult> {
    const [won] = await this.sql.q<Array<{ token: bigint }>>(
      `INSERT INTO worker_leases (name, holder, token, expires_at) VALUES ($1, $2, 1, ${EXPIRY})
       ON CONFLICT (name) DO UPDATE
          SET holder = EXCLUDED.holder, token = worker_leases.token + 1, expires_at = EXCLUDED.expires_at,
              acquired_at = clock_timestamp(), renewed_at = clock_timestamp()
        WHERE worker_leases.expires_at <= clock_timestamp()
       RETURNING token`,
      name,
      holder,
      BigInt(ttlMs),
    );
    if (won) return { acquired: true, token: won.token };
    const [held] = await this.sql.q<Array<{ holder: string; token: bigint }>>(`SELECT holder, token FROM worker_leases WHERE name = $1`, name);
    // Released or expired between the two statements: the next attempt takes it.
    return { acquired: false, holder: held?.holder ?? "", token: held?.token ?? 0n };
  }

  async renew(name: string, holder: string, token: bigint, ttlMs: number): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE worker_leases SET expires_at = ${EXPIRY}, renewed_at = clock_timestamp()
        WHERE name = $1 AND holder = $2 AND token = $4 AND expires_at > clock_timestamp() RETURNING token`,
      name,
      holder,
      BigInt(ttlMs),
      token,
    );
    return rows.length === 1;
  }

  /** Ends the term now (graceful stop), so a standby takes over at its next attempt instead of after the TTL. */
  async release(name: string, holder: string, token: bigint): Promise<void> {
    await this.sql.q(
      `UPDATE worker_leases SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp()`,
      name,
      holder,
      token,
    );
  }

  async verify(tx: SqlRunner, name: string, holder: string, token: bigint): Promise<boolean> {
    const rows = await tx.q(
      `SELECT token FROM worker_leases WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() FOR SHARE`,
      name,
      holder,
      token,
    );
    return rows.length === 1;
  }

  /**
   * The lease as the database sees it now (null: never taken). `live` is the database clock's
   * verdict, so every instance reports the same whatever its own clock.
   */
  async status(name: string): Promise<LeaseStatus | null> {
    const [row] = await this.sql.q<Array<{ holder: string; token: bigint | string; expires_at: Date | string; live: boolean }>>(
      `SELECT holder, token, expires_at, expires_at > clock_timestamp() AS live FROM worker_leases WHERE name = $1`,
      name,
    );
    if (row === undefined) return null;
    return { holder: row.holder, token: BigInt(row.token), expiresAt: new Date(row.expires_at), live: row.live };
  }

  /**
   * Records that `worker` halted (kept as first seen while the same code lasts), or that it works
   * again (null: the row goes). Written by the worker leader, read by every instance's probes.
   */
  async recordHalt(worker: string, halt: { code: string; reason: string; details?: Record<string, unknown> } | null): Promise<void> {
    if (halt === null) {
      await this.sql.q(`DELETE FROM worker_halts WHERE worker = $1`, worker);
      return;
    }
    await this.sql.q(
      `INSERT INTO worker_halts (worker, code, reason, details, since) VALUES ($1, $2, $3, $4::jsonb, clock_timestamp())
       ON CONFLICT (worker) DO UPDATE SET reason = EXCLUDED.reason, details = EXCLUDED.details,
              code = EXCLUDED.code, since = CASE WHEN worker_halts.code = EXCLUDED.code THEN worker_halts.since ELSE EXCLUDED.since END`,
      worker,
      halt.code,
      halt.reason,
      halt.details === undefined ? null : JSON.stringify(halt.details),
    );
  }

  /** The workers halted now, by name. */
  async halts(): Promise<WorkerHalt[]> {
    const rows = await this.sql.q<Array<{ worker: string; code: string; reason: string; details: Record<string, unknown> | null; since: Date | string }>>(
      `SELECT worker, code, reason, details, since FROM worker_halts ORDER BY worker`,
    );
    return rows.map((r) => ({ worker: r.worker, code: r.code, reason: r.reason, details: r.details, since: new Date(r.since) }));
  }

  /**
   * The chains the workers of this database already work on (sender, event index, anchor batches),
   * in order. An instance without a chain must not lead them: it would run the workers without
   * anchoring, index or payouts, and anchoring would stall in silence (server.ts refuses to boot).
   */
  async boundChains(): Promise<bigint[]> {
    const rows = await this.sql.q<Array<{ chain_id: bigint | string }>>(
      `SELECT chain_id FROM chain_sender_chains
       UNION SELECT chain_id FROM chain_index_cursors
       UNION SELECT chain_id FROM (SELECT chain_id FROM anchor_batches LIMIT 1) a
       ORDER BY chain_id`,
    );
    return rows.map((r) => BigInt(r.chain_id));
  }
}
