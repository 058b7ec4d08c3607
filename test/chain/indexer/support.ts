/**
 * Shared pieces of the indexer tests: an indexer over a deployed in-process system and a test
 * database, a tx helper, block mining with distinct timestamps (EDR mines identical empty blocks
 * to identical hashes after evm_revert unless the timestamp differs), and a collecting listener.
 */
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { ChainIndexer, type ChainIndexerOptions, type IndexerChange, type IndexerLog } from "../../../service/chain/indexer/index.js";
import type { TestDatabase } from "../../support/db.js";
import type { System } from "../fixture.js";

export const USDC = 1_000_000n;

export async function mined(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

/** Collects what the indexer logs, so tests can assert warnings and errors (and keep output quiet). */
export function memoryLog(): IndexerLog & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: "info", msg: msg ?? "", obj }),
    warn: (obj, msg) => lines.push({ level: "warn", msg: msg ?? "", obj }),
    error: (obj, msg) => lines.push({ level: "error", msg: msg ?? "", obj }),
  };
}

export function indexerFor(s: System, db: TestDatabase, opts: Partial<ChainIndexerOptions> = {}): ChainIndexer {
  return new ChainIndexer({
    sql: db.sql,
    provider: s.connection.ethers.provider,
    record: s.result.record,
    confirmations: 6,
    safeDepth: 2,
    log: memoryLog(),
    ...opts,
  });
}

export async function rpc<T = unknown>(s: System, method: string, params: unknown[] = []): Promise<T> {
  return (await s.connection.ethers.provider.send(method, params)) as T;
}

export async function headNumber(s: System): Promise<bigint> {
  return BigInt(await rpc<string>(s, "eth_blockNumber"));
}

/** Mines `n` empty blocks whose timestamps start `offset` seconds after the head's (so a different `offset` gives different hashes). */
export async function mineEmpty(s: System, n: number, offset = 1): Promise<void> {
  const latest = await rpc<{ timestamp: string }>(s, "eth_getBlockByNumber", ["latest", false]);
  let t = Number(BigInt(latest.timestamp)) + offset;
  for (let i = 0; i < n; i++) {
    await rpc(s, "evm_mine", [t]);
    t += 1;
  }
}

export function collector(indexer: ChainIndexer): IndexerChange[] {
  const seen: IndexerChange[] = [];
  indexer.onChange(async (c) => {
    seen.push(c);
  });
  return seen;
}

/** `name@block` of each event, for compact assertions. */
export const summary = (events: ReadonlyArray<{ name: string; blockNumber: bigint; state?: string }>) =>
  events.map((e) => `${e.name}@${e.blockNumber}${e.state ? `:${e.state}` : ""}`);
