/**
 * Planners in two "processes" (two PayoutService instances, each with its own PostgreSQL pool and
 * ledger) racing while sellers keep earning: no balance is reserved twice, every credited unit is
 * planned exactly once, and payout/batch ids are consecutive without gaps or duplicates. Also the
 * lease's fencing: a planner whose lease expired and was taken over cannot record a batch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../service/db/index.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import type { SqlRunner } from "../../service/db/sql.js";
import { PayoutAccounts, PayoutService } from "../../service/payouts/index.js";
import { PayoutStateLeases, PLANNER_LEASE } from "../../service/payouts/planner-repository.js";
import { PrismaSettlementRepository, SettlementService } from "../../service/settlement/index.js";
import { postgresReachable } from "../support/db.js";
import { openPayoutHarness, type PayoutHarness } from "./harness.js";

const hasPostgres = await postgresReachable();
if (!hasPostgres) console.warn("[test/payouts/concurrency] PostgreSQL unreachable: skipped");

describe.skipIf(!hasPostgres)("payout planners racing on PostgreSQL", { timeout: 60_000 }, () => {
  let h: PayoutHarness;
  let second: Database;
  let other: PayoutService;
  // The vault's sellers only (a mainland-China one is the bank rail's): five, more than one batch of four.
  const sellers = ["S-POP-HK-02", "S-SEMI-HZ-01", "S-TEST-USD-01", "S-TEST-USD-02", "S-TEST-CNY-01"];
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
    const leases = new PayoutStateLeases(h.db.sql);
    const a = await leases.acquire(PLANNER_LEASE, "planner-a", 60_000);
    expect(a.acquired).toBe(true);
    expect(await leases.acquire(PLANNER_LEASE, "planner-b", 60_000)).toMatchObject({ acquired: false, holder: "planner-a" });
    // planner-a stalls past its TTL (the database's clock decides: the test makes its expiry past)
    // and planner-b takes over with the next token; planner-a can no longer renew.
    await h.db.sql.q(`UPDATE payout_state SET lease_until = clock_timestamp() - interval '1 second'`);
    const b = await leases.acquire(PLANNER_LEASE, "planner-b", 60_000);
    expect(b).toMatchObject({ acquired: true, token: (a as { token: bigint }).token + 1n });
    expect(await leases.renew(PLANNER_LEASE, "planner-a", (a as { token: bigint }).token, 60_000)).toBe(false);
    const before = await h.payouts.listPayouts({ limit: 1000 });
    const lost = new Error("fenced");
    const fence = async (tx: SqlRunner) => {
      if (!(await leases.verify(tx, PLANNER_LEASE, "planner-a", (a as { token: bigint }).token))) throw lost;
    };
    await expect(
      h.payouts.repo.planner.insertBatch(fence, {
        chainId: h.sys.chainId,
        vault: h.vault,
        createdBy: "test",
        payoutsHash: `0x${"11".repeat(32)}`,
        total: 1n,
        payouts: [{ sellerId: "S-POP-HK-02", address: h.sys.others[1]!.address, currency: "USD", amount: 1n, usdAmount: 1n, tokenAmount: 1n, fx: null, ledgerRequest: () => ({}) }],
      }),
    ).rejects.toBe(lost);
    expect(await h.payouts.listPayouts({ limit: 1000 })).toHaveLength(before.length);
    await leases.release(PLANNER_LEASE, "planner-b", (b as { token: bigint }).token);
  });
});
