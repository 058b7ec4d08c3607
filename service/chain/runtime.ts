/**
 * The chain side of the service, assembled from configuration: the JSON-RPC provider, the
 * deployment record of that chain, the sending keys, and the workers built on them (transaction
 * sender, event index, anchoring, payouts). `connectChain` checks everything that can be checked
 * before a single transaction is sent: the node answers, a deployment record exists for its chain
 * id, the record's deploy block is on this chain (not a reset dev chain that re-reached the same
 * height), and the keys hold the roles they need.
 *
 * Every call goes through `rpc-transport.ts`: it ends within CHAIN_RPC_TIMEOUT_MS (a hung node is a
 * failure the workers retry, not a wait without end), and `rpcStatus()` says whether the endpoint
 * answers (GET /readyz).
 */
import { isError, JsonRpcProvider, type FetchRequest, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import type { Config } from "../config.js";
import { defineError, isAppError } from "../errors.js";
import { attachSystem } from "./contracts.js";
import { readRecord, recordPath, type DeploymentRecord } from "./deployment-record.js";
import { loadSigners, type SendingKeys } from "./keys.js";
import { DEFAULT_RPC_TIMEOUT_MS, RpcMonitor, rpcEndpoint, rpcRequest, type ChainRpcStatus } from "./rpc-transport.js";

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
  /**
   * Whether the endpoint answered the latest call. On an instance that made no call for 30 s (a
   * standby: the workers run on the leader), a probe is started in the background and the next
   * status reports its outcome; the caller never waits on the node.
   */
  rpcStatus(): ChainRpcStatus;
  close(): void;
}

/** Age of the last observation after which `rpcStatus` probes the endpoint. */
const STATUS_STALE_MS = 30_000;

type ChainConfig = Config["chain"];

/**
 * ethers' error for an HTTP error status (a provider's 502, 401, a 429 after its retries) quotes the
 * request URL whole in its message (`info.requestUrl`): replaced here by one naming the endpoint
 * only, as the transport's own errors do (the URL may hold an API key).
 */
class ChainProvider extends JsonRpcProvider {
  constructor(
    request: FetchRequest,
    private readonly monitor: RpcMonitor,
  ) {
    // cacheTimeout -1: the sender and the indexer must never act on a cached answer from a moment ago.
    super(request, undefined, { cacheTimeout: -1, staticNetwork: true });
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    try {
      return await super._send(payload);
    } catch (e) {
      if (!isError(e, "SERVER_ERROR")) throw e;
      const info = (e as { info?: { responseStatus?: unknown } }).info;
      const status = typeof info?.responseStatus === "string" ? info.responseStatus.slice(0, 60) : "error";
      this.monitor.failed(`HTTP ${status}`);
      throw ChainRuntimeErrors.unreachable(`${this.monitor.endpoint} answered HTTP ${status}`, { details: { endpoint: this.monitor.endpoint, status } });
    }
  }
}

/** `record`, when given, is used instead of the one in `deploymentsDir` (it is checked against the chain all the same). */
export async function connectChain(
  config: Pick<ChainConfig, "deploymentsDir" | "anchorerKey" | "payerKey"> & { rpcUrl: string; rpcTimeoutMs?: number; record?: DeploymentRecord },
): Promise<ChainConnection> {
  const monitor = new RpcMonitor(rpcEndpoint(config.rpcUrl));
  const connection = rpcRequest(config.rpcUrl, {
    timeoutMs: config.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    monitor,
    unreachable: (detail, extra) => ChainRuntimeErrors.unreachable(detail, extra),
  });
  const provider = new ChainProvider(connection, monitor);
  try {
    let chainId: bigint;
    try {
      chainId = BigInt((await provider.send("eth_chainId", [])) as string);
    } catch (e) {
      // Our transport's errors name the endpoint without its path or query (an API key) and are kept
      // as the cause; any other error's text is cut and stripped of URLs, its object not kept.
      const text = isAppError(e) ? e.message.slice(0, 200) : e instanceof Error ? e.message.slice(0, 200).replace(/\b(?:https?|wss?):\/\/\S+/gi, "<url>") : "unknown error";
      throw ChainRuntimeErrors.unreachable(`no answer from CHAIN_RPC_URL: ${text}`, {
        details: { endpoint: monitor.endpoint },
        ...(isAppError(e) ? { cause: e } : {}),
      });
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
    let probing = false;
    const rpcStatus = (): ChainRpcStatus => {
      if (!probing && monitor.age() > STATUS_STALE_MS && !provider.destroyed) {
        probing = true;
        // The outcome is recorded by the transport; the error itself is the monitor's to report.
        provider.send("eth_blockNumber", []).catch(() => undefined).finally(() => (probing = false));
      }
      return monitor.status();
    };
    return { provider, chainId, record, keys, rpcStatus, close: () => provider.destroy() };
  } catch (e) {
    provider.destroy();
    throw e;
  }
}
