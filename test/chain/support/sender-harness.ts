/**
 * Helpers of the sender tests: calldata to the deployed anchor, the stored attempts of a record,
 * and what the chain really holds (every transaction of a sender, by scanning blocks).
 */
import { hexlify, randomBytes, type Provider } from "ethers";
import type { SqlRunner } from "../../../service/db/sql.js";
import type { System } from "../fixture.js";

export interface StoredAttempt {
  hash: string;
  raw: string;
  type: 0 | 2;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  gasPrice: string | null;
  sentAt: string | null;
}

/** `anchorBatch(batchId, root, 1, digest)` on the deployed anchor (random root and digest by default). */
export function anchorCall(sys: System, batchId: bigint, root: string = hexlify(randomBytes(32))): { to: string; data: string } {
  return {
    to: sys.result.record.contracts.SettlementAnchor.address,
    data: sys.c.anchor.interface.encodeFunctionData("anchorBatch", [batchId, root, 1, hexlify(randomBytes(32))]),
  };
}

export async function storedAttempts(sql: SqlRunner, key: string): Promise<StoredAttempt[]> {
  const [row] = await sql.q<Array<{ attempts: StoredAttempt[] }>>(`SELECT attempts FROM chain_transactions WHERE key = $1`, key);
  if (!row) throw new Error(`no record for ${key}`);
  return row.attempts;
}

/** Every mined transaction sent by `from` in blocks [fromBlock, head], with its nonce. */
export async function minedFrom(provider: Provider, from: string, fromBlock: number): Promise<Array<{ hash: string; nonce: number; data: string }>> {
  const head = await provider.getBlockNumber();
  const out: Array<{ hash: string; nonce: number; data: string }> = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = await provider.getBlock(n, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() === from.toLowerCase()) out.push({ hash: tx.hash.toLowerCase(), nonce: tx.nonce, data: tx.data.toLowerCase() });
    }
  }
  return out;
}
