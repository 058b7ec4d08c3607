/**
 * The few JSON-RPC calls the indexer makes, on raw JSON where the provider can `send` (every ethers
 * JsonRpcProvider, Hardhat's provider): building ethers' Log and Block objects for 100,000 logs costs
 * more than the rest of catch-up. Any other ethers Provider works through its typed methods.
 * Node errors become ENT_INDEXER_RPC with URLs redacted (an RPC URL often embeds an API key).
 */
import { toQuantity, type Provider } from "ethers";
import type { RawLog } from "./decode.js";
import { IndexerErrors } from "./errors.js";

export interface BlockHeader {
  number: bigint;
  hash: string;
  parentHash: string;
}

export type BlockTag = bigint | "latest" | "safe" | "finalized";

export interface LogQuery {
  address: string | string[];
  topics?: Array<string | null>;
}

interface Sender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

function hasSend(p: Provider): p is Provider & Sender {
  return typeof (p as Partial<Sender>).send === "function";
}

/** The message of a node error without URLs, for ENT_INDEXER_RPC and logs. */
export function redactedMessage(e: unknown): string {
  const m = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : String(e);
  return m.replace(/\b(?:https?|wss?):\/\/\S+/gi, "<url>").slice(0, 500);
}

/**
 * Whether a failed eth_getLogs means "ask for a smaller range": the wordings of geth, Erigon,
 * Infura (-32005 "query returned more than 10000 results"), Alchemy ("Log response size exceeded"),
 * QuickNode, Ankr and others. Anything else (a dropped connection) is not retried smaller.
 */
export function isTooManyResults(e: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [e];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || x === undefined || seen.has(x)) continue;
    seen.add(x);
    if (typeof x === "string") {
      if (TOO_MANY.test(x)) return true;
      continue;
    }
    if (typeof x !== "object") continue;
    const o = x as Record<string, unknown>;
    if (o["code"] === -32005) return true;
    for (const k of ["message", "shortMessage", "error", "info", "cause", "data", "body"]) if (k in o) stack.push(o[k]);
  }
  return false;
}
const TOO_MANY =
  /too many (results|logs|blocks)|more than \d[\d,]* (results|logs)|response size|range (is )?too (large|wide|big)|exceed(s|ed)? (the )?max(imum)? (block )?range|limited to (a )?[\d,]+|query timeout|log limit/i;

function quantity(tag: BlockTag): string {
  return typeof tag === "bigint" ? toQuantity(tag) : tag;
}

export class NodeClient {
  constructor(private readonly provider: Provider) {}

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isTooManyResults(e)) throw e; // handled by the caller, which shrinks the range
      throw IndexerErrors.rpc(`${what} failed: ${redactedMessage(e)}`, { details: { call: what } });
    }
  }

  async chainId(): Promise<bigint> {
    return this.call("eth_chainId", async () => (await this.provider.getNetwork()).chainId);
  }

  async blockNumber(): Promise<bigint> {
    return this.call("eth_blockNumber", async () => {
      if (hasSend(this.provider)) return BigInt((await this.provider.send("eth_blockNumber", [])) as string);
      return BigInt(await this.provider.getBlockNumber());
    });
  }

  /** The block header at a height or tag, or null when the node has no such block. */
  async block(tag: BlockTag): Promise<BlockHeader | null> {
    return this.call(`eth_getBlockByNumber(${String(tag)})`, async () => {
      if (hasSend(this.provider)) {
        const b = (await this.provider.send("eth_getBlockByNumber", [quantity(tag), false])) as {
          number: string;
          hash: string;
          parentHash: string;
        } | null;
        if (b === null || b.hash === null) return null;
        return { number: BigInt(b.number), hash: b.hash.toLowerCase(), parentHash: b.parentHash.toLowerCase() };
      }
      const b = await this.provider.getBlock(typeof tag === "bigint" ? Number(tag) : tag);
      if (b === null || b.hash === null) return null;
      return { number: BigInt(b.number), hash: b.hash.toLowerCase(), parentHash: b.parentHash.toLowerCase() };
    });
  }

  /** Headers of many heights, `concurrency` requests in flight (a JsonRpcProvider batches them). */
  async blocks(numbers: readonly bigint[], concurrency = 32): Promise<Map<bigint, BlockHeader | null>> {
    const out = new Map<bigint, BlockHeader | null>();
    for (let i = 0; i < numbers.length; i += concurrency) {
      const chunk = numbers.slice(i, i + concurrency);
      const got = await Promise.all(chunk.map((n) => this.block(n)));
      chunk.forEach((n, j) => out.set(n, got[j]!));
    }
    return out;
  }

  /** eth_getLogs over [from, to]; a "too many results" answer is thrown as is (see isTooManyResults). */
  async logs(from: bigint, to: bigint, q: LogQuery): Promise<RawLog[]> {
    return this.call("eth_getLogs", async () => {
      if (hasSend(this.provider)) {
        const filter: Record<string, unknown> = { fromBlock: toQuantity(from), toBlock: toQuantity(to), address: q.address };
        if (q.topics !== undefined) filter["topics"] = q.topics;
        const raw = (await this.provider.send("eth_getLogs", [filter])) as Array<{
          address: string;
          topics: string[];
          data: string;
          blockNumber: string;
          blockHash: string;
          transactionHash: string;
          logIndex: string;
        }>;
        return raw.map((l) => ({
          address: l.address,
          topics: l.topics,
          data: l.data,
          blockNumber: BigInt(l.blockNumber),
          blockHash: l.blockHash.toLowerCase(),
          transactionHash: l.transactionHash.toLowerCase(),
          logIndex: Number(l.logIndex),
        }));
      }
      const logs = await this.provider.getLogs({
        fromBlock: Number(from),
        toBlock: Number(to),
        address: q.address,
        ...(q.topics === undefined ? {} : { topics: q.topics }),
      });
      return logs.map((l) => ({
        address: l.address,
        topics: [...l.topics],
        data: l.data,
        blockNumber: BigInt(l.blockNumber),
        blockHash: l.blockHash.toLowerCase(),
        transactionHash: l.transactionHash.toLowerCase(),
        logIndex: l.index,
      }));
    });
  }
}
