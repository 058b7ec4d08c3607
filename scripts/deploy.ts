/**
 * `npm run deploy [-- --network localhost]`: deploys (or finds) the settlement contracts and prints
 * their addresses. Options come from the environment because `hardhat run` passes no script
 * arguments: ENTREPOT_TOKEN_ADDRESS (required off dev chains), ENTREPOT_ROLE_ADMIN / _ANCHORER /
 * _PAYER / _SIGNER / _PAUSER (dev accounts by default on dev chains), ENTREPOT_DEPLOY_FORCE=1,
 * DEPLOYMENTS_DIR (default `deployments/`, as for the service).
 */
import { network } from "hardhat";
import { deploySystem } from "../service/chain/deploy.js";
import { ROLE_NAMES, type RoleHolders } from "../service/chain/deployment-record.js";
import { isAppError } from "../service/errors.js";

const env = (name: string): string | undefined => {
  const v = process.env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
};

// `network.create()` honours `--network` (Hardhat's global option sets the default network).
const connection = await network.create();
try {
  const [deployer] = await connection.ethers.getSigners();
  if (deployer === undefined) throw new Error(`network ${connection.networkName} has no account to deploy from`);
  const roles: Partial<RoleHolders> = {};
  for (const name of ROLE_NAMES) {
    const v = env(`ENTREPOT_ROLE_${name.toUpperCase()}`);
    if (v !== undefined) roles[name] = v;
  }
  const token = env("ENTREPOT_TOKEN_ADDRESS");
  // The in-process network dies with this process: recording it would describe a chain that no longer exists.
  const ephemeral = connection.networkConfig.type === "edr-simulated";
  const result = await deploySystem(deployer, {
    network: connection.networkName,
    roles,
    ...(token === undefined ? {} : { token }),
    ...(ephemeral
      ? { deploymentsDir: null }
      : env("DEPLOYMENTS_DIR") === undefined
        ? {}
        : { deploymentsDir: env("DEPLOYMENTS_DIR") }),
    force: env("ENTREPOT_DEPLOY_FORCE") === "1",
    log: (line) => console.log(`  ${line}`),
  });
  const r = result.record;
  console.log(
    `\n${result.outcome}${result.reason === undefined ? "" : ` (${result.reason})`} on ${r.network}, chain ${r.chainId}, from block ${r.deployBlock}`,
  );
  for (const [name, c] of Object.entries(r.contracts)) console.log(`  ${name.padEnd(16)} ${c.address}`);
  console.log(`  ${"token".padEnd(16)} ${r.token.address}${r.token.mock ? " (MockStablecoin)" : ""}`);
  for (const name of ROLE_NAMES) console.log(`  ${`role ${name}`.padEnd(16)} ${r.roles[name]}`);
  console.log(result.file === undefined ? "  (in-process chain: no deployment record written)" : `  record: ${result.file}`);
} catch (e) {
  console.error(isAppError(e) ? `deploy failed: ${e.code}: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  await connection.close();
}
