/**
 * Errors of contract deployment (`ENT_CHAIN_DEPLOY_*`). Kept apart from the errors of the chain
 * service proper (anchoring, payouts, indexing) so the two can evolve without colliding.
 */
import { defineError } from "../errors.js";

export const DeployErrors = {
  /** The artifacts are missing or unusable: `npx hardhat build` was not run, or failed. */
  artifactMissing: defineError("ENT_CHAIN_DEPLOY_ARTIFACT_MISSING", 500, "Contract artifact missing"),
  /** An option of the deployment is invalid (an address, a role holder). */
  invalidOption: defineError("ENT_CHAIN_DEPLOY_INVALID_OPTION", 400, "Invalid deployment option"),
  /**
   * The recorded deployment does not match the chain (other code at an address, another chain
   * history) on a chain where redeploying silently would be wrong (anything not local).
   */
  recordMismatch: defineError("ENT_CHAIN_DEPLOY_RECORD_MISMATCH", 409, "Deployment record does not match the chain"),
  /** The deployment record file cannot be read or does not describe this chain. */
  recordInvalid: defineError("ENT_CHAIN_DEPLOY_RECORD_INVALID", 500, "Deployment record unreadable"),
  /** A deployment or role-granting transaction failed or did not produce what it should. */
  transactionFailed: defineError("ENT_CHAIN_DEPLOY_TX_FAILED", 502, "Deployment transaction failed"),
} as const;
