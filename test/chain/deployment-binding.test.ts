/**
 * The deployment a database anchors to (service/chain/binding.ts), checked at every boot on a real
 * `hardhat node`: the first instance records its deployment; an instance whose deployment record
 * names other contracts on that chain is refused whatever its ROLE (it would anchor the journal
 * again elsewhere, or serve proofs of another contract); a redeploy of the same contracts on a
 * reset chain is refused while the database holds final batches, unless CHAIN_ALLOW_LOCAL_RESET.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { getAddress, JsonRpcProvider, Wallet } from "ethers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deploySystem } from "../../service/chain/deploy.js";
import { writeRecord, type DeploymentRecord } from "../../service/chain/deployment-record.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { connectChain } from "../../service/chain/runtime.js";
import { loadConfig, type Config } from "../../service/config.js";
import { startServer, startWorkerInstance } from "../../service/server.js";
import { createServices, type OpenServices } from "../../service/services.js";
import { freshDatabase, postgresReachable, type TestDatabase } from "../support/db.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const pg = await postgresReachable();

describe("the deployment a database anchors to, checked at boot", { timeout: 120_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let deployer: Wallet;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    node = await startLocalNode();
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    deployer = new Wallet(devPrivateKey(0, 31337n), provider);
  });
  afterAll(async () => {
    provider?.destroy();
    await node?.stop();
  });
  afterEach(async () => {
    await db?.close().catch(() => undefined);
    db = undefined;
  });

  const deploy = async (): Promise<DeploymentRecord> => (await deploySystem(deployer, { network: "localhost", deploymentsDir: null })).record;
  const config = (env: Record<string, string> = {}): Config => loadConfig({ PORT: "0", LOG_LEVEL: "silent", CHAIN_RPC_URL: node.url, ...env });

  /** Services as server.ts opens them, on `record` instead of DEPLOYMENTS_DIR's; the database is left to the test. */
  async function open(d: TestDatabase, c: Config, record: DeploymentRecord): Promise<OpenServices> {
    const connection = await connectChain({ ...c.chain, rpcUrl: node.url, record });
    const services = createServices(d, c, connection);
    return {
      ...services,
      close: async () => {
        services.webhooks.close();
        connection.close();
      },
    };
  }
  const bound = async (d: TestDatabase) =>
    d.sql.q<Array<{ anchor_address: string; vault_address: string; deploy_block_hash: string }>>(`SELECT anchor_address, vault_address, deploy_block_hash FROM chain_deployments`);
  const addresses = (r: DeploymentRecord) => ({ anchor: r.contracts.SettlementAnchor.address.toLowerCase(), vault: r.contracts.SettlementVault.address.toLowerCase() });

  it("the first instance records its deployment; another deployment record is refused for every ROLE, naming both anchors", async () => {
    const [a, b] = [await deploy(), await deploy()];
    db = await freshDatabase("pglite");
    const workers = config({ ROLE: "workers" });
    const first = await startWorkerInstance(workers, { services: await open(db, workers, a) });
    await first.close();
    expect(await bound(db)).toEqual([{ anchor_address: addresses(a).anchor, vault_address: addresses(a).vault, deploy_block_hash: a.deployBlockHash.toLowerCase() }]);

    const conflict = {
      code: "ENT_CHAIN_DEPLOYMENT_CONFLICT",
      message: expect.stringMatching(
        new RegExp(`^this database anchors on chain 31337 to SettlementAnchor ${addresses(a).anchor} \\(SettlementVault ${addresses(a).vault}\\), but the deployment record in DEPLOYMENTS_DIR names SettlementAnchor ${addresses(b).anchor} \\(SettlementVault ${addresses(b).vault}\\): give every instance the same deployment record`),
      ) as unknown,
    };
    await expect(startWorkerInstance(workers, { services: await open(db, workers, b) })).rejects.toMatchObject(conflict);
    const all = config();
    await expect(startServer(all, { services: await open(db, all, b), printKeys: () => undefined })).rejects.toMatchObject(conflict);
    // An API-only instance would serve proofs of the other contract: refused as well.
    const http = config({ ROLE: "http" });
    await expect(startServer(http, { services: await open(db, http, b), printKeys: () => undefined })).rejects.toMatchObject(conflict);
    // Nobody with the other record took the lease or changed the record.
    expect(await bound(db)).toEqual([{ anchor_address: addresses(a).anchor, vault_address: addresses(a).vault, deploy_block_hash: a.deployBlockHash.toLowerCase() }]);

    const again = await startServer(http, { services: await open(db, http, a), printKeys: () => undefined });
    expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
    await again.close();
  });

  it.runIf(pg)("node service/server.ts with another DEPLOYMENTS_DIR prints one line with the code and both anchors, and exits 1 [PostgreSQL]", async () => {
    const [a, b] = [await deploy(), await deploy()];
    db = await freshDatabase("postgres");
    const secretsKey = randomBytes(32).toString("hex");
    const workers = config({ ROLE: "workers", DATABASE_URL: db.url!, SECRETS_KEY: secretsKey });
    await (await startWorkerInstance(workers, { services: await open(db, workers, a) })).close();
    const dir = await mkdtemp(path.join(tmpdir(), "entrepot-dep2-"));
    try {
      await writeRecord(b, dir);
      const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["service/server.ts"], {
        cwd: ROOT,
        env: { PATH: process.env["PATH"], DATABASE_URL: db.url!, SECRETS_KEY: secretsKey, CHAIN_RPC_URL: node.url, DEPLOYMENTS_DIR: dir, PORT: "0", LOG_LEVEL: "silent" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(err).toMatch(
        new RegExp(`^failed to start: ENT_CHAIN_DEPLOYMENT_CONFLICT: this database anchors on chain 31337 to SettlementAnchor ${addresses(a).anchor} .* names SettlementAnchor ${addresses(b).anchor} .*\\n$`),
      );
      expect(code).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a database that anchored before this check is bound to its anchor batches' contract", async () => {
    const [a, b] = [await deploy(), await deploy()];
    db = await freshDatabase("pglite");
    await finalBatch(db, addresses(a).anchor);
    const workers = config({ ROLE: "workers" });
    await expect(startWorkerInstance(workers, { services: await open(db, workers, b) })).rejects.toMatchObject({
      code: "ENT_CHAIN_DEPLOYMENT_CONFLICT",
      message: expect.stringContaining(`to SettlementAnchor ${addresses(a).anchor}`) as unknown,
    });
  });

  it("a reset local chain with the same contracts redeployed: refused while final batches would be lost, unless CHAIN_ALLOW_LOCAL_RESET", async () => {
    const before = (await provider.send("evm_snapshot", [])) as string;
    const old = await deploy();
    db = await freshDatabase("pglite");
    const workers = config({ ROLE: "workers" });
    await (await startWorkerInstance(workers, { services: await open(db, workers, old) })).close();
    await finalBatch(db, addresses(old).anchor);

    // The chain loses the deployment; the same deployer, from the same nonce, redeploys a block later.
    expect(await provider.send("evm_revert", [before])).toBe(true);
    await provider.send("evm_mine", []);
    const redeployed = await deploy();
    expect(addresses(redeployed)).toEqual(addresses(old));
    expect(redeployed.deployBlockHash).not.toBe(old.deployBlockHash);

    const reset = {
      code: "ENT_CHAIN_RESET",
      message: expect.stringMatching(/^this database holds 1 final anchor batch\(es\) on SettlementAnchor .* set CHAIN_ALLOW_LOCAL_RESET=true to keep this database on the new local chain and give its final anchoring up$/) as unknown,
    };
    await expect(startWorkerInstance(workers, { services: await open(db, workers, redeployed) })).rejects.toMatchObject(reset);
    const http = config({ ROLE: "http" });
    await expect(startServer(http, { services: await open(db, http, redeployed), printKeys: () => undefined })).rejects.toMatchObject(reset);
    expect((await bound(db))[0]?.deploy_block_hash).toBe(old.deployBlockHash.toLowerCase());

    const allowed = config({ ROLE: "workers", CHAIN_ALLOW_LOCAL_RESET: "true" });
    await (await startWorkerInstance(allowed, { services: await open(db, allowed, redeployed) })).close();
    expect((await bound(db))[0]?.deploy_block_hash).toBe(redeployed.deployBlockHash.toLowerCase());
    // From now on the new deployment is the database's: an instance without the switch boots.
    await (await startWorkerInstance(workers, { services: await open(db, workers, redeployed) })).close();
  });
});

/** A final batch as the anchoring store writes it: its address checksummed (EIP-55), whatever form the caller has. */
async function finalBatch(db: TestDatabase, address: string): Promise<void> {
  const anchor = getAddress(address);
  const h66 = `0x${"00".repeat(32)}`;
  await db.sql.q(
    `INSERT INTO anchor_batches (chain_id, anchor_address, batch_id, root, leaf_count, journal_count, first_sequence, last_sequence, currency_totals, totals_digest, previous_root, status, sender_key,
                                 tx_hash, block_number, block_hash)
     VALUES (31337, $1, 1, $2, 1, 1, 1, 1, '[]'::jsonb, $2, $2, 'final', $3, $2, 10, $2)`,
    anchor,
    h66,
    `anchor:31337:${anchor}:1`,
  );
}
