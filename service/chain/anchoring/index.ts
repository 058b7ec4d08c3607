/** Public API of the anchoring module (spec §3 of issue 4). */
export { AnchorErrors } from "./errors.js";
export {
  AnchorService,
  stateOfStatus,
  type AnchorBatch,
  type AnchorIndex,
  type AnchorLog,
  type AnchorSender,
  type AnchorServiceOptions,
  type AnchorSettlementSource,
  type AnchorTickResult,
  type BatchStatus,
} from "./service.js";
export {
  PROOF_FORMAT,
  PROOF_VERSION,
  journalFromJson,
  journalToJson,
  parseProof,
  verifyProof,
  type AnchorProof,
  type AnchorState,
  type JournalTransactionJson,
  type ProofCheck,
  type ProofReport,
  type VerifyOptions,
} from "./proof.js";
export * from "./leaf.js";
