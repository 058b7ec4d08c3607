/**
 * Folds the steps of one poll (rollbacks, ingested ranges, promotions; possibly retried when the
 * node changed under the indexer) into one IndexerChange that a consumer can apply as "removed
 * first, then changed": an event ingested and rolled back within the same poll was never reported
 * and is not reported at all; an event reported before and rolled back now is in `removed`.
 */
import { byChainOrder } from "./store.js";
import type { IndexedEvent, IndexerChange } from "./types.js";

const key = (e: IndexedEvent) => `${e.txHash}:${e.logIndex}`;

export class ChangeAccumulator {
  /** key -> latest version, and whether the event is new in this poll (unknown to consumers). */
  private readonly changed = new Map<string, { event: IndexedEvent; fresh: boolean }>();
  private readonly removed: IndexedEvent[] = [];

  constructor(private readonly chainId: bigint) {}

  /** Events inserted (`fresh`) or whose state changed. */
  add(events: readonly IndexedEvent[], fresh: boolean): void {
    for (const e of events) {
      const k = key(e);
      const prior = this.changed.get(k);
      const samePrior = prior !== undefined && prior.event.blockHash === e.blockHash;
      // A re-included log (same key, new block) stays "changed" as its new version; its old
      // version is in `removed` already (rollbacks come before re-ingestion).
      this.changed.set(k, { event: e, fresh: samePrior ? prior.fresh : fresh });
    }
  }

  remove(events: readonly IndexedEvent[]): void {
    for (const e of events) {
      const k = key(e);
      const prior = this.changed.get(k);
      if (prior !== undefined && prior.event.blockHash === e.blockHash) {
        this.changed.delete(k);
        if (prior.fresh) continue; // never reported: nothing to take back
      }
      this.removed.push(e);
    }
  }

  get empty(): boolean {
    return this.changed.size === 0 && this.removed.length === 0;
  }

  result(): IndexerChange {
    return {
      chainId: this.chainId,
      changed: [...this.changed.values()].map((c) => c.event).sort(byChainOrder),
      removed: [...this.removed].sort(byChainOrder),
    };
  }
}
