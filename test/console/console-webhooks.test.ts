/**
 * The console's Webhooks page in Chromium against `npm start` (its own stack): an operator's endpoint
 * pointed at a receiver this test runs, which answers 500 before it answers 200, so a delivery has a
 * failed attempt and another, failed twice, is dead (the stack retries once, after half a second).
 * The endpoint and its deliveries listed, a failed attempt with its status, the dead-letter filter
 * and the list's page kept in the URL, a dead delivery redelivered from the page by keyboard on a phone, disable, enable
 * and a test event with their outcomes in words, a problem with its code; the deliveries' last page,
 * full, offers no older page; a finance session reads the endpoints, deliveries and attempts and sees
 * no write action. The endpoint's secret is never on screen.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatLocal } from "../../console/src/format.js";
import { axe, shot } from "../support/browser.js";
import { financeKeyOf, keyOf, ready, startStack, stopStack, urlOf, type Stack } from "../support/npm-start.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DESKTOP = { viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Shanghai", locale: "en-GB" };
const PHONE = { viewport: { width: 390, height: 844 }, timezoneId: "America/Sao_Paulo", locale: "en-GB" };

/** The focused element's id (a string expression: this file is compiled without the DOM's types). */
const focusedId = (page: Page) => page.evaluate<string>(`(() => { const e = document.activeElement; return e ? e.id : ""; })()`);

