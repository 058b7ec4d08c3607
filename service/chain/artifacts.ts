/**
 * Reads Hardhat 3 artifacts straight from `artifacts/` so the service needs neither Hardhat nor
 * a code generator at run time: ethers only needs the ABI and the bytecode. Also the runtime-code
 * fingerprint that lets a deployment record be checked against what is really on chain.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { getBytes, hexlify, keccak256, type InterfaceAbi } from "ethers";
import { PROJECT_ROOT } from "../root.js";
import { DeployErrors } from "./deploy-errors.js";

/** The fields of a Hardhat 3 artifact (`hh3-artifact-1`) this module relies on. */
export interface ContractArtifact {
  readonly _format: string;
  readonly contractName: string;
  readonly sourceName: string;
  readonly abi: InterfaceAbi;
  readonly bytecode: string;
  readonly deployedBytecode: string;
  readonly linkReferences: Record<string, unknown>;
  readonly immutableReferences?: Record<string, ReadonlyArray<{ start: number; length: number }>>;
}

export { PROJECT_ROOT };
export const DEFAULT_ARTIFACTS_DIR = path.join(PROJECT_ROOT, "artifacts");

/** Where each deployable contract's source lives, relative to the project root. */
export const CONTRACT_SOURCES = {
  SettlementAnchor: "contracts/SettlementAnchor.sol",
  SettlementVault: "contracts/SettlementVault.sol",
  MockStablecoin: "contracts/mocks/MockStablecoin.sol",
} as const;
export type ContractName = keyof typeof CONTRACT_SOURCES;

export function artifactPath(name: ContractName, artifactsDir = DEFAULT_ARTIFACTS_DIR): string {
  return path.join(artifactsDir, CONTRACT_SOURCES[name], `${name}.json`);
}

export async function loadArtifact(name: ContractName, artifactsDir = DEFAULT_ARTIFACTS_DIR): Promise<ContractArtifact> {
  const file = artifactPath(name, artifactsDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw DeployErrors.artifactMissing(`artifact of ${name} not found at ${file}: run \`npx hardhat build\``, {
      details: { contract: name, file },
      cause,
    });
  }
  const artifact = JSON.parse(text) as ContractArtifact;
  if (artifact.contractName !== name || typeof artifact.bytecode !== "string" || !Array.isArray(artifact.abi)) {
    throw DeployErrors.artifactMissing(`${file} is not a Hardhat artifact of ${name}`, { details: { contract: name, file } });
  }
  // Unlinked libraries would leave `__$…$__` placeholders in the bytecode; our contracts link none.
  if (Object.keys(artifact.linkReferences).length > 0) {
    throw DeployErrors.artifactMissing(`${name} needs linked libraries, which this deployer does not support`, {
      details: { contract: name },
    });
  }
  return artifact;
}

/**
 * keccak256 of the runtime code with every immutable's bytes zeroed. Immutables (an EIP-712
 * domain separator cache, the token address of a vault) are written into the code by the
 * constructor, so the on-chain code never equals the artifact's `deployedBytecode` byte for byte;
 * the artifact leaves those ranges zero, and zeroing them on chain too makes the two comparable.
 */
export function runtimeCodeHash(code: string, artifact: Pick<ContractArtifact, "immutableReferences">): string {
  const bytes = getBytes(code).slice();
  for (const refs of Object.values(artifact.immutableReferences ?? {})) {
    for (const { start, length } of refs) {
      if (start + length <= bytes.length) bytes.fill(0, start, start + length);
    }
  }
  return keccak256(hexlify(bytes));
}

/** The fingerprint of the code a fresh deployment of `artifact` will leave on chain. */
export function artifactCodeHash(artifact: ContractArtifact): string {
  return runtimeCodeHash(artifact.deployedBytecode, artifact);
}
