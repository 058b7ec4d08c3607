/**
 * Two sellers whose account on file is one account (rows set before one account was one seller's,
 * which a PUT now refuses) are not paid: money for one would reach the other's holder. A bank run
 * skips each of them (`bank_account_shared`, naming the others) until an admin gives all but one of
 * them another account; the next run pays both. A return of a payout instructed to such an account
 * before is booked back to the seller it was paid for, and holds that seller's account as any return.
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
