/**
 * Deploys the settlement contracts (and, on dev chains, the mock stablecoin), grants the roles and
 * records the deployment in `deployments/`. Idempotent: while the record matches the chain (same
 * chain history, code with the artifact's fingerprint at every address) a second run changes
 * nothing but missing role grants; a reset dev chain gets a fresh deployment.
 */
import path from "node:path";
import { ContractFactory, Interface, getAddress, type ContractTransactionResponse, type Provider, type Signer } from "ethers";
import {
  artifactCodeHash,
  artifactPath,
  DEFAULT_ARTIFACTS_DIR,
  loadArtifact,
  PROJECT_ROOT,
  runtimeCodeHash,
  type ContractArtifact,
  type ContractName,
} from "./artifacts.js";
import { attachSystem, type SystemContracts } from "./contracts.js";
import { DeployErrors } from "./deploy-errors.js";
import {
  DEFAULT_DEPLOYMENTS_DIR,
  isLocalChain,
  readRecord,
  RECORD_FORMAT,
  recordPath,
  ROLE_NAMES,
  writeRecord,
  type DeployedContract,
  type DeploymentRecord,
  type RoleHolders,
  type RoleName,
} from "./deployment-record.js";

/**
 * Accounts #0-#4 of Hardhat's public dev mnemonic ("test test … junk"). Their keys are public:
 * they are defaults on dev chains only, and `resolveRoles` refuses them anywhere else.
 */
export const HARDHAT_DEV_ACCOUNTS = [
  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
  "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
] as const;

export const DEV_ROLE_HOLDERS: RoleHolders = {
  admin: HARDHAT_DEV_ACCOUNTS[0],
  anchorer: HARDHAT_DEV_ACCOUNTS[1],
  payer: HARDHAT_DEV_ACCOUNTS[2],
  signer: HARDHAT_DEV_ACCOUNTS[3],
  pauser: HARDHAT_DEV_ACCOUNTS[4],
};

export interface DeploySystemOptions {
  /** Network name written into the record (e.g. `localhost`). */
  network: string;
  /** Role holders; on dev chains each defaults to a Hardhat dev account, elsewhere all are required. */
  roles?: Partial<RoleHolders>;
  /** Existing payout token. Required off dev chains; on dev chains a MockStablecoin is deployed when absent. */
  token?: string;
  /** Where records live; `null` neither reads nor writes one (ephemeral chains, tests). */
  deploymentsDir?: string | null;
  artifactsDir?: string;
  /**
   * Delay (seconds) of a future default-admin transfer (OZ AccessControlDefaultAdminRules).
   * Default: 0 on dev chains, 2 days elsewhere (time to notice and cancel a hijacked admin key).
   */
  adminDelaySeconds?: number;
  /** Off dev chains a record that no longer matches the chain is an error unless this is set. */
  force?: boolean;
  log?: (line: string) => void;
}

export type DeployOutcome = "deployed" | "redeployed" | "unchanged";

export interface DeploySystemResult {
  outcome: DeployOutcome;
  /** Why an existing record was not reused (for `redeployed`). */
  reason?: string;
  record: DeploymentRecord;
  /** The record file written or found; undefined when `deploymentsDir` is null. */
  file?: string;
  /** Role grants sent by this run (empty on a clean no-op). */
  granted: { role: RoleName; contract: ContractName; account: string }[];
}