/** Waits for `ok` (expect.poll is for tests only, not their setup). */
async function until(ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not so after ${timeoutMs} ms: ${ok.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Delivery {
  eventId: string;
  status: string;
  attempts: number;
}
interface Detail {
  delivery: Delivery;
  attempts: { attempt: number; statusCode: number | null }[];
}

describe("the console's webhooks (Chromium)", () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let url: string;
  let admin: string;
  let receiver: Server;
  /** The statuses the receiver answers next, in order; 200 once they are used up. */
  const plan: number[] = [];
  const received: { eventId: string; attempt: string; status: number }[] = [];
  const endpoint = { id: "", url: "", createdAt: "", secret: "" };
  /** A delivery failed once then delivered, and one failed twice: dead. */
  const events = { retried: "", dead: "" };

  const api = (route: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
    fetch(`${url}${route}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${init.key ?? admin}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  /** A delivery as the API answers it; null until the worker has fanned the event out (404). */
  const detailOf = async (eventId: string) => {
    const r = await api(`/v1/webhooks/endpoints/${endpoint.id}/deliveries/${eventId}`);
    if (r.status === 404) return null;
    expect(r.status, await r.clone().text()).toBe(200);
    return (await r.json()) as Detail;
  };
  const sendTest = async () => {
    const r = await api(`/v1/webhooks/endpoints/${endpoint.id}/test`, { method: "POST" });
    expect(r.status, await r.clone().text()).toBe(202);
    return ((await r.json()) as { eventId: string }).eventId;
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const status = plan.shift() ?? 200;
        received.push({ eventId: String(req.headers["entrepot-event-id"]), attempt: String(req.headers["entrepot-delivery-attempt"]), status });
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "receiver down (test)");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-console-webhooks-"));
    // One retry, half a second after a failure: a delivery failed twice is dead within a second.
    stack = startStack({ DATA_DIR: dir, WEBHOOK_RETRY_SCHEDULE_SECONDS: "0.5" });
    const [launched] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), ready(stack)]);
    browser = launched;
    url = urlOf(stack);
    admin = keyOf(stack, "bootstrap admin");
    endpoint.url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const created = await api("/v1/webhooks/endpoints", { method: "POST", body: { url: endpoint.url, eventTypes: ["webhook.test"], description: "console test receiver" } });
    expect(created.status, await created.clone().text()).toBe(201);
    const answer = (await created.json()) as { endpoint: { id: string; createdAt: string }; secret: string };
    Object.assign(endpoint, { id: answer.endpoint.id, createdAt: answer.endpoint.createdAt, secret: answer.secret });

    plan.push(500);
    events.retried = await sendTest();
    await until(async () => (await detailOf(events.retried))?.delivery.status === "delivered");
    plan.push(500, 500);
    events.dead = await sendTest();
    await until(async () => (await detailOf(events.dead))?.delivery.status === "dead");
    expect(received.map((r) => `${r.eventId} #${r.attempt} ${r.status}`)).toEqual([`${events.retried} #1 500`, `${events.retried} #2 200`, `${events.dead} #1 500`, `${events.dead} #2 500`]);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await stopStack(stack, dir);
  });

  async function signedIn(key: string, options: typeof DESKTOP): Promise<Page> {
    const page = await (await browser.newContext(options)).newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    return page;
  }

  const deliveryRow = (page: Page, eventId: string) => page.locator("table.list tbody tr", { has: page.getByRole("link", { name: eventId, exact: true }) });
  const noSecret = async (page: Page) => expect(await page.locator("body").textContent()).not.toContain(endpoint.secret);

  it("lists the endpoint, and shows a delivery's failed attempt with its status before the one that delivered it", { timeout: 90_000 }, async () => {
    const page = await signedIn(admin, DESKTOP);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
    const row = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: endpoint.url }) });
    await row.waitFor();
    await expect.poll(() => row.getByTestId("wh-dead-count").textContent()).toBe("1 dead");
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toContain(endpoint.id);
    expect(cells.slice(1)).toEqual(["webhook.test", "none (every matching event)", "enabled", "1 dead", formatLocal(endpoint.createdAt, DESKTOP.timezoneId)]);
    await shot(page, "webhooks");
    await axe(page, "webhooks");
    await noSecret(page);

    await row.getByRole("link", { name: endpoint.url }).click();
    await page.getByRole("heading", { level: 1, name: `Webhook endpoint ${endpoint.id}` }).waitFor();
    expect(await page.getByTestId("wh-status").textContent()).toBe("enabled");
    const retried = deliveryRow(page, events.retried);
    await retried.waitFor();
    expect((await retried.locator("td").allTextContents()).slice(2, 5)).toEqual(["delivered", "2", "HTTP 200"]);
    const dead = await deliveryRow(page, events.dead).locator("td").allTextContents();
    expect(dead.slice(2, 5)).toEqual(["dead", "2", "HTTP 500"]);
    await axe(page, "webhook-endpoint");
    await shot(page, "webhook-endpoint");
    await noSecret(page);

    await retried.getByRole("link", { name: events.retried }).click();
    await page.getByRole("heading", { level: 1, name: `Delivery of ${events.retried}` }).waitFor();
    const attempt = (n: number) => page.getByTestId(`wh-attempt-${n}`).locator("td").allTextContents();
    const [first, second] = [await attempt(1), await attempt(2)];
    expect([first[0], first[2]]).toEqual(["1", "HTTP 500"]);
    expect(first[3]).toMatch(/^\d+ ms$/);
    expect([second[0], second[2], second[4]]).toEqual(["2", "HTTP 200", "–"]);
    // In the reader's zone, as the API's instants.
    const api0 = (await (await api(`/v1/webhooks/endpoints/${endpoint.id}/deliveries/${events.retried}`)).json()) as { attempts: { startedAt: string }[] };
    expect(first[1]).toBe(formatLocal(api0.attempts[0]?.startedAt ?? "", DESKTOP.timezoneId));
    expect(await page.getByTestId("wh-delivery-status").textContent()).toBe("delivered");
    await page.getByText("Its data as delivered").click();
    expect(await page.getByTestId("wh-event-data").textContent()).toContain(endpoint.id);
    await axe(page, "webhook-delivery");
    await shot(page, "webhook-delivery");
    await noSecret(page);
    await page.context().close();
  });

  it("keeps the dead-letter filter in the URL, and redelivers a dead delivery from the page by keyboard, on a phone", { timeout: 90_000 }, async () => {
    const page = await signedIn(admin, PHONE);
    await page.goto(`${url}/console/webhooks/${endpoint.id}`);
    await deliveryRow(page, events.retried).waitFor();
    await page.getByLabel("Status").selectOption("dead");
    await expect.poll(() => new URL(page.url()).searchParams.get("status")).toBe("dead");
    await deliveryRow(page, events.dead).waitFor();
    await expect.poll(() => page.locator("table.list tbody tr").count()).toBe(1);
    expect(await deliveryRow(page, events.retried).count()).toBe(0);
    // Back undoes the filter; Forward returns to it.
    await page.goBack();
    await deliveryRow(page, events.retried).waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe("");
    await page.goForward();
    await expect.poll(() => page.locator("table.list tbody tr").count()).toBe(1);
    expect(await page.getByLabel("Status").inputValue()).toBe("dead");
    // Nothing wider than the phone's screen but the tables, which scroll inside their box.
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);

    await deliveryRow(page, events.dead).getByRole("link", { name: events.dead }).click();
    await page.getByRole("heading", { level: 1, name: `Delivery of ${events.dead}` }).waitFor();
    expect(await page.getByTestId("wh-delivery-status").textContent()).toBe("dead");
    expect(await page.getByTestId("wh-attempt-2").locator("td").nth(2).textContent()).toBe("HTTP 500");
    await axe(page, "webhook-delivery-dead");
    expect(plan).toEqual([]); // the receiver answers 200 now
    await page.getByRole("button", { name: "Redeliver now" }).focus();
    await page.keyboard.press("Enter");
    const outcome = page.getByTestId("wh-redelivered");
    await outcome.waitFor({ timeout: 30_000 });
    expect(await outcome.textContent()).toMatch(/^Redelivered: attempt 3 answered HTTP 200 in \d+ ms\. Delivered\.$/);
    await expect.poll(() => focusedId(page)).toBe("wh-outcome");
    // The page shows the new attempt and state without a reload.
    await expect.poll(() => page.getByTestId("wh-delivery-status").textContent()).toBe("delivered");
    expect(await page.getByTestId("wh-attempt-3").locator("td").nth(2).textContent()).toBe("HTTP 200");
    expect(received.at(-1)).toEqual({ eventId: events.dead, attempt: "3", status: 200 });
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shot(page, "webhook-redelivered-phone");

    await page.goBack();
    await page.getByTestId("wh-no-deliveries").waitFor();
    expect(await page.getByTestId("wh-no-deliveries").textContent()).toBe("No dead delivery: nothing waits to be redelivered.");
    await page.context().close();
  });

  it("disables the endpoint after a confirmation, enables it, sends a test event, and says a problem in words with its code", { timeout: 90_000 }, async () => {
    const page = await signedIn(admin, DESKTOP);
    await page.goto(`${url}/console/webhooks/${endpoint.id}`);
    await page.getByRole("heading", { level: 1, name: `Webhook endpoint ${endpoint.id}` }).waitFor();
    await page.getByRole("button", { name: "Disable…" }).click();
    await expect.poll(() => focusedId(page)).toBe("wh-confirm-disable");
    await page.keyboard.press("Enter");
    const disabled = page.getByTestId("wh-disabled");
    await disabled.waitFor();
    expect(await disabled.textContent()).toMatch(/^Disabled \d{4}-\d\d-\d\d \d\d:\d\d .*Events raised from now on are never delivered to it/);
    await expect.poll(() => focusedId(page)).toBe("wh-outcome");
    await expect.poll(() => page.getByTestId("wh-status").textContent()).toBe("disabled");
    expect(((await (await api(`/v1/webhooks/endpoints/${endpoint.id}`)).json()) as { status: string }).status).toBe("disabled");
    expect(await page.getByRole("button", { name: "Send test event" }).isDisabled()).toBe(true);
    await axe(page, "webhook-endpoint-disabled");

    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByTestId("wh-enabled").waitFor();
    await expect.poll(() => page.getByTestId("wh-status").textContent()).toBe("enabled");
    expect(((await (await api(`/v1/webhooks/endpoints/${endpoint.id}`)).json()) as { status: string }).status).toBe("active");

    const before = received.length;
    await page.getByRole("button", { name: "Send test event" }).click();
    const sent = page.getByTestId("wh-test-sent");
    await sent.waitFor();
    const eventId = /^Test event (evt_\d+) /.exec((await sent.textContent()) ?? "")?.[1] ?? "";
    expect(eventId).toMatch(/^evt_\d+$/);
    await expect.poll(() => focusedId(page)).toBe("wh-outcome");
    // Followed until its first attempt is recorded; the list the action then refreshes holds it (the
    // refresh is a request of its own, answered a moment after the outcome is shown).
    await expect.poll(() => sent.textContent(), { timeout: 30_000 }).toMatch(new RegExp(`^Test event ${eventId} sent: attempt 1 answered HTTP 200 in \\d+ ms\\. Delivered\\. See its delivery ${eventId}\\.$`));
    await expect.poll(async () => (await deliveryRow(page, eventId).locator("td").allTextContents()).slice(2, 5), { timeout: 10_000 }).toEqual(["delivered", "1", "HTTP 200"]);
    expect(received.slice(before)).toEqual([{ eventId, attempt: "1", status: 200 }]);

    // A problem the service answers: in words, its code after them, focus on it.
    await page.route("**/test", (route) =>
      route.fulfill({ status: 409, contentType: "application/problem+json", body: JSON.stringify({ type: "about:blank", title: "Conflict", status: 409, code: "ENT_WEBHOOK_ENDPOINT_DISABLED", detail: `webhook endpoint ${endpoint.id} is disabled and receives nothing; enable it first` }) }),
    );
    await page.getByRole("button", { name: "Send test event" }).click();
    const error = page.locator("#wh-error");
    await error.waitFor();
    expect(await error.textContent()).toBe(`webhook endpoint ${endpoint.id} is disabled and receives nothing; enable it first ENT_WEBHOOK_ENDPOINT_DISABLED`);
    await expect.poll(() => focusedId(page)).toBe("wh-error");
    await noSecret(page);
    await page.context().close();
  });

  it("keeps the deliveries' page in the URL beside the status: a reload and Back return to it, a new filter starts on page 1; a full last page offers no older one", { timeout: 120_000 }, async () => {
    const enabled = await api(`/v1/webhooks/endpoints/${endpoint.id}/enable`, { method: "POST" });
    expect(enabled.status, await enabled.clone().text()).toBe(200);
    const all = async () => ((await (await api(`/v1/webhooks/endpoints/${endpoint.id}/deliveries?limit=100`)).json()) as { items: Delivery[] }).items;
    const had = (await all()).length;
    // Two full pages of the list (25 each): the second is the last, with nothing behind it.
    const more = 50 - had;
    expect(more).toBeGreaterThan(25);
    for (let i = 0; i < more; i++) await sendTest();
    await expect.poll(async () => (await all()).length, { timeout: 60_000 }).toBe(50);
    const newest = (await all()).map((d) => d.eventId);

    const page = await signedIn(admin, DESKTOP);
    await page.goto(`${url}/console/webhooks/${endpoint.id}`);
    const rows = page.locator("table.list tbody tr");
    const shown = async () => (await rows.locator("td:first-child a").allTextContents()).join(" ");
    await expect.poll(shown).toBe(newest.slice(0, 25).join(" "));
    await page.getByRole("button", { name: "Older →" }).click();
    await page.getByText("Page 2").waitFor();
    expect(new URL(page.url()).searchParams.get("pages")).toBe(newest[24]);
    expect(newest.length).toBeGreaterThan(25);
    await expect.poll(shown).toBe(newest.slice(25).join(" "));
    // The last page, full: no Older button to an empty page.
    expect(await page.getByRole("button", { name: "Older →" }).isDisabled()).toBe(true);
    await page.reload();
    await page.getByText("Page 2").waitFor();
    await expect.poll(shown).toBe(newest.slice(25).join(" "));
    await page.goBack();
    await page.getByText("Page 1").waitFor();
    await expect.poll(shown).toBe(newest.slice(0, 25).join(" "));
    await page.goForward();
    await page.getByText("Page 2").waitFor();
    await page.getByLabel("Status").selectOption("dead");
    await page.getByText("Page 1").waitFor();
    expect(new URL(page.url()).searchParams.get("pages")).toBeNull();
    expect(new URL(page.url()).searchParams.get("status")).toBe("dead");
    await page.context().close();
  });

  it("shows a finance session the endpoints, their deliveries and attempts, read only, as the service allows: no write action", { timeout: 90_000 }, async () => {
    for (const key of [keyOf(stack, "demo auditor"), financeKeyOf(stack)]) {
      const page = await signedIn(key, PHONE);
      const nav = page.getByRole("navigation", { name: "Console" });
      await nav.getByRole("link", { name: "Webhooks" }).click();
      await page.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
      const row = page.locator("table.list tbody tr", { has: page.getByRole("link", { name: endpoint.url }) });
      await row.waitFor();
      await page.getByTestId("webhooks-read-only").waitFor();
      await row.getByRole("link", { name: endpoint.url }).click();
      await page.getByRole("heading", { level: 1, name: `Webhook endpoint ${endpoint.id}` }).waitFor();
      // Its deliveries, newest first (how many depends on the tests before this one).
      await page.locator("table.list tbody tr td:first-child a").first().waitFor();
      await page.getByTestId("webhooks-read-only").waitFor();
      await axe(page, "webhook-endpoint-read-only");
      await page.goto(`${url}/console/webhooks/${endpoint.id}/deliveries/${events.retried}`);
      await page.getByRole("heading", { level: 1, name: `Delivery of ${events.retried}` }).waitFor();
      expect((await page.getByTestId("wh-attempt-1").locator("td").allTextContents())[2]).toBe("HTTP 500");
      await page.getByTestId("webhooks-read-only").waitFor();
      for (const view of [`/webhooks`, `/webhooks/${endpoint.id}`, `/webhooks/${endpoint.id}/deliveries/${events.dead}`]) {
        await page.goto(`${url}/console${view}`);
        await page.getByTestId("webhooks-read-only").waitFor();
        expect(await page.getByTestId("webhooks-no-access").count()).toBe(0);
        expect(await page.getByRole("button", { name: /Disable|Enable|Send test event|Redeliver/ }).count()).toBe(0);
        await noSecret(page);
      }
      await shot(page, "webhook-delivery-read-only");
      // The service reads them to this session, and refuses it every write.
      expect(await page.evaluate<number>(`fetch("/v1/webhooks/endpoints").then((r) => r.status)`)).toBe(200);
      const csrf = await page.evaluate<string>(`fetch("/v1/sessions/current").then((r) => r.json()).then((s) => s.csrfToken)`);
      const write = await page.evaluate<{ status: number; code: string }>(
        `fetch("/v1/webhooks/endpoints/${endpoint.id}/disable", { method: "POST", headers: { "x-csrf-token": ${JSON.stringify(csrf)} } }).then(async (r) => ({ status: r.status, code: (await r.json()).code }))`,
      );
      expect(write).toEqual({ status: 403, code: "ENT_AUTH_INSUFFICIENT_SCOPE" });
      await page.context().close();
    }
  });
});
