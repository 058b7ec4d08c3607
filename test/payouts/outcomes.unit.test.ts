/**
 * Reading a batch's outcome from the vault's logs without a chain (service/payouts/outcomes.ts):
 * which PayoutBatchExecuted is the batch's execution, and each payout's outcome, cross-checked
 * against the per-payout logs; anything that does not match is a mismatch, never an outcome.
 */
import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import type { IndexedEvent } from "../../service/chain/indexer/types.js";
import { isExecutionOf, matchOutcomes } from "../../service/payouts/outcomes.js";

const VAULT = new Wallet(`0x${"0a".repeat(32)}`).address;
const [A, B, C] = [1, 2, 3].map((i) => new Wallet(`0x${i.toString(16).padStart(64, "0")}`).address) as [string, string, string];
const TX = `0x${"ab".repeat(32)}`;
const BLOCK = `0x${"cd".repeat(32)}`;
const HASH = `0x${"ef".repeat(32)}`;

const batch = { id: 7n, vault: VAULT, firstPayoutId: 20n, count: 3, payoutsHash: HASH };
const payouts = [
  { id: 20n, address: A, tokenAmount: 100n },
  { id: 21n, address: B, tokenAmount: 200n },
  { id: 22n, address: C, tokenAmount: 300n },
];

function log(logIndex: number, contract: IndexedEvent["contract"], name: string, args: Record<string, string>, over: Partial<IndexedEvent> = {}): IndexedEvent {
  return { chainId: 31337n, txHash: TX, logIndex, blockNumber: 10n, blockHash: BLOCK, address: contract === "Stablecoin" ? C : VAULT, contract, name, args, state: "observed", ...over };
}
const push = (i: number, to: string, value: bigint) => log(i, "Stablecoin", "Transfer", { from: VAULT, to, value: value.toString() });
const deferred = (i: number, payoutId: bigint, seller: string, amount: bigint) =>
  log(i, "SettlementVault", "PayoutDeferred", { batchId: "7", payoutId: payoutId.toString(), seller, amount: amount.toString() });
const executed = (i: number, paid: bigint, deferredTotal: bigint, over: Partial<IndexedEvent> = {}) =>
  log(i, "SettlementVault", "PayoutBatchExecuted", { batchId: "7", firstPayoutId: "20", count: "3", paidTotal: paid.toString(), deferredTotal: deferredTotal.toString(), payoutsHash: HASH.toUpperCase().replace("0X", "0x") }, over);

describe("the batch's execution", () => {
  it("is the PayoutBatchExecuted of the same vault, batch id, first id, count and payoutsHash", () => {
    expect(isExecutionOf(batch, executed(9, 600n, 0n))).toBe(true);
    expect(isExecutionOf(batch, executed(9, 600n, 0n, { address: A }))).toBe(false);
    expect(isExecutionOf({ ...batch, firstPayoutId: 21n }, executed(9, 600n, 0n))).toBe(false);
    expect(isExecutionOf({ ...batch, count: 2 }, executed(9, 600n, 0n))).toBe(false);
    expect(isExecutionOf({ ...batch, payoutsHash: `0x${"00".repeat(32)}` }, executed(9, 600n, 0n))).toBe(false);
    expect(isExecutionOf({ ...batch, id: 8n }, executed(9, 600n, 0n))).toBe(false);
  });
});

describe("each payout's outcome", () => {
  it("reads paid and deferred payouts, each matched to its log in order", () => {
    const ev = executed(9, 400n, 200n);
    const logs = [push(5, A, 100n), deferred(6, 21n, B, 200n), push(7, C, 300n), ev];
    const r = matchOutcomes(batch, payouts, ev, logs);
    expect(r).toEqual({
      outcomes: new Map([
        [20n, { outcome: "paid", logIndex: 5 }],
        [21n, { outcome: "deferred", logIndex: 6 }],
        [22n, { outcome: "paid", logIndex: 7 }],
      ]),
    });
  });

  it("without the token's logs, trusts PayoutDeferred and the totals (paid payouts get no log index)", () => {
    const ev = executed(9, 400n, 200n);
    const r = matchOutcomes(batch, payouts, ev, [deferred(6, 21n, B, 200n), ev]);
    expect(r).toEqual({
      outcomes: new Map([
        [20n, { outcome: "paid", logIndex: null }],
        [21n, { outcome: "deferred", logIndex: 6 }],
        [22n, { outcome: "paid", logIndex: null }],
      ]),
    });
  });

  it("ignores logs after the event, and logs of the same transaction in another (reorged) block", () => {
    const ev = executed(9, 600n, 0n);
    const stale = deferred(6, 21n, B, 200n);
    stale.blockHash = `0x${"99".repeat(32)}`;
    const r = matchOutcomes(batch, payouts, ev, [push(5, A, 100n), stale, push(7, B, 200n), push(8, C, 300n), ev, deferred(10, 22n, C, 300n)]);
    expect("outcomes" in r && [...r.outcomes.values()].map((o) => o.outcome)).toEqual(["paid", "paid", "paid"]);
  });

  it("calls a PayoutDeferred with another seller or amount a mismatch", () => {
    const ev = executed(9, 400n, 200n);
    expect(matchOutcomes(batch, payouts, ev, [deferred(6, 21n, A, 200n), ev])).toEqual({ mismatch: "PayoutDeferred for payout 21 does not match the recorded payout" });
    expect(matchOutcomes(batch, payouts, ev, [deferred(6, 21n, B, 201n), ev])).toEqual({ mismatch: "PayoutDeferred for payout 21 does not match the recorded payout" });
    expect(matchOutcomes(batch, payouts, ev, [deferred(6, 99n, B, 200n), ev])).toEqual({ mismatch: "PayoutDeferred for payout 99 does not match the recorded payout" });
  });

  it("calls totals that differ from the recorded payouts a mismatch", () => {
    const ev = executed(9, 599n, 0n);
    expect(matchOutcomes(batch, payouts, ev, [ev])).toEqual({ mismatch: "totals differ: chain paid 599 deferred 0, recorded paid 600 deferred 0" });
  });

  it("calls a per-payout log out of order a mismatch (payout firstPayoutId + i must be the i-th log)", () => {
    const ev = executed(9, 600n, 0n);
    const r = matchOutcomes(batch, payouts, ev, [push(5, B, 200n), push(6, A, 100n), push(7, C, 300n), ev]);
    expect(r).toEqual({ mismatch: `log 5 of ${TX} is not payout 20 (firstPayoutId + 0)` });
  });
});
