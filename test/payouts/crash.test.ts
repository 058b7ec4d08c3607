/**
 * Crash injection with real killed processes. One `hardhat node` child (interval mining); per
 * scenario a fresh deployment, a fresh PostgreSQL database, two sellers (USD and CNY) with balances
 * and a funded vault. A worker child (test/payouts/support/crash-worker.ts: the real sender, index
 * and payout service) SIGKILLs itself at the chosen step; the state it left is checked; a second
 * worker without the crash point finishes. Then: exactly one payment per payout id (token balances,
 * isPayoutProcessed, one transaction ever mined from the payer key, one sender record), the ledger
 * committed exactly once.
 * Each scenario uses its own payer key, so the scenarios run side by side.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";
import { attachSystem } from "../../service/chain/contracts.js";
import { deploySystem } from "../../service/chain/deploy.js";
import type { DeploymentRecord } from "../../service/chain/deployment-record.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { loadConfig } from "../../service/config.js";
import { fundVaultLocal, PayoutAccounts, PayoutService } from "../../service/payouts/index.js";
import { accountSpec, type Seller } from "../../service/settlement/index.js";
import { createServices, type Services } from "../../service/services.js";
import { freshDatabase, postgresReachable, type TestDatabase } from "../support/db.js";
import { expectBalanced, payoutJournal, USDC } from "./harness.js";

const WORKER = path.join(PROJECT_ROOT, "test", "payouts", "support", "crash-worker.ts");
const hasPostgres = await postgresReachable();
if (!hasPostgres) console.warn("[test/payouts/crash] PostgreSQL unreachable: the crash-injection suite needs it and is skipped");

const SELLERS: Seller[] = [
  { id: "S-CRASH-USD", name: "Crash USD seller", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "HK" },
  { id: "S-CRASH-CNY", name: "Crash CNY seller", program: "semi_hosting", payoutCurrency: "CNY", homeCountry: "HK" },
];
/** USD 123.45 -> 123,450,000 base units; CNY 1,000.00 at 7.2345 CNY/USD -> 13,822 cents (down) -> 138,220,000. */
const EXPECTED: Record<string, bigint> = { "S-CRASH-USD": 123_450_000n, "S-CRASH-CNY": 138_220_000n };
const TOTAL = 123_450_000n + 138_220_000n;

interface Scenario {
  crashAt: string;
  payerIndex: number;
  record?: DeploymentRecord;
  recordFile?: string;
  db?: TestDatabase;
  services?: Services;
  payouts?: PayoutService;
}

const SCENARIOS: Scenario[] = [
  { crashAt: "batch-recorded", payerIndex: 10 },
  { crashAt: "intent-recorded", payerIndex: 11 },
  { crashAt: "before-broadcast", payerIndex: 12 },
  { crashAt: "submitted", payerIndex: 13 },
  { crashAt: "before-booking", payerIndex: 14 },
  { crashAt: "before-booking#2", payerIndex: 15 },
];

function runWorker(s: Scenario, node: LocalNode, crashAt: string | undefined): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    // tsx as a loader in this very process (not its CLI, which would run the script in a grandchild):
    // the SIGKILL then hits the process we watch.
    const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: s.db!.url!,
        RPC_URL: node.url,
        RECORD_FILE: s.recordFile!,
        PAYER_KEY: devPrivateKey(s.payerIndex),
        ...(crashAt === undefined ? { CRASH_AT: "" } : { CRASH_AT: crashAt }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal, out }));
  });
}

/** At most `limit` scenarios at a time (two cores). */
async function pool<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
    }),
  );
}

