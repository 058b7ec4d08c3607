/**
 * Several instances on one database and one chain: two service processes (`dist/server.mjs`, service/server.ts as built,
 * ROLE=all) on one PostgreSQL database and one `hardhat node` (a block a second). Exactly one runs
 * the background workers; the leader is killed with SIGKILL while it sends a payout; the other takes
 * over within the lease's bounds, and anchoring and payouts go on. Nothing is paid twice: every
 * payout id is executed once on chain, each batch once, every transaction the payer key sent is
 * one the sender recorded, and the sellers' tokens equal the ledger's payouts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, zeroPadValue } from "ethers";
import pgDriver from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachSystem } from "../service/chain/contracts.js";
import { deploySystem } from "../service/chain/deploy.js";
import { devPrivateKey } from "../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../service/chain/local-node.js";
import { loadConfig } from "../service/config.js";
import { pgSqlRunner, type SqlRunner } from "../service/db/sql.js";
import { signedHeaders } from "../service/http/auth/signature.js";
import { assignDemoDestinations, fundVaultLocal, mayTakeStablecoin, publishDemoPayoutRates } from "../service/payouts/index.js";
import { openServices, type OpenServices } from "../service/services.js";
import { DEMO_RANGE, DEMO_SELLERS, loadDemo } from "../service/settlement/demo.js";
import { emptyPostgresDatabase, postgresReachable } from "./support/db.js";

const pg = await postgresReachable();
if (!pg && process.env["REQUIRE_POSTGRES"] === "1") throw new Error("REQUIRE_POSTGRES=1 but PostgreSQL is unreachable");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Short, so the test is fast: renewals every 500 ms, a dead leader replaced within about 2 s. */
const LEASE_TTL_MS = 1_500;

interface LogLine {
  msg: string;
  at: number;
  [k: string]: unknown;
}

interface Instance {
  name: string;
  child: ChildProcess;
  lines: LogLine[];
  stderr: string;
  url: string;
  exited: Promise<number | null>;
}

