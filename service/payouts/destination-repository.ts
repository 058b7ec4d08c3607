/**
 * Sellers' payout addresses (`payout_destinations`) and their audit trail
 * (`payout_destination_changes`), through the raw SQL runner. Nothing outside this module reads
 * them: other modules use PayoutService.
 */
import type { SqlRunner } from "../db/sql.js";
import type { PayoutDestination } from "./types.js";

interface DestinationRow {
  seller_id: string;
  chain_id: bigint;
  address: string;
  set_at: Date;
  set_by: string;
}

function destination(r: DestinationRow): PayoutDestination {
  return { sellerId: r.seller_id, chainId: r.chain_id, address: r.address, setAt: r.set_at, setBy: r.set_by };
}

export class DestinationRepository {
  constructor(private readonly sql: SqlRunner) {}

  async get(sellerId: string, chainId: bigint): Promise<PayoutDestination | null> {
    const [r] = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE seller_id = $1 AND chain_id = $2`, sellerId, chainId);
    return r ? destination(r) : null;
  }

  async list(chainId: bigint): Promise<PayoutDestination[]> {
    const rows = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE chain_id = $1 ORDER BY seller_id`, chainId);
    return rows.map(destination);
  }

  async byAddress(chainId: bigint, address: string): Promise<PayoutDestination | null> {
    const [r] = await this.sql.q<DestinationRow[]>(`SELECT * FROM payout_destinations WHERE chain_id = $1 AND address = $2`, chainId, address);
    return r ? destination(r) : null;
  }

  /**
   * Sets (or replaces) a seller's destination and appends the change to the audit trail, in one
   * transaction. Returns null when the address is another seller's destination on that chain.
   */
  async set(d: { sellerId: string; chainId: bigint; address: string; setBy: string }): Promise<{ destination: PayoutDestination; changed: boolean } | null> {
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
}