describe.skipIf(!hasPostgres)("payout worker killed at each step, then restarted", { timeout: 60_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dir: string;
  const outcomes = new Map<string, { crashed: Awaited<ReturnType<typeof runWorker>>; midway: Record<string, unknown>; finished: Awaited<ReturnType<typeof runWorker>> }>();

  beforeAll(async () => {
    [node, dir] = await Promise.all([startLocalNode(), mkdtemp(path.join(tmpdir(), "entrepot-payout-crash-"))]);
    provider = new JsonRpcProvider(node.url, 31337, { staticNetwork: true, pollingInterval: 100 });
    // One nonce sequence for the admin across deployments and funding (the node answers "pending" lazily).
    const admin = new NonceManager(new Wallet(devPrivateKey(0), provider));
    // Deployments and funding share the admin key: sequential. Databases (migrated copies) in parallel.
    const dbs = await Promise.all(SCENARIOS.map(() => freshDatabase("postgres", { poolSize: 3 })));
    for (const [i, s] of SCENARIOS.entries()) {
      const payer = new Wallet(devPrivateKey(s.payerIndex)).address;
      s.record = (await deploySystem(admin, { network: "localhost", deploymentsDir: null, roles: { payer } })).record;
      await fundVaultLocal({ record: s.record, admin, amount: 10_000n * USDC });
      s.recordFile = path.join(dir, `record-${i}.json`);
      await writeFile(s.recordFile, JSON.stringify(s.record));
      s.db = dbs[i]!;
      s.services = createServices(s.db, loadConfig({ LOG_LEVEL: "silent" }));
      s.payouts = new PayoutService({ sql: s.db.sql, ledger: s.services.ledger, fx: s.services.fx, sellers: s.services.settlement, chainId: 31337n });
      await s.services.settlement.saveProgramData({ sellers: SELLERS });
      const now = Date.now();
      await s.services.fx.publishRates([{ base: "USD", quote: "CNY", rate: "7.2345", source: "test desk", asOf: new Date(now - 60_000), validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000) }]);
      for (const [j, seller] of SELLERS.entries()) {
        await s.payouts.setDestination(seller.id, new Wallet(devPrivateKey(5 + j)).address, { by: "test" });
        const currency = seller.payoutCurrency;
        const postings = [
          { account: "gateway:test:receivable", currency, direction: "debit" as const, amount: currency === "USD" ? 12_345n : 100_000n },
          { account: `seller:${seller.id}:available`, currency, direction: "credit" as const, amount: currency === "USD" ? 12_345n : 100_000n },
        ];
        await s.services.ledger.post({ idempotencyKey: `crash-credit-${seller.id}`, postings, accounts: postings.map((p) => accountSpec(p.account, p.currency)) });
      }
    }
    // Blocks keep coming without traffic, so confirmation depths are reached.
    await provider.send("evm_setIntervalMining", [250]);

    await pool(SCENARIOS, 3, async (s) => {
      const crashed = await runWorker(s, node, s.crashAt);
      const midway = await stateOf(s);
      const finished = await runWorker(s, node, undefined);
      outcomes.set(s.crashAt, { crashed, midway, finished });
    });
  }, 170_000);

  afterAll(async () => {
    provider?.destroy();
    for (const s of SCENARIOS) await s.db?.close().catch(() => undefined);
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** What the killed worker left behind: batch, payouts, sender record, ledger. */
  async function stateOf(s: Scenario): Promise<Record<string, unknown>> {
    const [batch] = await s.db!.sql.q<Array<{ id: bigint; status: string }>>(`SELECT id, status FROM payout_batches ORDER BY id`);
    const payouts = await s.db!.sql.q<Array<{ id: bigint; pending_tx_id: bigint | null; commit_tx_id: bigint | null }>>(`SELECT id, pending_tx_id, commit_tx_id FROM payouts ORDER BY id`);
    const sent = await s.db!.sql.q<Array<{ status: string; hash: string }>>(`SELECT status, hash FROM chain_transactions WHERE key LIKE 'payout:%'`);
    const onChain = sent[0] === undefined ? null : await provider.getTransactionReceipt(sent[0].hash);
    return {
      batch: batch?.status ?? null,
      reserves: payouts.filter((p) => p.pending_tx_id !== null).length,
      commits: payouts.filter((p) => p.commit_tx_id !== null).length,
      senderRecords: sent.map((r) => r.status),
      mined: onChain !== null,
    };
  }

  const expectedMidway: Record<string, Record<string, unknown>> = {
    "batch-recorded": { batch: "planned", reserves: 0, commits: 0, senderRecords: [], mined: false },
    "intent-recorded": { batch: "planned", reserves: 2, commits: 0, senderRecords: [], mined: false },
    "before-broadcast": { batch: "planned", reserves: 2, commits: 0, senderRecords: ["signed"], mined: false },
    "submitted": { batch: "planned", reserves: 2, commits: 0, senderRecords: ["sent"], mined: true },
    "before-booking": { reserves: 2, commits: 0, mined: true },
    "before-booking#2": { reserves: 2, commits: 1, mined: true },
  };

  it.each(SCENARIOS.map((s) => s.crashAt))("killed at %s: the restart pays every payout exactly once and commits the ledger once", async (crashAt) => {
    const s = SCENARIOS.find((x) => x.crashAt === crashAt)!;
    const o = outcomes.get(crashAt)!;
    expect(o.crashed.signal, o.crashed.out.slice(-2000)).toBe("SIGKILL");
    expect(o.crashed.out).toContain(`"crashing":"${crashAt.split("#")[0]}"`);
    expect(o.midway, `state left by the killed worker; its output: ${o.crashed.out.slice(-1000)}`).toMatchObject(expectedMidway[crashAt]!);
    expect(o.finished.code, o.finished.out.slice(-2000)).toBe(0);

    const c = attachSystem(s.record!, provider);
    const vault = s.record!.contracts.SettlementVault.address;
    const payer = new Wallet(devPrivateKey(s.payerIndex)).address;
    const { batch, payouts } = await s.payouts!.getBatch(1n);
    expect(batch).toMatchObject({ status: "final", firstPayoutId: 1n, count: 2, paidTotal: TOTAL, deferredTotal: 0n });
    expect((await s.payouts!.listPayouts({})).length).toBe(2); // no second batch for the same money

    for (const p of payouts) {
      expect(p).toMatchObject({ status: "final", outcome: "paid", tokenAmount: EXPECTED[p.sellerId] });
      expect(await c.token.balanceOf(p.address)).toBe(EXPECTED[p.sellerId]);
      expect(await c.vault.isPayoutProcessed(p.id)).toBe(true);
      const journal = await payoutJournal(s.services!.ledger, p.id);
      expect(journal.map((t) => t.kind).sort()).toEqual(["commit", "pending"]);
      journal.forEach(expectBalanced);
      expect(await s.services!.ledger.balance(PayoutAccounts.available(p.sellerId), p.currency)).toMatchObject({ posted: 0n, available: 0n, pendingDebits: 0n });
    }
    expect(await c.vault.isPayoutProcessed(3n)).toBe(false);
    expect(await c.token.balanceOf(vault)).toBe(10_000n * USDC - TOTAL);
    // One transaction ever mined from this scenario's payer key (its nonce counts reverted ones too),
    // the one sender record of the batch's key, and it succeeded.
    expect(await provider.getTransactionCount(payer, "latest")).toBe(1);
    const records = await s.db!.sql.q<Array<{ key: string; status: string; hash: string }>>(`SELECT key, status, hash FROM chain_transactions`);
    expect(records.map((r) => [r.key, r.status])).toEqual([[`payout:31337:${vault}:1`, "mined"]]);
    expect((await provider.getTransactionReceipt(records[0]!.hash))?.status).toBe(1);
  });
});
