/**
 * The console's tax returns in Chromium against `npm start` (its own stack, the demo data): a day of
 * orders booked by the demo gateway (a Spanish IOSS capture given back in full, and two Brazilian
 * captures to São Paulo, one above USD 50 and one below, so that Remessa Conforme's return has its
 * two rates), then the page against the API: the return chosen from the tax rules and its period,
 * its opening, tax collected and given back and closing, the return by rate (20% and 60%) and its
 * lines; the choice kept in the URL across a reload; the CSV link answering the CSV with the
 * session's cookie; a month chosen as on the books page; a read-only key's empty period, and the
 * service's problems (an unknown market, a period ending before it starts) at their fields.
 */
import { createHmac } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatAmount, formatBps, formatMoney } from "../../console/src/format.js";
import { axe, shot } from "../support/browser.js";
import { financeKeyOf, gatewayKeyOf, keyOf, ready, startStack, stopStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
// A reader in Shenzhen: the period's instants are entered in their zone (UTC+08:00).
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
/** A day after the demo's own events (2 to 16 December) and inside its published rates (to the 20th). */
const DAY = "2024-12-18";
const FROM = `${DAY}T00:00:00.000Z`;
const TO = "2024-12-19T00:00:00.000Z";

interface TaxReturn {
  currency: string;
  opening: string;
  collected: string;
  refunded: string;
  closing: string;
  bases: { net: { taxableBase: string | null } };
  byRate: { rateBps: number | null; lines: number; collected: string; refunded: string; bases: { net: { taxableBase: string | null } } }[];
  lines: { what: string; settlementId: string | null; gross: string | null; tax: string; taxableBase: string | null; rateBps: number | null; collectedBy: string | null; sellerId: string | null; shipFrom: string | null; shipTo: string | null }[];
}

describe("the console's tax returns (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let finance: string;

  const api = async <T>(route: string): Promise<T> => {
    const r = await fetch(`${url}${route}`, { headers: { authorization: `Bearer ${finance}` } });
    expect(r.status, await r.clone().text()).toBe(200);
    return (await r.json()) as T;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-tax-"));
    stack = startStack({ DATA_DIR: dir });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    finance = financeKeyOf(stack);
    const [gatewayKey, secret] = gatewayKeyOf(stack);
    const order = (over: Record<string, unknown>) => ({ type: "capture", gateway: "adyen", sellerId: "S-SEMI-HZ-01", category: "home", gatewayFee: "100", ...over });
    // 121.00 EUR: 21% inside it (21.00) on Spain's IOSS return, given back in full that afternoon;
    // 1,000.00 BRL (about USD 165: 60% less USD 20) and 80.00 BRL (about USD 13: 20%) to São Paulo.
    for (const event of [
      order({ gatewayEventId: "tax-es-1", settlementId: "ORD-TAX-ES-1", market: "ES", currency: "EUR", amount: "12100", occurredAt: `${DAY}T09:00:00.000Z` }),
      order({ type: "refund", gatewayEventId: "tax-es-1-r", settlementId: "ORD-TAX-ES-1", originalEventId: "tax-es-1", market: "ES", currency: "EUR", amount: "12100", gatewayFee: "0", occurredAt: `${DAY}T15:00:00.000Z` }),
      order({ gatewayEventId: "tax-br-1", settlementId: "ORD-TAX-BR-1", market: "BR", currency: "BRL", shipToRegion: "BR-SP", amount: "100000", occurredAt: `${DAY}T10:00:00.000Z` }),
      order({ gatewayEventId: "tax-br-2", settlementId: "ORD-TAX-BR-2", market: "BR", currency: "BRL", shipToRegion: "BR-SP", amount: "8000", occurredAt: `${DAY}T11:00:00.000Z` }),
      // 100,000 KRW of a seller's goods in a Korean warehouse: its own VAT, the platform collects none.
      order({ gatewayEventId: "tax-kr-1", settlementId: "ORD-TAX-KR-1", sellerId: "S-POP-SZ-01", market: "KR", currency: "KRW", shipFrom: "KR", amount: "100000", gatewayFee: "2900", occurredAt: `${DAY}T12:00:00.000Z` }),
    ]) {
      const body = JSON.stringify(event);
      const ts = (Date.now() / 1000).toFixed(3);
      const signature = createHmac("sha256", secret ?? "").update(`${ts}.POST./v1/settlements/events.${body}`).digest("hex");
      const r = await fetch(`${url}/v1/settlements/events`, { method: "POST", body, headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v2=${signature}` } });
      expect(r.status, await r.clone().text()).toBe(201);
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

  /** What the page shows of a return, in the order the API answers it. */
  const screenOf = async (page: Page) => ({
    totals: await page.getByTestId("tax-totals").locator("dd").allTextContents(),
    rates: await Promise.all((await page.getByTestId("tax-rate").all()).map(async (row) => (await row.locator("td").allTextContents()).filter((_, i) => [0, 2, 5, 6].includes(i)))),
    lines: await Promise.all((await page.getByTestId("tax-line").all()).map(async (row) => (await row.locator("td").allTextContents()).filter((_, i) => [1, 2, 3, 4, 8, 9].includes(i)))),
  });
  /** The same, from the API's figures, as the page writes them (the currency's decimals, rates as percentages). */
  const apiScreen = (r: TaxReturn) => {
    const amount = (minor: string | null) => (minor === null ? "–" : formatAmount(minor, r.currency));
    return {
      totals: [r.opening, r.collected, r.refunded, r.closing].map((m) => formatMoney(m, r.currency)),
      rates: r.byRate.map((g) => [g.rateBps === null ? "no rule recorded" : formatBps(g.rateBps), String(g.lines), amount((BigInt(g.collected) - BigInt(g.refunded)).toString()), amount(g.bases.net.taxableBase)]),
      lines: r.lines.map((l) => [l.what, l.settlementId ?? "", amount(l.gross), amount(l.taxableBase), amount(l.tax), l.rateBps === null ? "no rule recorded" : formatBps(l.rateBps)]),
    };
  };

  it("shows the return the API answers, chosen from the tax rules: its totals, its two rates and its lines; keeps it in the URL and downloads it as CSV", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Tax", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Tax returns" }).waitFor();
    await page.getByText("Choose the return to show.").waitFor();
    // The returns the rules make, a state's by its region; a scheme nobody collects is no return.
    const options = page.getByLabel("Return", { exact: true }).locator("option");
    await expect.poll(() => options.allTextContents()).toEqual(expect.arrayContaining(["BR · BR_REMESSA_CONFORME", "BR-SP · BR_ICMS", "ES · EU_IOSS", "US-CA · US_SALES_TAX"]));
    const offered = await options.allTextContents();
    expect(offered.filter((o) => o.includes("US_NONE") || o.includes("KR_DE_MINIMIS"))).toEqual([]);

    // Brazil's import tax on the day, entered as two instants in the reader's zone: 08:00 in Shenzhen is 00:00 UTC.
    await page.getByLabel("Return", { exact: true }).selectOption({ label: "BR · BR_REMESSA_CONFORME" });
    await page.getByLabel("Effective from").fill("2024-12-18T08:00");
    await page.getByLabel("Effective before").fill("2024-12-19T08:00");
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByRole("heading", { level: 2, name: "By rate" }).waitFor();
    const query = `market=BR&scheme=BR_REMESSA_CONFORME&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ market: "BR", scheme: "BR_REMESSA_CONFORME", from: FROM, to: TO });
    const br = await api<TaxReturn>(`/v1/tax/returns?${query}`);
    // The demo's Brazilian orders before the day are its opening; the day has the two rates.
    expect(BigInt(br.opening) > 0n).toBe(true);
    expect(br.byRate.map((g) => g.rateBps)).toEqual([2000, 6000]);
    expect(br.lines.map((l) => l.settlementId)).toEqual(["ORD-TAX-BR-1", "ORD-TAX-BR-2"]);
    const expected = apiScreen(br);
    expect(expected.rates.map((r) => r[0])).toEqual(["20%", "60%"]);
    expect(await screenOf(page)).toEqual(expected);
    // The whole return as the table's last row: its lines, tax collected, given back and net, and its taxable base.
    const net = (BigInt(br.collected) - BigInt(br.refunded)).toString();
    expect(await page.getByRole("row", { name: /^The return/ }).locator("td").allTextContents()).toEqual(["2", ...[br.collected, br.refunded, net, br.bases.net.taxableBase ?? ""].map((m) => formatAmount(m, "BRL"))]);
    // An order links to its settlements.
    expect(await page.getByRole("link", { name: "ORD-TAX-BR-1", exact: true }).getAttribute("href")).toBe("/console/settlements?order=ORD-TAX-BR-1");
    await shot(page, "tax");
    await axe(page, "tax return");
    // On a phone the wide tables scroll inside their box, not the page.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.setViewportSize(DESKTOP.viewport);

    // The CSV link answers the same return as CSV, with the session's cookie (no key in the page).
    const link = page.getByRole("link", { name: "Download this return as CSV" });
    expect(await link.getAttribute("href")).toBe(`/v1/tax/returns?${query}&format=csv`);
    const [status, type, csv] = await page.evaluate<[number, string, string]>(`(async () => { const r = await fetch(document.querySelector("a[href*='format=csv']").href); return [r.status, r.headers.get("content-type"), await r.text()]; })()`);
    expect([status, type]).toEqual([200, "text/csv; charset=utf-8"]);
    // No field of this return holds a comma or a quote (codes, figures, rule ids): a split reads it.
    const rows = csv.trim().split("\n").map((row) => row.split(","));
    const header = rows[0] ?? [];
    const [what, tax] = [header.indexOf("what"), header.indexOf("tax_minor")];
    expect(rows.slice(1).map((row) => [row[what], row[tax]])).toEqual([
      ["opening", br.opening],
      ...br.lines.map((l) => [l.what, l.tax]),
      ["collected", br.collected],
      ["given_back", `-${br.refunded}`.replace(/^-0$/, "0")],
      ["total", net],
      ...br.byRate.map((g) => ["rate", (BigInt(g.collected) - BigInt(g.refunded)).toString()]),
      ["closing", br.closing],
    ]);

    // A reload shows the same return: the choice and the period are the URL's.
    await page.reload();
    await page.getByRole("heading", { level: 2, name: "By rate" }).waitFor();
    expect(await page.getByLabel("Return", { exact: true }).inputValue()).toBe("BR//BR_REMESSA_CONFORME");
    expect(await page.getByLabel("Effective before").inputValue()).toBe("2024-12-19T08:00");
    expect(await screenOf(page)).toEqual(expected);

    // Spain's December as a UTC month, chosen as on the books page: the capture and its refund
    // among the demo's orders, the refund giving back the 21.00 collected.
    await page.getByLabel("Return", { exact: true }).selectOption({ label: "ES · EU_IOSS" });
    await page.getByLabel("Month in").selectOption("utc");
    await page.locator("#tx-month").fill("2024-12");
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("market")).toBe("ES");
    expect([new URL(page.url()).searchParams.get("from"), new URL(page.url()).searchParams.get("to")]).toEqual(["2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"]);
    const es = await api<TaxReturn>("/v1/tax/returns?market=ES&scheme=EU_IOSS&from=2024-12-01T00:00:00Z&to=2025-01-01T00:00:00Z");
    // The refund's gross signed as its tax: it gives back the 121.00.
    expect(es.lines.filter((l) => l.settlementId === "ORD-TAX-ES-1").map((l) => [l.what, l.gross, l.tax])).toEqual([
      ["capture", "12100", "2100"],
      ["refund", "-12100", "-2100"],
    ]);
    await expect.poll(() => page.getByTestId("tax-line").count()).toBe(es.lines.length);
    expect(await screenOf(page)).toEqual(apiScreen(es));
    await page.context().close();
  });

  it("says when nothing was booked in the period, and puts the service's problems at their fields, for a read-only key", { timeout: 90_000 }, async () => {
    const page = await signedIn(keyOf(stack, "demo auditor"));
    // November: before the demo's first order.
    await page.goto(`${url}/console/tax?market=ES&scheme=EU_IOSS&from=2024-11-01T00:00:00.000Z&to=2024-12-01T00:00:00.000Z`);
    await page.getByTestId("tax-empty").waitFor();
    expect(await page.getByTestId("tax-empty").textContent()).toBe("Nothing was booked to this return in the period: no tax was collected or given back.");
    expect(await page.getByTestId("tax-totals").locator("dd").allTextContents()).toEqual(["0.00 EUR", "0.00 EUR", "0.00 EUR", "0.00 EUR"]);
    expect(await page.getByRole("heading", { level: 2, name: "By rate" }).count()).toBe(0);

    // A market no rule has: the select shows it as the URL has it, and the service's refusal names it.
    await page.goto(`${url}/console/tax?market=XX&scheme=EU_IOSS&from=${FROM}&to=${TO}`);
    const refused = page.locator("#tx-error");
    await refused.waitFor();
    expect(await refused.textContent()).toContain("Return (its market) (market): no such market");
    expect(await refused.textContent()).toContain("ENT_SETTLEMENT_UNKNOWN_MARKET");
    const choice = page.getByLabel("Return", { exact: true });
    await expect.poll(() => choice.locator("option:checked").textContent()).toBe("XX · EU_IOSS (no tax rule)");
    expect([await choice.getAttribute("aria-invalid"), await choice.getAttribute("aria-describedby")]).toEqual(["true", "tx-error"]);

    // A period that ends before it starts: at the period's end.
    await page.goto(`${url}/console/tax?market=ES&scheme=EU_IOSS&from=${TO}&to=${FROM}`);
    await refused.waitFor();
    expect(await refused.textContent()).toContain("Effective before (query.to): must be after from");
    const end = page.getByLabel("Effective before");
    expect([await end.getAttribute("aria-invalid"), await end.getAttribute("aria-describedby")]).toEqual(["true", "tx-error"]);
    expect(await choice.getAttribute("aria-invalid")).toBeNull();
    await shot(page, "tax-refused");
    await page.context().close();
  });

  it("offers a scheme the seller declares itself and shows its sales as a record, each with who is liable, the seller and the route", { timeout: 90_000 }, async () => {
    const page = await signedIn(finance);
    await page.goto(`${url}/console/tax?market=KR&scheme=KR_VAT&from=${FROM}&to=${TO}`);
    await page.getByTestId("tax-uncollected").waitFor();
    const choice = page.getByLabel("Return", { exact: true });
    await expect.poll(() => choice.locator("option:checked").textContent()).toBe("KR · KR_VAT");
    expect(await page.getByTestId("tax-uncollected").textContent()).toContain("the seller declares itself");
    const kr = await api<TaxReturn>(`/v1/tax/returns?market=KR&scheme=KR_VAT&from=${FROM}&to=${TO}`);
    expect(kr.lines.map((l) => [l.settlementId, l.tax, l.collectedBy, l.sellerId, l.shipFrom, l.shipTo])).toEqual([["ORD-TAX-KR-1", "0", "seller", "S-POP-SZ-01", "KR", "KR"]]);
    await expect.poll(() => page.getByTestId("tax-line").count()).toBe(1);
    expect(await screenOf(page)).toEqual(apiScreen(kr));
    expect((await page.getByTestId("tax-line").locator("td").allTextContents()).slice(10)).toEqual(["seller", "S-POP-SZ-01", "KR → KR"]);
    await page.context().close();
  });
});
