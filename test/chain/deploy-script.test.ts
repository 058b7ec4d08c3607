import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";
import { readRecord } from "../../service/chain/deployment-record.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";

const HARDHAT = path.join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // process.execPath is the Node 24 running vitest: Hardhat refuses older ones.
    const child = spawn(process.execPath, [HARDHAT, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", ...env },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out }));
  });
}

describe("scripts/deploy.ts against a real `hardhat node`", { timeout: 180_000 }, () => {
  let node: LocalNode | undefined;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-deploy-script-"));
    node = await startLocalNode();
    // hardhat.config.ts points the `localhost` network at RPC_URL; the record goes to a temp dir.
    env = { RPC_URL: node.url, DEPLOYMENTS_DIR: dir };
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys on the first run, is a no-op on the second, and records the deployment", async () => {
    const first = await run(["run", "scripts/deploy.ts", "--network", "localhost"], env);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/deployed on localhost, chain 31337/);
    const record = await readRecord(31337n, dir);
    expect(record?.network).toBe("localhost");
    expect(first.out).toContain(record!.contracts.SettlementVault.address);

    const second = await run(["run", "scripts/deploy.ts", "--network", "localhost"], env);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/unchanged on localhost, chain 31337/);
    expect(second.out).toContain("nothing to do");
    expect(await readRecord(31337n, dir)).toEqual(record);
  });

  it("exits non-zero with the error code on bad input", async () => {
    const bad = await run(["run", "scripts/deploy.ts", "--network", "localhost"], { ...env, ENTREPOT_ROLE_PAYER: "0xnot-an-address" });
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain("ENT_CHAIN_DEPLOY_INVALID_OPTION");
  });
});