export async function deploySystem(deployer: Signer, options: DeploySystemOptions): Promise<DeploySystemResult> {
  const provider = deployer.provider;
  if (provider === null)
    throw DeployErrors.invalidOption("the deployer signer has no provider", { fields: [{ field: "deployer", message: "not connected" }] });
  const log = options.log ?? (() => {});
  const chainId = (await provider.getNetwork()).chainId;
  const local = isLocalChain(chainId);
  const deployerAddress = getAddress(await deployer.getAddress());
  const roles = resolveRoles(options.roles, local);
  const token = options.token === undefined ? undefined : checkedAddress(options.token, "token");
  if (token === undefined && !local) {
    throw DeployErrors.invalidOption(`chain ${chainId} is not a dev chain: pass the stablecoin address`, {
      fields: [{ field: "token", message: "required off dev chains" }],
    });
  }
  const artifactsDir = options.artifactsDir ?? DEFAULT_ARTIFACTS_DIR;
  const artifacts = {
    SettlementAnchor: await loadArtifact("SettlementAnchor", artifactsDir),
    SettlementVault: await loadArtifact("SettlementVault", artifactsDir),
    MockStablecoin: token === undefined ? await loadArtifact("MockStablecoin", artifactsDir) : undefined,
  };
  const dir = options.deploymentsDir === undefined ? DEFAULT_DEPLOYMENTS_DIR : options.deploymentsDir;

  let reason: string | undefined;
  if (dir !== null) {
    const existing = await readRecord(chainId, dir);
    if (existing !== undefined) {
      reason = await mismatch(provider, existing, artifacts, token);
      if (reason === undefined) {
        const granted = await grantRoles(deployer, existing, roles, log);
        const record: DeploymentRecord = granted.length === 0 ? existing : { ...existing, roles: mergedRoles(existing.roles, roles) };
        const file = granted.length === 0 ? recordPath(chainId, dir) : await writeRecord(record, dir);
        log(
          granted.length === 0
            ? `deployment on chain ${chainId} is up to date: nothing to do`
            : `granted ${granted.length} missing role(s)`,
        );
        return { outcome: "unchanged", record, file, granted };
      }
      if (!local && options.force !== true) {
        throw DeployErrors.recordMismatch(`the recorded deployment on chain ${chainId} does not match the chain: ${reason}`, {
          details: { chainId: chainId.toString(), reason },
        });
      }
      log(`recorded deployment is stale (${reason}): deploying afresh`);
    }
  }

  const adminDelay = options.adminDelaySeconds ?? (local ? 0 : 2 * 24 * 3600);
  if (!Number.isSafeInteger(adminDelay) || adminDelay < 0 || adminDelay >= 2 ** 48) {
    throw DeployErrors.invalidOption(`adminDelaySeconds must be a uint48, got ${adminDelay}`, {
      fields: [{ field: "adminDelaySeconds", message: "not a uint48" }],
    });
  }
  const ctorValues: Record<string, unknown> = {
    initialAdminDelay: adminDelay,
    initialAdmin: deployerAddress,
    // The mock's owner mints, blocklists and pauses: a test faucet, only ever deployed on dev chains.
    initialOwner: deployerAddress,
  };
  const record = await deployFresh(
    deployer,
    deployerAddress,
    chainId,
    options.network,
    roles,
    token,
    artifacts,
    artifactsDir,
    ctorValues,
    log,
  );
  // Recorded before the grants: if a grant fails, the next run finds the contracts and only grants.
  const file = dir === null ? undefined : await writeRecord(record, dir);
  const granted = await grantRoles(deployer, record, roles, log);
  return {
    outcome: reason === undefined ? "deployed" : "redeployed",
    ...(reason === undefined ? {} : { reason }),
    record,
    ...(file === undefined ? {} : { file }),
    granted,
  };
}

function checkedAddress(value: string, field: string): string {
  try {
    return getAddress(value);
  } catch (cause) {
    throw DeployErrors.invalidOption(`${field} is not an address: ${value}`, { fields: [{ field, message: "not an address" }], cause });
  }
}

/** Role holders with dev defaults on dev chains; off them every role is explicit and no dev key is accepted. */
export function resolveRoles(given: Partial<RoleHolders> | undefined, local: boolean): RoleHolders {
  const out = {} as RoleHolders;
  const devKeys = new Set<string>(HARDHAT_DEV_ACCOUNTS.map((a) => a.toLowerCase()));
  for (const name of ROLE_NAMES) {
    const value = given?.[name];
    if (value === undefined) {
      if (!local)
        throw DeployErrors.invalidOption(`role ${name} needs an explicit holder off dev chains`, {
          fields: [{ field: `roles.${name}`, message: "required" }],
        });
      out[name] = DEV_ROLE_HOLDERS[name];
      continue;
    }
    const address = checkedAddress(value, `roles.${name}`);
    // The dev mnemonic's private keys are public: granting them a role on a real chain hands it to anyone.
    if (!local && devKeys.has(address.toLowerCase())) {
      throw DeployErrors.invalidOption(`roles.${name} is a public Hardhat dev account`, {
        fields: [{ field: `roles.${name}`, message: "dev account off a dev chain" }],
      });
    }
    out[name] = address;
  }
  return out;
}

function mergedRoles(recorded: RoleHolders, wanted: RoleHolders): RoleHolders {
  // The record lists the configured holder per role; earlier holders keep their grants (never revoked here).
  return { ...recorded, ...wanted };
}

type Artifacts = { SettlementAnchor: ContractArtifact; SettlementVault: ContractArtifact; MockStablecoin: ContractArtifact | undefined };

