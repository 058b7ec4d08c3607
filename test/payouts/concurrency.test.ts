/**
 * Planners in two "processes" (two PayoutService instances, each with its own PostgreSQL pool and
 * ledger) racing while sellers keep earning: no balance is reserved twice, every credited unit is
 * planned exactly once, and payout/batch ids are consecutive without gaps or duplicates. Also the
 * lease's fencing: a planner whose lease expired cannot record a batch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../service/db/index.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import { PayoutAccounts, PayoutService } from "../../service/payouts/index.js";
import { PrismaSettlementRepository, SettlementService } from "../../service/settlement/index.js";
import { postgresReachable } from "../support/db.js";
import { openPayoutHarness, type PayoutHarness } from "./harness.js";

const hasPostgres = await postgresReachable();
if (!hasPostgres) console.warn("[test/payouts/concurrency] PostgreSQL unreachable: skipped");

describe.skipIf(!hasPostgres)("payout planners racing on PostgreSQL", { timeout: 60_000 }, () => {
  let h: PayoutHarness;
  let second: Database;
  let other: PayoutService;
  const sellers = ["S-POP-HK-02", "S-SEMI-HZ-01", "S-TEST-USD-01", "S-TEST-USD-02", "S-POP-SZ-01", "S-TEST-CNY-01"];
  const currencyOf = (id: string) => h.sellers.find((s) => s.id === id)!.payoutCurrency;

  beforeAll(async () => {
    h = await openPayoutHarness("postgres", { maxPerBatch: 4 });
    // A second process: its own pool, ledger, FX and settlement services on the same database.
    second = await openDatabase({ url: h.db.url!, poolSize: 4, migrate: false });
    const ledger = createLedger(second);
    const fx = new FxService(new PrismaFxRepository(second.prisma), { rateCacheSeconds: 0 });
    other = new PayoutService({
      sql: second.sql,
      ledger,
      fx,
      sellers: new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(second.prisma, second.sql) }),
      chain: { chainId: h.sys.chainId, provider: h.provider, record: h.sys.result.record, sender: h.sender, index: h.indexer, payer: h.payer.address },
      minAmount: 100n,
      maxPerBatch: 4,
      intervalMs: 0,
    });
    // The planner caps batches by the vault's free balance: give it plenty.
    await h.sys.c.mock.mint(h.sys.deployer.address, 10n ** 15n).then((t) => t.wait());
    await h.sys.c.token.approve(h.vault, 10n ** 15n).then((t) => t.wait());
    await h.sys.c.vault.fund(10n ** 15n).then((t) => t.wait());
  }, 120_000);
  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  it("reserves every credited unit exactly once, with consecutive ids", async () => {
    const credited = new Map<string, bigint>();
    let busy = 0;
    for (let round = 0; round < 8; round++) {
      for (const [i, id] of sellers.entries()) {
        if ((round + i) % 3 === 0) continue;
        const amount = BigInt(1_000 + round * 100 + i);
        await h.credit(id, currencyOf(id), amount);
        credited.set(id, (credited.get(id) ?? 0n) + amount);
      }
      const results = await Promise.allSettled([h.payouts.plan(), other.plan(), other.plan(), h.payouts.plan()]);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(r.reason).toMatchObject({ code: "ENT_PAYOUT_PLANNER_BUSY" });
          busy++;
        }
      }
    }
    await h.payouts.plan(); // whatever a busy round left

    const payouts = await h.payouts.listPayouts({ limit: 1000 });
    const planned = new Map<string, bigint>();
    for (const p of payouts) planned.set(p.sellerId, (planned.get(p.sellerId) ?? 0n) + p.amount);
    expect(planned).toEqual(credited);
    for (const id of sellers) {
      const b = await h.ledger.balance(PayoutAccounts.available(id), currencyOf(id));
      expect(b, id).toMatchObject({ posted: credited.get(id), available: 0n, pendingDebits: credited.get(id) });
    }
    // Every reserve booked, once.
    expect(payouts.every((p) => p.pendingTxId !== null)).toBe(true);
    expect(new Set(payouts.map((p) => p.pendingTxId)).size).toBe(payouts.length);

    const ids = payouts.map((p) => p.id).sort((a, b) => (a < b ? -1 : 1));
    expect(ids).toEqual(ids.map((_, i) => BigInt(i + 1)));
    const batchIds = [...new Set(payouts.map((p) => p.batchId))].sort((a, b) => (a < b ? -1 : 1));
    expect(batchIds).toEqual(batchIds.map((_, i) => BigInt(i + 1)));
    for (const id of batchIds) {
      const { batch, payouts: inBatch } = await h.payouts.getBatch(id);
      expect(inBatch.map((p) => p.id)).toEqual(inBatch.map((_, i) => batch.firstPayoutId + BigInt(i)));
      expect(batch.count).toBe(inBatch.length);
      expect(batch.count).toBeLessThanOrEqual(4);
    }
    expect(busy).toBeGreaterThan(0); // the race really happened
  });

  it("fences a planner whose lease expired: it cannot record a batch", async () => {
    // A lease that ended a second ago (as if planner-a stalled past its TTL): the database's clock
    // decides expiry, so the test makes it past instead of waiting for it to pass.
    expect(await h.payouts.repo.planner.acquireLease("planner-a", -1_000)).toBe(true);
    expect(await other.repo.planner.acquireLease("planner-b", 60_000)).toBe(true);
    expect(await h.payouts.repo.planner.acquireLease("planner-a", 60_000)).toBe(false);
    const recorded = await h.payouts.repo.planner.insertBatch("planner-a", {
      chainId: h.sys.chainId,
      vault: h.vault,
      createdBy: "test",
      payoutsHash: `0x${"11".repeat(32)}`,
      total: 1n,
      payouts: [{ sellerId: "S-POP-HK-02", address: h.sys.others[1]!.address, currency: "USD", amount: 1n, usdAmount: 1n, tokenAmount: 1n, fx: null, ledgerRequest: () => ({}) }],
    });
    expect(recorded).toBeNull();
    await other.repo.planner.releaseLease("planner-b");
  });
});