interface PayoutJson {
  id: string;
  batchId: string;
  sellerId: string;
  address: string;
  tokenAmount: string;
  status: string;
  outcome: string | null;
  createdAt: string;
  ledger: { commitTransactionId: string | null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lines a worker writes (sender, index, anchoring, payouts, a loop's failure, maintenance). */
const workerLine = (l: LogLine) => l["worker"] !== undefined || l["loop"] !== undefined || l.msg.startsWith("maintenance") || l.msg.startsWith("some due releases");
/** Lines of the HTTP requests this test sends. */
const requestLine = (l: LogLine) => l["reqId"] !== undefined;

async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  // What a deployment runs: service/server.ts as `npm run build` bundles it.
  if (!existsSync(path.join(root, "dist", "server.mjs"))) throw new Error("dist/server.mjs is missing: run `npm run build` first (npm test does)");
  const child = spawn(process.execPath, ["dist/server.mjs"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let partial = "";
  const inst = { name, child, lines, stderr: "", url: "", exited: new Promise<number | null>((r) => child.once("exit", (code) => r(code))) };
  child.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) {
      try {
        lines.push({ ...(JSON.parse(p) as { msg: string }), at: Date.now() });
      } catch {
        lines.push({ msg: p, at: Date.now() });
      }
    }
  });
  child.stderr.on("data", (d: Buffer) => (inst.stderr += d.toString()));
  inst.url = await until(`${name} listening`, () => {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${inst.stderr}`);
    return /Server listening at (http:\/\/\S+)/.exec(lines.find((l) => l.msg.startsWith("Server listening at"))?.msg ?? "")?.[1];
  }, 120_000);
  return inst;
}

describe.skipIf(!pg)("two service instances on one database and one chain [PostgreSQL]", { timeout: 300_000 }, () => {
  let node: LocalNode;
  let database: { url: string; drop(): Promise<void> };
  let dir: string;
  let provider: JsonRpcProvider;
  let services: OpenServices;
  let pool: pgDriver.Pool;
  let sql: SqlRunner;
  let gateway: { key: string; signingSecret: string };
  let finance: string;
  const instances: Instance[] = [];

  beforeAll(async () => {
    [node, database, dir] = await Promise.all([startLocalNode({ network: "devnode" }), emptyPostgresDatabase(), mkdtemp(path.join(tmpdir(), "entrepot-instances-"))]);
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const admin = new Wallet(devPrivateKey(0, 31337n), provider);
    await deploySystem(admin, { network: "devnode", deploymentsDir: dir });
    const env = {
      DATABASE_URL: database.url,
      // Every instance on the database seals and reads the signing secrets with the same key.
      SECRETS_KEY: randomBytes(32).toString("hex"),
      CHAIN_RPC_URL: node.url,
      DEPLOYMENTS_DIR: dir,
      CHAIN_SAFE_DEPTH: "1",
      CHAIN_CONFIRMATIONS: "2",
      CHAIN_POLL_INTERVAL_MS: "250",
      ANCHOR_BATCH_MAX_AGE_SECONDS: "1",
      PAYOUT_INTERVAL_SECONDS: "1",
      MAINTENANCE_INTERVAL_SECONDS: "1",
      WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS),
      DB_POOL_SIZE: "4",
      PORT: "0",
      LOG_LEVEL: "info",
      ROLE: "all",
    };
    // The database is prepared once, here (migrations, demo data, keys); the instances find it ready.
    services = await openServices(loadConfig(env));
    pool = new pgDriver.Pool({ connectionString: database.url, max: 2 });
    sql = pgSqlRunner(pool);
    expect((await loadDemo({ settlement: services.settlement, fx: services.fx })).errors).toEqual([]);
    // The vault's demo sellers (never a mainland-China one: the bank rail pays those).
    await assignDemoDestinations(services.payouts!, DEMO_SELLERS.filter(mayTakeStablecoin).map((s) => s.id), 31337n);
    await publishDemoPayoutRates(services.fx, { currencies: ["CNY"], day: DEMO_RANGE.to });
    await fundVaultLocal({ record: services.chain!.record, admin, amount: 1_000_000n * 10n ** 6n });
    gateway = await services.apiKeys.create({ name: "instances test gateway", scopes: ["gateway:write"], gateway: "adyen" });
    finance = (await services.apiKeys.create({ name: "instances test finance", scopes: ["finance:read"] })).key;
    instances.push(...(await Promise.all([startInstance("one", env), startInstance("two", env)])));
  }, 240_000);

  afterAll(async () => {
    for (const i of instances) if (i.child.exitCode === null) i.child.kill("SIGKILL");
    await pool?.end();
    await services?.close();
    provider?.destroy();
    await node?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const leaseRow = async () => {
    const rows = await sql.q<Array<{ holder: string; token: bigint; live: boolean }>>(
      `SELECT holder, token, expires_at > clock_timestamp() AS live FROM worker_leases WHERE name = 'workers'`,
    );
    return rows[0];
  };
  const pidOf = (holder: string) => Number(holder.split(":").at(-2));
  const get = async <T>(inst: Instance, url: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${inst.url}${url}`, { headers: { authorization: `Bearer ${finance}` } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const post = async (inst: Instance, event: Record<string, string>): Promise<{ status: number; body: { settlement?: { id: string } } }> => {
    const body = JSON.stringify(event);
    const res = await fetch(`${inst.url}/v1/settlements/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${gateway.key}`, ...signedHeaders(gateway.signingSecret, body) },
      body,
    });
    return { status: res.status, body: (await res.json()) as { settlement?: { id: string } } };
  };
  /** A capture for a seller whose proceeds are available at once (a payout follows). */
  const capture = (id: string, sellerId = "S-SEMI-HZ-01") => ({
    type: "capture",
    gateway: "adyen",
    gatewayEventId: `inst-${id}`,
    settlementId: `ORD-INST-${id}`,
    sellerId,
    market: "US",
    shipToRegion: "US-OR",
    category: "home",
    currency: "USD",
    amount: "250000",
    gatewayFee: "7250",
    occurredAt: "2024-12-10T11:00:00Z",
  });

  it("runs the workers on exactly one instance, fails over on kill -9 without paying anything twice", async () => {
    // ---- one leader, one standby; the load goes to both.
    const first = await until("a leader", async () => {
      const row = await leaseRow();
      return row?.live ? row : undefined;
    });
    expect(first.token).toBe(1n);
    const leader = instances.find((i) => i.child.pid === pidOf(first.holder))!;
    const standby = instances.find((i) => i !== leader)!;
    expect(leader).toBeDefined();
    for (let i = 0; i < 6; i++) expect((await post(instances[i % 2]!, capture(`before-${i}`))).status).toBe(201);

    // ---- kill -9 the leader while it sends a payout (signed, maybe broadcast, surely not final).
    await until("the leader signing a payout transaction", () => leader.lines.find((l) => l.msg === "chain tx signed" && l["purpose"] === "payout"), 120_000);
    const beforeKill = standby.lines.length;
    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    expect(await leader.exited).toBeNull();

    // Until then the standby ran no worker and logged nothing of its own but its start and one standby line.
    const standbyOwn = standby.lines.slice(0, beforeKill).filter((l) => !requestLine(l));
    expect(standbyOwn.filter(workerLine)).toEqual([]);
    expect(standbyOwn.map((l) => l.msg)).toEqual([expect.stringMatching(/^Server listening at/), "worker lease held by another instance: standing by"]);
    expect(leader.lines.some(workerLine)).toBe(true);

    // ---- the standby takes over within the lease's bounds (TTL + a third of it, plus scheduling).
    const acquired = await until("the takeover", () => standby.lines.find((l) => l.msg.startsWith("worker lease acquired")), 20_000);
    expect(acquired.at - killedAt).toBeLessThan(LEASE_TTL_MS + LEASE_TTL_MS / 3 + 2_000);
    const second = (await leaseRow())!;
    expect([pidOf(second.holder), second.token]).toEqual([standby.child.pid, 2n]);

    // ---- anchoring and payouts go on: new captures are anchored (final proof) and paid.
    const after = await post(standby, capture("after-0"));
    expect(after.status).toBe(201);
    // S-SEMI-HZ-01 is the one demo seller the vault pays whose proceeds are available at once
    // (S-OVS-NB-01's are too, but it is established in mainland China: never paid by the vault).
    for (let i = 1; i < 4; i++) expect((await post(standby, capture(`after-${i}`))).status).toBe(201);
    await until("a capture posted after the takeover anchored and final", async () => {
      const r = await get<{ anchoring?: { state: string } }>(standby, `/v1/settlements/${after.body.settlement!.id}/proof`);
      return r.status === 200 && r.body.anchoring?.state === "final" ? true : undefined;
    }, 90_000);
    const payouts = await until("every payout final, one of them planned after the takeover", async () => {
      const items = (await get<{ items: PayoutJson[] }>(standby, "/v1/payouts?limit=200")).body.items;
      const late = items.some((p) => Date.parse(p.createdAt) > acquired.at);
      return late && items.every((p) => p.status === "final") ? items : undefined;
    }, 120_000);

    // ---- nothing paid twice, and the ledger equals the chain. The workers go on (a capture may still be
    // paid after the wait above), so the chain is read as of one block and the ledger after it.
    const { vault, token } = attachSystem(services.chain!.record, provider);
    const vaultAddress = await vault.getAddress();
    const fromBlock = services.chain!.record.deployBlock;
    const atBlock = await provider.getBlockNumber();
    const known = new Map((await get<{ items: PayoutJson[] }>(standby, "/v1/payouts?limit=200")).body.items.map((p) => [p.id, p]));
    const vaultAbi = vault.interface;
    const executed = (
      await provider.getLogs({ address: vaultAddress, topics: [vaultAbi.getEvent("PayoutBatchExecuted").topicHash], fromBlock, toBlock: atBlock })
    ).map((log) => {
      const e = vaultAbi.parseLog(log)!;
      return { batchId: e.args["batchId"] as bigint, first: e.args["firstPayoutId"] as bigint, count: e.args["count"] as bigint };
    });
    const idsOnChain = executed.flatMap((b) => Array.from({ length: Number(b.count) }, (_, k) => String(b.first + BigInt(k))));
    expect(new Set(idsOnChain).size).toBe(idsOnChain.length); // every payout id executed once
    expect(new Set(executed.map((b) => b.batchId)).size).toBe(executed.length); // every batch once
    for (const p of payouts) expect(idsOnChain).toContain(p.id); // every final payout is on chain
    const paid = idsOnChain.map((id) => known.get(id)!);
    expect(paid.every(Boolean)).toBe(true); // and nothing on chain that the ledger did not plan
    const erc20 = token.interface;
    const fromVault = zeroPadValue(vaultAddress, 32);
    const transfers = (
      await provider.getLogs({ address: await token.getAddress(), topics: [erc20.getEvent("Transfer").topicHash, fromVault], fromBlock, toBlock: atBlock })
    ).map((log) => {
      const e = erc20.parseLog(log)!;
      return { to: e.args["to"] as string, value: e.args["value"] as bigint };
    });
    expect(transfers).toHaveLength(paid.length);
    const onChain = new Map<string, bigint>();
    for (const t of transfers) onChain.set(t.to.toLowerCase(), (onChain.get(t.to.toLowerCase()) ?? 0n) + t.value);
    const inLedger = new Map<string, bigint>();
    for (const p of paid) inLedger.set(p.address.toLowerCase(), (inLedger.get(p.address.toLowerCase()) ?? 0n) + BigInt(p.tokenAmount));
    for (const p of payouts) {
      expect(p.outcome).toBe("paid");
      expect(p.ledger.commitTransactionId).not.toBeNull();
      expect(await vault.isPayoutProcessed(BigInt(p.id))).toBe(true);
    }
    expect(onChain).toEqual(inLedger);
    for (const [address, amount] of inLedger) expect(await token.balanceOf(address, { blockTag: atBlock })).toBe(amount);
    // Every nonce the payer key used on chain belongs to one transaction the sender recorded: no second signing.
    const payer = services.chain!.keys.payer.address;
    const used = await provider.getTransactionCount(payer, atBlock);
    const [recorded] = await sql.q<Array<{ n: bigint }>>(
      `SELECT count(*) AS n FROM chain_transactions WHERE from_address = $1 AND nonce < $2`,
      payer,
      used,
    );
    expect(recorded!.n).toBe(BigInt(used));
    expect((await services.ledger.verifyChain()).ok).toBe(true);

    // ---- logs: the index never fought over its cursor; maintenance never refused a release.
    for (const i of instances) {
      expect(i.lines.filter((l) => JSON.stringify(l).includes("ENT_INDEXER_CURSOR_MOVED"))).toEqual([]);
      expect(i.lines.filter((l) => l.msg.startsWith("some due releases"))).toEqual([]);
    }

    // ---- a graceful stop releases the lease at once.
    standby.child.kill("SIGTERM");
    expect(await standby.exited).toBe(0);
    expect(standby.lines.some((l) => l.msg.startsWith("worker lease released"))).toBe(true);
    expect((await leaseRow())!.live).toBe(false);
  });
});
