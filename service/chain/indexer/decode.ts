/**
 * Log decoding from the deployment record's ABIs. Every event of our contracts has only static
 * elementary parameters (address, uintN, intN, bool, bytesN), so a log decodes word by word without
 * ethers' generic ABI coder, which is several times slower and dominated catch-up time; an event with
 * any other parameter type (none today) goes through ethers' `Interface.parseLog`. Both paths give
 * the same strings (checked in test/chain/indexer/decode.unit.test.ts).
 */
import { getAddress, Indexed, Interface, type EventFragment, type InterfaceAbi, type ParamType } from "ethers";
import { STABLECOIN_ABI } from "../contracts.js";
import type { DeploymentRecord } from "../deployment-record.js";
import type { IndexedContract } from "./types.js";

/** A log as eth_getLogs returns it, numbers already parsed. */
export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: bigint;
  blockHash: string;
  transactionHash: string;
  logIndex: number;
}

export interface DecodedLog {
  contract: IndexedContract;
  address: string;
  name: string;
  args: Record<string, string>;
}

type WordDecoder = (word: string) => string;

interface EventDecoder {
  name: string;
  /** Per parameter: where it is (topic index, or data word index) and how to read it. */
  fast: Array<{ name: string; topic: number; word: number; read: WordDecoder }> | null;
  topics: number;
  dataWords: number;
  fragment: EventFragment;
  iface: Interface;
}

const checksummed = new Map<string, string>();
/** Checksummed address from 40 lowercase hex chars; cached, since sellers and the vault repeat. */
function address(hex40: string): string {
  let a = checksummed.get(hex40);
  if (a === undefined) {
    a = getAddress(`0x${hex40}`);
    if (checksummed.size < 100_000) checksummed.set(hex40, a);
  }
  return a;
}

function wordReader(p: ParamType): WordDecoder | null {
  const t = p.type;
  if (t === "address") return (w) => address(w.slice(24).toLowerCase());
  if (t === "bool") return (w) => (BigInt(`0x${w}`) === 0n ? "false" : "true");
  let m = /^uint(\d+)$/.exec(t);
  if (m) return (w) => BigInt(`0x${w}`).toString();
  m = /^int(\d+)$/.exec(t);
  if (m) {
    const bits = Number(m[1]);
    return (w) => BigInt.asIntN(bits, BigInt(`0x${w}`)).toString();
  }
  m = /^bytes(\d+)$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    return (w) => `0x${w.slice(0, 2 * n).toLowerCase()}`;
  }
  return null;
}

function eventDecoder(iface: Interface, fragment: EventFragment): EventDecoder {
  let topic = 1;
  let word = 0;
  let fast: EventDecoder["fast"] = [];
  for (const p of fragment.inputs) {
    const read = wordReader(p);
    if (read === null) {
      fast = null;
      break;
    }
    if (p.indexed) fast.push({ name: p.name, topic: topic++, word: -1, read });
    else fast.push({ name: p.name, topic: -1, word: word++, read });
  }
  return { name: fragment.name, fast, topics: topic, dataWords: word, fragment, iface };
}

/** ethers' value of a decoded parameter as our string form (only for the non-static fallback). */
function stringify(v: unknown, p: ParamType): string {
  const plain = (x: unknown, t: ParamType): unknown => {
    if (Indexed.isIndexed(x)) return x.hash?.toLowerCase() ?? null; // an indexed dynamic value: only its hash is on chain
    if (t.isArray()) return (x as unknown[]).map((y) => plain(y, t.arrayChildren));
    if (t.isTuple()) return Object.fromEntries(t.components.map((c, i) => [c.name || String(i), plain((x as unknown[])[i], c)]));
    if (t.baseType === "address") return getAddress(x as string);
    if (typeof x === "bigint") return x.toString();
    if (typeof x === "boolean") return x ? "true" : "false";
    if (t.baseType === "string") return x;
    return (x as string).toLowerCase(); // bytes, bytesN
  };
  const out = plain(v, p);
  return typeof out === "string" ? out : JSON.stringify(out);
}

export class LogDecoder {
  /** Lowercase address -> (topic0 -> decoder). */
  private readonly byAddress = new Map<string, { contract: IndexedContract; events: Map<string, EventDecoder> }>();

  constructor(record: DeploymentRecord) {
    const token = record.token.mock ? record.contracts.MockStablecoin?.abi : undefined;
    this.add("SettlementAnchor", record.contracts.SettlementAnchor.address, record.contracts.SettlementAnchor.abi);
    this.add("SettlementVault", record.contracts.SettlementVault.address, record.contracts.SettlementVault.abi);
    // Only the token's Transfer is ingested (topic-filtered on the vault); nothing else is decoded.
    this.add("Stablecoin", record.token.address, token ?? STABLECOIN_ABI, ["Transfer"]);
  }

  private add(contract: IndexedContract, addr: string, abi: InterfaceAbi, only?: string[]): void {
    const iface = new Interface(abi);
    const events = new Map<string, EventDecoder>();
    iface.forEachEvent((f) => {
      if (only === undefined || only.includes(f.name)) events.set(f.topicHash, eventDecoder(iface, f));
    });
    this.byAddress.set(addr.toLowerCase(), { contract, events });
  }

  /** topic0 of an event of a contract (for topic filters). */
  topicOf(contract: IndexedContract, name: string): string {
    for (const c of this.byAddress.values()) {
      if (c.contract !== contract) continue;
      for (const [topic, d] of c.events) if (d.name === name) return topic;
    }
    throw new Error(`no event ${name} in the ABI of ${contract}`);
  }

  /**
   * Decodes a log of one of the deployment's contracts. A log the ABI does not describe (or whose
   * shape does not match it) is kept, not dropped, as name "Unknown" with its raw topics and data:
   * the index mirrors the chain, and a consumer can see that something unexpected was emitted.
   */
  decode(log: RawLog): DecodedLog {
    const c = this.byAddress.get(log.address.toLowerCase());
    if (c === undefined) throw new Error(`log of an address outside the deployment: ${log.address}`);
    const addr = address(log.address.slice(2).toLowerCase());
    const d = log.topics[0] === undefined ? undefined : c.events.get(log.topics[0].toLowerCase());
    const args = d === undefined ? null : decodeArgs(d, log);
    if (d === undefined || args === null) {
      const raw: Record<string, string> = { data: log.data.toLowerCase() };
      log.topics.forEach((t, i) => (raw[`topic${i}`] = t.toLowerCase()));
      return { contract: c.contract, address: addr, name: "Unknown", args: raw };
    }
    return { contract: c.contract, address: addr, name: d.name, args };
  }
}

function decodeArgs(d: EventDecoder, log: RawLog): Record<string, string> | null {
  if (d.fast !== null) {
    const data = log.data.startsWith("0x") ? log.data.slice(2) : log.data;
    if (log.topics.length !== d.topics || data.length !== d.dataWords * 64) return null;
    const args: Record<string, string> = {};
    for (const p of d.fast) {
      const w = p.topic >= 0 ? log.topics[p.topic]!.slice(2) : data.slice(p.word * 64, p.word * 64 + 64);
      args[p.name] = p.read(w);
    }
    return args;
  }
  try {
    const parsed = d.iface.decodeEventLog(d.fragment, log.data, log.topics);
    const args: Record<string, string> = {};
    d.fragment.inputs.forEach((p, i) => (args[p.name] = stringify(parsed[i], p)));
    return args;
  } catch {
    return null;
  }
}
