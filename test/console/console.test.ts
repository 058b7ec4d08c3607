/**
 * The finance console in a real browser: Debian's Chromium driven by playwright-core against
 * `npm start` as a newcomer runs it (its own chain, the demo data, the printed keys). A finance team's
 * walkthrough: sign in with the printed finance key, find the README's example settlement and see
 * its proof verified in the page against the chain, import a gateway report by drag and drop and
 * resolve an exception with the adjusting entry shown before it is booked; a read-only key sees no
 * write action. Every view is screenshot into test-results/console/ and checked with axe-core: no
 * serious or critical violation.
 */
import { createHmac } from "node:crypto";
import { access, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { financeKeyOf, gatewayKeyOf, keyOf, ready, ROOT, startStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
// Flags for a machine without a display or internet: no sandbox (CI runs as root), no GPU, and no
// background calls to Google's services that would wait on hosts it cannot reach.
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const SHOTS = path.join(ROOT, "test-results", "console");
const README_ORDER = "ORD-README-1";
// A reader in Shenzhen: times show in their zone (UTC on hover).
const CONTEXT = { viewport: { width: 1360, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };

async function axe(page: Page, view: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${view}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

describe("the finance console (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let finance: string;
  let auditor: string;
  let settlementId: string;

  beforeAll(async () => {
    await access(CHROMIUM).catch(() => {
      throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
    });
    await mkdir(SHOTS, { recursive: true });
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-"));
    stack = startStack({ DATA_DIR: dir });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    finance = financeKeyOf(stack);
    auditor = keyOf(stack, "demo auditor");
    expect(stack.out()).toContain(`Console:       ${url}/console/`);
    // The README's example capture, posted by the demo gateway as the README does.
    const [gatewayKey, secret] = gatewayKeyOf(stack);
    const body = /^body='(.+)'$/m.exec(await readFile(path.join(ROOT, "README.md"), "utf8"))?.[1] ?? "";
    const ts = (Date.now() / 1000).toFixed(3);
    const posted = await fetch(`${url}/v1/settlements/events`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v1=${createHmac("sha256", secret ?? "").update(`${ts}.${body}`).digest("hex")}` },
    });
    expect(posted.status, await posted.clone().text()).toBe(201);
    settlementId = ((await posted.json()) as { settlement: { id: string } }).settlement.id;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (stack !== undefined && stack.child.exitCode === null) stack.child.kill("SIGINT");
    await stack?.exited;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function signedIn(key: string): Promise<Page> {
    const context = await browser.newContext(CONTEXT);
    const page = await context.newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    return page;
  }

  it("signs in with the printed finance key, finds the README's settlement and verifies its proof in the page against the chain", { timeout: 120_000 }, async () => {
    // Anchoring runs in the background (a batch within seconds): wait for the proof like a reader would.
    for (let i = 0; i < 120; i++) {
      const r = await fetch(`${url}/v1/settlements/${settlementId}/proof`, { headers: { authorization: `Bearer ${finance}` } });
      if (r.status === 200 && ((await r.json()) as { anchoring: { state: string } }).anchoring.state !== "submitted") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const page = await (await browser.newContext(CONTEXT)).newPage();
    await page.goto(`${url}/console/settlements`);
    await page.getByLabel("API key").fill(finance);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Signed in from a view's URL, the page shows that view.
    await page.getByRole("heading", { level: 1, name: "Settlements" }).waitFor();
    // The session cookie is HttpOnly and strict: the page cannot read it.
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "entrepot_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate("document.cookie")).not.toContain("entrepot_session");

    await page.getByRole("link", { name: "Settlements" }).click();
    await page.getByLabel("Order").fill(README_ORDER);
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.url()).toContain(`order=${README_ORDER}`);
    const rows = page.locator("table.list tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    await shot(page, "settlements");
    await axe(page, "settlements");
    await rows.first().getByRole("link").first().click();

    await page.getByRole("heading", { level: 1, name: new RegExp(`capture of order ${README_ORDER}`) }).waitFor();
    const verdict = page.getByTestId("verdict");
    await verdict.waitFor({ timeout: 60_000 });
    expect(await verdict.textContent()).toMatch(/^VERIFIED: all 13 checks passed$/);
    const checks = await page.locator("pre.checks > div").allTextContents();
    expect(checks.map((c) => c.split(/\s+/)[0])).toEqual(Array.from({ length: 13 }, () => "PASS"));
    expect(checks.map((c) => c.split(/\s+/)[1])).toEqual(expect.arrayContaining(["leaf-content", "merkle-proof", "root-on-chain", "verify-settlement", "batch-event", "confirmations"]));
    // The economics and their evidence: ICMS and the import tax in BRL, the BRL->USD->CNY path.
    await expect.poll(() => page.getByText("Path: BRL → USD → CNY").count()).toBe(1);
    const lines = await page.getByRole("region", { name: "Fees and taxes" }).or(page.locator("section", { has: page.getByRole("heading", { name: "Fees and taxes" }) })).first().textContent();
    expect(lines).toContain("25.48 BRL");
    expect(lines).toContain("20.74 BRL");
    await shot(page, "settlement-proof");
    // The first screen of it, as the README shows it (docs/console-settlement.png is a copy of this file).
    await page.screenshot({ path: path.join(SHOTS, "settlement-proof-screen.png") });
    await axe(page, "settlement");

    // A tampered node answer fails: pointing the page at an endpoint that is not the chain.
    await page.getByLabel("Chain JSON-RPC endpoint").fill(`${url}/healthz`);
    await page.getByRole("button", { name: "Verify again" }).click();
    await expect.poll(async () => (await verdict.textContent()) ?? "", { timeout: 30_000 }).toMatch(/^NOT VERIFIED/);
    await page.context().close();
  });

  it("imports a report by drag and drop, runs it, and resolves an exception with the postings shown before they are booked", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance);
    await page.getByRole("link", { name: "Reconciliation" }).click();
    await page.getByRole("heading", { level: 1, name: "Reconciliation" }).waitFor();
    const csv = await readFile(path.join(ROOT, "test/reconciliation/fixtures/adyen_settlement_detail_report_batch_42.csv"), "utf8");
    // A file dropped on the drop zone, as a user drags it from their file manager (the page's code,
    // in a string: this file is compiled without the DOM's types).
    const dataTransfer = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([${JSON.stringify(csv)}], "adyen_settlement_detail_report_batch_42.csv", { type: "text/csv" }));
      return dt;
    })()`);
    await page.dispatchEvent("label.drop", "drop", { dataTransfer });
    await page.getByText("adyen_settlement_detail_report_batch_42.csv").first().waitFor();
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByText(/rows, 0 malformed/).waitFor();
    expect(await page.locator("progress").getAttribute("value")).toBe("1");
    await page.getByRole("checkbox", { name: /Reconcile import imp_/ }).first().check();
    await page.getByRole("button", { name: /Run reconciliation over 1 import/ }).click();
    await page.getByRole("caption").getByText("Runs, newest first").waitFor();

    await page.getByLabel("Category").selectOption("gateway_cost");
    const row = page.locator("table.list tbody tr", { hasText: "gateway_cost" }).first();
    await row.waitFor();
    await shot(page, "reconciliation");
    await axe(page, "reconciliation");
    await row.getByRole("button", { name: "Resolve" }).click();
    const panel = page.getByRole("region", { name: /Resolve exception/ });
    // The reconciliation proposes the entry from the report line (DepositCorrection, 5.00 EUR).
    await expect.poll(() => panel.getByLabel("Posting 1 account").inputValue()).toBe("platform:reconciliation:gateway_costs");
    await panel.getByRole("button", { name: "Review" }).click();
    const review = await panel.locator("table").textContent();
    expect(review).toContain("platform:reconciliation:gateway_costs");
    expect(review).toContain("gateway:adyen:receivable");
    expect(review).toContain("5.00 EUR");
    await shot(page, "resolution-review");
    await panel.getByRole("button", { name: "Book the entry and resolve" }).click();
    const booked = page.getByRole("region", { name: "Resolution booked" });
    await booked.getByText("Resolved.").waitFor();
    const txId = await booked.getByRole("link").first().textContent();
    const tx = await fetch(`${url}/v1/transactions/${txId}`, { headers: { authorization: `Bearer ${finance}` } });
    const postings = ((await tx.json()) as { postings: { account: string; direction: string; amount: string }[] }).postings;
    expect(postings.map((p) => [p.account, p.direction, p.amount])).toEqual([
      ["platform:reconciliation:gateway_costs", "debit", "500"],
      ["gateway:adyen:receivable", "credit", "500"],
    ]);
    await page.context().close();
  });

  it("shows a read-only key no write action, and the service refuses a write through its session", { timeout: 60_000 }, async () => {
    const page = await signedIn(auditor);
    expect(await page.getByText("read only").count()).toBe(1);
    await page.getByRole("link", { name: "Reconciliation" }).click();
    await page.getByRole("heading", { level: 2, name: "Exception queue" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Imports and runs" }).waitFor();
    expect(await page.getByRole("heading", { name: "Import a report" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Resolve" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /Run reconciliation/ }).count()).toBe(0);
    // Even a hand-made request with the session and its CSRF token is refused by scope.
    const status = await page.evaluate(async () => {
      const s = (await (await fetch("/v1/sessions/current")).json()) as { csrfToken: string };
      const r = await fetch("/v1/reconciliation/runs", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken }, body: JSON.stringify({ importIds: ["imp_00000000000000000000"] }) });
      return r.status;
    });
    expect(status).toBe(403);
    await shot(page, "read-only-reconciliation");
    await page.context().close();
  });

  it("serves every view at its own URL with no serious or critical accessibility violation; sign-out ends the session", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance);
    await page.getByRole("heading", { name: "Volumes by market and currency per day" }).waitFor();
    await page.locator("canvas").waitFor();
    await page.getByRole("caption").getByText(/Volumes in the period/).waitFor();
    await shot(page, "overview");
    await axe(page, "overview");

    await page.goto(`${url}/console/accounts?prefix=seller:S-POP-SZ-01`);
    await page.getByRole("link", { name: "seller:S-POP-SZ-01:available" }).first().click();
    await page.getByRole("heading", { name: "History, newest first" }).waitFor();
    await page.getByLabel("Balance at").fill("2024-12-11T08:00");
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByTestId("balance-at").waitFor();
    expect(await page.getByTestId("balance-at").textContent()).toMatch(/CNY/);
    await shot(page, "account");
    await axe(page, "account");

    await page.goto(`${url}/console/payouts`);
    await page.getByRole("heading", { name: "Stablecoin payouts (vault)" }).waitFor();
    await page.getByRole("link", { name: "PDF" }).first().waitFor();
    // A statement downloads with the session (a plain link: the cookie goes with it).
    const pdf = await page.evaluate(`(async () => { const r = await fetch(document.querySelector("a[href*='format=pdf']").href); return [r.status, r.headers.get("content-type")]; })()`);
    expect(pdf).toEqual([200, "application/pdf"]);
    await shot(page, "payouts");
    await axe(page, "payouts");

    await page.goto(`${url}/console/journal`);
    await page.locator("table.list tbody tr").first().waitFor();
    expect(await page.locator("table.list tbody tr").count()).toBe(50);
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => page.getByText("Page 2").count()).toBe(1);
    await shot(page, "journal");
    await axe(page, "journal");

    await page.goto(`${url}/console/anchoring`);
    await page.locator("table.list tbody tr").first().waitFor();
    await shot(page, "anchoring");
    await axe(page, "anchoring");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    await shot(page, "sign-in");
    await axe(page, "sign-in");
    const after = await page.evaluate(async () => (await fetch("/v1/transactions?limit=1")).status);
    expect(after).toBe(401);
    await page.context().close();
  });
});
