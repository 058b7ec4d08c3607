import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";
import { readRecord } from "../../service/chain/deployment-record.js";

const HARDHAT = path.join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

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

async function rpcUp(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no JSON-RPC at ${url}`);
}

describe("scripts/deploy.ts against a real `hardhat node`", { timeout: 180_000 }, () => {
  let node: ChildProcess | undefined;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-deploy-script-"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    node = spawn(process.execPath, [HARDHAT, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
      stdio: "ignore",
    });
    await rpcUp(url, Date.now() + 60_000);
    // hardhat.config.ts points the `localhost` network at RPC_URL; the record goes to a temp dir.
    env = { RPC_URL: url, DEPLOYMENTS_DIR: dir };
  }, 90_000);

  afterAll(async () => {
    node?.kill("SIGTERM");
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
