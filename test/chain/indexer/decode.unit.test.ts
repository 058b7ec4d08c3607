/**
 * The log decoder on synthetic logs encoded by ethers: the word-by-word fast path (static
 * parameters) and the ethers fallback (dynamic parameters) give the documented string forms, a log
 * the ABI does not describe (or whose shape does not match it) is kept as "Unknown" with its raw
 * topics and data, and a log of an address outside the deployment is refused.
 */
import { describe, expect, it } from "vitest";
import { getAddress, Interface, keccak256, toUtf8Bytes } from "ethers";
import { LogDecoder, type RawLog } from "../../../service/chain/indexer/decode.js";
import type { DeploymentRecord } from "../../../service/chain/deployment-record.js";

const ANCHOR = getAddress("0x1000000000000000000000000000000000000001");
const VAULT = getAddress("0x2000000000000000000000000000000000000002");
const TOKEN = getAddress("0x3000000000000000000000000000000000000003");
const WHO = getAddress("0xabcdef0123456789abcdef0123456789abcdef01");

const anchorAbi = [
  "event Static(address indexed who, int24 delta, bool flag, bytes4 sel, uint96 amount, bytes32 indexed digest)",
  "event Dynamic(uint64 indexed id, string text, bytes blob, uint256[] amounts, string indexed tag, (address to, uint128 value) leg)",
];
const vaultAbi = ["event Funded(address indexed from, uint256 amount)"];
const record = {
  chainId: "31337",
  deployBlock: 1,
  deployBlockHash: `0x${"11".repeat(32)}`,
  token: { address: TOKEN, mock: false },
  contracts: {
    SettlementAnchor: { address: ANCHOR, codeHash: "0x", artifact: "", abi: anchorAbi },
    SettlementVault: { address: VAULT, codeHash: "0x", artifact: "", abi: vaultAbi },
  },
} as unknown as DeploymentRecord;

function log(address: string, iface: Interface, name: string, values: unknown[]): RawLog {
  const { data, topics } = iface.encodeEventLog(name, values);
  return { address, data, topics, blockNumber: 5n, blockHash: `0x${"22".repeat(32)}`, transactionHash: `0x${"33".repeat(32)}`, logIndex: 0 };
}

describe("LogDecoder", () => {
  const decoder = new LogDecoder(record);
  const anchor = new Interface(anchorAbi);
  const token = new Interface(["event Transfer(address indexed from, address indexed to, uint256 value)", "event Approval(address indexed owner, address indexed spender, uint256 value)"]);

  it("decodes static parameters word by word: checksummed addresses, signed and unsigned decimals, booleans, left-aligned bytesN", () => {
    const digest = keccak256(toUtf8Bytes("d"));
    const d = decoder.decode(log(ANCHOR.toLowerCase(), anchor, "Static", [WHO.toLowerCase(), -42, true, "0xDEADBEEF", (1n << 96n) - 1n, digest]));
    expect(d).toEqual({
      contract: "SettlementAnchor",
      address: ANCHOR,
      name: "Static",
      args: { who: WHO, delta: "-42", flag: "true", sel: "0xdeadbeef", amount: ((1n << 96n) - 1n).toString(), digest },
    });
  });

  it("decodes dynamic parameters through ethers: strings as is, bytes lowercase, arrays and tuples as JSON, indexed dynamics as their hash", () => {
    const d = decoder.decode(log(ANCHOR, anchor, "Dynamic", [7n, "Hello 0xAB", "0xABCD", [1n, 2n], "tag", [WHO.toLowerCase(), 9n]]));
    expect(d.name).toBe("Dynamic");
    expect(d.args).toEqual({
      id: "7",
      text: "Hello 0xAB",
      blob: "0xabcd",
      amounts: '["1","2"]',
      tag: keccak256(toUtf8Bytes("tag")),
      leg: JSON.stringify({ to: WHO, value: "9" }),
    });
  });

  it("decodes only Transfer of the token (from the built-in ERC-20 ABI when the token is not the mock)", () => {
    expect(decoder.decode(log(TOKEN, token, "Transfer", [VAULT, WHO, 5n]))).toEqual({
      contract: "Stablecoin",
      address: TOKEN,
      name: "Transfer",
      args: { from: VAULT, to: WHO, value: "5" },
    });
    expect(decoder.decode(log(TOKEN, token, "Approval", [VAULT, WHO, 5n])).name).toBe("Unknown");
  });

  it("keeps a log the ABI does not describe, or whose shape does not match it, as Unknown with its raw topics and data", () => {
    const unknown = decoder.decode({ ...log(VAULT, new Interface(vaultAbi), "Funded", [WHO, 1n]), topics: [keccak256(toUtf8Bytes("Other()"))], data: "0x" });
    expect(unknown).toEqual({ contract: "SettlementVault", address: VAULT, name: "Unknown", args: { topic0: keccak256(toUtf8Bytes("Other()")), data: "0x" } });
    const truncated = log(VAULT, new Interface(vaultAbi), "Funded", [WHO, 1n]);
    expect(decoder.decode({ ...truncated, data: truncated.data.slice(0, 10) }).name).toBe("Unknown");
    expect(decoder.decode({ ...truncated, topics: truncated.topics.slice(0, 1) }).name).toBe("Unknown");
  });

  it("refuses a log of an address outside the deployment", () => {
    expect(() => decoder.decode(log(WHO, new Interface(vaultAbi), "Funded", [WHO, 1n]))).toThrow(/outside the deployment/);
  });

  it("names the topic of an event for topic filters", () => {
    expect(decoder.topicOf("Stablecoin", "Transfer")).toBe(keccak256(toUtf8Bytes("Transfer(address,address,uint256)")));
    expect(() => decoder.topicOf("SettlementVault", "Nope")).toThrow();
  });
});
