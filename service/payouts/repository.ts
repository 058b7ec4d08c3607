/**
 * Payout batches and payouts (`payout_batches`, `payouts`), through the raw SQL runner
 * (service/db/sql.ts): the reads, and the state changes of execution. Nothing outside this module
 * reads these tables: other modules use PayoutService. Planning's writes (the lease, the ids, the
 * insert of a batch) are in planner-repository.ts.
 *
 * Concurrency: status changes are compare-and-set (`WHERE status = ANY($expected)`), so two
 * workers driving the same batch never both apply a transition.
 */
import type { SqlRunner } from "../db/sql.js";
import { amountsOf, type OpenItems } from "../open-items.js";
import type { Payout, PayoutBatch, PayoutFilter, PayoutOutcome, PayoutStateSummary, PayoutStatus } from "./types.js";

export interface BatchRow {
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

export interface PayoutRow {
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

export function batchFromRow(r: BatchRow): PayoutBatch {
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

export function payoutFromRow(r: PayoutRow): StoredPayout {
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

/** The batch fields execution may set (`updateBatch`), and their columns. */
const BATCH_COLUMNS = {
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
} as const;

export class PayoutRepository {
  constructor(private readonly sql: SqlRunner) {}

  // ---- reads ----------------------------------------------------------------------------------

  async getBatch(id: bigint): Promise<PayoutBatch | null> {
    const [r] = await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE id = $1`, id);
    return r ? batchFromRow(r) : null;
  }

  async batchesIn(statuses: readonly PayoutStatus[], vault?: string): Promise<PayoutBatch[]> {
    const rows = vault === undefined
      ? await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE status = ANY($1::text[]) ORDER BY id`, [...statuses])
      : await this.sql.q<BatchRow[]>(`SELECT * FROM payout_batches WHERE status = ANY($1::text[]) AND vault = $2 ORDER BY id`, [...statuses], vault);
    return rows.map(batchFromRow);
  }

  async getPayout(id: bigint): Promise<StoredPayout | null> {
    const [r] = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE id = $1`, id);
    return r ? payoutFromRow(r) : null;
  }

  async payoutsOf(batchId: bigint): Promise<StoredPayout[]> {
    const rows = await this.sql.q<PayoutRow[]>(`SELECT * FROM payouts WHERE batch_id = $1 ORDER BY id`, batchId);
    return rows.map(payoutFromRow);
  }

  /** Per status and payout currency: count and sum of `amount` (the seller-currency amount debited). */
  async summary(): Promise<PayoutStateSummary[]> {
    const rows = await this.sql.q<Array<{ status: string; currency: string; n: number; amount: string }>>(
      `SELECT status, currency, count(*)::int AS n, sum(amount)::text AS amount FROM payouts GROUP BY status, currency ORDER BY status, currency`,
    );
    return rows.map((r) => ({ state: r.status, currency: r.currency, count: r.n, amount: BigInt(r.amount) }));
  }

  /** The payouts planned before `before` and not yet final or cancelled: how many, their amounts per payout currency, the first `limit` by id. */
  async notFinalBefore(before: Date, limit: number): Promise<OpenItems> {
    const where = `FROM payouts WHERE status NOT IN ('final', 'cancelled') AND created_at < $1`;
    const totals = await this.sql.q<Array<{ currency: string; n: number; amount: string }>>(`SELECT currency, count(*)::int AS n, sum(amount)::text AS amount ${where} GROUP BY currency`, before);
    const first = await this.sql.q<Array<{ id: bigint }>>(`SELECT id ${where} ORDER BY id LIMIT $2`, before, limit);
    return { count: totals.reduce((n, t) => n + t.n, 0), amounts: amountsOf(totals), refs: first.map((r) => ({ id: String(r.id), href: `/v1/payouts/${String(r.id)}` })) };
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
    return rows.map(payoutFromRow);
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

  // ---- execution's writes ---------------------------------------------------------------------

  /** Compare-and-set of a batch: applies `set` only while the batch is in one of `from`. */
  async updateBatch(id: bigint, from: readonly PayoutStatus[], set: Partial<Pick<PayoutBatch, keyof typeof BATCH_COLUMNS>>): Promise<PayoutBatch | null> {
    const cols: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(set)) if (v !== undefined) cols[BATCH_COLUMNS[k as keyof typeof BATCH_COLUMNS]] = v;
    const names = Object.keys(cols);
    const assignments = names.map((n, i) => `"${n}" = $${i + 3}`).join(", ");
    const [r] = await this.sql.q<BatchRow[]>(
      `UPDATE payout_batches SET ${assignments}${names.length > 0 ? ", " : ""}updated_at = now()
        WHERE id = $1 AND status = ANY($2::text[]) RETURNING *`,
      id,
      [...from],
      ...names.map((n) => cols[n]),
    );
    return r ? batchFromRow(r) : null;
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
}
