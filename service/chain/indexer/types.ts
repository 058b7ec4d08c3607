/** The event index's public types (spec §2 of issue 4). */

export type Confirmation = "observed" | "safe" | "final";

export type IndexedContract = "SettlementAnchor" | "SettlementVault" | "Stablecoin";

export interface IndexedEvent {
  chainId: bigint;
  txHash: string;
  logIndex: number;
  blockNumber: bigint;
  blockHash: string;
  address: string;
  contract: IndexedContract;
  /** Event name from the ABI ("BatchAnchored", "PayoutBatchExecuted", "Transfer", ...). */
  name: string;
  /** Decoded by name: integers as decimal strings, addresses checksummed, bytes as lowercase hex. */
  args: Record<string, string>;
  state: Confirmation;
}

/**
 * What one poll changed. A consumer applies `removed` first, then `changed`: a transaction
 * re-included in another block after a reorg appears in both, with the old block hash in
 * `removed` and the new one in `changed`. Both lists are oldest first.
 */
export interface IndexerChange {
  chainId: bigint;
  changed: IndexedEvent[];
  removed: IndexedEvent[];
}

export type IndexerListener = (change: IndexerChange) => Promise<void>;

export interface IndexerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EventFilter {
  contract?: IndexedContract;
  name?: string;
  txHash?: string;
  /** Every given arg must equal (as decoded strings; addresses compared checksummed). */
  args?: Record<string, string>;
  /** Only events in this block or later (a reader that keeps its own high-water mark). */
  fromBlock?: bigint;
}

export interface IndexHead {
  /** Highest block ingested. */
  indexed: bigint;
  /** Events at or below these heights are "safe" / "final". */
  safe: bigint;
  final: bigint;
}

/**
 * How "safe" and "final" heights are found. "tags": the node's `safe`/`finalized` block tags.
 * "depth": `head - safeDepth` and `head - confirmations`. "auto": depths on local chains (Hardhat
 * and EDR answer both tags with `latest`, which would make every block final at once), tags
 * elsewhere, falling back to depths when the node does not support them.
 */
export type FinalityMode = "auto" | "tags" | "depth";
