/**
 * Two sellers whose account on file is one account (rows set before one account was one seller's,
 * which a PUT now refuses) are not paid: money for one would reach the other's holder. A bank run
 * skips each of them (`bank_account_shared`, naming the others) until an admin gives all but one of
 * them another account; the next run pays both. A return of a payout instructed to such an account
 * before is booked back to the seller it was paid for, and holds that account as any return: for
 * every seller that has it on file, so the other seller, no longer sharing it once the one paid moves
 * off it, is not paid to it either, and the account set again on any seller is held until confirmed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { sharedAccounts } from "../../service/payouts/bank/account-identity.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const platform = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };

interface RunJson {
  file: { id: string } | null;
  payouts: Array<BankPayoutJson & { account: { accountNumber: string | null } }>;
  skipped: Array<{ sellerId: string; reason: string; detail?: string; sharedWith?: string[] }>;
}

describe("the sellers sharing one account, as the run reads them", () => {
  it("names for each the others with the same account at the same bank, however written, and nobody else", () => {
    const acct = (sellerId: string, accountNumber: string, bic: string) => ({ sellerId, holderName: sellerId, iban: null, accountNumber, bic, clearingSystem: null, clearingMember: null, country: "HK" });
    const shared = sharedAccounts([acct("A", "012-345678-001", "HSBCHKHHHKH"), acct("B", "012345678001", "HSBCHKHH"), acct("C", "012345678001", "BKCHHKHH"), acct("D", "012-345678-001", "HSBCHKHH"), acct("E", "999", "HSBCHKHH")]);
    expect(Object.fromEntries(shared)).toEqual({ A: ["B", "D"], B: ["A", "D"], D: ["A", "B"] });
  });
});

describe.each(kinds)("one bank account on file for two sellers on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { balance, confirm, sale, remit } = bankKit(() => ({ h, financeWrite }));
  const auth = () => ({ authorization: `Bearer ${h.keys.admin.key}` });
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: auth() });
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<RunJson>(r);
  };
  /** A row as written before one account was one seller's: the HK account of S-POP-HK-02, with an address. */
  const legacyShare = (sellerId: string, holderName: string) =>
    h.db.sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, account_number, bic, country, set_by, address_town_name, address_country)
       VALUES ($1, $2, '012345678001', 'HSBCHKHH', 'HK', 'before', 'Kowloon', 'HK')`,
      sellerId,
      holderName,
    );
  let usd: RunJson["payouts"][number];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-shared-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("pays neither seller of a shared account (bank_account_shared, naming the other) until an admin gives one of them another account; then both", async () => {
    expect((await put("S-POP-HK-02", HK_ACCOUNT)).statusCode).toBe(200);
    await legacyShare("S-POP-SZ-01", "Shenzhen Gadget Works Co., Ltd.");
    for (const seller of ["S-POP-HK-02", "S-POP-SZ-01"]) await sale(seller, "149900");
    await remit("ADY-PO-SHR-1");

    const first = await run();
    expect(first.file).toBeNull();
    expect(first.payouts).toEqual([]);
    expect(first.skipped.filter((s) => s.reason === "bank_account_shared").sort((a, b) => a.sellerId.localeCompare(b.sellerId))).toEqual([
      { sellerId: "S-POP-HK-02", reason: "bank_account_shared", sharedWith: ["S-POP-SZ-01"], detail: expect.stringMatching(/also on file for seller S-POP-SZ-01 .*PUT \/v1\/sellers\/:id\/bank-account/) as unknown },
      { sellerId: "S-POP-SZ-01", reason: "bank_account_shared", sharedWith: ["S-POP-HK-02"], detail: expect.stringMatching(/also on file for seller S-POP-HK-02/) as unknown },
    ]);
    // Nothing reserved: the money is still each seller's.
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).not.toBe("0");

    // Either write of the account is still refused; S-POP-SZ-01 given its own account, both are paid, each to its own.
    expect(problemCode(await put("S-POP-HK-02", HK_ACCOUNT))).toBe("ENT_PAYOUT_BANK_ACCOUNT_IN_USE");
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    const next = await run();
    expect(next.skipped.filter((s) => s.reason === "bank_account_shared")).toEqual([]);
    expect(next.payouts.map((p) => [p.sellerId, p.account.accountNumber]).sort()).toEqual([
      ["S-POP-HK-02", HK_ACCOUNT.accountNumber],
      ["S-POP-SZ-01", CN_ACCOUNT.accountNumber],
    ]);
    usd = next.payouts.find((p) => p.sellerId === "S-POP-HK-02")!;
  });

  it("books a return of a payout instructed to an account now shared back to the seller it paid, and holds that seller as any return", async () => {
    // A third seller's row from before, on the account S-POP-HK-02's payout was just instructed to.
    await legacyShare("S-FULL-GZ-01", "Guangzhou Apparel Factory");
    const returned = camt054({ messageId: "HSBC-054-SHR1", account: platform, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount), returnReason: "AC04" }] });
    expect((await confirm(returned)).map((r) => [r.payoutId, r.outcome])).toEqual([[usd.id, "rejected"]]);
    // Back in the available balance of the seller it was for, not the other holder's.
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).toBe(usd.amount);
    expect(json<{ hold: { endToEndId: string } | null; sharedWith: string[] }>(await h.get("/v1/sellers/S-POP-HK-02/bank-account"))).toMatchObject({ hold: { endToEndId: usd.endToEndId }, sharedWith: ["S-FULL-GZ-01"] });
    const shared = await run();
    expect(shared.payouts).toEqual([]);
    expect(shared.skipped.filter((s) => s.sellerId !== "S-POP-SZ-01").map((s) => [s.sellerId, s.reason, s.sharedWith]).sort()).toEqual([
      ["S-FULL-GZ-01", "bank_account_shared", ["S-POP-HK-02"]],
      ["S-POP-HK-02", "bank_account_shared", ["S-FULL-GZ-01"]],
    ]);
    // The other row taken off: S-POP-HK-02 is no longer shared, and still held by its return.
    expect((await h.app.inject({ method: "DELETE", url: "/v1/sellers/S-FULL-GZ-01/bank-account", headers: auth() })).statusCode).toBe(204);
    const held = await run();
    expect(held.skipped.find((s) => s.sellerId === "S-POP-HK-02")).toMatchObject({ reason: "account_returned" });
    expect(held.payouts).toEqual([]);
  });
});

describe.each(kinds)("a return holds the account, not the seller, on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { confirm, sale, remit } = bankKit(() => ({ h, financeWrite }));
  const auth = () => ({ authorization: `Bearer ${h.keys.admin.key}` });
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: auth() });
  const holdOf = async (seller: string) => json<{ hold: { payoutId: string; sellerId: string; endToEndId: string; reason: string | null } | null }>(await h.get(`/v1/sellers/${seller}/bank-account`)).hold;
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<RunJson>(r);
  };
  const held = (r: Awaited<ReturnType<typeof put>>) => {
    expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    return json<{ detail: string; details: { hold: { payoutId: string; sellerId: string; endToEndId: string } } }>(r);
  };
  const X = HK_ACCOUNT;
  const OTHER_HK = { ...HK_ACCOUNT, accountNumber: "012-345678-009" };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-held-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("does not pay, to the account a payout of another seller was returned from, the seller that shared it once that one moves off it; any seller setting it is held until confirmed", async () => {
    // A (S-POP-HK-02) is paid to X; B (S-POP-SZ-01) has X on file too, from before one account was
    // one seller's; the bank returns A's payout: X is closed (AC04).
    expect((await put("S-POP-HK-02", X)).statusCode).toBe(200);
    for (const seller of ["S-POP-HK-02", "S-POP-SZ-01"]) await sale(seller, "149900");
    await remit("ADY-PO-HELD-1");
    const [a] = (await run()).payouts;
    expect(a).toMatchObject({ sellerId: "S-POP-HK-02", account: { accountNumber: X.accountNumber } });
    await h.db.sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, account_number, bic, country, set_by, address_town_name, address_country)
       VALUES ('S-POP-SZ-01', 'Shenzhen Gadget Works Co., Ltd.', '012345678001', 'HSBCHKHH', 'HK', 'before', 'Kowloon', 'HK')`,
    );
    const returned = camt054({ messageId: "HSBC-054-HELD1", account: platform, entries: [{ endToEndId: a!.endToEndId, currency: "USD", amount: BigInt(a!.amount), returnReason: "AC04" }] });
    expect((await confirm(returned)).map((r) => [r.payoutId, r.outcome])).toEqual([[a!.id, "rejected"]]);
    expect(await holdOf("S-POP-HK-02")).toMatchObject({ payoutId: a!.id, endToEndId: a!.endToEndId });
    expect((await run()).skipped.filter((s) => s.reason === "bank_account_shared").map((s) => s.sellerId).sort()).toEqual(["S-POP-HK-02", "S-POP-SZ-01"]);

    // The admin moves A to another account: B is no longer shared, but X is the account the bank just
    // returned money from. A is paid to its new account; B is not paid to X.
    const moved = await put("S-POP-HK-02", OTHER_HK);
    expect(moved.statusCode, moved.body).toBe(200);
    const next = await run();
    expect(next.payouts.map((p) => [p.sellerId, p.account.accountNumber])).toEqual([["S-POP-HK-02", OTHER_HK.accountNumber]]);
    expect(next.skipped.find((s) => s.sellerId === "S-POP-SZ-01")).toEqual({
      sellerId: "S-POP-SZ-01",
      reason: "account_returned",
      detail: `the bank returned payout ${a!.endToEndId} (seller S-POP-HK-02's) to this account (returned by the bank (AC04: closed account)): set another account, or this one again with confirmReturnedAccount once it is checked, to resume`,
    });
    const hold = { payoutId: a!.id, sellerId: "S-POP-HK-02", endToEndId: a!.endToEndId };
    expect(await holdOf("S-POP-SZ-01")).toEqual({ ...hold, reason: "returned by the bank (AC04: closed account)" });
    expect(await holdOf("S-POP-HK-02")).toBeNull();

    // Set again on B, or on any seller once B is off it, X is held, naming A's payout.
    const again = held(await put("S-POP-SZ-01", { ...X, holderName: "Shenzhen Gadget Works Co., Ltd.", confirmHolderName: true }));
    expect(again.details.hold).toMatchObject(hold);
    expect(again.detail).toContain(`the bank returned payout ${a!.endToEndId} (seller S-POP-HK-02's) from this account`);
    expect((await h.app.inject({ method: "DELETE", url: "/v1/sellers/S-POP-SZ-01/bank-account", headers: auth() })).statusCode).toBe(204);
    expect(held(await put("S-FULL-GZ-01", { ...X, holderName: "Guangzhou Apparel Factory", confirmHolderName: true })).details.hold).toMatchObject(hold);
    expect(held(await put("S-POP-HK-02", X)).details.hold).toMatchObject(hold);

    // Confirmed on B: lifted for B, which is paid to X again. Confirming holds for that seller only:
    // B moved off X before anything was paid to it, X given to another seller is held again.
    const confirmed = await put("S-POP-SZ-01", { ...X, holderName: "Shenzhen Gadget Works Co., Ltd.", confirmHolderName: true, confirmReturnedAccount: true });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(await holdOf("S-POP-SZ-01")).toBeNull();
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    expect(held(await put("S-FULL-GZ-01", { ...X, holderName: "Guangzhou Apparel Factory", confirmHolderName: true })).details.hold).toMatchObject(hold);
    expect((await put("S-POP-SZ-01", { ...X, holderName: "Shenzhen Gadget Works Co., Ltd.", confirmHolderName: true, confirmReturnedAccount: true })).statusCode).toBe(200);
    const paid = await run();
    expect(paid.payouts.map((p) => [p.sellerId, p.account.accountNumber])).toEqual([["S-POP-SZ-01", X.accountNumber]]);
  });
});
