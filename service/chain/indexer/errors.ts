/**
 * Errors of the event indexer (`ENT_INDEXER_*`). The indexer is a background worker: none of these
 * reach a client directly, but each names the condition an operator has to act on.
 */
import { defineError } from "../../errors.js";

export const IndexerErrors = {
  /**
   * The node's chain no longer contains a block the index holds as final (a reorg deeper than the
   * finality depth, or a chain that was reset under a non-local deployment). The indexer stops
   * rather than rewrite what it already reported as final.
   */
  reorgBeyondFinality: defineError("ENT_INDEXER_REORG_BEYOND_FINALITY", 500, "Reorganisation deeper than finality"),
  /** The provider serves another chain than the deployment record's. */
  chainMismatch: defineError("ENT_INDEXER_CHAIN_MISMATCH", 500, "Provider is on another chain"),
  /** The deployment record does not describe this chain (its deploy block hash is not the node's). */
  deploymentMismatch: defineError("ENT_INDEXER_DEPLOYMENT_MISMATCH", 500, "Deployment record does not match the chain"),
  /** A JSON-RPC call failed, or the node's answer was malformed or kept changing under the indexer. */
  rpc: defineError("ENT_INDEXER_RPC", 502, "Chain node request failed"),
  /** Another indexer moved the same cursor while this one was ingesting (the next poll resumes from it). */
  cursorMoved: defineError("ENT_INDEXER_CURSOR_MOVED", 409, "Index cursor moved concurrently"),
  /** The stored index contradicts itself (a row that should not exist); never repaired silently. */
  inconsistent: defineError("ENT_INDEXER_INCONSISTENT", 500, "Event index inconsistent"),
  /** An option of the indexer is invalid (depths, range size, interval). */
  invalidOption: defineError("ENT_INDEXER_INVALID_OPTION", 400, "Invalid indexer option"),
} as const;
