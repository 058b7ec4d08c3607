/**
 * The deployment a database anchors to, one row per chain (`chain_deployments`): the anchor and
 * vault contracts and the block they were deployed in. The first instance with a chain records
 * it; every later instance (any ROLE) must bring a deployment record naming the same contracts,
 * checked at boot (server.ts) before it serves a proof or stands for the worker lease.
 *  - Other contracts on the same chain (another DEPLOYMENTS_DIR, a forced redeploy): the instance
 *    would anchor the whole journal again on another contract, and its proofs would differ from
 *    the other instances'. Refused: ENT_CHAIN_DEPLOYMENT_CONFLICT, naming both addresses.
 *  - The same contracts from another deploy block: a local chain was reset and the system
 *    redeployed at the same addresses. The database's final anchoring is not on this chain any
 *    more; re-anchoring would silently downgrade it. Refused with ENT_CHAIN_RESET while the
 *    database holds final batches there, unless the operator sets CHAIN_ALLOW_LOCAL_RESET=true on
 *    a local chain: then the record moves to the new deployment and the event index drops the old
 *    chain's events (indexer.ts). The sender's records and nonces still belong to the old chain:
 *    its witness check keeps refusing to send (ENT_CHAIN_RESET, one error line per worker) rather
 *    than signing with nonces the new chain does not follow.
 * A database from before this table has no row: it is derived from its anchor batches and index.
 */
import type { SqlRunner } from "../db/sql.js";
import { defineError } from "../errors.js";
import type { DeploymentRecord } from "./deployment-record.js";
import { isLocalChain } from "./local-chain.js";
import { ChainErrors } from "./sender-errors.js";

export const BindingErrors = {
  /** The deployment record names other anchor or vault contracts than the ones this database anchors to on that chain. */
  conflict: defineError("ENT_CHAIN_DEPLOYMENT_CONFLICT", 500, "The deployment record names other contracts than this database anchors to"),
} as const;

export interface BoundDeployment {
  anchor: string;
  vault: string;
  deployBlock: bigint;
  deployBlockHash: string;
}

interface Row {
  anchor_address: string;
  vault_address: string;
  deploy_block: bigint | string;
  deploy_block_hash: string;
}

export interface BindingLog {
  warn(o: object, m?: string): void;
}

export interface BindingOptions {
  /** CHAIN_ALLOW_LOCAL_RESET: accept a redeploy on a reset local chain although final batches are lost. */
  allowLocalReset: boolean;
  log?: BindingLog;
}

/**
 * Records the deployment of `record` for its chain on a database that has none, or checks it
 * against the one recorded; returns the deployment the database is now bound to.
 */
