/** Errors of the anchoring module (`ENT_ANCHOR_*`). */
import { defineError } from "../errors.js";

export const AnchorErrors = {
  /** The journal transaction or document is not (yet) in a submitted batch; `details.state` says where it is. */
  notAnchored: defineError("ENT_ANCHOR_NOT_ANCHORED", 409, "Not anchored yet"),
  /** No such journal transaction or queued document. */
  notFound: defineError("ENT_ANCHOR_NOT_FOUND", 404, "Nothing anchored under this id"),
  /** A document id was queued before with another digest. */
  documentConflict: defineError("ENT_ANCHOR_DOCUMENT_CONFLICT", 409, "Document already queued with another digest"),
  /** A document, batch id or option is malformed. */
  invalid: defineError("ENT_ANCHOR_INVALID", 400, "Invalid anchoring request"),
  /**
   * The database and the chain disagree about the anchored batches (a batch on chain the database
   * does not know, another root under one of our ids, a final batch missing on chain): anchoring
   * stops rather than number or chain batches wrongly.
   */
  chainMismatch: defineError("ENT_ANCHOR_CHAIN_MISMATCH", 500, "Anchored batches disagree with the chain"),
  /** A batch's anchoring transaction reverted; anchoring stops until an operator looks. */
  batchReverted: defineError("ENT_ANCHOR_BATCH_REVERTED", 500, "Anchoring transaction reverted"),
  /** The service runs without a chain (no CHAIN_RPC_URL): there is nothing to prove against. */
  unavailable: defineError("ENT_ANCHOR_UNAVAILABLE", 503, "Anchoring is not configured"),
} as const;
