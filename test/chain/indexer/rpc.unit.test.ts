/**
 * Which node errors make the indexer ask for smaller log ranges, and that node errors never carry
 * an RPC URL (they often embed an API key) into ENT_INDEXER_RPC.
 */
import { describe, expect, it } from "vitest";
import { isTooManyResults, redactedMessage } from "../../../service/chain/indexer/rpc.js";

describe("isTooManyResults", () => {
  it.each([
    ["Infura", Object.assign(new Error("query returned more than 10000 results"), { code: -32005 })],
    ["Infura by code only", { error: { code: -32005, message: "limit exceeded" } }],
    ["Alchemy", new Error("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range")],
    ["QuickNode", new Error("eth_getLogs is limited to a 10,000 range")],
    ["geth-style", { info: { error: { message: "exceed maximum block range: 5000" } } }],
    ["Ankr", { error: { message: "block range is too wide" } }],
    ["Erigon", new Error("too many logs in range")],
    ["wrapped by ethers", { shortMessage: "could not coalesce error", error: { message: "query timeout exceeded" } }],
  ])("recognises %s", (_name, e) => {
    expect(isTooManyResults(e)).toBe(true);
  });

  it.each([
    ["a refused connection", new Error("connect ECONNREFUSED 127.0.0.1:8545")],
    ["a rate limit", new Error("429 Too Many Requests: rate limit exceeded")],
    ["a bad request", { error: { code: -32602, message: "invalid argument 0: hex string without 0x prefix" } }],
  ])("does not mistake %s for it", (_name, e) => {
    expect(isTooManyResults(e)).toBe(false);
  });
});

describe("redactedMessage", () => {
  it("removes URLs (and the API keys in them) from node errors", () => {
    const e = new Error('server response 500 (request={ }, info={ "requestUrl": "https://eth-mainnet.g.alchemy.com/v2/SECRETKEY" })');
    expect(redactedMessage(e)).not.toContain("SECRETKEY");
    expect(redactedMessage(e)).toContain("<url>");
    expect(redactedMessage({ toString: () => "wss://node.example/ws?key=SECRET failed" })).toBe("<url> failed");
  });
});
