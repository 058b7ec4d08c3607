/**
 * The bank payout run's lease, on both engines, with two planner instances on one database: a run
 * renews its short lease while it works (another instance stays out however long it takes), and a
 * run that dies mid-way (its renewals stop reaching the database) is taken over within the short
 * lease: the other instance reserves and files what the dead one had planned, once, and the dead
 * run, should it wake up, writes nothing more (its transactions are fenced by the lease's token).
 * Without an operator's run, the worker's tick files what a dead run planned once its lease ends.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { LeaseStore, type LeaseStorePort } from "../../service/leader/lease-store.js";
import { BankRail, type BankRailOptions } from "../../service/payouts/index.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT } from "../support/bank.js";
import { answer } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { dyingLeases, TEST_LEASE_TTL_MS } from "../support/leases.js";
import { openHarness, publishDayRates, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const TTL = TEST_LEASE_TTL_MS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (e: unknown) => (e as { code?: string }).code;

describe.each(kinds)("bank payout run lease on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { sale, remit, balance } = bankKit(() => ({ h, financeWrite }));
  const instance = (owner: string, leases: LeaseStorePort, hooks?: BankRailOptions["hooks"]) =>
    new BankRail({
      sql: h.db.sql,
      ledger: h.services.ledger,
      sellers: h.services.settlement,
      leases,
      debtor: { ...h.config.bank.account, clearingSystem: null, clearingMember: null },
      outbox: h.config.bank.outbox,
      inbox: h.config.bank.inbox,
      minAmount: h.config.bank.minAmount,
      owner,
      leaseMs: TTL,
      ...(hooks === undefined ? {} : { hooks }),
    });

  /** planner-A on leases that can die, stopped after it records its first payout (`first`) until `wake()`. */
  const stallingInstance = () => {
    const dying = dyingLeases(new LeaseStore(h.db.sql));
    let planned!: (id: bigint) => void;
    const first = new Promise<bigint>((r) => (planned = r));
    let wake!: () => void;
    const asleep = new Promise<void>((r) => (wake = r));
    const a = instance("planner-A", dying, {
      at: async (step, c) => {
        if (step !== "planned" || c.payoutId === undefined) return;
        planned(c.payoutId);
        await asleep;
      },
    });
    return { a, dying, first, wake };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-lease-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: acct, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    }
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("renews its lease while a run works past the TTL: another instance stays out until it ends", async () => {
    const leases = new LeaseStore(h.db.sql);
    let reached!: () => void;
    const atFiling = new Promise<void>((r) => (reached = r));
    const a = instance("planner-A", leases, { at: async (step) => { if (step === "filing") { reached(); await sleep(TTL * 3); } } });
    const b = instance("planner-B", leases);
    const running = a.run("a");
    await atFiling;
    for (const wait of [TTL * 1.2, TTL]) {
      await sleep(wait);
      await expect(b.run("b")).rejects.toMatchObject({ code: "ENT_PAYOUT_PLANNER_BUSY" });
    }
    // Nobody is due yet (no balance): the run ends without a file, and gives its lease back at once.
    expect((await running).file).toBeNull();
    expect((await b.run("b")).file).toBeNull();
  });

  it("is taken over within the short lease when its instance dies mid-run; the other pays what it planned once, and the dead run writes nothing more", async () => {
    await sale("S-POP-SZ-01", "149900");
    await sale("S-POP-HK-02", "149900");
    await remit("ADY-LEASE-1");
    const { a, dying, first, wake } = stallingInstance();
    const b = instance("planner-B", new LeaseStore(h.db.sql));
    const running = a.run("a");
    const deadRun = running.then(() => "finished", (e: unknown) => codeOf(e));
    // A recorded its first payout (S-POP-HK-02, accounts go in seller order), then its instance dies.
    const aPlanned = await first;
    dying.die();
    const diedAt = performance.now();
    await expect(b.run("b")).rejects.toMatchObject({ code: "ENT_PAYOUT_PLANNER_BUSY" });
    let taken: Awaited<ReturnType<BankRail["run"]>> | null = null;
    while (taken === null && performance.now() - diedAt < TTL + 3_000) {
      taken = await b.run("b").catch((e: unknown) => {
        if (codeOf(e) !== "ENT_PAYOUT_PLANNER_BUSY") throw e;
        return null;
      });
      if (taken === null) await sleep(100);
    }
    const tookMs = performance.now() - diedAt;
    expect(taken, `still ENT_PAYOUT_PLANNER_BUSY ${Math.round(tookMs)} ms after the run died`).not.toBeNull();
    expect(tookMs).toBeLessThan(TTL + 1_000);
    // B reserved and instructed what A had planned, and the other seller, in one file.
    expect(taken!.file).not.toBeNull();
    expect(taken!.payouts.map((p) => [p.sellerId, p.status])).toEqual([
      ["S-POP-HK-02", "instructed"],
      ["S-POP-SZ-01", "instructed"],
    ]);
    expect(taken!.payouts[0]!.id).toBe(aPlanned);

    // The seller earns more meanwhile; then the dead run wakes up, believing its lease renewed. It
    // reads a balance for S-POP-SZ-01 and would record a payout: its transaction is refused.
    await sale("S-POP-SZ-01", "50000");
    const fresh = (await balance("seller:S-POP-SZ-01:available", "CNY")).available;
    expect(BigInt(fresh)).toBeGreaterThan(0n);
    wake();
    expect(await deadRun).toBe("ENT_PAYOUT_PLANNER_LEASE_LOST");

    // Nothing paid twice: two payouts, one file, one reserve each; the new balance is untouched.
    const rows = await h.db.sql.q<Array<{ id: bigint; seller_id: string; status: string; file_id: string }>>(`SELECT id, seller_id, status, file_id FROM bank_payouts ORDER BY id`);
    expect(rows.map((r) => [r.seller_id, r.status, r.file_id])).toEqual([
      ["S-POP-HK-02", "instructed", taken!.file!.id],
      ["S-POP-SZ-01", "instructed", taken!.file!.id],
    ]);
    expect(await h.db.sql.q(`SELECT id FROM bank_payout_files`)).toHaveLength(1);
    for (const r of rows) {
      const reserves = await h.services.ledger.listTransactions({ metadata: { kind: "bank_payout", bankPayoutId: String(r.id) }, limit: 10 });
      expect(reserves.items).toHaveLength(1);
    }
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe(fresh);
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).toBe("0");
  });

  it("has the worker's tick file what a dead run planned once its lease ends, without an operator's run", async () => {
    // The bank debits the earlier file: both sellers are free again; S-POP-SZ-01 has its new sale.
    const [file] = await h.services.bank!.files(1);
    const debits = answer(file!.xml, { messageId: "HSBC-054-L1", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } });
    expect((await h.services.bank!.confirm(debits)).results.map((r) => r.outcome)).toEqual(["final", "final"]);
    const { a, dying, first, wake } = stallingInstance();
    const worker = instance("planner-B", new LeaseStore(h.db.sql));
    const running = a.run("a");
    const id = await first;
    dying.die();
    const diedAt = performance.now();
    const status = async () => (await h.services.bank!.payout(id)).status;
    while ((await status()) === "planned" && performance.now() - diedAt < TTL + 3_000) {
      await worker.tick();
      if ((await status()) === "planned") await sleep(100);
    }
    const tookMs = performance.now() - diedAt;
    const p = await h.services.bank!.payout(id);
    expect([p.sellerId, p.status], `still planned ${Math.round(tookMs)} ms after the run died`).toEqual(["S-POP-SZ-01", "instructed"]);
    expect(tookMs).toBeLessThan(TTL + 1_000);
    expect((await h.services.bank!.file(p.fileId!)).createdBy).toBe("worker (an interrupted run resumed)");
    expect(await h.services.ledger.listTransactions({ metadata: { kind: "bank_payout", bankPayoutId: String(id) }, limit: 10 }).then((r) => r.items)).toHaveLength(1);
    // The dead run wakes: what it planned is filed already; it files nothing again.
    wake();
    expect((await running).file).toBeNull();
    expect(await h.db.sql.q(`SELECT id FROM bank_payouts WHERE seller_id = 'S-POP-SZ-01' AND status IN ('planned', 'instructed')`)).toHaveLength(1);
    expect(await h.db.sql.q(`SELECT id FROM bank_payout_files`)).toHaveLength(2);
  });
});
