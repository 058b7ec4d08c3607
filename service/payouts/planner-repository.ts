/**
 * Planning's writes to the payouts tables, through the raw SQL runner: the planner's lease and id
 * counters (`payout_state`), the insert of a batch with its payouts, and the link from a payout to
 * its pending ledger reserve.
 *
 * Concurrency: the planner's lease (`payout_state.lease_owner/lease_until/lease_token`, the
 * `PayoutStateLeases` store below, held by a run through run-lease.ts) lets one planner at a
 * time read balances and record intents, across processes. Every write of a run takes a `Fence`:
 * the run's lease verified inside the write's own transaction (the state row locked, so a takeover
 * waits for it), so a planner whose lease expired or was taken over records nothing.
 */
import type { SqlRunner } from "../db/sql.js";
import type { AcquireResult, LeaseStorePort } from "../leader/lease-store.js";
import { batchFromRow, payoutFromRow, type BatchRow, type PayoutRow, type StoredPayout } from "./repository.js";
import type { PayoutBatch, VaultState } from "./types.js";

const STATE = "default";

/** The planner's lease: the name of its `payout_state` row. */
export const PLANNER_LEASE = STATE;

/** A run's lease verified inside `tx` (it throws ENT_PAYOUT_PLANNER_LEASE_LOST, rolling `tx` back, when lost). */
export type Fence = (tx: SqlRunner) => Promise<void>;

const EXPIRY = `clock_timestamp() + ($3::bigint * interval '1 millisecond')`;

/**
 * The planner's lease on its `payout_state` row, as the leader's LeaseStore keeps `worker_leases`
 * (service/leader/lease-store.ts): the database's clock decides expiry; a takeover (only once the
 * lease has expired or was released) adds one to `lease_token`; a renewal or release needs the
 * holder's current token; `verify` locks the row in the caller's transaction. An instance of the
 * previous version (owner and expiry only, no token) sees the same `lease_owner` and `lease_until`.
 */
export class PayoutStateLeases implements LeaseStorePort {
  constructor(private readonly sql: SqlRunner) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<AcquireResult> {
    await this.sql.q(`INSERT INTO payout_state (name, next_batch_id, next_payout_id) VALUES ($1, 1, 1) ON CONFLICT (name) DO NOTHING`, name);
    const [won] = await this.sql.q<Array<{ lease_token: bigint }>>(
      `UPDATE payout_state SET lease_owner = $2, lease_until = ${EXPIRY}, lease_token = lease_token + 1
        WHERE name = $1 AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until <= clock_timestamp())
        RETURNING lease_token`,
      name,
      holder,
      BigInt(ttlMs),
    );
    if (won) return { acquired: true, token: BigInt(won.lease_token) };
    const [held] = await this.sql.q<Array<{ lease_owner: string | null; lease_token: bigint }>>(`SELECT lease_owner, lease_token FROM payout_state WHERE name = $1`, name);
    return { acquired: false, holder: held?.lease_owner ?? "", token: BigInt(held?.lease_token ?? 0n) };
  }

