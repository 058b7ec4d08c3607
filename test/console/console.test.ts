/**
 * The finance console in a real browser: Debian's Chromium driven by playwright-core against
 * `npm start` as a newcomer runs it (its own chain, the demo data, the printed keys). A finance team's
 * walkthrough: sign in with the printed finance key, find the README's example settlement and see
 * its proof verified in the page against the chain, import a gateway report by drag and drop and
 * resolve an exception with the adjusting entry shown before it is booked; a read-only key sees no
 * write action. A reader in São Paulo gets back the instants a URL holds from its date filters, and
 * Back resets the filter form; every view fits a 390 px screen. Every view is screenshot into test-results/console/ and checked with axe-core: no
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

  async function signedIn(key: string, options: Partial<typeof CONTEXT> = {}): Promise<Page> {
    const context = await browser.newContext({ ...CONTEXT, ...options });
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

    // A node that cannot be reached is one finding about the node, not five about the proof; the
    // endpoint the page remembered resets to this server's node.
    await page.getByLabel("Chain JSON-RPC endpoint").fill("http://127.0.0.1:9");
    await page.getByRole("button", { name: "Verify again" }).click();
    await expect.poll(async () => (await verdict.textContent()) ?? "", { timeout: 30_000 }).toMatch(/^NOT VERIFIED: the chain node at http:\/\/127\.0\.0\.1:9 could not be reached/);
    expect(await page.locator("pre.checks").count()).toBe(0);
    expect(await page.evaluate(`localStorage.getItem("entrepot.console.rpc")`)).toBe("http://127.0.0.1:9");
    await page.getByRole("button", { name: "Reset to this server's node" }).click();
    await expect.poll(async () => (await verdict.textContent()) ?? "", { timeout: 60_000 }).toMatch(/^VERIFIED: all 13 checks passed$/);
    expect(await page.evaluate(`localStorage.getItem("entrepot.console.rpc")`)).toBeNull();
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
    const queue = page.getByRole("region", { name: "Exception queue" });
    await queue.getByText("No exception matches.").waitFor();
    await page.getByRole("button", { name: /Run reconciliation over 1 import/ }).click();
    await page.getByRole("caption").getByText("Runs, newest first").waitFor();
    // The queue shows the run's exceptions at once, with no reload (the URL was already ?status=open).
    const runRow = page.locator("table", { has: page.getByRole("caption").getByText("Runs, newest first") }).locator("tbody tr").first();
    const exceptions = Number(await runRow.locator("td.num").textContent());
    expect(exceptions).toBeGreaterThan(0);
    await expect.poll(() => queue.locator("table.list > tbody > tr").count()).toBe(Math.min(exceptions, 25));
    expect(await queue.getByText("No exception matches.").count()).toBe(0);

    await page.getByLabel("Category").selectOption("gateway_cost");
    // The filtered list has loaded when every row of the queue is a gateway cost (the unfiltered
    // rows stay on screen until the filtered answer replaces them).
    const queueRows = queue.locator("table.list > tbody > tr");
    const costRows = queue.locator("table.list > tbody > tr", { hasText: "gateway_cost" });
    await expect.poll(async () => {
      const n = await costRows.count();
      return n > 0 && n === (await queueRows.count());
    }).toBe(true);
    const gatewayCosts = await costRows.count();
    const row = costRows.first();
    await shot(page, "reconciliation");
    await axe(page, "reconciliation");
    await row.getByRole("button", { name: "Resolve" }).click();
    const panel = page.getByRole("region", { name: /Resolve exception/ });
    // The reconciliation proposes the entry from the report line (DepositCorrection, 5.00 EUR).
    await expect.poll(() => panel.getByLabel("Posting 1 account").inputValue()).toBe("platform:reconciliation:gateway_costs");
    expect(await panel.getByLabel("Note").inputValue()).toContain("gateway cost");
    // A posting added by mistake is removed again; an amount that is not a number is named as such.
    await panel.getByRole("button", { name: "Add a posting" }).click();
    await panel.getByLabel("Posting 3 account").fill("platform:reconciliation:adjustments");
    await panel.getByLabel("Posting 3 amount in minor units").fill("abc");
    await panel.getByText(/Posting 3: the amount “abc” is not a number of minor units/).waitFor();
    expect(await panel.getByText(/Does not balance/).count()).toBe(0);
    expect(await panel.getByRole("button", { name: "Review" }).isDisabled()).toBe(true);
    await panel.getByRole("button", { name: "Remove posting 3" }).click();
    expect(await panel.getByLabel("Posting 3 account").count()).toBe(0);
    expect(await panel.getByRole("button", { name: "Remove posting 1" }).isDisabled()).toBe(true);
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
    // Back in the queue, the resolved exception has left the open list.
    await booked.getByRole("button", { name: "Back to the queue" }).click();
    await expect.poll(() => costRows.count()).toBe(gatewayCosts - 1);
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

  it("shows a URL's dates in the reader's zone and queries the same instants; the filter form follows Back and Forward", { timeout: 90_000 }, async () => {
    // A reader in São Paulo (UTC-3): 03:00 UTC is 00:00 in the input, and filtering sends 03:00 UTC again.
    const page = await signedIn(finance, { timezoneId: "America/Sao_Paulo" });
    const from = "2024-12-08T03:00:00.000Z";
    await page.goto(`${url}/console/journal?from=${from}`);
    const fromInput = page.getByLabel("Booked from");
    await expect.poll(() => fromInput.inputValue()).toBe("2024-12-08T00:00");
    expect(await page.locator("label[for=j-from]").textContent()).toContain("America/Sao_Paulo, UTC-03:00");
    await page.getByLabel("Seller").fill("S-POP-SZ-01");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("seller")).toBe("S-POP-SZ-01");
    expect(new URL(page.url()).searchParams.get("from")).toBe(from);
    // Back: the URL has no seller, and neither has the form.
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get("seller")).toBeNull();
    await expect.poll(() => page.getByLabel("Seller").inputValue()).toBe("");
    expect(await fromInput.inputValue()).toBe("2024-12-08T00:00");

    // Settlements: a market typed in lower case is the code the API knows; Back empties the form,
    // Forward fills it again.
    await page.goto(`${url}/console/settlements`);
    await page.locator("table.list tbody tr").first().waitFor();
    await page.getByLabel("Market").fill("br");
    await page.getByLabel("Occurred from").fill("2024-12-01T00:00");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("market")).toBe("BR");
    expect(new URL(page.url()).searchParams.get("from")).toBe("2024-12-01T03:00:00.000Z");
    await page.locator("table.list tbody tr").or(page.getByText("No settlement matches.")).first().waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.goBack();
    await expect.poll(() => page.getByLabel("Market").inputValue()).toBe("");
    expect(await page.getByLabel("Occurred from").inputValue()).toBe("");
    await page.goForward();
    await expect.poll(() => page.getByLabel("Market").inputValue()).toBe("BR");
    expect(await page.getByLabel("Occurred from").inputValue()).toBe("2024-12-01T00:00");
    // A settlement from a URL with a lower-case market is found too.
    await page.goto(`${url}/console/settlements?market=br`);
    await page.locator("table.list tbody tr").first().waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);

    // A URL's lower-case currency is the ISO code; a bad id says what is wrong once.
    await page.goto(`${url}/console/accounts?currency=usd`);
    await page.locator("table.list tbody tr").first().waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.goto(`${url}/console/transactions/zzz`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const said = (await alert.textContent()) ?? "";
    expect(said).toContain("params.id");
    expect(said, said).not.toContain("invalid field");
    expect(said.split("params.id").length - 1, said).toBe(1);

    // The session ends (its cookie is gone): the page says so in its own words and offers sign-in.
    await page.goto(`${url}/console/journal`);
    await page.locator("table.list tbody tr").first().waitFor();
    await page.context().clearCookies();
    await page.getByRole("link", { name: "Accounts" }).click();
    const notice = page.getByRole("status").filter({ hasText: "session" });
    await notice.waitFor();
    expect(await notice.textContent()).toBe("Your session has ended; sign in again.");
    await page.getByLabel("API key").waitFor();
    await page.context().close();
  });

  it("fits a 390 px wide screen (wide tables scroll inside their box) and opens statements on the newest settlement's month", { timeout: 120_000 }, async () => {
    const page = await signedIn(finance, { viewport: { width: 390, height: 844 } });
    const newest = (await (await fetch(`${url}/v1/settlements?limit=1`, { headers: { authorization: `Bearer ${finance}` } })).json()) as { items: { id: string; event: { occurredAt: string } }[] };
    const views = ["/", "/settlements", `/settlements/${newest.items[0]?.id ?? ""}`, "/journal", "/accounts", "/transactions/1", "/reconciliation", "/payouts", "/anchoring"];
    for (const view of views) {
      await page.goto(`${url}/console${view}`);
      await page.locator("h1").waitFor();
      await expect.poll(() => page.getByText("Loading…").count(), { timeout: 30_000 }).toBe(0);
      expect(await page.evaluate("document.documentElement.scrollWidth"), view).toBeLessThanOrEqual(390);
    }
    // The month the statements open on: the newest settlement's (UTC), in the column heading.
    await page.goto(`${url}/console/payouts`);
    const month = newest.items[0]?.event.occurredAt.slice(0, 7) ?? "";
    await page.getByRole("columnheader", { name: `Statement of ${month}` }).waitFor();
    expect(await page.getByLabel("Month (UTC)").inputValue()).toBe(month);
    await shot(page, "payouts-390");

    // At 1280 px each overview card holds its table.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${url}/console/`);
    await page.locator("#bal-h + table tbody tr").first().waitFor();
    const box: unknown = await page.evaluate(`(() => { const card = document.getElementById("bal-h").closest("section"); return [card.querySelector("table").getBoundingClientRect().right, card.getBoundingClientRect().right]; })()`);
    const [tableRight, cardRight] = box as [number, number];
    expect(tableRight).toBeLessThanOrEqual(cardRight);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(1280);
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
