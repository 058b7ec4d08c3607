/**
 * The console's profit and loss in Chromium against `npm start` (its own stack, the demo data): a
 * day of orders booked by the demo gateway (a POP seller's capture in Spain, a semi-hosting seller's
 * in Brazil) and a statement of the platform's bank account whose interest and fee the books lacked,
 * resolved with adjusting entries to `platform:reconciliation:*` (unallocated P&L accounts); then the page
 * against the API: opened from the navigation on the current UTC month, December chosen as on the
 * books page, each group's accounts and totals as `GET /v1/reports/profit-and-loss` answers them, by
 * program, by market and by both, the unallocated groups named, the reconciliation with the trial
 * balance, no other currency, an account's link to its postings, the CSV link answering the
 * same report with the session's cookie; and the service's problems at their fields.
 */
import { createHmac } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatAmount, formatMoney } from "../../console/src/format.js";
import type { PnlGroup, ProfitAndLoss } from "../../console/src/pnl.js";
import { axe, shot } from "../support/browser.js";
import { camt053 } from "../support/camt054.js";
import { financeKeyOf, gatewayKeyOf, keyOf, ready, startStack, stopStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
// A reader in Shenzhen (UTC+08:00): the ledger's month is chosen as a UTC month.
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
/** A day after the demo's own events (2 to 16 December) and inside its published rates (to the 20th). */
const DAY = "2024-12-18";
const FROM = "2024-12-01T00:00:00.000Z";
const TO = "2025-01-01T00:00:00.000Z";
const USD = (minor: string) => formatAmount(minor, "USD");

describe("the console's profit and loss (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let finance: string;

  const api = async <T>(route: string, init: RequestInit = {}, status = 200): Promise<T> => {
    const r = await fetch(`${url}${route}`, { ...init, headers: { authorization: `Bearer ${finance}`, ...(init.headers as Record<string, string> | undefined) } });
    expect(r.status, await r.clone().text()).toBe(status);
    return (await r.json()) as T;
  };
  const report = (by: string) => api<ProfitAndLoss>(`/v1/reports/profit-and-loss?from=${FROM}&to=${TO}&by=${by}`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-pnl-"));
    stack = startStack({ DATA_DIR: dir });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    finance = financeKeyOf(stack);
    const [gatewayKey, secret] = gatewayKeyOf(stack);
    const order = (over: Record<string, unknown>) => ({ type: "capture", gateway: "adyen", category: "home", gatewayFee: "100", ...over });
    for (const event of [
      order({ gatewayEventId: "pl-es-1", settlementId: "ORD-PL-ES-1", sellerId: "S-POP-SZ-01", market: "ES", currency: "EUR", amount: "12100", occurredAt: `${DAY}T09:00:00.000Z` }),
      order({ gatewayEventId: "pl-br-1", settlementId: "ORD-PL-BR-1", sellerId: "S-SEMI-HZ-01", market: "BR", currency: "BRL", shipToRegion: "BR-SP", amount: "50000", occurredAt: `${DAY}T10:00:00.000Z` }),
    ]) {
      const body = JSON.stringify(event);
      const ts = (Date.now() / 1000).toFixed(3);
      const signature = createHmac("sha256", secret ?? "").update(`${ts}.POST./v1/settlements/events.${body}`).digest("hex");
      const r = await fetch(`${url}/v1/settlements/events`, { method: "POST", body, headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v2=${signature}` } });
      expect(r.status, await r.clone().text()).toBe(201);
    }
    // The platform's account (the only one a statement may be of): 25.00 USD of interest and a
    // 12.50 USD fee nobody booked, resolved into the reconciliation accounts (P&L accounts naming no
    // program or market: unallocated).
    const xml = camt053({
      messageId: "PL-USD-2",
      statementId: "STMT-PL-USD-2",
      sequence: 2,
      account: { holderName: "Entrepot Marketplace Ltd", iban: null, accountNumber: "400123456838", bic: "HSBCHKHHHKH", clearingSystem: null, clearingMember: null, country: "HK", accountCurrency: "USD" },
      day: DAY,
      opening: 100_000n,
      entries: [
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: 2_500n, side: "credit", info: "INTEREST" },
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: 1_250n, side: "debit", info: "ACCOUNT FEE" },
      ],
    });
    const imported = await api<{ statements: { id: string }[] }>("/v1/cash/statements", { method: "POST", body: xml, headers: { "content-type": "application/xml" } }, 201);
    const statement = imported.statements[0]?.id ?? "";
    const posting = (account: string, direction: "debit" | "credit", amount: string) => ({ account, currency: "USD", direction, amount });
    for (const [index, note, postings] of [
      [1, "the bank's interest", [posting("platform:cash:bank", "debit", "2500"), posting("platform:reconciliation:bank_interest", "credit", "2500")]],
      [2, "the bank's account fee", [posting("platform:reconciliation:bank_charges", "debit", "1250"), posting("platform:cash:bank", "credit", "1250")]],
    ] as const) {
      await api(`/v1/cash/statements/${statement}/entries/${index}/resolution`, { method: "POST", body: JSON.stringify({ note, adjustment: { postings } }), headers: { "content-type": "application/json" } }, 201);
    }
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stopStack(stack, dir);
  });

  async function signedIn(key: string): Promise<Page> {
    const page = await (await browser.newContext(DESKTOP)).newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    return page;
  }

  /** What the page shows: per group its heading, its revenue, expenses and net result, its accounts and its total row; the summary's rows; all groups'; the other currencies'. */
  const screenOf = async (page: Page) => {
    const rows = async (rows: ReturnType<Page["locator"]>) => Promise.all((await rows.all()).map((row) => row.locator("td").allTextContents()));
    return {
      groups: await Promise.all(
        (await page.getByTestId("pl-group").all()).map(async (card) => ({
          name: await card.getByRole("heading", { level: 2 }).textContent(),
          totals: await card.getByTestId("pl-totals").locator("dd").allTextContents(),
          lines: await rows(card.getByTestId("pl-line")),
          total: await card.locator("tr.total td").allTextContents(),
        })),
      ),
      summary: await rows(page.getByTestId("pl-summary-row")),
      total: {
        totals: await page.getByTestId("pl-total").getByTestId("pl-totals").locator("dd").allTextContents(),
        lines: await rows(page.getByTestId("pl-total").getByTestId("pl-line")),
      },
      other: await rows(page.getByTestId("pl-other-line")),
    };
  };
  /** The same from the API's report, as the page writes it (major units; the totals with the currency), each group named by what it is: `name`. */
  const apiScreen = (r: ProfitAndLoss, name: (g: PnlGroup) => string) => ({
    groups: r.groups.map((g) => ({
      name: `${name(g)}${g.unallocated ? " (unallocated)" : ""}`,
      totals: [g.revenue, g.expenses, g.netResult, g.exchangeDifferences].map((m) => formatMoney(m, "USD")),
      lines: g.lines.map((l) => [l.account, l.normalBalance, USD(l.debits), USD(l.credits), USD(l.net)]),
      total: [USD(g.debits), USD(g.credits), USD(g.netResult)],
    })),
    summary: r.groups.map((g) => [`${name(g)}${g.unallocated ? " unallocated" : ""}`, USD(g.revenue), USD(g.expenses), USD(g.netResult)]),
    total: { totals: [r.totals.revenue, r.totals.expenses, r.totals.netResult, r.totals.exchangeDifferences].map((m) => formatMoney(m, "USD")), lines: r.accounts.map((l) => [l.account, l.normalBalance, USD(l.debits), USD(l.credits), USD(l.net)]) },
    other: r.otherCurrencies.map((l) => [l.account, l.currency, l.normalBalance, formatAmount(l.debits, l.currency), formatAmount(l.credits, l.currency), formatAmount(l.net, l.currency)]),
  });
  const groupBy = async (page: Page, label: string, by: string) => {
    await page.getByLabel("Group by").selectOption({ label });
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("by")).toBe(by);
  };

  it("opens from the navigation, shows December's groups as the API answers them by program, by market and by both, reconciled, the unallocated with the bank's interest and fee; drills down and downloads the CSV", { timeout: 180_000 }, async () => {
    const page = await signedIn(finance);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Profit and loss", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Profit and loss" }).waitFor();
    // The current UTC month at first, as on the books page.
    await expect.poll(() => new URL(page.url()).searchParams.get("to")).not.toBeNull();
    const [from, to] = [new URL(page.url()).searchParams.get("from") ?? "", new URL(page.url()).searchParams.get("to") ?? ""];
    const start = new Date(from);
    expect([from.endsWith("-01T00:00:00.000Z"), to]).toEqual([true, new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)).toISOString()]);
    expect(Date.parse(from) <= Date.now() && Date.now() < Date.parse(to)).toBe(true);
    await page.getByTestId("pl-period").waitFor();

    // December as a UTC month, by program (the default).
    expect(await page.getByLabel("Group by").inputValue()).toBe("program");
    await page.getByLabel("Month in").selectOption("utc");
    await page.locator("#pl-month").fill("2024-12");
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("from")).toBe(FROM);
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ from: FROM, to: TO, by: "program" });
    const byProgram = await report("program");
    // The demo's four programs, the day's two sales in theirs, and what names no program.
    expect(byProgram.groups.map((g) => g.program)).toEqual(["full_hosting", "overseas_hosting", "pop", "semi_hosting", null]);
    expect(byProgram.groups.map((g) => g.unallocated)).toEqual([false, false, false, false, true]);
    expect(byProgram.reconciliation.reconciles).toBe(true);
    // The bank's interest and fee, in USD, name no program: unallocated; no P&L account moved in another currency.
    expect(byProgram.groups.at(-1)?.lines.filter((l) => l.account.startsWith("platform:reconciliation:")).map((l) => [l.account, l.net])).toEqual([
      ["platform:reconciliation:bank_charges", "-1250"],
      ["platform:reconciliation:bank_interest", "2500"],
    ]);
    expect(byProgram.otherCurrencies).toEqual([]);
    const programName = (g: PnlGroup) => (g.program === null ? "No program" : `Program ${g.program}`);
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byProgram, programName));
    expect(await page.getByTestId("pl-summary-total").locator("td").allTextContents()).toEqual([byProgram.totals.revenue, byProgram.totals.expenses, byProgram.totals.netResult].map(USD));
    expect(await page.getByTestId("pl-period").textContent()).toContain("in USD, by program: 5 groups, 1 of them unallocated.");
    expect(await page.getByRole("heading", { level: 2, name: "No program (unallocated)" }).count()).toBe(1);
    expect(await page.getByTestId("pl-unallocated").textContent()).toContain("name no program and no seller (revaluations");
    // Reconciled with the trial balance, its net result said, and the trial balance a link away.
    const reconciliation = page.getByTestId("pl-reconciliation");
    expect(await reconciliation.textContent()).toBe(`reconciled Every P&L account's debits and credits in the groups equal those in the trial balance of the period: net result ${formatMoney(byProgram.reconciliation.netResult, "USD")} in both.`);
    expect(byProgram.reconciliation.netResult).toBe(byProgram.totals.netResult);
    expect(await reconciliation.getByRole("link").getAttribute("href")).toBe(`/console/books?${new URLSearchParams({ from: FROM, to: TO }).toString()}`);
    await shot(page, "profit-and-loss");
    await axe(page, "profit and loss");

    // An account drills down to its postings and its balance at the period's end; Back returns.
    const pop = page.getByTestId("pl-group").filter({ has: page.getByRole("heading", { level: 2, name: "Program pop", exact: true }) });
    const account = byProgram.groups.find((g) => g.program === "pop")?.lines[0]?.account ?? "";
    const link = pop.getByRole("link", { name: account, exact: true });
    expect(await link.getAttribute("href")).toBe(`/console/accounts/${encodeURIComponent(account)}/USD?at=${encodeURIComponent("2024-12-31T23:59:59.999Z")}`);
    await link.click();
    await page.getByRole("heading", { level: 1, name: account }).waitFor();
    await page.getByRole("heading", { level: 2, name: "History, newest first" }).waitFor();
    await page.goBack();
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byProgram, programName));

    // By market: the charges and payouts name none.
    await groupBy(page, "market", "market");
    const byMarket = await report("market");
    expect(byMarket.groups.at(-1)).toMatchObject({ market: null, unallocated: true });
    expect(byMarket.groups.map((g) => g.market)).toEqual(expect.arrayContaining(["BR", "ES"]));
    const marketName = (g: PnlGroup) => (g.market === null ? "No market" : `Market ${g.market}`);
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byMarket, marketName));
    expect(await page.getByRole("heading", { level: 2, name: "No market (unallocated)" }).count()).toBe(1);
    expect(await reconciliation.locator(".badge").textContent()).toBe("reconciled");

    // By both: a seller's storage charge has its program and no market.
    await groupBy(page, "program and market", "program,market");
    const byBoth = await report("program,market");
    const bothName = (g: PnlGroup) => `${g.program === null ? "No program" : `Program ${g.program}`} · ${g.market === null ? "no market" : `market ${g.market}`}`;
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byBoth, bothName));
    expect(byBoth.groups.filter((g) => g.unallocated).map(bothName)).toEqual(["Program overseas_hosting · no market", "No program · no market"]);
    expect(await page.getByTestId("pl-unallocated").allTextContents()).toEqual([expect.stringContaining("name no market (seller charges such as storage"), expect.stringContaining("name neither a program (nor a seller) nor a market")]);
    // A reload shows the same report: the period and the grouping are the URL's.
    await page.reload();
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byBoth, bothName));
    expect(await page.getByLabel("Group by").inputValue()).toBe("program,market");

    // The CSV link answers the same report as CSV, with the session's cookie (no key in the page).
    const csvLink = page.getByRole("link", { name: "Download this report as CSV" });
    expect(await csvLink.getAttribute("href")).toBe(`/v1/reports/profit-and-loss?${new URLSearchParams({ from: FROM, to: TO, by: "program,market", format: "csv" }).toString()}`);
    const [status, type, csv] = await page.evaluate<[number, string, string]>(`(async () => { const r = await fetch(document.querySelector("a[href*='format=csv']").href); return [r.status, r.headers.get("content-type"), await r.text()]; })()`);
    expect([status, type]).toEqual([200, "text/csv; charset=utf-8"]);
    // Lines end in CRLF; no field of this report holds a comma or a quote (codes, figures): a split reads it.
    const rows = csv.trim().split("\r\n").map((row) => row.split(","));
    const header = rows[0] ?? [];
    const col = (name: string) => header.indexOf(name);
    const netResults = rows.filter((row) => row[col("scope")] === "group" && row[col("row")] === "net_result").map((row) => [row[col("program")], row[col("market")], row[col("net")]]);
    expect(netResults).toEqual(byBoth.groups.map((g) => [g.program ?? "", g.market ?? "", g.netResult]));
    expect(rows.filter((row) => row[col("scope")] === "trial_balance" && row[col("row")] === "net_result").map((row) => [row[col("net")], row[col("reconciles")]])).toEqual([[byBoth.reconciliation.netResult, "true"]]);

    // On a phone the wide tables scroll inside their box, not the page.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);

    // The books' trial balance of the same period links here.
    await page.goto(`${url}/console/books?from=${FROM}&to=${TO}`);
    await page.getByRole("link", { name: "The profit and loss of this period" }).click();
    await page.getByRole("heading", { level: 1, name: "Profit and loss" }).waitFor();
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ from: FROM, to: TO });
    await expect.poll(() => screenOf(page), { timeout: 30_000 }).toEqual(apiScreen(byProgram, programName));
    await page.context().close();
  });

  it("puts the service's problems at their fields for a read-only key: a period over 366 days, one that ends before it starts, a grouping it does not know", { timeout: 90_000 }, async () => {
    const page = await signedIn(keyOf(stack, "demo auditor"));
    const refused = page.locator("#pl-error");
    const end = page.getByLabel("Effective before");
    const grouping = page.getByLabel("Group by");

    await page.goto(`${url}/console/profit-and-loss?from=2024-01-01T00:00:00.000Z&to=2025-01-02T00:00:00.000Z`);
    await refused.waitFor();
    expect(await refused.textContent()).toContain("Effective before (query.to): at most 366 days after from");
    expect(await refused.textContent()).toContain("ENT_REQUEST_VALIDATION");
    expect([await end.getAttribute("aria-invalid"), await end.getAttribute("aria-describedby")]).toEqual(["true", "pl-error"]);
    expect(await grouping.getAttribute("aria-invalid")).toBeNull();
    expect(await page.getByTestId("pl-group").count()).toBe(0);

    await page.goto(`${url}/console/profit-and-loss?from=${TO}&to=${FROM}`);
    await expect.poll(() => refused.textContent()).toContain("Effective before (query.to): must be after from");
    expect([await end.getAttribute("aria-invalid"), await end.getAttribute("aria-describedby")]).toEqual(["true", "pl-error"]);

    await page.goto(`${url}/console/profit-and-loss?from=${FROM}&to=${TO}&by=seller`);
    await expect.poll(() => refused.textContent()).toContain("Group by (query.by)");
    expect([await grouping.getAttribute("aria-invalid"), await grouping.getAttribute("aria-describedby")]).toEqual(["true", "pl-error"]);
    expect(await grouping.locator("option:checked").textContent()).toBe("seller (not a grouping)");
    expect(await end.getAttribute("aria-invalid")).toBeNull();
    await shot(page, "profit-and-loss-refused");
    await axe(page, "profit and loss refused");

    // Choosing a grouping the service knows shows the report.
    await grouping.selectOption({ label: "market" });
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByTestId("pl-reconciliation").waitFor();
    expect(await refused.count()).toBe(0);
    await page.context().close();
  });
});