  async renew(name: string, holder: string, token: bigint, ttlMs: number): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE payout_state SET lease_until = ${EXPIRY}
        WHERE name = $1 AND lease_owner = $2 AND lease_token = $4 AND lease_until > clock_timestamp() RETURNING name`,
      name,
      holder,
      BigInt(ttlMs),
      token,
    );
    return rows.length === 1;
  }

  async release(name: string, holder: string, token: bigint): Promise<void> {
    await this.sql.q(`UPDATE payout_state SET lease_owner = NULL, lease_until = NULL WHERE name = $1 AND lease_owner = $2 AND lease_token = $3`, name, holder, token);
  }

  /** FOR UPDATE, not FOR SHARE: the id allocation that follows locks the same row for update. */
  async verify(tx: SqlRunner, name: string, holder: string, token: bigint): Promise<boolean> {
    const rows = await tx.q(
      `SELECT name FROM payout_state WHERE name = $1 AND lease_owner = $2 AND lease_token = $3 AND lease_until > clock_timestamp() FOR UPDATE`,
      name,
      holder,
      token,
    );
    return rows.length === 1;
  }
}

export interface NewPayout {
  sellerId: string;
  address: string;
  currency: string;
  amount: bigint;
  usdAmount: bigint;
  tokenAmount: bigint;
  fx: { quoteId: string; rate: string; rounding: string; evidence: unknown } | null;
  /** Builds the ledger request once the payout and batch ids are known. */
  ledgerRequest(ids: { payoutId: bigint; batchId: bigint }): unknown;
}

export interface NewBatch {
  chainId: bigint;
  vault: string;
  createdBy: string;
  payouts: NewPayout[];
  /** payoutsHash of the packed list, computed from the ids-independent packing. */
  payoutsHash: string;
  total: bigint;
}

export class PlannerRepository {
  constructor(private readonly sql: SqlRunner) {}

  async ensureState(): Promise<void> {
    await this.sql.q(
      `INSERT INTO payout_state (name, next_batch_id, next_payout_id) VALUES ($1, 1, 1) ON CONFLICT (name) DO NOTHING`,
      STATE,
    );
  }

  async lastPlannedAt(): Promise<Date | null> {
    const [r] = await this.sql.q<Array<{ last_planned_at: Date | null }>>(`SELECT last_planned_at FROM payout_state WHERE name = $1`, STATE);
    return r?.last_planned_at ?? null;
  }

  /** Ends a run: its time, and what it found of the vault (the /metrics gauges), under its lease. */
  async markPlanned(fence: Fence, vault: VaultState): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await fence(tx);
      await tx.q(
        `UPDATE payout_state SET last_planned_at = now(), vault_paused = $2, vault_budget = $3, vault_due = $4, capacity_skipped = $5 WHERE name = $1`,
        STATE,
        vault.paused,
        vault.budget,
        vault.due,
        vault.capacitySkipped,
      );
    });
  }

  /** The last run's time and what it found of the vault; null before any run has planned. */
  async lastRun(): Promise<{ at: Date; vault: VaultState } | null> {
    const [r] = await this.sql.q<Array<{ last_planned_at: Date | null; vault_paused: boolean | null; vault_budget: string | null; vault_due: string | null; capacity_skipped: number | null }>>(
      `SELECT last_planned_at, vault_paused, vault_budget::text AS vault_budget, vault_due::text AS vault_due, capacity_skipped FROM payout_state WHERE name = $1`,
      STATE,
    );
    // A run of a version before these columns left them null: its figures are unknown, not zero.
    if (r === undefined || r.last_planned_at === null || r.vault_paused === null) return null;
    return {
      at: r.last_planned_at,
      vault: { paused: r.vault_paused, budget: BigInt(r.vault_budget ?? "0"), due: BigInt(r.vault_due ?? "0"), capacitySkipped: Number(r.capacity_skipped ?? 0) },
    };
  }

  /**
   * Records a batch and its payouts with freshly allocated, consecutive ids, in one transaction that
   * first verifies the run's lease (`fence`, which throws when it is lost: nothing is recorded).
   */
  async insertBatch(fence: Fence, b: NewBatch): Promise<{ batch: PayoutBatch; payouts: StoredPayout[] }> {
    return this.sql.transaction(async (tx) => {
      await fence(tx);
      const [state] = await tx.q<Array<{ next_batch_id: bigint; next_payout_id: bigint }>>(
        `SELECT next_batch_id, next_payout_id FROM payout_state WHERE name = $1 FOR UPDATE`,
        STATE,
      );
      // The fence found the row (the lease's acquire creates it).
      const batchId = state!.next_batch_id;
      const first = state!.next_payout_id;
      const count = b.payouts.length;
      await tx.q(
        `UPDATE payout_state SET next_batch_id = $2, next_payout_id = $3 WHERE name = $1`,
        STATE,
        batchId + 1n,
        first + BigInt(count),
      );
      const [br] = await tx.q<BatchRow[]>(
        `INSERT INTO payout_batches (id, chain_id, vault, first_payout_id, count, total, payouts_hash, status, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'planned', $8) RETURNING *`,
        batchId,
        b.chainId,
        b.vault,
        first,
        count,
        b.total,
        b.payoutsHash,
        b.createdBy,
      );
      const ids = b.payouts.map((_, i) => first + BigInt(i));
      const rows = await tx.q<PayoutRow[]>(
        `INSERT INTO payouts (id, batch_id, seller_id, chain_id, vault, address, currency, amount, usd_amount, token_amount,
                              fx_quote_id, fx_rate, fx_evidence, rounding, status, ledger_request)
         SELECT u.id, $1, u.seller_id, $2, $3, u.address, u.currency, u.amount, u.usd_amount, u.token_amount,
                u.fx_quote_id, u.fx_rate, u.fx_evidence::jsonb, u.rounding, 'planned', u.ledger_request::jsonb
           FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[],
                       $11::text[], $12::numeric[], $13::text[], $14::text[], $15::text[])
             AS u(id, seller_id, address, currency, amount, usd_amount, token_amount, fx_quote_id, fx_rate, fx_evidence, rounding, ledger_request)
         RETURNING *`,
        batchId,
        b.chainId,
        b.vault,
        ids,
        b.payouts.map((p) => p.sellerId),
        b.payouts.map((p) => p.address),
        b.payouts.map((p) => p.currency),
        b.payouts.map((p) => p.amount),
        b.payouts.map((p) => p.usdAmount),
        b.payouts.map((p) => p.tokenAmount),
        b.payouts.map((p) => p.fx?.quoteId ?? null),
        b.payouts.map((p) => p.fx?.rate ?? null),
        b.payouts.map((p) => (p.fx === null ? null : JSON.stringify(p.fx.evidence))),
        b.payouts.map((p) => p.fx?.rounding ?? null),
        b.payouts.map((p, i) => JSON.stringify(p.ledgerRequest({ payoutId: ids[i]!, batchId }))),
      );
      rows.sort((x, y) => (x.id < y.id ? -1 : 1));
      return { batch: batchFromRow(br!), payouts: rows.map(payoutFromRow) };
    });
  }

  /** Payouts recorded but whose pending ledger reserve is not booked yet (a crash in between). */
  async unbooked(): Promise<StoredPayout[]> {
    const rows = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE pending_tx_id IS NULL AND status <> 'cancelled' ORDER BY id`);
    return rows.map(payoutFromRow);
  }

  /** Token amounts of payouts in flight on `vault` (recorded, not final, not cancelled). */
  async inFlightTotal(vault: string): Promise<bigint> {
    const [r] = await this.sql.q<Array<{ total: string | null }>>(
      `SELECT sum(token_amount)::text AS total FROM payouts WHERE vault = $1 AND status NOT IN ('final', 'cancelled')`,
      vault,
    );
    return BigInt(r?.total ?? "0");
  }

  /** Links a payout to its posted reserve; with `fence`, only while the run's lease holds (in one transaction). */
  async setPendingTx(payoutId: bigint, txId: string, fence?: Fence): Promise<void> {
    const link = (sql: SqlRunner) => sql.q(`UPDATE payouts SET pending_tx_id = $2, updated_at = now() WHERE id = $1 AND pending_tx_id IS NULL`, payoutId, BigInt(txId));
    if (fence === undefined) {
      await link(this.sql);
      return;
    }
    await this.sql.transaction(async (tx) => {
      await fence(tx);
      await link(tx);
    });
  }
}
