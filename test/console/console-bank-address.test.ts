/**
 * The console's bank payout page in Chromium: the holder's structured address the payout was
 * instructed with (Cdtr/PstlAdr), and the seller's account on file with its own address, or, for an
 * account or a payout from before addresses were required, that there is none (`address_missing`,
 * which bank runs skip); an account another seller also has on file says so (`bank_account_shared`),
 * and an account held by a return says which payout, naming the seller it was for when another.
 * Against the service itself (its routes and the built console on a port of its own) on a real
 * database; the rows from before are written as those versions left them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { axe } from "../support/browser.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, publishDayRates, type Harness } from "../http/harness.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
const kind = (await testDatabaseKinds()).includes("postgres") ? "postgres" : "pglite";

describe(`the console's bank payout page: the holder's address (Chromium, ${kind})`, () => {
  let h: Harness;
  let dir: string;
  let browser: Browser;
  let base: string;
  let financeWrite: IssuedKey;
  const payouts: Record<string, BankPayoutJson> = {};
  const { sale, remit, confirm } = bankKit(() => ({ h, financeWrite }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-console-bank-adr-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, account] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: account, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
      await sale(seller, "149900");
    }
    await remit("ADY-PO-CONSOLE-ADR");
    const run = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    for (const p of json<{ payouts: BankPayoutJson[] }>(run).payouts) payouts[p.sellerId] = p;
    // As versions before addresses were required left them: the CNY payout instructed without one,
    // the HK seller's account on file without one, and a third seller's row on the CN account.
    await h.db.sql.q(`UPDATE bank_payouts SET account = account - 'address' WHERE id = $1`, BigInt(payouts["S-POP-SZ-01"]!.id));
    await h.db.sql.q(
      `UPDATE payout_bank_accounts SET address_street_name = NULL, address_building_number = NULL, address_post_code = NULL, address_town_name = NULL,
         address_country_sub_division = NULL, address_country = NULL WHERE seller_id = 'S-POP-HK-02'`,
    );
    await h.db.sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, account_number, bic, country, set_by, address_town_name, address_country)
       VALUES ('S-FULL-GZ-01', 'Guangzhou Apparel Factory', '6222021234567890123', 'ICBKCNBJ', 'CN', 'before', 'Guangzhou', 'CN')`,
    );
    base = await h.app.listen({ port: 0, host: "127.0.0.1" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function signedIn(): Promise<Page> {
    const page = await (await browser.newContext(DESKTOP)).newPage();
    await page.goto(`${base}/console/`);
    await page.getByLabel("API key").fill(h.keys.finance.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor({ timeout: 30_000 });
    return page;
  }
  /** The value of a field of the page's first list of fields (the payout's), or of the account on file's. */
  const field = (page: Page, name: string, where: "payout" | "on file") =>
    (where === "payout" ? page.locator("dl.fields").first() : page.locator("section[aria-labelledby='payout-account-h'] dl.fields"))
      .locator("div", { has: page.locator("dt", { hasText: new RegExp(`^${name.replace(/[()]/g, "\\$&")}$`) }) })
      .locator("dd");

  it("shows the address a payout was instructed with and the one on file; an account without one as address_missing, which runs skip", { timeout: 120_000 }, async () => {
    const page = await signedIn();
    const usd = payouts["S-POP-HK-02"]!;
    await page.goto(`${base}/console/payouts/bank/${usd.id}`);
    await page.getByRole("heading", { level: 1, name: `Bank payout ${usd.id}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => field(page, "Holder's address (as instructed)", "payout").textContent(), { timeout: 30_000 }).toBe("Nathan Road 238, Kowloon, HK");
    // The account on file has lost its address (set before addresses were required): shown, with what it means.
    const onFile = field(page, "Holder's address", "on file");
    await expect.poll(() => onFile.textContent(), { timeout: 30_000 }).toMatch(/^address_missing none on file .*bank runs skip this seller until an admin sets the account again with its address$/);
    expect(await onFile.getByTestId("address-missing").count()).toBe(1);
    expect(await field(page, "Account", "on file").textContent()).toBe("Kowloon Stationery Ltd · 012-345678-001 · HSBCHKHHHKH · HK");
    await axe(page, "bank payout");

    const cny = payouts["S-POP-SZ-01"]!;
    await page.goto(`${base}/console/payouts/bank/${cny.id}`);
    await page.getByRole("heading", { level: 1, name: `Bank payout ${cny.id}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => field(page, "Holder's address (as instructed)", "payout").textContent(), { timeout: 30_000 }).toBe("address_missing none: instructed before addresses were required");
    await expect.poll(() => field(page, "Holder's address", "on file").textContent(), { timeout: 30_000 }).toBe("Keji South 12th Road 18, 518057 Shenzhen, Guangdong, CN");
    // Another seller's row on the same account, from before one account was one seller's.
    await expect.poll(() => field(page, "Shared with", "on file").textContent(), { timeout: 30_000 }).toMatch(/^bank_account_shared also on file for S-FULL-GZ-01: bank runs pay none of them/);
    // It fits a phone's screen (console.test.ts holds this page to it too).
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await axe(page, "bank payout, phone");
    await page.context().close();
  });

  it("shows an account held by a return, naming the seller whose payout it was when another one's", { timeout: 120_000 }, async () => {
    // The bank returns the USD payout (AC04) from the HK account; the CNY seller's row, as a version
    // before one account was one seller's left it, is that same account, set before the return.
    const usd = payouts["S-POP-HK-02"]!;
    const returned = camt054({ messageId: "HSBC-054-CONSOLE-HELD", account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" }, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount), returnReason: "AC04" }] });
    expect((await confirm(returned)).map((r) => r.outcome)).toEqual(["rejected"]);
    await h.db.sql.q(
      `UPDATE payout_bank_accounts SET holder_name = 'Kowloon Stationery Ltd', account_number = '012345678001', bic = 'HSBCHKHH', clearing_system = NULL, clearing_member = NULL,
         country = 'HK', set_at = now() - interval '1 day' WHERE seller_id = 'S-POP-SZ-01'`,
    );
    const page = await signedIn();
    const why = "(returned by the bank (AC04: closed account)): not paid again until the account is set again";
    await page.goto(`${base}/console/payouts/bank/${usd.id}`);
    await page.getByRole("heading", { level: 1, name: `Bank payout ${usd.id}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => field(page, "Held", "on file").textContent(), { timeout: 30_000 }).toBe(`account_returned the bank returned ${usd.endToEndId} ${why}`);
    const cny = payouts["S-POP-SZ-01"]!;
    await page.goto(`${base}/console/payouts/bank/${cny.id}`);
    await page.getByRole("heading", { level: 1, name: `Bank payout ${cny.id}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => field(page, "Held", "on file").textContent(), { timeout: 30_000 }).toBe(`account_returned the bank returned seller S-POP-HK-02's payout ${usd.endToEndId} ${why}`);
    await axe(page, "bank payout, account held");
    await page.context().close();
  });
});
