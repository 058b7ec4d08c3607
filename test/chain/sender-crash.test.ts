/**
 * Real crashes: a sender child process (support/sender-child.ts) against a `hardhat node` child
 * (startLocalNode) and a database on disk, killed with SIGKILL at a chosen point, then restarted.
 * After the restart every key has exactly one mined transaction and each nonce was consumed once.
 * PostgreSQL when reachable; otherwise a PGlite data folder (never a silent skip).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, keccak256, Network, toUtf8Bytes } from "ethers";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";
import { HARDHAT_DEV_ACCOUNTS } from "../../service/chain/deploy.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { freshDatabase, postgresReachable } from "../support/db.js";
import { minedFrom } from "./support/sender-harness.js";

const CHILD = path.join(PROJECT_ROOT, "test", "chain", "support", "sender-child.ts");
const ANCHORER = HARDHAT_DEV_ACCOUNTS[1];
const TO = HARDHAT_DEV_ACCOUNTS[4];

interface ChildRecord {
  key: string;
  status: string;
  hash: string;
  hashes: string[];
  nonce: string;
}

function runChild(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; records: ChildRecord[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", ...env },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      resolve({ code, signal, out, records: line ? (JSON.parse(line.slice(7)) as ChildRecord[]) : [] });
    });
  });
}

describe("TxSender survives SIGKILL (child processes: hardhat node + sender)", { timeout: 120_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dbEnv: Record<string, string>;
  let cleanup: () => Promise<void>;
  let kind: string;
  const rpc = (method: string, params: unknown[] = []) => provider.send(method, params);

  beforeAll(async () => {
    const [started, pg] = await Promise.all([startLocalNode(), postgresReachable()]);
    node = started;
    provider = new JsonRpcProvider(node.url, Network.from(31337n), { staticNetwork: true, cacheTimeout: -1 });
    if (pg) {
      kind = "postgres";
      const db = await freshDatabase("postgres");
      dbEnv = { SENDER_DATABASE_URL: db.url! };
      cleanup = () => db.close();
    } else {
      kind = "pglite";
      const dir = await mkdtemp(path.join(tmpdir(), "entrepot-sender-crash-"));
      dbEnv = { SENDER_PGLITE_DIR: dir };
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  afterAll(async () => {
    provider?.destroy();
    await node?.stop();
    await cleanup?.();
  });

  /** `mining`: the node does not automine; the test mines a block every 200 ms while the restarted sender runs. */
  async function crashThenRestart(keys: string[], crashAt: string, extra: Record<string, string> = {}, mining = false) {
    const env = { ...dbEnv, SENDER_RPC_URL: node.url, SENDER_TO: TO, SENDER_KEYS: keys.join(","), ...extra };
    const startBlock = (await provider.getBlockNumber()) + 1;
    const nonceBefore = await provider.getTransactionCount(ANCHORER);
    const crashed = await runChild({ ...env, SENDER_CRASH_AT: crashAt });
    expect(crashed.signal, `${kind}: ${crashed.out}`).toBe("SIGKILL");
    expect(crashed.records).toEqual([]);
    const miner = mining ? setInterval(() => void rpc("evm_mine").catch(() => undefined), 200) : undefined;
    let restarted: Awaited<ReturnType<typeof runChild>>;
    try {
      restarted = await runChild({ ...env, SENDER_STUCK_MS: "30000" });
    } finally {
      clearInterval(miner);
    }
    const byKey = new Map(restarted.records.map((r) => [r.key, r]));
    const mined = await minedFrom(provider, ANCHORER, startBlock);
    for (const key of keys) {
      const record = byKey.get(key);
      expect(record?.status, `${key}: ${restarted.out}`).toBe("mined");
      const sent = mined.filter((t) => t.data === keccak256(toUtf8Bytes(key)));
      expect(sent.map((t) => t.hash), key).toEqual([record!.hash]);
      expect(sent[0]!.nonce).toBe(Number(record!.nonce));
    }
    // Each nonce consumed once: as many new nonces as keys, all of them ours.
    expect(await provider.getTransactionCount(ANCHORER)).toBe(nonceBefore + keys.length);
    expect(mined).toHaveLength(keys.length);
    return restarted.records;
  }

  it("killed after the commit, before the broadcast: the restart sends the stored transaction", async () => {
    await crashThenRestart(["a:1", "a:2", "a:3"], "after-commit:2");
  });

  it("killed after the broadcast, before the record says so: the restart finds it mined", async () => {
    await crashThenRestart(["b:1", "b:2", "b:3"], "after-broadcast:2");
  });

  it("killed after every broadcast, before any receipt: the restart records the receipts", async () => {
    await crashThenRestart(["c:1", "c:2"], "after-submit");
  });

  it("killed after committing a replacement of a stuck transaction: one attempt is mined, the record says which", async () => {
    await rpc("evm_setAutomine", [false]);
    try {
      // Either attempt may be mined (the restart broadcasts the replacement while blocks are being
      // mined): exactly one of them is, and the record names it.
      const [record] = await crashThenRestart(["d:1"], "after-replace-commit", { SENDER_STUCK_MS: "0" }, true);
      expect(record!.hashes).toHaveLength(2);
      expect(await provider.getTransactionReceipt(record!.hashes.find((h) => h !== record!.hash)!)).toBeNull();
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("startLocalNode refuses a port where a node already answers; stop() ends the node", async () => {
    // A node of its own: the shared one must outlive this test, whatever order the tests run in.
    const own = await startLocalNode();
    const ownProvider = new JsonRpcProvider(own.url, Network.from(31337n), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const port = Number(new URL(own.url).port);
      await expect(startLocalNode({ port })).rejects.toMatchObject({ code: "ENT_CHAIN_LOCAL_NODE_PORT_IN_USE" });
      expect(await ownProvider.getBlockNumber()).toBeGreaterThanOrEqual(0);
      await own.stop();
      await expect(ownProvider.getBlockNumber()).rejects.toThrow();
      await own.stop(); // idempotent
    } finally {
      ownProvider.destroy();
      await own.stop();
    }
  });
});
