/**
 * One fresh in-process chain per call with the whole system deployed by `deploySystem` (the code
 * under test, not a test-only deployer), and a signer per role. `revertAfterEach` makes every test
 * of a block start from the same chain state (one deployment per file, tests independent).
 */
import { network } from "hardhat";
import { afterEach, beforeEach } from "vitest";
import { attachSystem, type SystemContracts } from "../../service/chain/contracts.js";
import { deploySystem, type DeploySystemResult } from "../../service/chain/deploy.js";

export type Connection = Awaited<ReturnType<typeof network.create>>;
export type Signer = Awaited<ReturnType<Connection["ethers"]["getSigners"]>>[number];

export interface System {
  connection: Connection;
  result: DeploySystemResult;
  chainId: bigint;
  deployer: Signer;
  anchorer: Signer;
  payer: Signer;
  signer: Signer;
  pauser: Signer;
  /** Accounts #5.. : sellers, relayers, outsiders. */
  others: Signer[];
  /** Contracts bound to the deployer (admin, token owner); `.connect(x)` for other callers. */
  c: SystemContracts & { mock: NonNullable<SystemContracts["mock"]> };
  close(): Promise<void>;
}

export async function deployedSystem(): Promise<System> {
  const connection = await network.create();
  const signers = await connection.ethers.getSigners();
  const [deployer, anchorer, payer, signer, pauser, ...others] = signers;
  if (pauser === undefined || deployer === undefined || anchorer === undefined || payer === undefined || signer === undefined) {
    throw new Error("the in-process network must expose at least 5 accounts");
  }
  const result = await deploySystem(deployer, { network: connection.networkName, deploymentsDir: null });
  const c = attachSystem(result.record, deployer);
  if (c.mock === undefined) throw new Error("a dev-chain deployment must include the mock stablecoin");
  const chainId = (await connection.ethers.provider.getNetwork()).chainId;
  return {
    connection,
    result,
    chainId,
    deployer,
    anchorer,
    payer,
    signer,
    pauser,
    others,
    c: { ...c, mock: c.mock },
    close: () => connection.close(),
  };
}

/**
 * Every test of the calling describe block starts from the chain as the block's beforeAll left it:
 * `evm_snapshot` before each test, `evm_revert` after. One deployment per file, and no test sees
 * another's transactions, whatever the order or selection of tests.
 */
export function revertAfterEach(chain: () => Connection): void {
  let snapshot: string | null = null;
  beforeEach(async () => {
    snapshot = (await chain().provider.request({ method: "evm_snapshot", params: [] })) as string;
  });
  afterEach(async () => {
    if (snapshot === null) return;
    const reverted = (await chain().provider.request({ method: "evm_revert", params: [snapshot] })) as unknown;
    snapshot = null;
    if (reverted !== true) throw new Error("evm_revert refused the snapshot: the next test would not start from the same chain state");
  });
}
