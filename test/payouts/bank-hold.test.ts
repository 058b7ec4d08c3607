/**
 * The hold after a return is one rule for every path, on both engines: only a later payout to the
 * same account that the bank paid (booked final, or partly paid) lifts it, for a PUT of the account
 * and for a run alike; one merely instructed proves nothing. And every path that files a payout holds
 * it to what a run holds its seller to: a payout planned by an older version (or before the account
 * changed) and left planned by a crash is not filed when the account is shared, held after a return,
 * without an address or no longer the seller's; its reserve is voided and it is rejected while
 * planned, the seller's money back in its available balance.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { LeaseStore } from "../../service/leader/lease-store.js";
import { requestFromJson, requestToJson } from "../../service/payouts/booking.js";
import { reserveRequest } from "../../service/payouts/bank/booking.js";
import { accountRef, BankStore, type BankPayout } from "../../service/payouts/bank/store.js";
import type { BankAccountRef } from "../../service/payouts/bank/iso20022.js";
import { BankRail, type BankRailOptions } from "../../service/payouts/index.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { answer, camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const platform = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };

interface RunJson {
  file: { id: string; xml?: string } | null;
  payouts: Array<BankPayoutJson & { account: { accountNumber: string | null } }>;
  skipped: Array<{ sellerId: string; reason: string; detail?: string }>;
}

/**
 * A harness of its own for each describe (so each case starts from a clean database and fails on
 * its own), and the steps the cases repeat.
 */
function bankHolds(kind: Awaited<typeof kinds>[number]) {
  let h!: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  let remits = 0;
  const { balance, confirm, sale, remit } = bankKit(() => ({ h, financeWrite }));
  const auth = () => ({ authorization: `Bearer ${h.keys.admin.key}` });
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: auth() });
  const holdOf = async (seller: string) => json<{ hold: { payoutId: string; endToEndId: string } | null }>(await h.get(`/v1/sellers/${seller}/bank-account`)).hold;
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<RunJson>(r);
  };
  /** A sale for the seller, remitted: its available balance is due. */
  const due = async (seller: string) => {
    await sale(seller, "149900");
    await remit(`ADY-PO-HOLD-${++remits}`);
  };
  const runFor = async (seller: string) => {
    const r = await run();
    const p = r.payouts.find((x) => x.sellerId === seller);
    expect(p, JSON.stringify(r.skipped)).toBeDefined();
    return p!;
  };
  const debit = (p: { endToEndId: string; amount: string }, id: string) => camt054({ messageId: id, account: platform, entries: [{ endToEndId: p.endToEndId, currency: "USD", amount: BigInt(p.amount) }] });
  const giveBack = (p: { endToEndId: string; amount: string }, id: string) =>
    camt054({ messageId: id, account: platform, entries: [{ endToEndId: p.endToEndId, currency: "USD", amount: BigInt(p.amount), returnReason: "AC04" }] });
  const held = (r: Awaited<ReturnType<typeof put>>) => {
    expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    return json<{ details: { hold: { payoutId: string; endToEndId: string } } }>(r).details.hold;
  };
  /** Another instance of the rail on the same database: the process after a restart. */
  const restarted = (hooks?: BankRailOptions["hooks"]) =>
    new BankRail({
      sql: h.db.sql,
      ledger: h.services.ledger,
      sellers: h.services.settlement,
      leases: new LeaseStore(h.db.sql),
      debtor: { ...h.config.bank.account, clearingSystem: null, clearingMember: null },
      outbox: h.config.bank.outbox,
      inbox: h.config.bank.inbox,
      minAmount: h.config.bank.minAmount,
      owner: "restarted",
      ...(hooks === undefined ? {} : { hooks }),
    });
  /**
   * A payout as a version before these holds planned it, left planned by a crash after its reserve
   * was posted (the rail's own request under its key): the seller's whole available balance, to
   * `account` (the account on file, as the rail copies it, unless given).
   */
  const plant = async (sellerId: string, currency: string, account?: BankAccountRef): Promise<BankPayout> => {
    const store = new BankStore(h.db.sql);
    const amount = BigInt((await balance(`seller:${sellerId}:available`, currency)).available);
    expect(amount).toBeGreaterThan(0n);
    const to = account ?? accountRef((await store.account(sellerId))!);
    const p = await store.insertPlanned({ sellerId, currency, amount, account: to, createdBy: "an older version", tag: await store.installationTag() }, (id, endToEndId) =>
      requestToJson(reserveRequest({ id, sellerId, currency, amount, endToEndId })),
    );
    const reserve = await h.services.ledger.post(requestFromJson(p!.reserveRequest));
    await store.setPendingTx(p!.id, reserve.transaction.id);
    expect((await balance(`seller:${sellerId}:available`, currency)).available).toBe("0");
    return { ...p!, pendingTxId: reserve.transaction.id };
  };
  const fileCount = async () => (await h.db.sql.q(`SELECT id FROM bank_payout_files`)).length;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-hold-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  return { h: () => h, balance, confirm, sale, put, holdOf, run, due, runFor, debit, giveBack, held, restarted, plant, fileCount, auth };
}

