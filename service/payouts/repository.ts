/**
 * The payouts tables, through the raw SQL runner (service/db/sql.ts). Nothing outside this module
 * reads them: other modules use PayoutService.
 *
 * Concurrency: the planner's lease (`payout_state.lease_owner/lease_until`) lets one planner at a
 * time read balances and record intents, across processes; the insert of a batch re-checks the
 * lease under the state row's lock (fencing), so a planner whose lease expired mid-run cannot record
 * anything. Status changes are compare-and-set (`WHERE status = ANY($expected)`), so two workers
 * driving the same batch never both apply a transition.
 */
import type { SqlRunner } from "../db/sql.js";
import type { Payout, PayoutBatch, PayoutDestination, PayoutFilter, PayoutOutcome, PayoutStatus } from "./types.js";

const STATE = "default";

interface DestinationRow {
  seller_id: string;
  chain_id: bigint;
  address: string;
  set_at: Date;
  set_by: string;
}

interface BatchRow {
  id: bigint;
  chain_id: bigint;
  vault: string;
  first_payout_id: bigint;
  count: number;
  total: string;
  payouts_hash: string;
  status: PayoutStatus;
  attempt: number;
  tx_key: string | null;
  tx_hash: string | null;
  block_number: bigint | null;
  block_hash: string | null;
  paid_total: string | null;
  deferred_total: string | null;
  cancel_tx_key: string | null;
  error: string | null;
  next_attempt_at: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  final_at: Date | null;
}

interface PayoutRow {
  id: bigint;
  batch_id: bigint;
  seller_id: string;
  chain_id: bigint;
  vault: string;
  address: string;
  currency: string;
  amount: string;
  usd_amount: string;
  token_amount: string;
  fx_quote_id: string | null;
  fx_rate: string | null;
  fx_evidence: unknown;
  rounding: string | null;
  status: PayoutStatus;
  outcome: PayoutOutcome | null;
  ledger_request: unknown;
  pending_tx_id: bigint | null;
  commit_tx_id: bigint | null;
  claimable_tx_id: bigint | null;
  void_tx_id: bigint | null;
  tx_hash: string | null;
  log_index: number | null;
  block_number: bigint | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  final_at: Date | null;
}

const big = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
const str = (v: bigint | null): string | null => (v === null ? null : v.toString());

function destination(r: DestinationRow): PayoutDestination {
  return { sellerId: r.seller_id, chainId: r.chain_id, address: r.address, setAt: r.set_at, setBy: r.set_by };
}

function batch(r: BatchRow): PayoutBatch {
  return {
    id: r.id,
    chainId: r.chain_id,
    vault: r.vault,
    firstPayoutId: r.first_payout_id,
    count: r.count,
    total: BigInt(r.total),
    payoutsHash: r.payouts_hash,
    status: r.status,
    attempt: r.attempt,
    txKey: r.tx_key,
    txHash: r.tx_hash,
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    paidTotal: big(r.paid_total),
    deferredTotal: big(r.deferred_total),
    cancelTxKey: r.cancel_tx_key,
    error: r.error,
    nextAttemptAt: r.next_attempt_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    sentAt: r.sent_at,
    finalAt: r.final_at,
  };
}

export interface StoredPayout extends Payout {
  ledgerRequest: unknown;
}

