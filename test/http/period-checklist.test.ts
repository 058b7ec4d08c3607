/**
 * The period-close checklist over HTTP on both engines, as a controller meets it before closing: each
 * kind of open item appears with its count, amounts and the route that resolves it, and goes once
 * resolved: a gateway reconciliation exception, an unmatched bank statement credit, a bank payout
 * exception, bank payouts in transit with their pending reserves, a delivery given up (information
 * only), and the FX check the close itself makes (refused now, planned without booking). Items are
 * scoped to the period ([latest close, before)); `ready` once nothing blocks, and then the close goes
 * through; a `before` not after the latest close, or no instant, is a 400 naming query.before.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { divideRounded } from "../../service/money/index.js";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { answer, camt053, camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { startReceiver, type Receiver } from "../webhooks/receiver.js";
import { adyenRow, capture, DAY, json, openHarness, problemCode, publishDayRates, usdRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const CURRENCIES = ["BRL", "CNY", "EUR", "KRW", "PLN", "SAR"];
/** December 2024 to the 3rd: the demo's events, a statement and a gateway report of DAY. */
const PAST = "2024-12-04T00:00:00.000Z";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Item {
  kind: string;
  status: "ok" | "open";
  blocking: boolean;
  configured: boolean;
  count: number;
  amounts: Array<{ currency: string; amount: string }>;
  refs: Array<{ id: string; href: string }>;
  action: string;
}
interface ChecklistJson {
  from: string | null;
  before: string;
  ended: boolean;
  ready: boolean;
  closeRefusedWith: string | null;
  items: Item[];
  fx: { revalueAt: string; positions: Array<{ currency: string; status: string; code: string | null }>; rates: unknown[] };
}

