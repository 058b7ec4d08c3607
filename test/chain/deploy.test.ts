import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { keccak256, Wallet, ZeroHash } from "ethers";
import { artifactCodeHash, loadArtifact, runtimeCodeHash } from "../../service/chain/artifacts.js";
import { attachSystem, MockStablecoin__factory } from "../../service/chain/contracts.js";
import { DEV_ROLE_HOLDERS, deploySystem, HARDHAT_DEV_ACCOUNTS } from "../../service/chain/deploy.js";
import { readRecord, recordPath, ROLE_NAMES, type DeploymentRecord } from "../../service/chain/deployment-record.js";
import { isAppError } from "../../service/errors.js";
import type { Connection } from "./fixture.js";

async function expectAppError(action: Promise<unknown>, code: string, field?: string): Promise<void> {
  const e = await action.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isAppError(e)) throw new Error(`expected AppError ${code}, got ${String(e)}`);
  expect(e.code).toBe(code);
  if (field !== undefined) expect(e.fields?.map((f) => f.field)).toContain(field);
}

// Every test gets its own deployments folder (and, on the dev chain, its own chain): a test that
// needs an earlier deployment makes it first, so each test runs alone.
describe("deploySystem", { timeout: 120_000 }, () => {
  let dir: string;
  const dirs: string[] = [];
  const open: Connection[] = [];
  const connect = async (chainId?: number) => {
    const c = chainId === undefined ? await network.create() : await network.create({ override: { chainId } });
    open.push(c);
    return c;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-deployments-"));
    dirs.push(dir);
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  describe("on a dev chain (31337)", () => {
    let chain: Connection;
    beforeEach(async () => {
      chain = await connect();
    });
    afterEach(async () => {
      await chain.close();
      open.splice(open.indexOf(chain), 1);
    });
    /** The first deployment on this test's chain, recorded in this test's folder. */
    const deployFirst = async (): Promise<DeploymentRecord> => {
      const [deployer] = await chain.ethers.getSigners();
      const result = await deploySystem(deployer!, { network: "hardhat-test", deploymentsDir: dir });
      expect(result.outcome).toBe("deployed");
      return result.record;
    };

    it("deploys token, anchor and vault, grants the dev-account roles and writes deployments/local-31337.json", async () => {
      const [deployer] = await chain.ethers.getSigners();
      const result = await deploySystem(deployer!, { network: "hardhat-test", deploymentsDir: dir });
      expect(result.outcome).toBe("deployed");
      expect(result.file).toBe(path.join(dir, "local-31337.json"));
      const first = result.record;

      const onDisk = await readRecord(31337n, dir);
      expect(onDisk).toEqual(first);
      expect(first.chainId).toBe("31337");
      expect(first.network).toBe("hardhat-test");
      expect(first.deployer).toBe(HARDHAT_DEV_ACCOUNTS[0]);
      expect(first.roles).toEqual(DEV_ROLE_HOLDERS);
      expect(first.token).toEqual({ address: first.contracts.MockStablecoin!.address, mock: true });
      expect(first.contracts.SettlementVault.artifact).toBe("artifacts/contracts/SettlementVault.sol/SettlementVault.json");
      const block = await chain.ethers.provider.getBlock(first.deployBlock);
      expect(block?.hash).toBe(first.deployBlockHash);

      // What the record claims is what the chain holds.
      for (const name of ["SettlementAnchor", "SettlementVault", "MockStablecoin"] as const) {
        const entry = first.contracts[name]!;
        const artifact = await loadArtifact(name);
        expect(entry.codeHash).toBe(artifactCodeHash(artifact));
        expect(runtimeCodeHash(await chain.ethers.provider.getCode(entry.address), artifact)).toBe(entry.codeHash);
        expect(entry.abi).toEqual(artifact.abi);
      }
      // The vault's immutables (token, EIP-712 domain cache) make raw code differ from the artifact:
      // the fingerprint only matches because those ranges are masked.
      const vaultCode = await chain.ethers.provider.getCode(first.contracts.SettlementVault.address);
      expect(keccak256(vaultCode)).not.toBe(keccak256((await loadArtifact("SettlementVault")).deployedBytecode));
      const c = attachSystem(first, chain.ethers.provider);
      expect(await c.vault.token()).toBe(first.token.address);
      expect(await c.token.decimals()).toBe(6n);
      expect(await c.anchor.hasRole(await c.anchor.ANCHOR_ROLE(), DEV_ROLE_HOLDERS.anchorer)).toBe(true);
      expect(await c.anchor.hasRole(await c.anchor.PAUSER_ROLE(), DEV_ROLE_HOLDERS.pauser)).toBe(true);
      expect(await c.vault.hasRole(await c.vault.PAYER_ROLE(), DEV_ROLE_HOLDERS.payer)).toBe(true);
      expect(await c.vault.hasRole(await c.vault.SIGNER_ROLE(), DEV_ROLE_HOLDERS.signer)).toBe(true);
      expect(await c.vault.hasRole(await c.vault.PAUSER_ROLE(), DEV_ROLE_HOLDERS.pauser)).toBe(true);
      expect(await c.anchor.defaultAdmin()).toBe(DEV_ROLE_HOLDERS.admin);
      expect(await c.vault.defaultAdmin()).toBe(DEV_ROLE_HOLDERS.admin);
      // No role leaks to the deployer beyond admin.
      expect(await c.vault.hasRole(await c.vault.PAYER_ROLE(), first.deployer)).toBe(false);
    });

    it("is a no-op when run again: no transaction, same record, same file", async () => {
      const first = await deployFirst();
      const [deployer] = await chain.ethers.getSigners();
      const height = await chain.ethers.provider.getBlockNumber();
      const nonce = await chain.ethers.provider.getTransactionCount(deployer!.address);
      const before = await readFile(path.join(dir, "local-31337.json"), "utf8");
      const result = await deploySystem(deployer!, { network: "hardhat-test", deploymentsDir: dir });
      expect(result.outcome).toBe("unchanged");
      expect(result.granted).toEqual([]);
      expect(result.record).toEqual(first);
      expect(await chain.ethers.provider.getBlockNumber()).toBe(height);
      expect(await chain.ethers.provider.getTransactionCount(deployer!.address)).toBe(nonce);
      expect(await readFile(path.join(dir, "local-31337.json"), "utf8")).toBe(before);
    });

    it("grants a newly configured role holder on a re-run and records it, revoking nobody", async () => {
      await deployFirst();
      const [deployer, , , , , , newAnchorer] = await chain.ethers.getSigners();
      const result = await deploySystem(deployer!, {
        network: "hardhat-test",
        deploymentsDir: dir,
        roles: { anchorer: newAnchorer!.address },
      });
      expect(result.outcome).toBe("unchanged");
      expect(result.granted).toEqual([{ role: "anchorer", contract: "SettlementAnchor", account: newAnchorer!.address }]);
      expect(result.record.roles.anchorer).toBe(newAnchorer!.address);
      expect((await readRecord(31337n, dir))?.roles.anchorer).toBe(newAnchorer!.address);
      const c = attachSystem(result.record, chain.ethers.provider);
      expect(await c.anchor.hasRole(await c.anchor.ANCHOR_ROLE(), newAnchorer!.address)).toBe(true);
      expect(await c.anchor.hasRole(await c.anchor.ANCHOR_ROLE(), DEV_ROLE_HOLDERS.anchorer)).toBe(true);
    });

    it("redeploys when the record points at code that is not the artifact's", async () => {
      const first = await deployFirst();
      const file = recordPath(31337n, dir);
      const record = JSON.parse(await readFile(file, "utf8")) as DeploymentRecord;
      record.contracts.SettlementAnchor.address = record.contracts.SettlementVault.address;
      await writeFile(file, JSON.stringify(record));
      const [deployer] = await chain.ethers.getSigners();
      const result = await deploySystem(deployer!, { network: "hardhat-test", deploymentsDir: dir });
      expect(result.outcome).toBe("redeployed");
      expect(result.reason).toMatch(/code of SettlementAnchor .* differs from the current artifact/);
      expect(result.record.contracts.SettlementAnchor.address).not.toBe(first.contracts.SettlementAnchor.address);
      expect(result.record.deployBlock).toBeGreaterThan(first.deployBlock);
    });

    it("redeploys on a reset chain (a fresh in-process chain with the same chain id), at the same addresses", async () => {
      const first = await deployFirst();
      const fresh = await connect();
      const [deployer] = await fresh.ethers.getSigners();
      const stale = (await readRecord(31337n, dir))!;
      expect(await fresh.ethers.provider.getCode(stale.contracts.SettlementVault.address)).toBe("0x");
      const result = await deploySystem(deployer!, { network: "hardhat-test", deploymentsDir: dir });
      expect(result.outcome).toBe("redeployed");
      expect(result.reason).toMatch(/chain reset/);
      // Same deployer, same nonces: a fresh dev chain reproduces the first deployment's addresses.
      expect(result.record.contracts.SettlementVault.address).toBe(first.contracts.SettlementVault.address);
      expect(await fresh.ethers.provider.getCode(result.record.contracts.SettlementVault.address)).not.toBe("0x");
    });

    it("fails with a stable code when the artifacts are missing, and rejects a malformed role holder", async () => {
      const [deployer] = await chain.ethers.getSigners();
      await expectAppError(
        deploySystem(deployer!, { network: "x", deploymentsDir: null, artifactsDir: path.join(dir, "nowhere") }),
        "ENT_CHAIN_DEPLOY_ARTIFACT_MISSING",
      );
      await expectAppError(
        deploySystem(deployer!, { network: "x", deploymentsDir: null, roles: { payer: "0x1234" } }),
        "ENT_CHAIN_DEPLOY_INVALID_OPTION",
        "roles.payer",
      );
    });
  });

  describe("on a chain that is not a dev chain (in-process, chain id overridden to 4242)", () => {
    const roles = Object.fromEntries(ROLE_NAMES.map((n) => [n, Wallet.createRandom().address])) as Record<
      (typeof ROLE_NAMES)[number],
      string
    >;
    let chain: Connection;
    let token: string;

    beforeAll(async () => {
      chain = await connect(4242);
      const [deployer] = await chain.ethers.getSigners();
      // Stands in for the real stablecoin already on that chain.
      const t = await new MockStablecoin__factory(deployer).deploy(deployer!.address);
      await t.waitForDeployment();
      token = await t.getAddress();
    }, 60_000);

    it("requires the token and every role holder, and refuses the public dev accounts", async () => {
      const [deployer] = await chain.ethers.getSigners();
      expect((await chain.ethers.provider.getNetwork()).chainId).toBe(4242n);
      await expectAppError(
        deploySystem(deployer!, { network: "x", deploymentsDir: dir, roles }),
        "ENT_CHAIN_DEPLOY_INVALID_OPTION",
        "token",
      );
      const { signer: _omitted, ...withoutSigner } = roles;
      await expectAppError(
        deploySystem(deployer!, { network: "x", deploymentsDir: dir, token, roles: withoutSigner }),
        "ENT_CHAIN_DEPLOY_INVALID_OPTION",
        "roles.signer",
      );
      await expectAppError(
        deploySystem(deployer!, { network: "x", deploymentsDir: dir, token, roles: { ...roles, pauser: HARDHAT_DEV_ACCOUNTS[4] } }),
        "ENT_CHAIN_DEPLOY_INVALID_OPTION",
        "roles.pauser",
      );
    });

    it("deploys against the given token to <chainId>.json and begins the two-step admin transfer", async () => {
      const [deployer] = await chain.ethers.getSigners();
      const result = await deploySystem(deployer!, { network: "staging", deploymentsDir: dir, token, roles, adminDelaySeconds: 3_600 });
      expect(result.outcome).toBe("deployed");
      expect(result.file).toBe(path.join(dir, "4242.json"));
      expect(result.record.token).toEqual({ address: token, mock: false });
      expect(result.record.contracts.MockStablecoin).toBeUndefined();
      const c = attachSystem(result.record, chain.ethers.provider);
      for (const contract of [c.anchor, c.vault]) {
        // Until the new admin accepts (after the delay), the deployer stays admin.
        expect(await contract.defaultAdmin()).toBe(deployer!.address);
        const [pending] = await contract.pendingDefaultAdmin();
        expect(pending).toBe(roles.admin);
      }
      expect(await c.vault.hasRole(await c.vault.PAYER_ROLE(), roles.payer)).toBe(true);
      expect(await c.vault.hasRole(ZeroHash, roles.payer)).toBe(false);

      const again = await deploySystem(deployer!, { network: "staging", deploymentsDir: dir, token, roles, adminDelaySeconds: 3_600 });
      expect(again.outcome).toBe("unchanged");
      expect(again.granted).toEqual([]);
    });

    it("refuses to redeploy silently when the record no longer matches, unless forced", async () => {
      const [deployer] = await chain.ethers.getSigners();
      expect((await deploySystem(deployer!, { network: "staging", deploymentsDir: dir, token, roles })).outcome).toBe("deployed");
      const file = recordPath(4242n, dir);
      const record = JSON.parse(await readFile(file, "utf8")) as DeploymentRecord;
      record.deployBlockHash = ZeroHash;
      await writeFile(file, JSON.stringify(record));
      await expectAppError(
        deploySystem(deployer!, { network: "staging", deploymentsDir: dir, token, roles }),
        "ENT_CHAIN_DEPLOY_RECORD_MISMATCH",
      );
      const forced = await deploySystem(deployer!, { network: "staging", deploymentsDir: dir, token, roles, force: true });
      expect(forced.outcome).toBe("redeployed");
    });
  });
});
