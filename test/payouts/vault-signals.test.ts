/**
 * What the background planner (PayoutService.tick) says when the vault holds sellers back, on an
 * in-process chain and a real database of each kind (the payout harness), and a chain node that
 * stops answering:
 * - an underfunded vault: sellers skipped as `vault_capacity` are logged at warn once, not at every
 *   planning run, and /metrics (the real app) shows the vault's budget, what is due and how many
 *   sellers were skipped, and the anchoring lag;
 * - a paused vault: no batch is planned (no reserve, no batch failing at every interval), the due
 *   sellers are skipped as `vault_paused`, logged once; after `unpause` the next run plans;
 * - a node that does not answer: the planning failure reaches the worker loop, which logs one
 *   warning for the outage and no error (README "Chain outages").
 */
import { createServer } from "node:net";
import { JsonRpcProvider, Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnchorService } from "../../service/anchoring/index.js";
import { buildApp } from "../../service/app.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { loadConfig } from "../../service/config.js";
import { CHAIN_OUTAGE, startLoop } from "../../service/loop.js";
import { fundVaultLocal, PayoutService } from "../../service/payouts/index.js";
import { createServices } from "../../service/services.js";
import { testDatabaseKinds } from "../support/db.js";
import { openPayoutHarness, USDC, type LogLine, type PayoutHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

/** A clock ten years ahead of the database's: every tick finds the planning interval passed. */
const later = () => new Date(Date.now() + 10 * 365 * 86_400_000);

describe.each(kinds)("the vault holding sellers back, on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  let app: FastifyInstance;
  const heldBack = (reason: string) => h.logs.filter((l) => l.level === "warn" && (l.obj as { reason?: string }).reason === reason);
  const batches = async () => (await h.payouts.listBatches()).length;

  beforeAll(async () => {
    h = await openPayoutHarness(kind, { intervalMs: 60_000, now: later });
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 100n * USDC });
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const anchorer = new Wallet(devPrivateKey(1, h.sys.chainId), h.provider);
    const anchoring = new AnchorService({
      sql: h.db.sql,
      ledger: h.ledger,
      provider: h.provider,
      chainId: h.sys.chainId,
      anchor: h.sys.result.record.contracts.SettlementAnchor.address,
      sender: new TxSender({ sql: h.db.sql, provider: h.provider, chainId: h.sys.chainId, signers: [anchorer], record: h.sys.result.record }),
      anchorer: anchorer.address,
    });
    app = await buildApp({ services: { ...createServices(h.db, config), ledger: h.ledger, payouts: h.payouts, anchoring }, config, logger: false });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it("logs sellers the vault cannot cover once, and shows budget, due and skipped in /metrics", async () => {
    await h.credit("S-TEST-USD-01", "USD", 1_000_000n); // $10,000.00: far more than the vault's $100
    for (let i = 0; i < 3; i++) await h.payouts.tick();
    expect(await batches()).toBe(0);
    const warned = heldBack("vault_capacity");
    expect(warned).toHaveLength(1);
    expect(warned[0]!.obj).toMatchObject({ sellers: 1, skipped: [{ sellerId: "S-TEST-USD-01", reason: "vault_capacity" }] });

    const metrics = (await app.inject({ url: "/metrics" })).body;
    const vault = h.vault.toLowerCase();
    expect(metrics).toContain(`entrepot_payout_skipped_vault_capacity{vault="${vault}"} 1`);
    expect(metrics).toContain(`entrepot_payout_vault_budget_base_units{vault="${vault}"} ${100n * USDC}`);
    expect(metrics).toContain(`entrepot_payout_due_base_units{vault="${vault}"} ${10_000n * USDC}`);
    expect(metrics).toContain(`entrepot_payout_vault_paused{vault="${vault}"} 0`);
    // Nothing anchored yet: the whole journal is the lag.
    const { head } = await h.ledger.journalPosition(0n);
    expect(head).toBeGreaterThan(0n);
    expect(metrics).toContain(`entrepot_anchoring_lag_transactions{anchor="${h.sys.result.record.contracts.SettlementAnchor.address.toLowerCase()}"} ${head}`);
  });

  it("plans nothing for a paused vault, logs it once, and plans again once it is unpaused", async () => {
    // The vault now covers the seller: only the pause holds it back.
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 20_000n * USDC });
    await h.sys.c.vault.connect(h.sys.pauser).pause().then((t) => t.wait());
    const before = await batches();
    await h.payouts.tick();
    await h.credit("S-TEST-USD-01", "USD", 5_000n); // more proceeds while paused
    await h.payouts.tick();
    expect(await batches()).toBe(before);
    expect((await h.ledger.balance("seller:S-TEST-USD-01:available", "USD")).available).toBe(1_005_000n); // nothing reserved
    const warned = heldBack("vault_paused");
    expect(warned).toHaveLength(1); // two runs, one line: the set of sellers held back did not change
    expect(warned[0]!.obj).toMatchObject({ skipped: [{ sellerId: "S-TEST-USD-01", reason: "vault_paused" }] });
    expect((await app.inject({ url: "/metrics" })).body).toContain(`entrepot_payout_vault_paused{vault="${h.vault.toLowerCase()}"} 1`);

    await h.sys.c.vault.unpause().then((t) => t.wait());
    await h.payouts.tick();
    expect(await batches()).toBe(before + 1);
    expect(h.logs.some((l) => l.level === "info" && l.msg === "the vault covers every due payout again")).toBe(true);
  });

  it("leaves a node outage to the worker loop: one warning, no error line per interval", async () => {
    // A port nothing listens on: connections are refused, as from a node that is down.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = new JsonRpcProvider(`http://127.0.0.1:${port}`, h.sys.chainId, { staticNetwork: true });
    const chain = { chainId: h.sys.chainId, provider: down, record: h.sys.result.record, sender: h.sender, index: h.indexer, payer: h.payer.address };
    const lines: LogLine[] = [];
    const log = {
      info: (obj: object, msg?: string) => void lines.push({ level: "info", msg: msg ?? "", obj }),
      warn: (obj: object, msg?: string) => void lines.push({ level: "warn", msg: msg ?? "", obj }),
      error: (obj: object, msg?: string) => void lines.push({ level: "error", msg: msg ?? "", obj }),
      debug: (obj: object, msg?: string) => void lines.push({ level: "debug", msg: msg ?? "", obj }),
    };
    const payouts = new PayoutService({ sql: h.db.sql, ledger: h.ledger, fx: h.fx, sellers: h.settlement, chain, intervalMs: 60_000, now: later, log });
    let ticks = 0;
    let third = () => undefined as void;
    const done = new Promise<void>((resolve) => (third = resolve));
    const loop = startLoop(
      "payouts",
      1,
      async () => {
        try {
          await payouts.tick();
        } finally {
          if (++ticks === 3) third();
        }
      },
      log,
      { outage: CHAIN_OUTAGE },
    );
    await done;
    await loop.stop();
    down.destroy();
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    const warned = lines.filter((l) => l.level === "warn");
    expect(warned).toHaveLength(1);
    expect(warned[0]!.obj).toMatchObject({ loop: "payouts", code: "ENT_CHAIN_NODE_UNREACHABLE" });
    expect(lines.filter((l) => l.level === "debug").length).toBeGreaterThanOrEqual(2);
  });
});
