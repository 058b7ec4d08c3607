/** Public API of the anchoring module (spec §3 of issue 4). */
export { AnchorErrors } from "./errors.js";
export { AnchorService, type AnchorServiceOptions, type BatchLeaf } from "./service.js";
export { stateOfStatus, type AnchorBatch, type BatchStatus } from "./store.js";
export { AnchorWorker, type AnchorIndex, type AnchorLog, type AnchorSender, type AnchorTickResult } from "./worker.js";
export {
  PROOF_FORMAT,
  PROOF_VERSION,
  journalFromJson,
  parseProof,
  verdictLine,
  verifyProof,
  withoutBatchTotals,
  type AnchorProof,
  type AnchorState,
  type ProofCheck,
  type ProofReport,
  type ProofVerdict,
  type VerifyOptions,
} from "./proof.js";
export * from "./leaf.js";
