/**
 * The deployment record: the one file the service reads to find the contracts on a chain
 * (`deployments/<chainId>.json`, or `deployments/local-<chainId>.json` for dev chains so that
 * machine-local deployments stay out of git). ABIs are embedded so a reader needs nothing else.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, type InterfaceAbi } from "ethers";
import { PROJECT_ROOT, type ContractName } from "./artifacts.js";
import { DeployErrors } from "./deploy-errors.js";

export const DEFAULT_DEPLOYMENTS_DIR = path.join(PROJECT_ROOT, "deployments");
export const RECORD_FORMAT = "entrepot-deployment-1";

import { isLocalChain } from "./local-chain.js";

export { isLocalChain, LOCAL_CHAIN_IDS } from "./local-chain.js";

export type RoleName = "admin" | "anchorer" | "payer" | "signer" | "pauser";
export const ROLE_NAMES: readonly RoleName[] = ["admin", "anchorer", "payer", "signer", "pauser"];
export type RoleHolders = Record<RoleName, string>;

export interface DeployedContract {
  address: string;
  /** Runtime code fingerprint with immutables masked (see `runtimeCodeHash`). */
  codeHash: string;
  /** Artifact the contract was deployed from, relative to the project root. */
  artifact: string;
  abi: InterfaceAbi;
}

export interface DeploymentRecord {
  format: typeof RECORD_FORMAT;
  /** Decimal string: chain ids can exceed 2^53. */
  chainId: string;
  network: string;
  deployer: string;
  /** First block of the deployment: where an event indexer starts. */
  deployBlock: number;
  /** Hash of `deployBlock`: tells this chain from a reset one that re-reached the same height. */
  deployBlockHash: string;
  deployedAt: string;
  /** The payout token; `mock` is true when this deployment created it (local chains only). */
  token: { address: string; mock: boolean };
  contracts: Partial<Record<ContractName, DeployedContract>> & Record<"SettlementAnchor" | "SettlementVault", DeployedContract>;
  roles: RoleHolders;
}

export function recordFileName(chainId: bigint): string {
  return isLocalChain(chainId) ? `local-${chainId}.json` : `${chainId}.json`;
}

export function recordPath(chainId: bigint, dir = DEFAULT_DEPLOYMENTS_DIR): string {
  return path.join(dir, recordFileName(chainId));
}

/** The record for `chainId`, or undefined when there is none; a corrupt file is an error, never "none". */
export async function readRecord(chainId: bigint, dir = DEFAULT_DEPLOYMENTS_DIR): Promise<DeploymentRecord | undefined> {
  const file = recordPath(chainId, dir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw DeployErrors.recordInvalid(`cannot read ${file}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw DeployErrors.recordInvalid(`${file} is not JSON`, { cause });
  }
  return validateRecord(parsed, chainId, file);
}

function validateRecord(x: unknown, chainId: bigint, file: string): DeploymentRecord {
  const bad = (what: string) => DeployErrors.recordInvalid(`${file}: ${what}`, { details: { file } });
  if (x === null || typeof x !== "object") throw bad("not an object");
  const r = x as Partial<DeploymentRecord>;
  if (r.format !== RECORD_FORMAT) throw bad(`format is not ${RECORD_FORMAT}`);
  if (r.chainId !== chainId.toString()) throw bad(`records chain ${String(r.chainId)}, not ${chainId}`);
  if (typeof r.deployBlock !== "number" || typeof r.deployBlockHash !== "string") throw bad("deploy block missing");
  for (const name of ["SettlementAnchor", "SettlementVault"] as const) {
    const c = r.contracts?.[name];
    if (c === undefined || typeof c.address !== "string" || typeof c.codeHash !== "string") throw bad(`${name} missing`);
    getAddress(c.address);
  }
  if (r.token === undefined || typeof r.token.address !== "string") throw bad("token missing");
  if (r.roles === undefined || ROLE_NAMES.some((n) => typeof r.roles?.[n] !== "string")) throw bad("role holders missing");
  return r as DeploymentRecord;
}

/** Writes atomically (temp file + rename) so a reader never sees half a record. */
export async function writeRecord(record: DeploymentRecord, dir = DEFAULT_DEPLOYMENTS_DIR): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = recordPath(BigInt(record.chainId), dir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, "utf8");
  await rename(tmp, file);
  return file;
}
