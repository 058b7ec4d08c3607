/**
 * The whole stack as `npm start` composes it, against a real `hardhat node` (the `devnode` network:
 * a block a second) and real PostgreSQL: configuration -> openServices (chain connection, sender,
 * index, anchoring, payouts, reconciliation) -> startServer (HTTP + workers). Demo settlements are
 * booked, anchored and paid in the background; over HTTP a settlement's proof is fetched and
 * verified on chain with nothing but the proof and the node, and every payout ends final with the
 * sellers' tokens on chain matching the ledger.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyProof } from "../service/anchoring/index.js";
import { attachSystem } from "../service/chain/contracts.js";
import { deploySystem } from "../service/chain/deploy.js";
import { devPrivateKey } from "../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../service/chain/local-node.js";
import { loadConfig } from "../service/config.js";
import { assignDemoDestinations, fundVaultLocal, mayTakeStablecoin, publishDemoPayoutRates } from "../service/payouts/index.js";
import { startServer, type RunningServer } from "../service/server.js";
import { openServices } from "../service/services.js";
import { DEMO_CLOSE_NOTE, DEMO_RANGE, DEMO_SELLERS, loadDemo, loadDemoPeriodEnd, loadDemoRemittances } from "../service/settlement/demo.js";
import { emptyPostgresDatabase, postgresReachable } from "./support/db.js";

const pg = await postgresReachable();
if (!pg && process.env["REQUIRE_POSTGRES"] === "1") throw new Error("REQUIRE_POSTGRES=1 but PostgreSQL is unreachable");

/** A payout as GET /v1/payouts renders it. */
interface PayoutJson {
  id: string;
  sellerId: string;
  address: string;
  currency: string;
  tokenAmount: string;
  status: string;
  outcome: string | null;
  ledger: { commitTransactionId: string | null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!pg)("the local stack end to end (hardhat node + PostgreSQL) [PostgreSQL]", { timeout: 240_000 }, () => {
  let node: LocalNode;
  let database: { url: string; drop(): Promise<void> };
  let dir: string;
  let running: RunningServer;
  let provider: JsonRpcProvider;
  let finance: string;

  beforeAll(async () => {
    node = await startLocalNode({ network: "devnode" });
    database = await emptyPostgresDatabase();
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-stack-"));
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const admin = new Wallet(devPrivateKey(0, 31337n), provider);
    await deploySystem(admin, { network: "devnode", deploymentsDir: dir });

    const config = loadConfig({
      DATABASE_URL: database.url,
      // With DATABASE_URL the secrets key must be given (a deployment's secret manager would).
      SECRETS_KEY: randomBytes(32).toString("hex"),
      CHAIN_RPC_URL: node.url,
      DEPLOYMENTS_DIR: dir,
      CHAIN_SAFE_DEPTH: "1",
      CHAIN_CONFIRMATIONS: "2",
      CHAIN_POLL_INTERVAL_MS: "250",
      ANCHOR_BATCH_MAX_AGE_SECONDS: "1",
      PAYOUT_INTERVAL_SECONDS: "1",
      MAINTENANCE_INTERVAL_SECONDS: "0",
      PORT: "0",
      LOG_LEVEL: "silent",
      DEMO: "true",
    });
    const services = await openServices(config);
    const chainId = services.chain!.chainId;
    const summary = await loadDemo({ settlement: services.settlement, fx: services.fx });
    expect(summary.errors).toEqual([]);
    expect((await loadDemoRemittances({ realisation: services.realisation, fx: services.fx })).remitted).toBeGreaterThan(0);
    // December's closing rates and the revaluation at its last instant, as npm start loads them: the test closes December.
    expect((await loadDemoPeriodEnd({ realisation: services.realisation, fx: services.fx })).revaluation?.skipped).toEqual([]);
    // The vault's demo sellers, as npm start gives them destinations: never a mainland-China one.
    await assignDemoDestinations(services.payouts!, DEMO_SELLERS.filter(mayTakeStablecoin).map((s) => s.id), chainId);
    await publishDemoPayoutRates(services.fx, { currencies: ["CNY"], day: DEMO_RANGE.to });
    await fundVaultLocal({ record: services.chain!.record, admin, amount: 1_000_000n * 10n ** 6n });
    running = await startServer(config, { services, printKeys: () => undefined });
    finance = (await services.apiKeys.create({ name: "stack test", scopes: ["finance:read"] })).key;
  });

  afterAll(async () => {
    await running?.close();
    provider?.destroy();
    await node?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = async <T>(url: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${running.url}${url}`, { headers: { authorization: `Bearer ${finance}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  it("anchors the demo settlements: a proof fetched over HTTP verifies against the node alone, and is final", async () => {
    const first = (await get<{ items: Array<{ id: string }> }>("/v1/settlements?limit=1")).body.items[0]!.id;
    const proof = await until(`settlement ${first} anchored and final`, async () => {
      const r = await get<{ anchoring?: { state: string } }>(`/v1/settlements/${first}/proof`);
      return r.status === 200 && r.body.anchoring?.state === "final" ? r.body : undefined;
    });
    const report = await verifyProof(JSON.parse(JSON.stringify(proof)), provider, { finalityDepth: 2, anchor: running.services.chain!.record.contracts.SettlementAnchor.address });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // The proof is of this deployment's anchor, and the root is on chain.
    const { anchor } = attachSystem(running.services.chain!.record, provider);
    const p = proof as { batchId: string; root: string; anchor: string };
    expect(p.anchor).toBe(await anchor.getAddress());
    expect(await anchor.rootOf(BigInt(p.batchId))).toBe(p.root);
  });

  it("anchors a gateway's remittance as a `remittance` leaf whose proof verifies against the node alone", async () => {
    const { body } = await get<{ items: Array<{ id: string }> }>("/v1/transactions?meta.kind=remittance&limit=1");
    const id = body.items[0]?.id;
    expect(id).toBeDefined();
    const proof = await until("remittance anchored and final", async () => {
      const r = await get<{ anchoring?: { state: string } }>(`/v1/transactions/${id}/proof`);
      return r.status === 200 && r.body.anchoring?.state === "final" ? r.body : undefined;
    });
    expect(JSON.stringify(proof)).toContain('"remittance"');
    const report = await verifyProof(JSON.parse(JSON.stringify(proof)), provider, { finalityDepth: 2, anchor: running.services.chain!.record.contracts.SettlementAnchor.address });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("closes the demo period: its report (trial balance + journal head) is anchored as a document, and the proof's digest is the report's", async () => {
    const writer = (await running.services.apiKeys.create({ name: "stack finance writer", scopes: ["finance:write"] })).key;
    const res = await fetch(`${running.url}/v1/ledger/periods/close`, {
      method: "POST",
      headers: { authorization: `Bearer ${writer}`, "content-type": "application/json" },
      // The demo's closing rates are the source's last of the year (23 December), stale at the 31st: closed as the README closes it.
      body: JSON.stringify({ before: "2025-01-01T00:00:00Z", note: DEMO_CLOSE_NOTE, fxRateStale: "accept" }),
    });
    const closed = (await res.json()) as { id: string; reportDigest: string; anchored: boolean };
    expect([res.status, closed.anchored]).toEqual([201, true]);
    const { body } = await get<{ report: { trialBalance: { currencies: Array<{ balanced: boolean }> } }; digest: string }>(`/v1/ledger/periods/${closed.id}/report`);
    expect(body.digest).toBe(closed.reportDigest);
    expect(`0x${createHash("sha256").update(JSON.stringify(body.report)).digest("hex")}`).toBe(body.digest);
    expect(body.report.trialBalance.currencies.every((c) => c.balanced)).toBe(true);
    const proof = await until("period close anchored", async () => {
      const r = await get<{ document?: { kind: string; id: string; digest: string }; anchoring?: { state: string } }>(`/v1/ledger/periods/${closed.id}/proof`);
      return r.status === 200 && r.body.anchoring?.state === "final" ? r.body : undefined;
    });
    expect(proof.document).toEqual({ kind: "ledger.period_close", id: closed.id, digest: body.digest });
    const report = await verifyProof(JSON.parse(JSON.stringify(proof)), provider, { finalityDepth: 2, anchor: running.services.chain!.record.contracts.SettlementAnchor.address });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("pays every seller with an available balance once, final on chain and committed in the ledger", async () => {
    const payouts = await until("payouts final", async () => {
      const r = await get<{ items: PayoutJson[] }>("/v1/payouts?limit=100");
      const items = r.body.items;
      return items.length > 0 && items.every((p) => p.status === "final") ? items : undefined;
    });
    const { vault, token } = attachSystem(running.services.chain!.record, provider);
    const bySeller = new Map<string, bigint>();
    for (const p of payouts) {
      expect(p.outcome).toBe("paid");
      expect(await vault.isPayoutProcessed(BigInt(p.id))).toBe(true);
      expect(p.ledger.commitTransactionId).not.toBeNull();
      bySeller.set(p.address, (bySeller.get(p.address) ?? 0n) + BigInt(p.tokenAmount));
    }
    for (const [address, amount] of bySeller) expect(await token.balanceOf(address)).toBe(amount);
    // What the ledger still owes each paid seller on `available` is below the payout minimum.
    for (const p of payouts) {
      const bal = await running.services.ledger.balance(`seller:${p.sellerId}:available`, p.currency);
      expect(bal.available).toBeLessThan(100n);
    }
    expect((await running.services.ledger.verifyChain()).ok).toBe(true);

    // The journal export prints the vault's USDC in major units with the token's decimals (6).
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const res = await fetch(`${running.url}/v1/journal/export?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${finance}` } });
    expect(res.status).toBe(200);
    const [header, ...rows] = (await res.text()).trim().split("\n").map((l) => l.split(","));
    // Counted from the end of the line: a description before them may hold a quoted comma.
    const cell = (r: string[], name: string) => r[r.length - (header!.length - header!.indexOf(name))];
    const usdc = rows.filter((r) => cell(r, "currency") === "USDC");
    expect(usdc.length).toBeGreaterThan(0);
    for (const r of usdc) {
      const minor = BigInt(cell(r, "amount_minor")!);
      expect(cell(r, "amount")).toBe(`${minor / 1_000_000n}.${(minor % 1_000_000n).toString().padStart(6, "0")}`);
    }
  });
});
