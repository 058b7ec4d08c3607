/**
 * One fresh in-process chain per call with the whole system deployed by `deploySystem` (the code
 * under test, not a test-only deployer), and a signer per role.
 */
import { network } from "hardhat";
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