export async function bindDeployment(sql: SqlRunner, record: DeploymentRecord, opts: BindingOptions): Promise<BoundDeployment> {
  const chainId = BigInt(record.chainId);
  const wanted: BoundDeployment = {
    anchor: record.contracts.SettlementAnchor.address.toLowerCase(),
    vault: record.contracts.SettlementVault.address.toLowerCase(),
    deployBlock: BigInt(record.deployBlock),
    deployBlockHash: record.deployBlockHash.toLowerCase(),
  };
  const read = () => sql.q<Row[]>(`SELECT anchor_address, vault_address, deploy_block, deploy_block_hash FROM chain_deployments WHERE chain_id = $1`, chainId);
  let [row] = await read();
  if (row === undefined) {
    // Two instances starting together on an empty database: the first insert wins, both compare with it.
    const first = await inferred(sql, chainId, wanted);
    await sql.q(
      `INSERT INTO chain_deployments (chain_id, anchor_address, vault_address, deploy_block, deploy_block_hash)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain_id) DO NOTHING`,
      chainId,
      first.anchor,
      first.vault,
      first.deployBlock,
      first.deployBlockHash,
    );
    [row] = await read();
    if (row === undefined) throw new Error(`chain ${chainId} has no deployment row after its insert`);
  }
  const known: BoundDeployment = { anchor: row.anchor_address, vault: row.vault_address, deployBlock: BigInt(row.deploy_block), deployBlockHash: row.deploy_block_hash };

  if (known.anchor !== wanted.anchor || known.vault !== wanted.vault) {
    throw BindingErrors.conflict(
      `this database anchors on chain ${chainId} to SettlementAnchor ${known.anchor} (SettlementVault ${known.vault}), ` +
        `but the deployment record in DEPLOYMENTS_DIR names SettlementAnchor ${wanted.anchor} (SettlementVault ${wanted.vault}): ` +
        "give every instance the same deployment record (DEPLOYMENTS_DIR), or use another database for the other deployment",
      { details: { chainId: chainId.toString(), database: { anchor: known.anchor, vault: known.vault }, record: { anchor: wanted.anchor, vault: wanted.vault } } },
    );
  }
  if (known.deployBlockHash === wanted.deployBlockHash) return known;

  // Same addresses, another deploy block: only a reset chain and a redeploy get there. The anchoring
  // store keeps the address checksummed (EIP-55), this record lower-case: compared as addresses.
  const [final] = await sql.q<Array<{ n: bigint | string }>>(
    `SELECT count(*) AS n FROM anchor_batches WHERE chain_id = $1 AND lower(anchor_address) = $2 AND status = 'final'`,
    chainId,
    known.anchor,
  );
  const finalBatches = BigInt(final?.n ?? 0);
  const local = isLocalChain(chainId);
  if (finalBatches > 0n && !(local && opts.allowLocalReset)) {
    throw ChainErrors.chainReset(
      `this database holds ${finalBatches} final anchor batch(es) on SettlementAnchor ${known.anchor} of chain ${chainId}, deployed in block ${known.deployBlock} (${known.deployBlockHash}); ` +
        `the node's chain has that deployment from block ${wanted.deployBlock} (${wanted.deployBlockHash}) instead (the chain was reset and redeployed): ` +
        (local
          ? "use the original chain or a fresh database, or set CHAIN_ALLOW_LOCAL_RESET=true to keep this database on the new local chain and give its final anchoring up"
          : "use the original chain or a fresh database"),
      { details: { chainId: chainId.toString(), finalBatches: finalBatches.toString(), recorded: known.deployBlockHash, node: wanted.deployBlockHash } },
    );
  }
  await sql.q(`UPDATE chain_deployments SET deploy_block = $2, deploy_block_hash = $3, recorded_at = now() WHERE chain_id = $1`, chainId, wanted.deployBlock, wanted.deployBlockHash);
  opts.log?.warn(
    { code: ChainErrors.chainReset.code, chainId: chainId.toString(), anchor: known.anchor, finalBatches: finalBatches.toString() },
    finalBatches > 0n
      ? "the local chain was reset and the contracts redeployed (CHAIN_ALLOW_LOCAL_RESET): the final anchoring of the old chain is given up"
      : "the contracts were redeployed at the same addresses from another block (a reset chain): no final anchoring was lost",
  );
  return { ...known, deployBlock: wanted.deployBlock, deployBlockHash: wanted.deployBlockHash };
}

/**
 * What a database without a row is bound to: the anchor of its latest anchor batch and the index
 * of that anchor's deployment, where it has them; else `wanted` (nothing to contradict).
 */
async function inferred(sql: SqlRunner, chainId: bigint, wanted: BoundDeployment): Promise<BoundDeployment> {
  const [batch] = await sql.q<Array<{ anchor_address: string }>>(
    `SELECT anchor_address FROM anchor_batches WHERE chain_id = $1 ORDER BY created_at DESC, batch_id DESC LIMIT 1`,
    chainId,
  );
  const anchor = batch?.anchor_address.toLowerCase() ?? wanted.anchor;
  const [cursor] = await sql.q<Array<{ contracts_key: string; deploy_block: bigint | string; deploy_block_hash: string }>>(
    `SELECT contracts_key, deploy_block, deploy_block_hash FROM chain_index_cursors
      WHERE chain_id = $1 AND split_part(contracts_key, ',', 1) = $2 ORDER BY updated_at DESC LIMIT 1`,
    chainId,
    anchor,
  );
  if (cursor === undefined) return anchor === wanted.anchor ? wanted : { ...wanted, anchor, vault: "unknown" };
  return {
    anchor,
    vault: cursor.contracts_key.split(",")[1] ?? "unknown",
    deployBlock: BigInt(cursor.deploy_block),
    deployBlockHash: cursor.deploy_block_hash.toLowerCase(),
  };
}