describe.each(kinds)("period-close checklist on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let writer: IssuedKey;
  let rx: Receiver;
  let failing = true;
  /** A period still running (the payouts and deliveries of today are in it). */
  const live = new Date(Date.now() + 86_400_000).toISOString();
  const checklist = async (before: string) => {
    const r = await h.get(`/v1/ledger/periods/checklist?before=${encodeURIComponent(before)}`);
    expect(r.statusCode, r.body).toBe(200);
    return json<ChecklistJson>(r);
  };
  const itemOf = async (before: string, kind: string) => (await checklist(before)).items.find((i) => i.kind === kind)!;
  const xmlPost = (url: string, body: string) => h.app.inject({ method: "POST", url, payload: body, headers: { "content-type": "application/xml", authorization: `Bearer ${writer.key}` } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-checklist-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox"), WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "1000", WEBHOOK_RETRY_SCHEDULE_SECONDS: "0.01" } });
    rx = await startReceiver(() => ({ status: failing ? 500 : 200 }));
    await publishDayRates(h);
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, id] of [["S-POP-SZ-01", "sz"], ["S-POP-HK-02", "hk"]] as const) {
      const c = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `cap-${id}`, settlementId: `ORD-${id}`, sellerId: seller, amount: "149900" }));
      expect(c.statusCode, c.body).toBe(201);
      const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "release", gatewayEventId: `rel-${id}`, settlementId: `ORD-${id}`, sellerId: seller, amount: "0", gatewayFee: "0", occurredAt: `${DAY}T10:00:00.000Z` }), originalEventId: `cap-${id}` });
      expect(r.statusCode, r.body).toBe(201);
    }
    const receivable = BigInt(json<{ posted: string }>(await h.get("/v1/accounts/gateway:adyen:receivable/BRL/balance")).posted);
    const settled = divideRounded(receivable * 10n ** 8n, BigInt(Math.round(Number(historicalUsdRate("BRL", DAY).rate) * 1e8)), "half-even");
    const remit = await h.signedPost("/v1/remittances", { gateway: "adyen", remittanceId: "ADY-PO-1", currency: "BRL", amount: receivable.toString(), settledCurrency: "USD", settledAmount: settled.toString(), occurredAt: `${DAY}T18:00:00.000Z` });
    expect(remit.statusCode, remit.body).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await rx?.close();
    h?.services.webhooks.close();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a `before` that is no instant (400 naming query.before)", async () => {
    for (const q of ["?before=yesterday", ""]) {
      const r = await h.get(`/v1/ledger/periods/checklist${q}`);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["query.before"]);
    }
  });

  it("is ready for empty books once their period has ended, never before", async () => {
    const empty = await openHarness({ kind, programData: false });
    try {
      const read = async (before: string) => json<ChecklistJson>(await empty.get(`/v1/ledger/periods/checklist?before=${encodeURIComponent(before)}`));
      const ended = await read(PAST);
      expect([ended.ended, ended.ready, ended.closeRefusedWith, ended.items.filter((i) => i.status !== "ok")]).toEqual([true, true, null, []]);
      const running = await read(live);
      expect([running.ended, running.ready, running.closeRefusedWith, running.items.filter((i) => i.status !== "ok")]).toEqual([false, false, null, []]);
    } finally {
      await empty.close();
    }
  });

  it("lists every kind of item, from the beginning of the books; the modules not configured here count nothing", async () => {
    const c = await checklist(PAST);
    expect([c.from, c.before, c.ended]).toEqual([null, PAST, true]);
    expect(c.items.map((i) => [i.kind, i.blocking])).toEqual([
      ["reconciliation_exceptions", true],
      ["cash_exceptions", true],
      ["bank_payout_exceptions", true],
      ["bank_payouts_in_transit", true],
      ["vault_payouts_not_final", true],
      ["fx_revaluation", true],
      ["pending_transactions", true],
      ["dead_webhook_deliveries", false],
    ]);
    // No chain here: no vault.
    expect(c.items.find((i) => i.kind === "vault_payouts_not_final")).toMatchObject({ status: "ok", configured: false, count: 0 });
  });

  it("shows the FX check the close makes, without booking: open while the close would be refused, ok once revalued", async () => {
    const head = (await h.services.ledger.journalPosition(0n)).head;
    const c = await checklist(PAST);
    expect([c.ready, c.closeRefusedWith]).toEqual([false, "ENT_LEDGER_PERIOD_FX_NOT_REVALUED"]);
    expect(c.fx.revalueAt).toBe("2024-12-03T23:59:59.999Z");
    expect(c.fx.positions.map((p) => [p.currency, p.status, p.code])).toEqual([
      ["BRL", "skipped", "ENT_FX_RATE_STALE"],
      ["CNY", "skipped", "ENT_FX_RATE_STALE"],
    ]);
    const fx = c.items.find((i) => i.kind === "fx_revaluation")!;
    expect([fx.status, fx.count, fx.refs.map((r) => r.id)]).toEqual(["open", 2, ["BRL", "CNY"]]);
    expect(fx.action).toContain("POST /v1/fx/revaluations?at=2024-12-03T23:59:59.999Z");
    // What the checklist says is what the close answers; neither booked anything.
    const refused = await h.post("/v1/ledger/periods/close", { before: PAST }, writer);
    expect([refused.statusCode, problemCode(refused)]).toEqual([409, "ENT_LEDGER_PERIOD_FX_NOT_REVALUED"]);
    expect((await h.services.ledger.journalPosition(0n)).head).toBe(head);

    const rates = await h.post("/v1/fx/rates", { rates: usdRates(CURRENCIES, "2024-12-03", new Date("2024-12-03T00:00:00.000Z")) }, h.keys.admin);
    expect(rates.statusCode, rates.body).toBe(201);
    const revalued = await h.post(`/v1/fx/revaluations?at=${encodeURIComponent("2024-12-03T23:59:59.999Z")}`, {}, writer);
    expect(revalued.statusCode, revalued.body).toBe(201);
    const after = await checklist(PAST);
    expect(after.closeRefusedWith).toBeNull();
    expect(after.items.find((i) => i.kind === "fx_revaluation")).toMatchObject({ status: "ok", count: 0, refs: [] });
    expect(after.fx.positions).toEqual([]);
  });

  it("lists a gateway reconciliation exception of a run over the period until it is resolved", async () => {
    expect(await itemOf(PAST, "reconciliation_exceptions")).toMatchObject({ status: "ok", count: 0 });
    const report = [ADYEN_COLUMNS.join(","), adyenRow({ "Psp Reference": "PSP-9", "Modification Reference": "evt-ghost", "Merchant Reference": "ORD-GHOST", "Gross Credit (GC)": "10.00", "Net Credit (NC)": "9.71", "Commission (NC)": "0.29" })].join("\r\n");
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: report, headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id] }, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const runId = json<{ id: string }>(run).id;
    const open = await itemOf(PAST, "reconciliation_exceptions");
    expect(open.status).toBe("open");
    expect(open.count).toBeGreaterThanOrEqual(1);
    expect(open.refs).toHaveLength(open.count);
    // The ghost row: 10.00 BRL the ledger does not hold.
    expect(open.amounts.find((a) => a.currency === "BRL")?.amount).toBeDefined();
    expect(BigInt(open.amounts.find((a) => a.currency === "BRL")!.amount)).toBeGreaterThanOrEqual(1000n);
    const queue = json<{ items: Array<{ runId: string; item: { seq: number } }> }>(await h.get("/v1/reconciliation/exceptions?status=open"));
    expect(open.refs.map((r) => r.id).sort()).toEqual(queue.items.map((e) => `${e.runId}/${e.item.seq}`).sort());
    expect((await checklist(PAST)).ready).toBe(false);
    for (const ref of open.refs) {
      expect(ref.href).toMatch(new RegExp(`^/v1/reconciliation/runs/${runId}/exceptions/\\d+/resolution$`));
      const r = await h.post(ref.href, { note: "checked with the acquirer" }, writer);
      expect(r.statusCode, r.body).toBe(201);
    }
    expect(await itemOf(PAST, "reconciliation_exceptions")).toMatchObject({ status: "ok", count: 0, amounts: [], refs: [] });
  });

  it("lists an unmatched bank statement entry the bank booked in the period until it is resolved", async () => {
    const statement = camt053({
      messageId: "HSBC-053-CL",
      statementId: "STMT-CL-2024-12-02",
      sequence: 1,
      account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" },
      day: DAY,
      opening: 1_000_000n,
      entries: [{ endToEndId: "NOTPROVIDED", currency: "USD", amount: 4_321n, side: "credit", remittanceInfo: "UNKNOWN PAYER", info: "SWIFT MT103" }],
    });
    const imported = await xmlPost("/v1/cash/statements", statement);
    expect(imported.statusCode, imported.body).toBe(201);
    const open = await itemOf(PAST, "cash_exceptions");
    expect([open.status, open.count, open.amounts]).toEqual(["open", 1, [{ currency: "USD", amount: "4321" }]]);
    const [ref] = open.refs;
    expect(ref!.href).toMatch(/^\/v1\/cash\/statements\/\d+\/entries\/1\/resolution$/);
    // Booked on DAY: in a period ending before it, nothing.
    const earlier = await itemOf("2024-12-02T00:00:00.000Z", "cash_exceptions");
    expect([earlier.status, earlier.count]).toEqual(["ok", 0]);
    const resolved = await h.post(ref!.href, { note: "interest credit", adjustment: { postings: [
      { account: "platform:cash:bank", currency: "USD", direction: "debit", amount: "4321" },
      { account: "platform:suspense:unidentified_receipts", currency: "USD", direction: "credit", amount: "4321" },
    ] } }, writer);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect(await itemOf(PAST, "cash_exceptions")).toMatchObject({ status: "ok", count: 0, amounts: [], refs: [] });
  });

  it("is ready once nothing blocks, and the close then goes through; a `before` not after it is a 400 naming query.before", async () => {
    const c = await checklist(PAST);
    expect(c.items.filter((i) => i.status === "open").map((i) => i.kind)).toEqual([]);
    expect([c.ready, c.closeRefusedWith]).toEqual([true, null]);
    const closed = await h.post("/v1/ledger/periods/close", { before: PAST, note: "December to the 3rd" }, writer);
    expect(closed.statusCode, closed.body).toBe(201);
    for (const before of [PAST, "2024-11-01T00:00:00.000Z"]) {
      const r = await h.get(`/v1/ledger/periods/checklist?before=${encodeURIComponent(before)}`);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["query.before"]);
    }
    // A period still running is listed, never ready: it cannot be closed yet.
    const running = await checklist(live);
    expect([running.from, running.ended, running.ready]).toEqual([PAST, false, false]);
  });

  let fileXml: string;
  let payouts: BankPayoutJson[];

  it("lists the bank payouts instructed in the period and their reserves until the bank's notification makes them final", async () => {
    for (const [seller, account] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: account, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    }
    const hook = await h.post("/v1/webhooks/endpoints", { url: rx.url, eventTypes: ["bank_payout.instructed"] }, h.keys.admin);
    expect(hook.statusCode, hook.body).toBe(201);
    const run = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const body = json<{ file: { id: string }; payouts: BankPayoutJson[] }>(run);
    payouts = body.payouts;
    fileXml = await readFile(join(dir, "outbox", `${body.file.id}.xml`), "utf8");
    const expected = payouts.map((p) => ({ currency: p.currency, amount: p.amount })).sort((a, b) => a.currency.localeCompare(b.currency));

    const c = await checklist(live);
    const transit = c.items.find((i) => i.kind === "bank_payouts_in_transit")!;
    expect([transit.status, transit.count, transit.amounts]).toEqual(["open", 2, expected]);
    expect(transit.refs.map((r) => r.href).sort()).toEqual(payouts.map((p) => `/v1/payouts/bank/${p.id}`).sort());
    // Their reserves: pending journal transactions, effective now.
    const pending = c.items.find((i) => i.kind === "pending_transactions")!;
    expect([pending.status, pending.count, pending.amounts]).toEqual(["open", 2, expected]);
    for (const ref of pending.refs) expect(json<{ status: string }>(await h.get(ref.href)).status).toBe("pending");
    expect(c.ready).toBe(false);

    const notification = answer(fileXml, { messageId: "HSBC-054-CL", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } });
    const confirmed = await xmlPost("/v1/payouts/bank/confirmations", notification);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const after = await checklist(live);
    expect(after.items.find((i) => i.kind === "bank_payouts_in_transit")).toMatchObject({ status: "ok", count: 0, amounts: [], refs: [] });
    expect(after.items.find((i) => i.kind === "pending_transactions")).toMatchObject({ status: "ok", count: 0, amounts: [], refs: [] });
  });

  it("lists an open bank payout exception until it is resolved", async () => {
    const odd = camt054({ messageId: "HSBC-054-ODD", account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" }, entries: [{ endToEndId: "ENT-BP-999999", currency: "USD", amount: 5n }] });
    const r = await xmlPost("/v1/payouts/bank/confirmations", odd);
    expect(json<{ results: Array<{ outcome: string }> }>(r).results[0]!.outcome).toBe("unmatched");
    const open = await itemOf(live, "bank_payout_exceptions");
    expect([open.status, open.count]).toEqual(["open", 1]);
    const queue = json<{ items: Array<{ id: string }> }>(await h.get("/v1/payouts/bank/exceptions?status=open"));
    expect(open.refs).toEqual([{ id: queue.items[0]!.id, href: `/v1/payouts/bank/exceptions/${queue.items[0]!.id}/resolution` }]);
    const resolved = await h.post(open.refs[0]!.href, { note: "not ours: the bank recalled it" }, writer);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect(await itemOf(live, "bank_payout_exceptions")).toMatchObject({ status: "ok", count: 0, refs: [] });
  });

  it("lists a webhook delivery given up, for information (not blocking), until it is redelivered", async () => {
    const dispatcher = h.services.webhooks.dispatcher;
    const until = Date.now() + 15_000;
    for (;;) {
      const dead = await itemOf(live, "dead_webhook_deliveries");
      if (dead.count === 2) break;
      if (Date.now() > until) throw new Error(`deliveries not given up in time: ${JSON.stringify(dead)}`);
      await dispatcher.tick();
      await sleep(20);
    }
    await dispatcher.drain();
    const c = await checklist(live);
    const dead = c.items.find((i) => i.kind === "dead_webhook_deliveries")!;
    expect([dead.status, dead.blocking, dead.count]).toEqual(["open", false, 2]);
    failing = false;
    for (const ref of dead.refs) {
      expect(ref.href).toMatch(/^\/v1\/webhooks\/endpoints\/we_[0-9a-f]{24}\/deliveries\/evt_\d+\/redeliver$/);
      const r = await h.post(ref.href, {}, h.keys.admin);
      expect(r.statusCode, r.body).toBe(202);
    }
    expect(await itemOf(live, "dead_webhook_deliveries")).toMatchObject({ status: "ok", count: 0, refs: [] });
  });
});
