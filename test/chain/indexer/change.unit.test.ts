/**
 * Folding one poll's steps into one change that consumers apply as "removed, then changed".
 */
import { describe, expect, it } from "vitest";
import { ChangeAccumulator } from "../../../service/chain/indexer/change.js";
import type { IndexedEvent } from "../../../service/chain/indexer/index.js";

const ev = (tx: string, block: bigint, hash: string, state: IndexedEvent["state"] = "observed", logIndex = 0): IndexedEvent => ({
  chainId: 31337n,
  txHash: tx,
  logIndex,
  blockNumber: block,
  blockHash: hash,
  address: "0x0000000000000000000000000000000000000001",
  contract: "SettlementAnchor",
  name: "BatchAnchored",
  args: {},
  state,
});

describe("ChangeAccumulator", () => {
  it("orders both lists by block then log index", () => {
    const acc = new ChangeAccumulator(31337n);
    acc.add([ev("0xb", 9n, "0x9"), ev("0xa", 3n, "0x3", "observed", 2), ev("0xc", 3n, "0x3", "observed", 1)], true);
    expect(acc.result().changed.map((e) => e.txHash)).toEqual(["0xc", "0xa", "0xb"]);
  });

  it("keeps the latest state of an event changed twice", () => {
    const acc = new ChangeAccumulator(31337n);
    acc.add([ev("0xa", 3n, "0x3", "observed")], true);
    acc.add([ev("0xa", 3n, "0x3", "safe")], false);
    expect(acc.result().changed.map((e) => e.state)).toEqual(["safe"]);
  });

  it("drops an event ingested and rolled back within the poll: consumers never saw it", () => {
    const acc = new ChangeAccumulator(31337n);
    acc.add([ev("0xa", 3n, "0x3")], true);
    acc.remove([ev("0xa", 3n, "0x3")]);
    expect(acc.result()).toEqual({ chainId: 31337n, changed: [], removed: [] });
    expect(acc.empty).toBe(true);
  });

  it("reports a known event promoted then rolled back as removed only", () => {
    const acc = new ChangeAccumulator(31337n);
    acc.add([ev("0xa", 3n, "0x3", "safe")], false);
    acc.remove([ev("0xa", 3n, "0x3", "safe")]);
    expect(acc.result()).toEqual({ chainId: 31337n, changed: [], removed: [ev("0xa", 3n, "0x3", "safe")] });
  });

  it("reports a re-included log in both lists: the old block in removed, the new one in changed", () => {
    const acc = new ChangeAccumulator(31337n);
    acc.remove([ev("0xa", 3n, "0x3")]);
    acc.add([ev("0xa", 5n, "0x5")], true);
    expect(acc.result()).toEqual({ chainId: 31337n, changed: [ev("0xa", 5n, "0x5")], removed: [ev("0xa", 3n, "0x3")] });
  });
});
