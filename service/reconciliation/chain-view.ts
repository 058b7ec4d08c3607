/**
 * What reconciliation needs from the anchoring service (service/anchoring, spec §3): the
 * inclusion state of journal transactions, a queue for the run's report digest, and the proof of
 * that document. `AnchorService` satisfies it structurally; nothing else is assumed.
 */
import type { AnchorStateName } from "./rules.js";

export interface ChainView {
  /** Inclusion state by journal transaction id; a missing id is "unanchored". */
  statesOf(journalTransactionIds: readonly string[]): Promise<Map<string, { state: AnchorStateName; batchId: bigint | null }>>;
  /** Queue a document digest (bytes32 hex) for the next batch; idempotent by (kind, id). */
  enqueueDocument(doc: { kind: string; id: string; digest: string }): Promise<void>;
  /** The inclusion proof of a document (throws while it is not in a submitted batch). */
  proofOfDocument?(kind: string, id: string): Promise<unknown>;
  /**
   * Anchor batches, newest first. Optional: with it, a run derives the state of a million journal
   * transactions from the batches' journal ranges (a batch anchors the consecutive journal
   * sequences first..last, and a journal transaction's id is its sequence) instead of one lookup
   * per id; a sample is still checked against `statesOf`.
   */
  listBatches?(page: { limit?: number; before?: bigint }): Promise<{
    items: Array<{ batchId: bigint; firstSequence: bigint; lastSequence: bigint; journalCount: number; state: AnchorStateName }>;
    nextBefore: bigint | null;
  }>;
}

/** The document kind under which a run's report digest is anchored. */
export const REPORT_DOCUMENT_KIND = "reconciliation_report";
