/**
 * The finance team's payout week in the console, in Chromium, without curl: a bank payout run from
 * an admin session (after a confirmation; a finance session is told it takes admin), the bank's
 * camt.054 imported on the Payouts view with the shared drop zone and upload progress, answered
 * entry by entry (applied, or to the exceptions queue with its code), a notification for another
 * account refused in the problem display naming its field; an instructed payout the bank never
 * executed cancelled from its page with a note and a confirmation; a revaluation at a period's last
 * instant (23:59:59.999 UTC), entered to the millisecond or as a month's end, sent and shown back
 * exactly; and a finance:read session shown none of those controls, with the reason. Against the
 * service itself (its routes and the built console on a port of its own) on a real database.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { axe, shot } from "../support/browser.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, publishDayRates, type Harness } from "../http/harness.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
const POLL = { timeout: 30_000 };
/** The focused element's id (a string expression: this file is compiled without the DOM's types). */
const focusedId = (page: Page) => page.evaluate<string>(`(() => { const e = document.activeElement; return e ? e.id : ""; })()`);
const kind = (await testDatabaseKinds()).includes("postgres") ? "postgres" : "pglite";

describe(`the console's payout week: bank runs, camt.054 imports, cancellations, period-end revaluations (Chromium, ${kind})`, () => {
  let h: Harness;
  let dir: string;
  let browser: Browser;
  let base: string;
  let financeWrite: IssuedKey;
  const payouts: Record<string, BankPayoutJson> = {};
  const { sale, remit } = bankKit(() => ({ h, financeWrite }));
  const payoutNow = async (id: string) => json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${id}`));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-console-payouts-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, account] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: account, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
      await sale(seller, "149900");
    }
    await remit("ADY-PO-CONSOLE-WEEK");
    const run = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    for (const p of json<{ payouts: BankPayoutJson[] }>(run).payouts) payouts[p.sellerId] = p;
    expect(Object.values(payouts).map((p) => [p.sellerId, p.status]).sort()).toEqual([
      ["S-POP-HK-02", "instructed"],
      ["S-POP-SZ-01", "instructed"],
    ]);
    base = await h.app.listen({ port: 0, host: "127.0.0.1" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function signedIn(key: string): Promise<Page> {
    const page = await (await browser.newContext(DESKTOP)).newPage();
    await page.goto(`${base}/console/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor(POLL);
    return page;
  }
  /** The value of a field of the page's first list of fields (the payout's). */
  const field = (page: Page, name: string) => page.locator("dl.fields").first().locator("div", { has: page.locator("dt", { hasText: new RegExp(`^${name}$`) }) }).locator("dd");

  it("runs bank payouts from an admin session after a confirmation, saying who was skipped and why; a finance session is told a run takes admin", { timeout: 120_000 }, async () => {
    const admin = await signedIn(h.keys.admin.key);
    await admin.goto(`${base}/console/payouts`);
    await admin.getByRole("button", { name: "Review a bank payout run" }).click(POLL);
    const confirm = admin.getByRole("region", { name: "Confirm the bank payout run" });
    await confirm.waitFor(POLL);
    expect(await confirm.textContent()).toContain("Run bank payouts now?");
    await axe(admin, "payouts, bank run confirmation");
    await confirm.getByRole("button", { name: "Run the payouts" }).click();
    const result = admin.getByTestId("bank-run-result");
    await result.waitFor(POLL);
    // Both sellers have a payout instructed already: nobody is due, each skipped as in flight.
    expect(await result.locator("p").first().textContent()).toBe("Nobody was due: no file was written. 2 sellers were skipped (below).");
    expect((await result.getByRole("list", { name: "Sellers skipped by this run" }).locator("li").allTextContents()).sort()).toEqual(
      ["S-POP-HK-02", "S-POP-SZ-01"].map((s) => `${s}: in_flight (a payout is planned or instructed and not confirmed yet)`),
    );
    await admin.context().close();

    const finance = await signedIn(financeWrite.key);
    await finance.goto(`${base}/console/payouts`);
    await expect.poll(() => finance.getByTestId("bank-run-admin").textContent(), POLL).toContain("takes an operator's key (admin)");
    expect(await finance.getByRole("button", { name: "Review a bank payout run" }).count()).toBe(0);
    await finance.context().close();
  });

  it("shows a finance:read session no import, no cancellation and no revaluation form, and says why", { timeout: 120_000 }, async () => {
    const page = await signedIn(h.keys.finance.key);
    await page.goto(`${base}/console/payouts`);
    await expect.poll(() => page.getByTestId("payouts-read-only").textContent(), POLL).toBe(
      "Read only: importing the bank's notifications, resolving its exceptions and cancelling a bank payout take a finance:write key; this session's key has finance:read.",
    );
    await page.getByRole("link", { name: `Bank payout ${payouts["S-POP-SZ-01"]!.id}` }).waitFor(POLL);
    expect(await page.getByRole("heading", { name: "Import the bank's notification" }).count()).toBe(0);
    expect(await page.locator("input[type=file]").count()).toBe(0);

    await page.goto(`${base}/console/payouts/bank/${payouts["S-POP-SZ-01"]!.id}`);
    await expect.poll(() => page.getByTestId("cancel-read-only").textContent(), POLL).toBe("Read only: cancelling a payout the bank never executed takes a finance:write key.");
    expect(await page.getByRole("button", { name: /cancel/i }).count()).toBe(0);
    await axe(page, "bank payout, read only");

    await page.goto(`${base}/console/books?from=2024-12-01T00:00:00.000Z&to=2025-01-01T00:00:00.000Z`);
    await expect.poll(() => page.getByTestId("revalue-read-only").textContent(), POLL).toBe("Revaluing the open positions takes a finance:write key; this session's key reads them only.");
    expect(await page.getByLabel("Revalue open positions at").count()).toBe(0);
    await page.context().close();
  });

  it("imports the bank's camt.054 with the shared drop zone, answers entry by entry what was applied and what went to the exceptions queue, and shows a notification for another account as a problem naming its field", { timeout: 120_000 }, async () => {
    const usd = payouts["S-POP-HK-02"]!;
    const xml = camt054({
      messageId: "HSBC-054-CONSOLE-WEEK",
      account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" },
      entries: [
        { endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) },
        { endToEndId: "ENT-BP-999999", currency: "USD", amount: 2500n },
      ],
    });
    const page = await signedIn(financeWrite.key);
    await page.goto(`${base}/console/payouts`);
    await expect.poll(() => page.getByTestId("bankx-open").textContent(), POLL).toBe("0 open in all.");
    const form = page.getByRole("form", { name: "Import the bank's notification" });
    await form.waitFor(POLL);
    // The Cash view's drop zone: the label is the zone, the file input inside it.
    expect(await form.locator("label.drop").textContent()).toBe("Drop the bank's camt.054 notification (XML) here, or choose it");
    await form.locator("label.drop input[type=file]").setInputFiles({ name: "camt054-week.xml", mimeType: "application/xml", buffer: Buffer.from(xml) });
    expect(await form.locator("label.drop").textContent()).toBe(`camt054-week.xml (${Buffer.byteLength(xml).toLocaleString("en")} bytes)`);
    await form.getByRole("button", { name: "Import", exact: true }).click();
    const applied = page.getByTestId("notification-applied");
    await applied.waitFor(POLL);
    expect(await form.getByRole("progressbar", { name: "Upload progress" }).getAttribute("value")).toBe("1");
    expect(await applied.locator("p").first().textContent()).toBe("Notification HSBC-054-CONSOLE-WEEK (camt.054.001.08), 2 entries: 1 applied, 1 to the exceptions queue. Resolve them in the queue.");
    const rows = await Promise.all((await applied.locator("table.list tbody tr").all()).map((tr) => tr.locator("td").allTextContents()));
    const exceptions = json<{ items: Array<{ id: string; endToEndId: string; code: string }> }>(await h.get("/v1/payouts/bank/exceptions?status=open")).items;
    expect(exceptions.map((x) => [x.endToEndId, x.code])).toEqual([["ENT-BP-999999", "unknown_end_to_end_id"]]);
    expect(rows.map((r) => [r[0], r[1], r[2], r[4], r[5]])).toEqual([
      ["1", usd.endToEndId, `Bank payout ${usd.id}`, "debit · BOOK · bank ref. HSBC-054-CONSOLE-WEEK-1", "final"],
      ["2", "ENT-BP-999999", "–", "debit · BOOK · bank ref. HSBC-054-CONSOLE-WEEK-2", "unmatched unknown_end_to_end_id"],
    ]);
    expect(rows[0]![6]).toBe("Applied: the bank's debit is booked, the payout is final.");
    expect(rows[1]![6]).toMatch(new RegExp(`^To the exceptions queue \\(exception ${exceptions[0]!.id}\\): .+`));
    expect((await payoutNow(usd.id)).status).toBe("final");
    // The queue above and the payouts list are loaded again: the new exception, the payout final.
    await expect.poll(() => page.getByTestId("bankx-open").textContent(), POLL).toBe("1 open in all.");
    await expect.poll(() => page.locator("tr", { has: page.getByRole("link", { name: `Bank payout ${usd.id}`, exact: true }) }).last().locator(".badge").textContent(), POLL).toBe("final");
    await axe(page, "payouts, notification imported");
    await shot(page, "payouts-notification-imported");

    // Another account's notification: refused whole, its code and the field it names in the problem display.
    const foreign = camt054({ messageId: "HSBC-054-CONSOLE-FOREIGN", account: { ...PLATFORM_ACCOUNT, accountNumber: "999999999", accountCurrency: "USD" }, entries: [{ endToEndId: payouts["S-POP-SZ-01"]!.endToEndId, currency: "USD", amount: 100n }] });
    await form.locator("label.drop input[type=file]").setInputFiles({ name: "camt054-foreign.xml", mimeType: "application/xml", buffer: Buffer.from(foreign) });
    await form.getByRole("button", { name: "Import", exact: true }).click();
    const problem = page.locator("#notification-error");
    await problem.waitFor(POLL);
    expect(await problem.getAttribute("role")).toBe("alert");
    expect(await problem.locator("small.code").textContent()).toBe(" ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT");
    expect(await problem.locator("li code").allTextContents()).toEqual(["Ntfctn/Acct/Id"]);
    expect(await problem.textContent()).toContain("999999999");
    expect(await page.getByTestId("notification-applied").count()).toBe(0);
    expect((await payoutNow(payouts["S-POP-SZ-01"]!.id)).status).toBe("instructed");
    await page.context().close();
  });

  it("cancels an instructed bank payout the bank never executed, with a note and a confirmation like the close's; a final one offers no cancellation", { timeout: 120_000 }, async () => {
    const cny = payouts["S-POP-SZ-01"]!;
    const note = "ICBC refused the transfer by phone on 9 Dec (Ms Li): beneficiary bank code rejected";
    const page = await signedIn(financeWrite.key);
    await page.goto(`${base}/console/payouts/bank/${cny.id}`);
    const review = page.getByRole("button", { name: "Review the cancellation" });
    await review.waitFor(POLL);
    expect(await review.isDisabled()).toBe(true); // the note is required
    await page.getByLabel("Why it is cancelled (note, required)").fill(note);
    await review.click();
    const confirm = page.getByRole("region", { name: "Confirm the cancellation" });
    await confirm.waitFor(POLL);
    await expect.poll(() => focusedId(page), POLL).toBe("cancel-confirm");
    expect(await confirm.locator("strong").textContent()).toMatch(new RegExp(`^Cancel bank payout ${cny.id} of .+ to seller S-POP-SZ-01$`));
    expect(await page.getByTestId("cancel-note-shown").textContent()).toBe(note);
    await axe(page, "bank payout, cancellation confirmation");
    // Back returns to the form: nothing sent.
    await confirm.getByRole("button", { name: "Back" }).click();
    expect(await page.getByRole("region", { name: "Confirm the cancellation" }).count()).toBe(0);
    expect((await payoutNow(cny.id)).status).toBe("instructed");
    await review.click();
    await page.getByRole("button", { name: "Cancel the payout" }).click();
    const done = page.getByTestId("payout-cancelled");
    await done.waitFor(POLL);
    const after = await payoutNow(cny.id);
    // The reason the service keeps: who cancelled it (the session's key), then the note.
    expect([after.status, after.reason]).toEqual(["cancelled", `cancelled by api-key:${financeWrite.id}: ${note}`]);
    expect(await done.textContent()).toBe(`Cancelled: the reserve is voided (journal transaction ${after.ledger["voidTransactionId"]}) and the next run pays seller S-POP-SZ-01 again.`);
    await expect.poll(() => focusedId(page), POLL).toBe("payout-cancelled");
    expect(await field(page, "State").textContent()).toBe(`cancelled ${after.reason ?? ""}`);
    expect(await page.getByRole("button", { name: "Review the cancellation" }).count()).toBe(0);

    // The USD payout is final (the bank's debit, imported above): nothing to cancel.
    await page.goto(`${base}/console/payouts/bank/${payouts["S-POP-HK-02"]!.id}`);
    await expect.poll(() => field(page, "State").textContent(), POLL).toBe("final");
    expect(await page.getByRole("button", { name: "Review the cancellation" }).count()).toBe(0);
    await page.context().close();
  });

  it("revalues at an instant entered to the millisecond, and at a month's last instant (23:59:59.999 UTC), sending the exact instant and showing it back", { timeout: 120_000 }, async () => {
    const page = await signedIn(financeWrite.key);
    await page.goto(`${base}/console/books?from=2024-12-01T00:00:00.000Z&to=2025-01-01T00:00:00.000Z`);
    const at = page.getByLabel("Revalue open positions at");
    await at.waitFor(POLL);
    const sent: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().includes("/v1/fx/revaluations")) sent.push(new URL(r.url()).searchParams.get("at") ?? "");
    });
    const done = page.getByTestId("revalued");

    // Seconds and milliseconds typed, in the reader's zone (Asia/Shanghai, UTC+08:00).
    await at.fill("2024-12-20T10:00:30.500");
    await expect.poll(() => page.getByTestId("revalue-sends").textContent(), POLL).toBe("Revalues at 2024-12-20 10:00 (Asia/Shanghai, UTC+08:00; 2024-12-20T02:00:30.500Z).");
    await page.getByRole("button", { name: "Revalue", exact: true }).click();
    await done.waitFor(POLL);
    expect(sent).toEqual(["2024-12-20T02:00:30.500Z"]);
    expect(await done.getByTestId("instant").textContent()).toBe("2024-12-20T02:00:30.500Z");

    // A month's end: the month chosen (December, the period shown's), its last instant set.
    expect(await page.getByLabel("A month's end (UTC, the ledger's periods)").inputValue()).toBe("2024-12");
    await page.getByLabel("A month's end (UTC, the ledger's periods)").fill("2024-11");
    await page.getByRole("button", { name: "Use the end of the month" }).click();
    expect(await at.inputValue()).toBe("2024-12-01T07:59:59.999");
    expect(await page.getByTestId("revalue-sends").textContent()).toBe("Revalues at 2024-12-01 07:59 (Asia/Shanghai, UTC+08:00; 2024-11-30T23:59:59.999Z): the last instant of 2024-11 (UTC).");
    await page.getByLabel("A month's end (UTC, the ledger's periods)").fill("2024-12");
    await page.getByRole("button", { name: "Use the end of the month" }).click();
    expect(await at.inputValue()).toBe("2025-01-01T07:59:59.999");
    // The period shown ends on 1 January: its last instant is the same one.
    await at.fill("");
    await page.getByRole("button", { name: "Use this period's end" }).click();
    expect(await at.inputValue()).toBe("2025-01-01T07:59:59.999");
    await axe(page, "books, revaluation at a period's end");
    await page.getByRole("button", { name: "Revalue", exact: true }).click();
    await expect.poll(() => done.getByTestId("instant").textContent(), POLL).toBe("2024-12-31T23:59:59.999Z");
    expect(sent).toEqual(["2024-12-20T02:00:30.500Z", "2024-12-31T23:59:59.999Z"]);
    expect(await done.locator("p").first().textContent()).toMatch(/^Revaluation at 2025-01-01 07:59 \(2024-12-31T23:59:59\.999Z UTC\)/);
    await shot(page, "books-revaluation-period-end");
    await page.context().close();
  });
  it("settles a debit of part of a payout from the exceptions queue: the resolve form offers the booking the exception's code takes, and says what it booked", { timeout: 120_000 }, async () => {
    // The CNY payout cancelled above: the next run pays the seller again, and its bank pays 400.00 CNY of it.
    const run = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const cny = json<{ payouts: BankPayoutJson[] }>(run).payouts.find((p) => p.sellerId === "S-POP-SZ-01")!;
    const paid = 40_000n;
    expect(BigInt(cny.amount)).toBeGreaterThan(paid);
    const xml = camt054({ messageId: "HSBC-054-CONSOLE-PART", account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" }, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: 5_497n, instructed: { currency: "CNY", amount: paid }, rate: "0.137425" }] });
    const posted = await h.app.inject({ method: "POST", url: "/v1/payouts/bank/confirmations", payload: xml, headers: { authorization: `Bearer ${financeWrite.key}`, "content-type": "application/xml" } });
    expect(posted.statusCode, posted.body).toBe(200);
    const open = json<{ items: Array<{ id: string; code: string; payoutId: string | null }> }>(await h.get("/v1/payouts/bank/exceptions?status=open")).items;
    const x = open.find((e) => e.payoutId === cny.id)!;
    expect(x.code).toBe("instructed_mismatch");

    const page = await signedIn(financeWrite.key);
    await page.goto(`${base}/console/payouts`);
    const row = page.locator("tr", { has: page.getByRole("link", { name: `Bank payout ${cny.id}`, exact: true }) }).filter({ has: page.getByRole("button", { name: "Resolve" }) });
    await row.getByRole("button", { name: "Resolve" }).click(POLL);
    const form = page.getByRole("form", { name: `Resolve bank payout exception ${x.id}` });
    await form.waitFor(POLL);
    // A note alone stays the default; the booking is offered because the code takes it.
    const group = form.getByRole("group", { name: "What the resolution does" });
    expect(await group.getByRole("radio", { name: /^Resolve with the note only/ }).isChecked()).toBe(true);
    await group.getByRole("radio", { name: /book_partial_debit/ }).check();
    await form.getByLabel("Note", { exact: true }).fill("ICBC confirms 400.00 CNY paid, the rest not executed (quota)");
    await axe(page, "payouts, exception resolved by booking the part paid");
    await form.getByRole("button", { name: "Book it and resolve" }).click();
    const resolved = page.getByRole("region", { name: "Exception resolved" });
    await resolved.getByText("Resolved.").waitFor(POLL);
    const after = json<BankPayoutJson & { paid: { currency: string; amount: string } | null }>(await h.get(`/v1/payouts/bank/${cny.id}`));
    expect([after.status, after.paid]).toEqual(["partially_paid", { currency: "CNY", amount: paid.toString() }]);
    const resolution = json<{ resolution: { journalTransactionId: string | null } }>(await h.get(`/v1/payouts/bank/exceptions/${x.id}`)).resolution;
    expect(resolution.journalTransactionId).not.toBeNull();
    expect(await resolved.getByRole("link", { name: `journal transaction ${resolution.journalTransactionId ?? ""}` }).count()).toBe(1);
    expect(await resolved.textContent()).not.toContain("Nothing was booked");

    // An exception no booking settles (an unknown EndToEndId, imported above) offers the note only.
    await resolved.getByRole("button", { name: "Back to the queue" }).click();
    const unknown = page.locator("tr", { hasText: "ENT-BP-999999" }).filter({ has: page.getByRole("button", { name: "Resolve" }) });
    await unknown.getByRole("button", { name: "Resolve" }).click(POLL);
    await page.getByRole("form", { name: /^Resolve bank payout exception / }).waitFor(POLL);
    expect(await page.getByRole("group", { name: "What the resolution does" }).count()).toBe(0);
    await page.context().close();
  });
});