function payout(r: PayoutRow): StoredPayout {
  return {
    id: r.id,
    batchId: r.batch_id,
    sellerId: r.seller_id,
    chainId: r.chain_id,
    vault: r.vault,
    address: r.address,
    currency: r.currency,
    amount: BigInt(r.amount),
    usdAmount: BigInt(r.usd_amount),
    tokenAmount: BigInt(r.token_amount),
    fx:
      r.fx_quote_id === null
        ? null
        : { quoteId: r.fx_quote_id, rate: r.fx_rate ?? "", rounding: r.rounding ?? "", evidence: r.fx_evidence },
    status: r.status,
    outcome: r.outcome,
    pendingTxId: str(r.pending_tx_id),
    commitTxId: str(r.commit_tx_id),
    claimableTxId: str(r.claimable_tx_id),
    voidTxId: str(r.void_tx_id),
    txHash: r.tx_hash,
    logIndex: r.log_index,
    blockNumber: r.block_number,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finalAt: r.final_at,
    ledgerRequest: r.ledger_request,
  };
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

export class PayoutRepository {
  constructor(private readonly sql: SqlRunner) {}

  // ---- destinations ---------------------------------------------------------------------------

  async getDestination(sellerId: string, chainId: bigint): Promise<PayoutDestination | null> {
    const [r] = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE seller_id = $1 AND chain_id = $2`, sellerId, chainId);
    return r ? destination(r) : null;
  }

  async listDestinations(chainId: bigint): Promise<PayoutDestination[]> {
    const rows = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE chain_id = $1 ORDER BY seller_id`, chainId);
    return rows.map(destination);
  }

  async destinationByAddress(chainId: bigint, address: string): Promise<PayoutDestination | null> {
    const [r] = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE chain_id = $1 AND address = $2`, chainId, address);
    return r ? destination(r) : null;
  }

  /**
   * Sets (or replaces) a seller's destination and appends the change to the audit trail, in one
   * transaction. Returns null when the address is another seller's destination on that chain.
   */
  async setDestination(d: { sellerId: string; chainId: bigint; address: string; setBy: string }): Promise<{ destination: PayoutDestination; changed: boolean } | null> {
    return this.sql.transaction(async (tx) => {
      const [owner] = await tx.q<DestinationRow[]>(
        `SELECT * FROM payout_destinations WHERE chain_id = $1 AND address = $2 FOR UPDATE`,
        d.chainId,
        d.address,
      );
      if (owner && owner.seller_id !== d.sellerId) return null;
      const [prev] = await tx.q<DestinationRow[]>(
        `SELECT * FROM payout_destinations WHERE seller_id = $1 AND chain_id = $2 FOR UPDATE`,
        d.sellerId,
        d.chainId,
      );
      if (prev && prev.address === d.address) return { destination: destination(prev), changed: false };
      const [row] = await tx.q<DestinationRow[]>(
        `INSERT INTO payout_destinations (seller_id, chain_id, address, set_at, set_by) VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (seller_id, chain_id) DO UPDATE SET address = EXCLUDED.address, set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by
         RETURNING *`,
        d.sellerId,
        d.chainId,
        d.address,
        d.setBy,
      );
      await tx.q(
        `INSERT INTO payout_destination_changes (seller_id, chain_id, address, previous_address, set_by) VALUES ($1, $2, $3, $4, $5)`,
        d.sellerId,
        d.chainId,
        d.address,
        prev?.address ?? null,
        d.setBy,
      );
      return { destination: destination(row!), changed: true };
    });
  }

  // ---- planner state --------------------------------------------------------------------------

  async ensureState(): Promise<void> {
    await this.sql.q(
      `INSERT INTO payout_state (name, next_batch_id, next_payout_id) VALUES ($1, 1, 1) ON CONFLICT (name) DO NOTHING`,
      STATE,
    );
  }

  /** Takes (or renews) the planner's lease; false when another owner holds an unexpired one. */
  async acquireLease(owner: string, ttlMs: number): Promise<boolean> {
    await this.ensureState();
    const rows = await this.sql.q(
      `UPDATE payout_state SET lease_owner = $2, lease_until = now() + ($3::bigint * interval '1 millisecond')
        WHERE name = $1 AND (lease_owner IS NULL OR lease_until < now() OR lease_owner = $2) RETURNING name`,
      STATE,
      owner,
      BigInt(ttlMs),
    );
    return rows.length === 1;
  }

  async releaseLease(owner: string): Promise<void> {
    await this.sql.q(`UPDATE payout_state SET lease_owner = NULL, lease_until = NULL WHERE name = $1 AND lease_owner = $2`, STATE, owner);
  }

  async lastPlannedAt(): Promise<Date | null> {
    const [r] = await this.sql.q<Array<{ last_planned_at: Date | null }>>(`SELECT last_planned_at FROM payout_state WHERE name = $1`, STATE);
    return r?.last_planned_at ?? null;
  }

  async markPlanned(owner: string): Promise<void> {
    await this.sql.q(`UPDATE payout_state SET last_planned_at = now() WHERE name = $1 AND lease_owner = $2`, STATE, owner);
  }

  /**
   * Records a batch and its payouts with freshly allocated, consecutive ids, in one transaction that
   * first re-checks the lease (fencing). Returns null when the lease is no longer ours.
   */
  async insertBatch(owner: string, b: NewBatch): Promise<{ batch: PayoutBatch; payouts: StoredPayout[] } | null> {
    return this.sql.transaction(async (tx) => {
      const [state] = await tx.q<Array<{ next_batch_id: bigint; next_payout_id: bigint; lease_owner: string | null; lease_ok: boolean }>>(
        `SELECT next_batch_id, next_payout_id, lease_owner, (lease_until >= now()) AS lease_ok FROM payout_state WHERE name = $1 FOR UPDATE`,
        STATE,
      );
      if (!state || state.lease_owner !== owner || !state.lease_ok) return null;
      const batchId = state.next_batch_id;
      const first = state.next_payout_id;
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
      return { batch: batch(br!), payouts: rows.map(payout) };
    });
  }

  // ---- reads ----------------------------------------------------------------------------------

  async getBatch(id: bigint): Promise<PayoutBatch | null> {
    const [r] = await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE id = $1`, id);
    return r ? batch(r) : null;
  }

  async findBatch(vault: string, batchId: bigint): Promise<PayoutBatch | null> {
    const [r] = await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE id = $1 AND vault = $2`, batchId, vault);
    return r ? batch(r) : null;
  }

  async batchesIn(statuses: readonly PayoutStatus[], vault?: string): Promise<PayoutBatch[]> {
    const rows = vault === undefined
      ? await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE status = ANY($1::text[]) ORDER BY id`, [...statuses])
      : await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE status = ANY($1::text[]) AND vault = $2 ORDER BY id`, [...statuses], vault);
    return rows.map(batch);
  }

  async getPayout(id: bigint): Promise<StoredPayout | null> {
    const [r] = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE id = $1`, id);
    return r ? payout(r) : null;
  }

  async payoutsOf(batchId: bigint): Promise<StoredPayout[]> {
    const rows = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE batch_id = $1 ORDER BY id`, batchId);
    return rows.map(payout);
  }

  async listPayouts(f: PayoutFilter): Promise<StoredPayout[]> {
    const rows = await this.sql.q<PayoutRow[]>(
      `SELECT * FROM payouts
        WHERE ($1::text IS NULL OR seller_id = $1) AND ($2::text IS NULL OR status = $2)
          AND ($3::bigint IS NULL OR batch_id = $3) AND ($4::bigint IS NULL OR id < $4)
        ORDER BY id DESC LIMIT $5`,
      f.sellerId ?? null,
      f.status ?? null,
      f.batchId ?? null,
      f.before ?? null,
      f.limit ?? 100,
    );
    return rows.map(payout);
  }

  /** Payouts recorded but whose pending ledger reserve is not booked yet (a crash in between). */
  async unbooked(): Promise<StoredPayout[]> {
    const rows = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE pending_tx_id IS NULL AND status <> 'cancelled' ORDER BY id`);
    return rows.map(payout);
  }

  /** Token amounts of payouts in flight on `vault` (recorded, not final, not cancelled). */
  async inFlightTotal(vault: string): Promise<bigint> {
    const [r] = await this.sql.q<Array<{ total: string | null }>>(
      `SELECT sum(token_amount)::text AS total FROM payouts WHERE vault = $1 AND status NOT IN ('final', 'cancelled')`,
      vault,
    );
    return BigInt(r?.total ?? "0");
  }

  /** Seller address -> seller id, from this vault's deferred payouts (the claimable debts). */
  async sellerOfDeferred(vault: string, address: string): Promise<string | null> {
    const [r] = await this.sql.q<Array<{ seller_id: string }>>(
      `SELECT seller_id FROM payouts WHERE vault = $1 AND address = $2 AND outcome = 'deferred' ORDER BY id DESC LIMIT 1`,
      vault,
      address,
    );
    return r?.seller_id ?? null;
  }

  // ---- writes ---------------------------------------------------------------------------------

  async setPendingTx(payoutId: bigint, txId: string): Promise<void> {
    await this.sql.q(`UPDATE payouts SET pending_tx_id = $2, updated_at = now() WHERE id = $1 AND pending_tx_id IS NULL`, payoutId, BigInt(txId));
  }

  /** Compare-and-set of a batch: applies `set` only while the batch is in one of `from`. */
  async updateBatch(id: bigint, from: readonly PayoutStatus[], set: Partial<{
    status: PayoutStatus;
    attempt: number;
    txKey: string | null;
    txHash: string | null;
    blockNumber: bigint | null;
    blockHash: string | null;
    paidTotal: bigint | null;
    deferredTotal: bigint | null;
    cancelTxKey: string | null;
    error: string | null;
    nextAttemptAt: Date | null;
    sentAt: Date | null;
    finalAt: Date | null;
  }>): Promise<PayoutBatch | null> {
    const cols: Record<string, unknown> = {};
    const map: Record<string, string> = {
      status: "status",
      attempt: "attempt",
      txKey: "tx_key",
      txHash: "tx_hash",
      blockNumber: "block_number",
      blockHash: "block_hash",
      paidTotal: "paid_total",
      deferredTotal: "deferred_total",
      cancelTxKey: "cancel_tx_key",
      error: "error",
      nextAttemptAt: "next_attempt_at",
      sentAt: "sent_at",
      finalAt: "final_at",
    };
    for (const [k, v] of Object.entries(set)) if (v !== undefined) cols[map[k]!] = v;
    const names = Object.keys(cols);
    const assignments = names.map((n, i) => `"${n}" = $${i + 3}`).join(", ");
    const [r] = await this.sql.q<BatchRow[]>(
      `UPDATE payout_batches SET ${assignments}${names.length > 0 ? ", " : ""}updated_at = now()
        WHERE id = $1 AND status = ANY($2::text[]) RETURNING *`,
      id,
      [...from],
      ...names.map((n) => cols[n]),
    );
    return r ? batch(r) : null;
  }

  /** Moves every non-terminal payout of a batch to `status` (with chain position when known). */
  async setPayoutsStatus(batchId: bigint, status: PayoutStatus, chain: { txHash: string | null; blockNumber: bigint | null; error?: string | null }): Promise<void> {
    await this.sql.q(
      `UPDATE payouts SET status = $2, tx_hash = $3, block_number = $4, error = $5, updated_at = now()
        WHERE batch_id = $1 AND status NOT IN ('final', 'cancelled')`,
      batchId,
      status,
      chain.txHash,
      chain.blockNumber,
      chain.error ?? null,
    );
  }

  /** The outcome read from the vault's logs (may still change while not final: a reorg re-executes). */
  async setOutcome(payoutId: bigint, outcome: PayoutOutcome, logIndex: number | null): Promise<void> {
    await this.sql.q(
      `UPDATE payouts SET outcome = $2, log_index = $3, updated_at = now() WHERE id = $1 AND status <> 'final'`,
      payoutId,
      outcome,
      logIndex,
    );
  }

  async clearOutcomes(batchId: bigint): Promise<void> {
    await this.sql.q(`UPDATE payouts SET outcome = NULL, log_index = NULL, updated_at = now() WHERE batch_id = $1 AND status <> 'final'`, batchId);
  }

  async finalizePayout(p: { id: bigint; outcome: PayoutOutcome; commitTxId: string; claimableTxId: string | null; txHash: string; blockNumber: bigint; logIndex: number | null }): Promise<void> {
    await this.sql.q(
      `UPDATE payouts SET status = 'final', outcome = $2, commit_tx_id = $3, claimable_tx_id = $4, tx_hash = $5, block_number = $6,
                          log_index = $7, error = NULL, final_at = now(), updated_at = now()
        WHERE id = $1 AND status <> 'final'`,
      p.id,
      p.outcome,
      BigInt(p.commitTxId),
      p.claimableTxId === null ? null : BigInt(p.claimableTxId),
      p.txHash,
      p.blockNumber,
      p.logIndex,
    );
  }

  async cancelPayout(id: bigint, voidTxId: string | null): Promise<void> {
    await this.sql.q(
      `UPDATE payouts SET status = 'cancelled', void_tx_id = $2, updated_at = now() WHERE id = $1 AND status NOT IN ('final', 'cancelled')`,
      id,
      voidTxId === null ? null : BigInt(voidTxId),
    );
  }

  // ---- vault bookings (Funded, Claimed) -------------------------------------------------------

  async bookingExists(chainId: bigint, txHash: string, logIndex: number): Promise<boolean> {
    const rows = await this.sql.q(
      `SELECT 1 FROM payout_vault_bookings WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3 AND ledger_tx_id IS NOT NULL`,
      chainId,
      txHash,
      logIndex,
    );
    return rows.length > 0;
  }

  async recordBooking(b: {
    chainId: bigint;
    txHash: string;
    logIndex: number;
    vault: string;
    kind: "funded" | "claimed";
    account: string;
    toAddress: string | null;
    amount: bigint;
    sellerId: string | null;
    ledgerTxId: string | null;
    blockNumber: bigint;
  }): Promise<void> {
    await this.sql.q(
      `INSERT INTO payout_vault_bookings (chain_id, tx_hash, log_index, vault, kind, account, to_address, amount, seller_id, ledger_tx_id, block_number)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
         SET ledger_tx_id = COALESCE(payout_vault_bookings.ledger_tx_id, EXCLUDED.ledger_tx_id),
             seller_id = COALESCE(payout_vault_bookings.seller_id, EXCLUDED.seller_id)`,
      b.chainId,
      b.txHash,
      b.logIndex,
      b.vault,
      b.kind,
      b.account,
      b.toAddress,
      b.amount,
      b.sellerId,
      b.ledgerTxId === null ? null : BigInt(b.ledgerTxId),
      b.blockNumber,
    );
  }
}
