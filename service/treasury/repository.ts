/**
 * The vault events this module has seen, through the raw SQL runner (service/db/sql.ts). The table
 * keeps the name it was created with in the payouts migration (`payout_vault_bookings`); nothing
 * outside this module reads it.
 *
 * One row per (chain, transaction, log index). `ledger_tx_id` is null while an event is recorded
 * but not booked (a claim by an address that no seller of ours owes, kept for reconciliation; a
 * `transfer_out` finding, never booked); a later booking fills it in, never replaces it.
 */
import type { SqlRunner } from "../db/sql.js";
import type { VaultEventKind } from "./bookings.js";

export interface VaultBookingRecord {
  chainId: bigint;
  txHash: string;
  logIndex: number;
  vault: string;
  /** A booked event's kind, or `transfer_out`: the token left the vault with no vault event for it (a finding). */
  kind: VaultEventKind | "transfer_out";
  /** The funder, the seller address that claimed, or the vault (a sweep, a transfer out). */
  account: string;
  toAddress: string | null;
  amount: bigint;
  sellerId: string | null;
  ledgerTxId: string | null;
  blockNumber: bigint;
}

export class VaultBookingRepository {
  constructor(private readonly sql: SqlRunner) {}

  /** True once the event has a ledger booking (a recorded, unbooked event is tried again). */
  async isBooked(chainId: bigint, txHash: string, logIndex: number): Promise<boolean> {
    const rows = await this.sql.q(
      `SELECT 1 FROM payout_vault_bookings WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3 AND ledger_tx_id IS NOT NULL`,
      chainId,
      txHash,
      logIndex,
    );
    return rows.length > 0;
  }

  /** True once the event has a row, booked or not (a finding is reported once). */
  async isRecorded(chainId: bigint, txHash: string, logIndex: number): Promise<boolean> {
    const rows = await this.sql.q(`SELECT 1 FROM payout_vault_bookings WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3`, chainId, txHash, logIndex);
    return rows.length > 0;
  }

  async record(b: VaultBookingRecord): Promise<void> {
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
