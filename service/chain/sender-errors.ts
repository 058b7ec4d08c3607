/**
 * Errors of the transaction sender, its keys and the local node (`ENT_CHAIN_*`). No message or
 * detail of these errors ever carries a private key: key errors name the configuration variable.
 */
import { defineError } from "../errors.js";

export const ChainErrors = {
  /** A submit reused a key already recorded for another sender, target or calldata. */
  txKeyConflict: defineError("ENT_CHAIN_TX_KEY_CONFLICT", 409, "Transaction key already used for another transaction"),
  /** A field of a submitted intent is malformed (key, purpose, address, calldata, gas limit). */
  txInvalid: defineError("ENT_CHAIN_TX_INVALID", 400, "Invalid transaction intent"),
  /** The intent's `from` is not one of the keys this process may send from. */
  txUnknownSender: defineError("ENT_CHAIN_TX_UNKNOWN_SENDER", 400, "No key for the sending address"),
  /** Gas estimation says the transaction would revert; nothing was recorded or sent. */
  txWouldRevert: defineError("ENT_CHAIN_TX_WOULD_REVERT", 422, "Transaction would revert"),
  /** The JSON-RPC endpoint failed before anything was recorded (estimation, fees, nonce); retry later. */
  rpcUnavailable: defineError("ENT_CHAIN_RPC_UNAVAILABLE", 503, "Chain RPC endpoint unavailable"),
  /** The provider is connected to another chain than the one configured. */
  wrongChain: defineError("ENT_CHAIN_WRONG_CHAIN", 500, "Provider is on another chain"),
  /** The node is on another chain (genesis) than the one the database's transactions were sent on. */
  chainReset: defineError("ENT_CHAIN_RESET", 409, "Chain differs from the one the records belong to"),
  /** A sender option is out of range (fee bump below what nodes accept, negative delay). */
  senderOption: defineError("ENT_CHAIN_SENDER_OPTION", 500, "Invalid transaction sender option"),
  /** A configured private key is not a valid secp256k1 key (the message names the variable only). */
  keyInvalid: defineError("ENT_CHAIN_KEY_INVALID", 500, "Invalid private key in configuration"),
  /** A sending key is required on this chain and none is configured. */
  keyMissing: defineError("ENT_CHAIN_KEY_MISSING", 500, "Private key missing from configuration"),
  /** A public development key was requested or configured on a chain that is not local. */
  devKeyRefused: defineError("ENT_CHAIN_DEV_KEY_REFUSED", 500, "Development key refused on a non-local chain"),
  /** `hardhat node` did not start or answer JSON-RPC in time. */
  localNodeFailed: defineError("ENT_CHAIN_LOCAL_NODE_FAILED", 500, "Local chain node failed to start"),
  /** The port asked of `hardhat node` is taken (its listen failed): nothing of ours runs there. */
  localNodePortInUse: defineError("ENT_CHAIN_LOCAL_NODE_PORT_IN_USE", 500, "Local chain node port already in use"),
} as const;
