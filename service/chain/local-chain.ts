/**
 * Which chains are development chains. Apart from the deployment record (which reads files) so that
 * the proof verifier, which also runs in the console's page, imports nothing of Node's.
 */

/** Chain ids of development chains (Hardhat, Ganache/anvil-style 1337): never worth committing. */
export const LOCAL_CHAIN_IDS: ReadonlySet<bigint> = new Set([31337n, 1337n]);
export function isLocalChain(chainId: bigint): boolean {
  return LOCAL_CHAIN_IDS.has(chainId);
}
