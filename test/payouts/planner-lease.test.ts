/**
 * The vault payout planner's lease (`payout_state`), on both engines, with two planner instances
 * (two PayoutServices, each its own owner) on one database and a real local chain: a run takes a
 * short lease (6 s by default, not the 120 s it once held unrenewed), renews it while it works
 * (another instance stays out however long the run takes), and a run whose instance dies mid-way
 * (its renewals stop reaching the database) is taken over within the short lease. The dead run,
 * should it wake up, records nothing more (its transactions are fenced by the lease's token):
 * every seller is paid once, each payout id is processed by the vault once, one reserve per payout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PayoutStateLeases } from "../../service/payouts/planner-repository.js";
import { PayoutService, type PayoutHooks } from "../../service/payouts/index.js";
import type { LeaseStorePort } from "../../service/leader/lease-store.js";
import { testDatabaseKinds } from "../support/db.js";
import { dyingLeases, TEST_LEASE_TTL_MS } from "../support/leases.js";
import { openPayoutHarness, USDC, type PayoutHarness } from "./harness.js";

const kinds = await testDatabaseKinds();
const TTL = TEST_LEASE_TTL_MS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (e: unknown) => (e as { code?: string }).code;

describe.each(kinds)("vault payout planner lease on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  const currencyOf = (id: string) => h.sellers.find((s) => s.id === id)!.payoutCurrency;
  const addressOf = (id: string) => h.sys.others[h.sellers.findIndex((s) => s.id === id)]!.address;
  /** Another planner instance on the same database and chain (its own owner, so its own lease holder). */
  const instance = (o: { leases?: LeaseStorePort; hooks?: PayoutHooks; leaseMs?: number }) =>
    new PayoutService({
      sql: h.db.sql,
      ledger: h.ledger,
      fx: h.fx,
      sellers: h.settlement,
      chain: { chainId: h.sys.chainId, provider: h.provider, record: h.sys.result.record, sender: h.sender, index: h.indexer, payer: h.payer.address },
      minAmount: 100n,
      maxPerBatch: 1,
      intervalMs: 0,
      ...o,
    });
  const leaseLeftMs = async () =>
    Number((await h.db.sql.q<Array<{ ms: string }>>(`SELECT (extract(epoch FROM lease_until - clock_timestamp()) * 1000)::text AS ms FROM payout_state`))[0]!.ms);

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    // The planner caps batches by the vault's free balance: give it plenty.
    await h.sys.c.mock.mint(h.sys.deployer.address, 10n ** 15n).then((t) => t.wait());
    await h.sys.c.token.approve(h.vault, 10n ** 15n).then((t) => t.wait());
    await h.sys.c.vault.fund(10n ** 15n).then((t) => t.wait());
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("takes a short lease by default (6 s, not 120 s) and gives it back when the run ends", async () => {
    await h.credit("S-TEST-USD-01", "USD", 1_000n);
    let left = Number.NaN;
    const a = instance({
      hooks: {
        at: async (step) => {
          if (step === "batch-recorded") left = await leaseLeftMs();
        },
      },
    });
    const { batches } = await a.plan();
    expect(batches).toHaveLength(1);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(6_000);
    expect(await h.db.sql.q(`SELECT name FROM payout_state WHERE lease_owner IS NOT NULL`)).toHaveLength(0);
  });

  it("renews its lease while a run works past the TTL: another instance stays out until it ends", async () => {
    await h.credit("S-TEST-USD-02", "USD", 1_000n);
    let reached!: () => void;
    const atRecorded = new Promise<void>((r) => (reached = r));
    const a = instance({ leaseMs: TTL, hooks: { at: async (step) => { if (step === "batch-recorded") { reached(); await sleep(TTL * 3); } } } });
    const b = instance({ leaseMs: TTL });
    const running = a.plan();
    await atRecorded;
    for (const wait of [TTL * 1.2, TTL]) {
      await sleep(wait);
      await expect(b.plan()).rejects.toMatchObject({ code: "ENT_PAYOUT_PLANNER_BUSY" });
    }
    expect((await running).batches).toHaveLength(1);
    // Given back at once: the other instance plans now (nobody is due).
    expect((await b.plan()).batches).toHaveLength(0);
  });

  it("is taken over within the short lease when its instance dies mid-run; the dead run records nothing more, nobody is paid twice", async () => {
    // What the tests above planned is paid first, so the token balances below count this test's payouts only.
    for (const x of await h.payouts.listBatches(["planned"])) await h.untilBatch(x.id, "final");
    const due = ["S-POP-HK-02", "S-TEST-USD-01", "S-TEST-USD-02"];
    for (const id of due) await h.credit(id, currencyOf(id), 2_000n);
    const before = new Set((await h.payouts.listPayouts({ limit: 1000 })).map((p) => p.id));
    const tokensBefore = new Map(await Promise.all(due.map(async (id) => [id, await h.sys.c.token.balanceOf(addressOf(id))] as const)));
    const dying = dyingLeases(new PayoutStateLeases(h.db.sql));
    let recorded!: (batchId: bigint) => void;
    const first = new Promise<bigint>((r) => (recorded = r));
    let wake!: () => void;
    const asleep = new Promise<void>((r) => (wake = r));
    // A read every balance, recorded and reserved its first batch (one payout a batch), then its
    // instance dies: it would record the others' batches from the balances it read.
    const a = instance({
      leases: dying,
      leaseMs: TTL,
      hooks: {
        at: async (step, c) => {
          if (step !== "intent-recorded") return;
          recorded(c.batchId);
          await asleep;
        },
      },
    });
    // B's store notes when B's run took the lease (its run then plans, which takes a while on its own).
    const real = new PayoutStateLeases(h.db.sql);
    let tookAt: number | null = null;
    const watched: LeaseStorePort = {
      acquire: async (...a) => {
        const r = await real.acquire(...a);
        if (r.acquired) tookAt ??= performance.now();
        return r;
      },
      renew: (...a) => real.renew(...a),
      release: (...a) => real.release(...a),
      verify: (...a) => real.verify(...a),
    };
    const b = instance({ leases: watched, leaseMs: TTL });
    const deadRun = a.plan().then(
      () => "finished",
      (e: unknown) => codeOf(e),
    );
    const aBatch = await first;
    dying.die();
    const diedAt = performance.now();
    await expect(b.plan()).rejects.toMatchObject({ code: "ENT_PAYOUT_PLANNER_BUSY" });
    let taken: Awaited<ReturnType<PayoutService["plan"]>> | null = null;
    while (taken === null && performance.now() - diedAt < TTL + 3_000) {
      taken = await b.plan().catch((e: unknown) => {
        if (codeOf(e) !== "ENT_PAYOUT_PLANNER_BUSY") throw e;
        return null;
      });
      if (taken === null) await sleep(100);
    }
    expect(taken, `still ENT_PAYOUT_PLANNER_BUSY ${Math.round(performance.now() - diedAt)} ms after the run died`).not.toBeNull();
    // The database's expiry is at most one TTL after A's last renewal that reached it; B polls every 100 ms (the rest: a loaded machine).
    expect(tookAt! - diedAt).toBeLessThan(TTL + 1_000);
    // B planned the two sellers A had not recorded yet (A's seller has nothing available left).
    const aPayouts = (await h.payouts.getBatch(aBatch)).payouts;
    expect(aPayouts).toHaveLength(1);
    const bSellers = (await Promise.all(taken!.batches.map(async (x) => (await h.payouts.getBatch(x.id)).payouts.map((p) => p.sellerId)))).flat();
    expect([aPayouts[0]!.sellerId, ...bSellers].sort()).toEqual([...due].sort());

    // The dead run wakes up believing its lease renewed, and would record a batch for a balance B
    // has already planned: its transaction is refused.
    wake();
    expect(await deadRun).toBe("ENT_PAYOUT_PLANNER_LEASE_LOST");

    // Nothing paid twice: one payout per seller, one reserve each, every id processed once on chain.
    const fresh = (await h.payouts.listPayouts({ limit: 1000 })).filter((p) => !before.has(p.id));
    expect(fresh.map((p) => p.sellerId).sort()).toEqual([...due].sort());
    for (const p of fresh) {
      const reserves = await h.ledger.listTransactions({ metadata: { kind: "payout", payoutId: p.id.toString() }, limit: 10 });
      expect(reserves.items.map((t) => t.id), `payout ${p.id}`).toEqual([p.pendingTxId]);
      const bal = await h.ledger.balance(`seller:${p.sellerId}:available`, p.currency);
      expect(bal.available, p.sellerId).toBe(0n);
    }
    for (const batchId of new Set(fresh.map((p) => p.batchId))) await h.untilBatch(batchId, "final");
    for (const p of fresh) expect(await h.sys.c.vault.isPayoutProcessed(p.id), `payout ${p.id}`).toBe(true);
    for (const id of due) expect((await h.sys.c.token.balanceOf(addressOf(id))) - tokensBefore.get(id)!, id).toBe(20n * USDC);
  });
});