/** Why `record` does not describe this chain any more, or undefined when it does. */
async function mismatch(
  provider: Provider,
  record: DeploymentRecord,
  artifacts: Artifacts,
  token: string | undefined,
): Promise<string | undefined> {
  const block = await provider.getBlock(record.deployBlock);
  if (block === null) return `block ${record.deployBlock} does not exist (chain reset)`;
  if (block.hash !== record.deployBlockHash) return `block ${record.deployBlock} has another hash (chain reset or another chain)`;
  if (token !== undefined && record.token.address.toLowerCase() !== token.toLowerCase()) {
    return `the record pays in token ${record.token.address}, ${token} was asked for`;
  }
  if (token === undefined && !record.token.mock) return `the record pays in a real token, a mock was asked for`;
  const checks: [ContractName, ContractArtifact | undefined][] = [
    ["SettlementAnchor", artifacts.SettlementAnchor],
    ["SettlementVault", artifacts.SettlementVault],
    ["MockStablecoin", record.token.mock ? artifacts.MockStablecoin : undefined],
  ];
  for (const [name, artifact] of checks) {
    if (artifact === undefined) continue;
    const entry = record.contracts[name];
    if (entry === undefined) return `${name} is not in the record`;
    const code = await provider.getCode(entry.address);
    if (code === "0x") return `no code at ${name} ${entry.address} (chain reset)`;
    if (runtimeCodeHash(code, artifact) !== artifactCodeHash(artifact))
      return `the code of ${name} at ${entry.address} differs from the current artifact`;
  }
  if (!record.token.mock && (await provider.getCode(record.token.address)) === "0x") return `no code at token ${record.token.address}`;
  return undefined;
}

async function deployOne(
  deployer: Signer,
  name: ContractName,
  artifact: ContractArtifact,
  args: unknown[],
  artifactsDir: string,
  log: (line: string) => void,
): Promise<{ entry: DeployedContract; blockNumber: number; blockHash: string }> {
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer);
  let contract;
  try {
    contract = await factory.deploy(...args);
  } catch (cause) {
    throw DeployErrors.transactionFailed(`deploying ${name} failed: ${(cause as Error).message}`, { cause, details: { contract: name } });
  }
  const tx = contract.deploymentTransaction();
  const receipt = tx === null ? null : await tx.wait();
  if (receipt === null || receipt.status !== 1 || receipt.contractAddress === null) {
    throw DeployErrors.transactionFailed(`deploying ${name} produced no contract`, { details: { contract: name } });
  }
  const address = getAddress(receipt.contractAddress);
  const code = await deployer.provider!.getCode(address);
  const codeHash = runtimeCodeHash(code, artifact);
  // A constructor that rewrote its own code, or a node that lies, must not enter the record.
  if (codeHash !== artifactCodeHash(artifact)) {
    throw DeployErrors.transactionFailed(`the code deployed for ${name} does not match its artifact`, {
      details: { contract: name, address },
    });
  }
  log(`${name.padEnd(16)} ${address}  (block ${receipt.blockNumber}, gas ${receipt.gasUsed})`);
  return {
    entry: { address, codeHash, artifact: path.relative(PROJECT_ROOT, artifactPath(name, artifactsDir)), abi: artifact.abi },
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
  };
}

async function deployFresh(
  deployer: Signer,
  deployerAddress: string,
  chainId: bigint,
  network: string,
  roles: RoleHolders,
  token: string | undefined,
  artifacts: Artifacts,
  artifactsDir: string,
  ctorValues: Record<string, unknown>,
  log: (line: string) => void,
): Promise<DeploymentRecord> {
  const contracts: Partial<Record<ContractName, DeployedContract>> = {};
  let first: { blockNumber: number; blockHash: string } | undefined;
  let tokenAddress = token;
  if (tokenAddress === undefined) {
    const mockArtifact = artifacts.MockStablecoin!;
    const mock = await deployOne(
      deployer,
      "MockStablecoin",
      mockArtifact,
      constructorArgs("MockStablecoin", mockArtifact, ctorValues),
      artifactsDir,
      log,
    );
    contracts.MockStablecoin = mock.entry;
    first = mock;
    tokenAddress = mock.entry.address;
  } else if ((await deployer.provider!.getCode(tokenAddress)) === "0x") {
    throw DeployErrors.invalidOption(`no contract at token ${tokenAddress}`, { fields: [{ field: "token", message: "no code" }] });
  }
  const anchor = await deployOne(
    deployer,
    "SettlementAnchor",
    artifacts.SettlementAnchor,
    constructorArgs("SettlementAnchor", artifacts.SettlementAnchor, ctorValues),
    artifactsDir,
    log,
  );
  first ??= anchor;
  const vaultValues = { ...ctorValues, token: tokenAddress, settlementToken: tokenAddress };
  const vault = await deployOne(
    deployer,
    "SettlementVault",
    artifacts.SettlementVault,
    constructorArgs("SettlementVault", artifacts.SettlementVault, vaultValues),
    artifactsDir,
    log,
  );
  contracts.SettlementAnchor = anchor.entry;
  contracts.SettlementVault = vault.entry;
  return {
    format: RECORD_FORMAT,
    chainId: chainId.toString(),
    network,
    deployer: deployerAddress,
    deployBlock: first.blockNumber,
    deployBlockHash: first.blockHash,
    deployedAt: new Date().toISOString(),
    token: { address: tokenAddress, mock: token === undefined },
    contracts: contracts as DeploymentRecord["contracts"],
    roles,
  };
}