const X = HK_ACCOUNT;
const OTHER_HK = { ...HK_ACCOUNT, accountNumber: "012-345678-009" };

describe.each(kinds)("a PUT of an account held after a return on %s", (kind) => {
  const { confirm, put, due, runFor, debit, giveBack, held } = bankHolds(kind);
  it("keeps an account held while the payout made to it since the return is only instructed; lifts it once the bank has paid that payout", async () => {
    expect((await put("S-POP-HK-02", X)).statusCode).toBe(200);
    await due("S-POP-HK-02");
    const a = await runFor("S-POP-HK-02");
    expect((await confirm(giveBack(a, "HSBC-054-HOLD-A"))).map((r) => [r.payoutId, r.outcome])).toEqual([[a.id, "rejected"]]);
    // Confirmed as checked, paid again: the payout is with the bank, not booked.
    expect((await put("S-POP-HK-02", { ...X, confirmReturnedAccount: true })).statusCode).toBe(200);
    await due("S-POP-HK-02");
    const b = await runFor("S-POP-HK-02");
    expect(b.account.accountNumber).toBe(X.accountNumber);
    // The seller moves off X and back: X is still the account the bank returned `a` from, and
    // nothing the bank has paid since says otherwise.
    expect((await put("S-POP-HK-02", OTHER_HK)).statusCode).toBe(200);
    expect(held(await put("S-POP-HK-02", X))).toMatchObject({ payoutId: a.id, endToEndId: a.endToEndId });
    expect(held(await put("S-FULL-GZ-01", { ...X, holderName: "Guangzhou Apparel Factory", confirmHolderName: true }))).toMatchObject({ payoutId: a.id });
    // The bank books `b`: X took money after the return, the hold is gone.
    expect((await confirm(debit(b, "HSBC-054-HOLD-B"))).map((r) => r.outcome)).toEqual(["final"]);
    const back = await put("S-POP-HK-02", X);
    expect(back.statusCode, back.body).toBe(200);
    expect(json<{ hold: unknown }>(back).hold).toBeNull();
  });
});

describe.each(kinds)("a run held after a return on %s", (kind) => {
  const { confirm, put, holdOf, run, due, runFor, debit, giveBack, held } = bankHolds(kind);
  it("holds a run as it holds a PUT: a return after final with a later payout in flight holds both until that payout is paid, then lifts both", async () => {
    expect((await put("S-POP-HK-02", X)).statusCode).toBe(200);
    await due("S-POP-HK-02");
    const c = await runFor("S-POP-HK-02");
    expect((await confirm(debit(c, "HSBC-054-HOLD-C"))).map((r) => r.outcome)).toEqual(["final"]);
    await due("S-POP-HK-02");
    const d = await runFor("S-POP-HK-02");
    // Days later the beneficiary's bank sends `c` back; `d`, to the same account, is not booked yet.
    expect((await confirm(giveBack(c, "HSBC-054-HOLD-CR"))).map((r) => r.outcome)).toEqual(["returned"]);
    expect(await holdOf("S-POP-HK-02")).toMatchObject({ payoutId: c.id });
    expect(held(await put("S-POP-HK-02", X))).toMatchObject({ payoutId: c.id });
    // The bank pays `d` after it sent `c` back: the account takes money, for the GET, the PUT and the run.
    expect((await confirm(debit(d, "HSBC-054-HOLD-D"))).map((r) => r.outcome)).toEqual(["final"]);
    expect(await holdOf("S-POP-HK-02")).toBeNull();
    expect((await put("S-POP-HK-02", X)).statusCode).toBe(200);
    await due("S-POP-HK-02");
    const next = await run();
    expect(next.skipped.filter((s) => s.sellerId === "S-POP-HK-02")).toEqual([]);
    const e = next.payouts.find((p) => p.sellerId === "S-POP-HK-02")!;
    expect(e.account.accountNumber).toBe(X.accountNumber);
    expect((await confirm(debit(e, "HSBC-054-HOLD-E"))).map((r) => r.outcome)).toEqual(["final"]);
  });
});

