/**
 * The console's month-end drill-down in Chromium against `npm start` (its own stack, the demo
 * data): the period before 18 December closed (on the demo's rates, accepted with a note), then a
 * gateway's capture of the 17th booked late, effective at the close instant; an account's history
 * says when each posting is effective (first), the late one with the instant it was for, as `GET
 * /v1/accounts/:account/:currency/history` answers; and the books' December downloads its journal
 * as CSV (`GET /v1/journal/export`) and its trial balance as CSV (`GET /v1/ledger/trial-balance?
 * format=csv`) with the session's cookie, under the period's name.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { financeKeyOf, gatewayKeyOf, ready, startStack, stopStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
/** Closed before the 18th (after the demo's own events, 2 to 16 December); the late capture is of the 17th. */
const CLOSED_BEFORE = "2024-12-18T00:00:00.000Z";
const LATE_AT = "2024-12-17T09:00:00.000Z";
const FROM = "2024-12-01T00:00:00.000Z";
const TO = "2025-01-01T00:00:00.000Z";

interface HistoryItem {
  transactionId: string;
  effectiveAt: string;
  originalEffectiveAt: string | null;
}

describe("the console's account history and journal download (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let finance: string;
  /** The late capture's journal transaction and the seller account it moved. */
  let late: { id: string; account: string; currency: string };

  const api = async (route: string, init: RequestInit = {}, status = 200): Promise<Response> => {
    const r = await fetch(`${url}${route}`, { ...init, headers: { authorization: `Bearer ${finance}`, ...(init.headers as Record<string, string> | undefined) } });
    expect(r.status, await r.clone().text()).toBe(status);
    return r;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-books-exports-"));
    stack = startStack({ DATA_DIR: dir });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    finance = financeKeyOf(stack);
    const close = { before: CLOSED_BEFORE, note: "to the 17th, on the demo's rates", fxNotRevalued: "accept", fxRateStale: "accept" };
    await api("/v1/ledger/periods/close", { method: "POST", body: JSON.stringify(close), headers: { "content-type": "application/json" } }, 201);
    const [gatewayKey, secret] = gatewayKeyOf(stack);
    const body = JSON.stringify({ type: "capture", gateway: "adyen", category: "home", gatewayFee: "100", gatewayEventId: "late-es-1", settlementId: "ORD-LATE-ES-1", sellerId: "S-POP-SZ-01", market: "ES", currency: "EUR", amount: "12100", occurredAt: LATE_AT });
    const ts = (Date.now() / 1000).toFixed(3);
    const signature = createHmac("sha256", secret ?? "").update(`${ts}.POST./v1/settlements/events.${body}`).digest("hex");
    const r = await fetch(`${url}/v1/settlements/events`, { method: "POST", body, headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v2=${signature}` } });
    expect(r.status, await r.clone().text()).toBe(201);
    const tx = ((await r.json()) as { transaction: { id: string; effectiveAt: string; postings: { account: string; currency: string }[] } }).transaction;
    expect(tx.effectiveAt).toBe(CLOSED_BEFORE);
    const seller = tx.postings.find((p) => p.account.startsWith("seller:S-POP-SZ-01:"));
    if (seller === undefined) throw new Error(`no seller posting in ${JSON.stringify(tx.postings)}`);
    late = { id: tx.id, account: seller.account, currency: seller.currency };
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stopStack(stack, dir);
  });

  async function signedIn(key: string): Promise<Page> {
    const page = await (await browser.newContext({ ...DESKTOP, acceptDownloads: true })).newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    return page;
  }

  it("shows when each posting of an account's history is effective, first, and the instant a posting re-dated by a close was for", { timeout: 120_000 }, async () => {
    const history = ((await (await api(`/v1/accounts/${encodeURIComponent(late.account)}/${late.currency}/history?limit=50`)).json()) as { items: HistoryItem[] }).items;
    expect(history[0]).toMatchObject({ transactionId: late.id, effectiveAt: CLOSED_BEFORE, originalEffectiveAt: LATE_AT });
    // The demo's postings, booked the day the stack started, are effective in December as they occurred, none re-dated.
    expect(history.slice(1).filter((i) => i.originalEffectiveAt !== null || !i.effectiveAt.startsWith("2024-12-"))).toEqual([]);

    const page = await signedIn(finance);
    await page.goto(`${url}/console/accounts/${encodeURIComponent(late.account)}/${late.currency}`);
    const table = page.getByRole("table", { name: `Postings of ${late.account}` });
    await table.waitFor({ timeout: 30_000 });
    expect((await table.locator("thead th").allTextContents())[0]).toBe("Effective");
    // Each row's first cell: the instants it shows (effective, then the one it was for), as the API answers them.
    const shown = async () => Promise.all((await table.locator("tbody tr").all()).map(async (row) => Promise.all((await row.locator("td").first().locator("time").all()).map((t) => t.getAttribute("datetime")))));
    await expect.poll(shown, { timeout: 30_000 }).toEqual(history.map((i) => (i.originalEffectiveAt === null ? [i.effectiveAt] : [i.effectiveAt, i.originalEffectiveAt])));
    expect(await table.locator("tbody tr").first().locator("td").first().textContent()).toContain("in a period closed before it was booked");
    await page.context().close();
  });

  it("downloads the journal of the trial balance's period as CSV from the books, named for the period", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance);
    await page.goto(`${url}/console/books?from=${FROM}&to=${TO}`);
    const link = page.getByRole("link", { name: "Download this period's journal as CSV" });
    await link.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), link.click()]);
    expect(download.suggestedFilename()).toBe("journal-2024-12-01-2025-01-01.csv");
    const file = await readFile((await download.path()) ?? "", "utf8");
    const expected = await (await api(`/v1/journal/export?from=${FROM}&to=${TO}`)).text();
    expect(file).toBe(expected);
    const lines = file.split("\r\n");
    expect(lines[0]?.split(",").slice(0, 3)).toEqual(["sequence", "effective_at", "booked_at"]);
    // The first posting is December's first transaction; the late capture is in, effective at the close instant.
    expect(lines[1]?.split(",")[1]?.startsWith("2024-12-")).toBe(true);
    expect(lines.filter((l) => l.startsWith(`${late.id},`)).every((l) => l.split(",")[1] === CLOSED_BEFORE)).toBe(true);
    expect(lines.some((l) => l.startsWith(`${late.id},`))).toBe(true);
    await page.context().close();
  });

  it("downloads the trial balance of the period shown as CSV from the books, named for the period, as the API answers it", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance);
    await page.goto(`${url}/console/books?from=${FROM}&to=${TO}`);
    const link = page.getByRole("link", { name: "Download this trial balance as CSV" });
    await link.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), link.click()]);
    expect(download.suggestedFilename()).toBe("trial-balance-2024-12-01-2025-01-01.csv");
    const file = await readFile((await download.path()) ?? "", "utf8");
    expect(file).toBe(await (await api(`/v1/ledger/trial-balance?from=${FROM}&to=${TO}&format=csv`)).text());
    const tb = (await (await api(`/v1/ledger/trial-balance?from=${FROM}&to=${TO}`)).json()) as {
      accounts: Array<{ account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }>;
      currencies: Array<{ currency: string; debits: string; credits: string; balanced: boolean }>;
    };
    const lines = file.split("\r\n");
    expect(lines[0]).toBe("row,account,currency,normal_balance,opening,opening_major,debits,debits_major,credits,credits_major,closing,closing_major,balanced");
    // The first account of the JSON, then (after every account) each currency's totals.
    const first = tb.accounts[0]!;
    expect(lines[1]?.split(",").filter((_, i) => [0, 1, 2, 3, 4, 6, 8, 10].includes(i))).toEqual(["account", first.account, first.currency, first.normalBalance, first.opening, first.debits, first.credits, first.closing]);
    const c = tb.currencies[0]!;
    const total = lines[1 + tb.accounts.length]?.split(",");
    expect(total?.filter((_, i) => i !== 7 && i !== 9)).toEqual(["currency", "", c.currency, "", "", "", c.debits, c.credits, "", "", String(c.balanced)]);
    expect(total?.[7]).toMatch(/^\d+(\.\d+)?$/);
    expect(lines.filter((l) => l.startsWith("currency,")).length).toBe(tb.currencies.length);
    await page.context().close();
  });
});