// --- ABI-specific wiring (constructor arguments and role ids) -------------------------------

/**
 * Constructor arguments by parameter name, so a reordered constructor still deploys correctly and
 * an unknown parameter fails loudly instead of receiving a guess.
 */
function constructorArgs(name: ContractName, artifact: ContractArtifact, values: Record<string, unknown>): unknown[] {
  const ctor = new Interface(artifact.abi).deploy;
  return ctor.inputs.map((input) => {
    const key = input.name.replace(/^_+|_+$/g, "");
    if (!(key in values)) {
      throw DeployErrors.artifactMissing(`${name}'s constructor takes \`${input.name}\`, which the deployer does not know how to fill`, {
        details: { contract: name, parameter: input.name },
      });
    }
    return values[key];
  });
}

type Administered = "SettlementAnchor" | "SettlementVault";

/** The bound contract of each name: both use OpenZeppelin's AccessControlDefaultAdminRules. */
function administered(c: SystemContracts, name: Administered) {
  return name === "SettlementAnchor" ? c.anchor : c.vault;
}

/** Which contract holds each non-admin role, and the getter of the role id. */
const ROLE_GRANTS: { role: Exclude<RoleName, "admin">; contract: Administered; id: (c: SystemContracts) => Promise<string> }[] = [
  { role: "anchorer", contract: "SettlementAnchor", id: (c) => c.anchor.ANCHOR_ROLE() },
  // On the anchor, PAUSER_ROLE is the emergency `freezeAnchorer`; on the vault it is `pause`.
  { role: "pauser", contract: "SettlementAnchor", id: (c) => c.anchor.PAUSER_ROLE() },
  { role: "payer", contract: "SettlementVault", id: (c) => c.vault.PAYER_ROLE() },
  { role: "signer", contract: "SettlementVault", id: (c) => c.vault.SIGNER_ROLE() },
  { role: "pauser", contract: "SettlementVault", id: (c) => c.vault.PAUSER_ROLE() },
];

async function grantRoles(
  deployer: Signer,
  record: DeploymentRecord,
  roles: RoleHolders,
  log: (line: string) => void,
): Promise<DeploySystemResult["granted"]> {
  const granted: DeploySystemResult["granted"] = [];
  const system = attachSystem(record, deployer);
  for (const { role, contract: name, id: roleId } of ROLE_GRANTS) {
    const c = administered(system, name);
    const id = await roleId(system);
    const account = roles[role];
    if (await c.hasRole(id, account)) continue;
    await send(() => c.grantRole(id, account), `granting ${role} on ${name}`);
    log(`granted ${role.padEnd(8)} on ${name} to ${account}`);
    granted.push({ role, contract: name, account });
  }
  granted.push(...(await handOverAdmin(deployer, record, roles.admin, log)));
  return granted;
}

/**
 * Both contracts use OpenZeppelin's AccessControlDefaultAdminRules: the deployer is the initial
 * admin (it must be, to grant the other roles), and handing admin to the configured account is the
 * two-step transfer of those rules — begun here, accepted by the new admin after the admin delay
 * (`acceptDefaultAdminTransfer`). The deployer holds admin until then; that window is the delay's point.
 */
async function handOverAdmin(
  deployer: Signer,
  record: DeploymentRecord,
  admin: string,
  log: (line: string) => void,
): Promise<DeploySystemResult["granted"]> {
  const begun: DeploySystemResult["granted"] = [];
  const system = attachSystem(record, deployer);
  for (const name of ["SettlementAnchor", "SettlementVault"] as const) {
    const c = administered(system, name);
    const current = getAddress(await c.defaultAdmin());
    if (current === admin) continue;
    const [pending] = await c.pendingDefaultAdmin();
    if (getAddress(pending) === admin) continue;
    await send(() => c.beginDefaultAdminTransfer(admin), `beginning the admin transfer on ${name}`);
    log(`admin of ${name}: transfer to ${admin} begun (the new admin calls acceptDefaultAdminTransfer after the delay)`);
    begun.push({ role: "admin", contract: name, account: admin });
  }
  return begun;
}

async function send(call: () => Promise<ContractTransactionResponse>, what: string): Promise<void> {
  let tx: ContractTransactionResponse;
  try {
    tx = await call();
  } catch (cause) {
    throw DeployErrors.transactionFailed(`${what} failed: ${(cause as Error).message}`, { cause });
  }
  const receipt = await tx.wait();
  if (receipt === null || receipt.status !== 1) throw DeployErrors.transactionFailed(`${what} failed`, { details: { tx: tx.hash } });
}
