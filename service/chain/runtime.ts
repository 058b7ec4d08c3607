/**
 * The chain side of the service, assembled from configuration: the JSON-RPC provider, the
 * deployment record of that chain, the sending keys, and the workers built on them (transaction
 * sender, event index, anchoring, payouts). `connectChain` checks everything that can be checked
 * before a single transaction is sent: the node answers, a deployment record exists for its chain
 * id, the record's deploy block is on this chain (not a reset dev chain that re-reached the same
 * height), and the keys hold the roles they need.
 */
import { JsonRpcProvider } from "ethers";
import type { Config } from "../config.js";
import { defineError } from "../errors.js";
import { attachSystem } from "./contracts.js";
import { readRecord, recordPath, type DeploymentRecord } from "./deployment-record.js";
import { loadSigners, type SendingKeys } from "./keys.js";

export const ChainRuntimeErrors = {
  unreachable: defineError("ENT_CHAIN_NODE_UNREACHABLE", 503, "The chain's JSON-RPC endpoint does not answer"),
  noDeployment: defineError("ENT_CHAIN_NO_DEPLOYMENT", 500, "No deployment record for this chain"),
  deploymentMismatch: defineError("ENT_CHAIN_DEPLOYMENT_MISMATCH", 500, "The deployment record does not match the chain"),
  missingRole: defineError("ENT_CHAIN_MISSING_ROLE", 500, "A sending key lacks the role it needs"),
} as const;

export interface ChainConnection {
  provider: JsonRpcProvider;
  chainId: bigint;
  record: DeploymentRecord;
  keys: SendingKeys;
  close(): void;
}

type ChainConfig = Config["chain"];

/** `record`, when given, is used instead of the one in `deploymentsDir` (it is checked against the chain all the same). */
export async function connectChain(
  config: Pick<ChainConfig, "deploymentsDir" | "anchorerKey" | "payerKey"> & { rpcUrl: string; record?: DeploymentRecord },
): Promise<ChainConnection> {
  // cacheTimeout -1: the sender and the indexer must never act on a cached answer from a moment ago.
  const provider = new JsonRpcProvider(config.rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  try {
    let chainId: bigint;
    try {
      chainId = BigInt((await provider.send("eth_chainId", [])) as string);
    } catch (e) {
      throw ChainRuntimeErrors.unreachable(`no answer from CHAIN_RPC_URL: ${e instanceof Error ? e.message.slice(0, 200) : "unknown error"}`);
    }
    const record = config.record ?? (await readRecord(chainId, config.deploymentsDir));
    if (record === undefined) {
      throw ChainRuntimeErrors.noDeployment(
        `no deployment record ${recordPath(chainId, config.deploymentsDir)} for chain ${chainId}: deploy first (npm run deploy -- --network localhost)`,
      );
    }
    if (BigInt(record.chainId) !== chainId) {
      throw ChainRuntimeErrors.deploymentMismatch(`the deployment record is of chain ${record.chainId}, the node is on chain ${chainId}`);
    }
    const block = await provider.getBlock(record.deployBlock);
    if (block?.hash !== record.deployBlockHash) {
      throw ChainRuntimeErrors.deploymentMismatch(
        `block ${record.deployBlock} of chain ${chainId} is not the one the deployment was made in (the chain was reset?): redeploy`,
      );
    }
    const keys = await loadSigners({ anchorerKey: config.anchorerKey, payerKey: config.payerKey }, chainId, provider);
    const c = attachSystem(record, provider);
    const roles: Array<[string, Promise<boolean>]> = [
      ["anchorer (ANCHOR_ROLE on SettlementAnchor)", c.anchor.ANCHOR_ROLE().then((r) => c.anchor.hasRole(r, keys.anchorer.address))],
      ["payer (PAYER_ROLE on SettlementVault)", c.vault.PAYER_ROLE().then((r) => c.vault.hasRole(r, keys.payer.address))],
    ];
    for (const [what, has] of roles) {
      if (!(await has)) throw ChainRuntimeErrors.missingRole(`the configured ${what} key does not hold its role on chain ${chainId}`);
    }
    return { provider, chainId, record, keys, close: () => provider.destroy() };
  } catch (e) {
    provider.destroy();
    throw e;
  }
}
