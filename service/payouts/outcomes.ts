/**
 * What the vault's logs say about a batch, without I/O: which `PayoutBatchExecuted` is this batch's
 * execution, and the outcome of each payout in the executing transaction. The executor follows
 * whatever these functions match, and books nothing they call a mismatch.
 */
import { sameAddress } from "../chain/address.js";
import type { IndexedEvent } from "../chain/indexer/types.js";
import type { Payout, PayoutBatch, PayoutOutcome } from "./types.js";

/** A `PayoutBatchExecuted` of this batch: same vault, batch id, first id, count and payoutsHash. */
export function isExecutionOf(batch: Pick<PayoutBatch, "id" | "vault" | "firstPayoutId" | "count" | "payoutsHash">, e: IndexedEvent): boolean {
  return (
    e.contract === "SettlementVault" &&
    e.name === "PayoutBatchExecuted" &&
    sameAddress(e.address, batch.vault) &&
    e.args["batchId"] === batch.id.toString() &&
    e.args["firstPayoutId"] === batch.firstPayoutId.toString() &&
    e.args["count"] === String(batch.count) &&
    (e.args["payoutsHash"] ?? "").toLowerCase() === batch.payoutsHash.toLowerCase()
  );
}

export type PayoutOutcomes = Map<bigint, { outcome: PayoutOutcome; logIndex: number | null }>;

/**
 * Per-payout outcome from the logs of the executing transaction (`txLogs`: every indexed log of
 * `executed.txHash`; those of the same block before `executed` are read). `PayoutDeferred` names
 * its id; every other payout was paid; the totals must equal the event's `paidTotal` and
 * `deferredTotal`. When the index holds the token's Transfer logs too, the i-th per-payout log
 * (Transfer from the vault, or PayoutDeferred) before PayoutBatchExecuted must be payout
 * `firstPayoutId + i`, which cross-checks seller and amount of every payout.
 */
export function matchOutcomes(
  batch: Pick<PayoutBatch, "id" | "vault">,
  payouts: readonly Pick<Payout, "id" | "address" | "tokenAmount">[],
  executed: IndexedEvent,
  txLogs: readonly IndexedEvent[],
): { outcomes: PayoutOutcomes } | { mismatch: string } {
  const ev = executed;
  const logs = txLogs.filter((l) => l.blockHash === ev.blockHash && l.logIndex < ev.logIndex);
  const isDeferred = (l: IndexedEvent) =>
    l.contract === "SettlementVault" && l.name === "PayoutDeferred" && sameAddress(l.address, batch.vault) && l.args["batchId"] === batch.id.toString();
  const isPush = (l: IndexedEvent) => l.contract === "Stablecoin" && l.name === "Transfer" && sameAddress(l.args["from"] ?? "", batch.vault);
  const byId = new Map(payouts.map((p) => [p.id, p]));
  const deferred = new Map<bigint, IndexedEvent>();
  for (const l of logs.filter(isDeferred)) {
    const id = BigInt(l.args["payoutId"] ?? "-1");
    const p = byId.get(id);
    if (p === undefined || !sameAddress(l.args["seller"] ?? "", p.address) || l.args["amount"] !== p.tokenAmount.toString()) {
      return { mismatch: `PayoutDeferred for payout ${id} does not match the recorded payout` };
    }
    deferred.set(id, l);
  }
  let paidTotal = 0n;
  let deferredTotal = 0n;
  for (const p of payouts) {
    if (deferred.has(p.id)) deferredTotal += p.tokenAmount;
    else paidTotal += p.tokenAmount;
  }
  if (ev.args["paidTotal"] !== paidTotal.toString() || ev.args["deferredTotal"] !== deferredTotal.toString()) {
    return { mismatch: `totals differ: chain paid ${ev.args["paidTotal"]} deferred ${ev.args["deferredTotal"]}, recorded paid ${paidTotal} deferred ${deferredTotal}` };
  }
  const outcomes: PayoutOutcomes = new Map();
  const sequence = logs.filter((l) => isDeferred(l) || isPush(l)).sort((a, b) => a.logIndex - b.logIndex);
  const ordered = sequence.length === payouts.length;
  for (const [i, p] of payouts.entries()) {
    const l = ordered ? sequence[i]! : (deferred.get(p.id) ?? null);
    if (ordered && l !== null) {
      const ok = isDeferred(l)
        ? l.args["payoutId"] === p.id.toString()
        : !deferred.has(p.id) && sameAddress(l.args["to"] ?? "", p.address) && l.args["value"] === p.tokenAmount.toString();
      if (!ok) return { mismatch: `log ${l.logIndex} of ${ev.txHash} is not payout ${p.id} (firstPayoutId + ${i})` };
    }
    outcomes.set(p.id, { outcome: deferred.has(p.id) ? "deferred" : "paid", logIndex: l?.logIndex ?? null });
  }
  return { outcomes };
}