describe.each(kinds)("the worker's tick after a restart on %s", (kind) => {
  const { h, balance, confirm, put, holdOf, run, due, runFor, debit, giveBack, restarted, plant, fileCount } = bankHolds(kind);
  it("does not file, after a restart, a payout an older version planned for a seller whose account is shared or held: its reserve is released", async () => {
    // S-POP-HK-02's account is held: its payout comes back after final.
    expect((await put("S-POP-HK-02", X)).statusCode).toBe(200);
    await due("S-POP-HK-02");
    const last = await runFor("S-POP-HK-02");
    expect((await confirm(debit(last, "HSBC-054-HOLD-F"))).map((r) => r.outcome)).toEqual(["final"]);
    expect((await confirm(giveBack(last, "HSBC-054-HOLD-FR"))).map((r) => r.outcome)).toEqual(["returned"]);
    // S-POP-SZ-01's account is also on file for S-FULL-GZ-01 (a row from before one account was one seller's).
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    await h().db.sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, account_number, bic, clearing_system, clearing_member, country, set_by, address_town_name, address_country)
       VALUES ('S-FULL-GZ-01', 'Guangzhou Apparel Factory', '6222021234567890123', 'ICBKCNBJ', 'CNAPS', '102584002170', 'CN', 'before', 'Guangzhou', 'CN')`,
    );
    await due("S-POP-SZ-01");
    const before = await run();
    expect(before.payouts).toEqual([]);
    expect(before.skipped.filter((s) => s.sellerId !== "S-FULL-GZ-01").map((s) => [s.sellerId, s.reason]).sort()).toEqual([
      ["S-POP-HK-02", "account_returned"],
      ["S-POP-SZ-01", "bank_account_shared"],
    ]);
    const returned = await plant("S-POP-HK-02", "USD");
    const shared = await plant("S-POP-SZ-01", "CNY");
    const files = await fileCount();

    // The process restarts; the worker's tick resumes what was left planned.
    await restarted().tick();
    expect(await fileCount()).toBe(files);
    for (const [p, reason] of [[returned, "account_returned"], [shared, "bank_account_shared"]] as const) {
      const now = await h().services.bank!.payout(p.id);
      expect([now.status, now.fileId], `${p.sellerId}: ${now.reason}`).toEqual(["rejected", null]);
      expect(now.reason).toContain(`not filed: ${reason}`);
      expect(now.voidTxId).not.toBeNull();
      expect((await balance(`seller:${p.sellerId}:available`, p.currency)).available).toBe(p.amount.toString());
    }
    // Rejected while planned, never instructed: no hold of its own, nothing announced; the next run skips both sellers as before.
    expect((await holdOf("S-POP-HK-02"))?.payoutId).toBe(last.id);
    const after = await run();
    expect(after.payouts).toEqual([]);
    expect(after.skipped.filter((s) => s.sellerId !== "S-FULL-GZ-01").map((s) => [s.sellerId, s.reason]).sort()).toEqual([
      ["S-POP-HK-02", "account_returned"],
      ["S-POP-SZ-01", "bank_account_shared"],
    ]);
  });
});

describe.each(kinds)("a run resuming what a crash left planned on %s", (kind) => {
  const { h, put, run, due, plant } = bankHolds(kind);
  it("does not file a payout an older version planned without the address the account on file now has; pays the seller to its account on file in the same run", async () => {
    // A payout an older version planned before addresses were required, without one, is left planned.
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    await due("S-POP-SZ-01");
    const store = new BankStore(h().db.sql);
    const old = await plant("S-POP-SZ-01", "CNY", { ...accountRef((await store.account("S-POP-SZ-01"))!), address: null });
    const r = await run();
    expect(r.payouts.map((p) => p.id)).not.toContain(old.id.toString());
    expect(await h().services.bank!.payout(old.id)).toMatchObject({ status: "rejected", fileId: null });
    expect(r.skipped).toContainEqual(expect.objectContaining({ sellerId: "S-POP-SZ-01", reason: "address_missing" }));
    // Its money is paid in the same run, to the account on file, with its address.
    const sz = r.payouts.find((p) => p.sellerId === "S-POP-SZ-01")!;
    expect(sz.amount).toBe(old.amount.toString());
    const xml = (await h().services.bank!.file(r.file!.id)).xml;
    expect(xml).not.toContain(old.endToEndId);
    expect(xml).toContain("<TwnNm>Shenzhen</TwnNm>");
    expect((await h().services.bank!.confirm(answer(xml, { messageId: "HSBC-054-HOLD-SZ", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } }))).results.map((x) => x.outcome)).toEqual(["final"]);
  });
});

describe.each(kinds)("a run whose seller's account is replaced while it plans on %s", (kind) => {
  const { h, balance, put, run, due, restarted } = bankHolds(kind);
  it("does not file the payout it planned to the account the seller no longer has; the next run pays the account on file", async () => {
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    await due("S-POP-SZ-01");
    const rail = restarted({
      at: async (step, c) => {
        if (step !== "planned" || c.payoutId === undefined) return;
        expect((await put("S-POP-SZ-01", { ...CN_ACCOUNT, accountNumber: "6222029876543210987" })).statusCode).toBe(200);
      },
    });
    const moved = await rail.run("admin");
    expect(moved.file).toBeNull();
    expect(moved.skipped).toContainEqual(expect.objectContaining({ sellerId: "S-POP-SZ-01", reason: "account_changed" }));
    const [planned] = json<{ items: BankPayoutJson[] }>(await h().get("/v1/payouts/bank?sellerId=S-POP-SZ-01")).items;
    expect(planned).toMatchObject({ status: "rejected", fileId: null });
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe(planned!.amount);
    // The next run pays the account on file.
    const next = await run();
    expect(next.payouts.filter((p) => p.sellerId === "S-POP-SZ-01").map((p) => [p.amount, p.account.accountNumber])).toEqual([[planned!.amount, "6222029876543210987"]]);
  });
});
