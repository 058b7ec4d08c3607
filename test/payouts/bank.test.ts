/**
 * The bank rail end to end on both engines, as an operator and the bank would use it: sellers put on
 * the rail by admin, one pain.001 (valid against the published schema) in the outbox, the bank's
 * camt.054 making a converted CNY transfer final with its realised FX and a returned USD transfer
 * available again, the same notification applied twice changing nothing, a notification dropped in
 * the inbox applied by the worker, a file lost before it reached the outbox written again, and two
 * instances planning at once never instructing a seller twice. Operators' endpoints hear each
 * payout instructed, then final or rejected, under its own `bank_payout:<id>` subject; a gateway key
 * cannot subscribe to them, and nothing is written while no active endpoint wants them.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { divideRounded } from "../../service/money/index.js";
import { createServices } from "../../service/services.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { BankStore } from "../../service/payouts/bank/store.js";
import { CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { answer, camt053, camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";
import type { WebhookEventBody } from "../../service/webhooks/index.js";
import { outbox } from "../webhooks/outbox.js";
import { expectValidBodies } from "../webhooks/contract.js";
import { startReceiver, type Receiver } from "../webhooks/receiver.js";

const kinds = await testDatabaseKinds();
const platform = PLATFORM_ACCOUNT;

const BANK_PAYOUT_EVENTS = ["bank_payout.instructed", "bank_payout.final", "bank_payout.rejected"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bodies = (rx: Receiver) => rx.received.map((r) => JSON.parse(r.body) as WebhookEventBody);
/** Each subject's event types, in the order the receiver got them. */
function typesBySubject(rx: Receiver): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const b of bodies(rx)) (out[b.subject] ??= []).push(b.type);
  return out;
}

describe.each(kinds)("bank rail on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  let settled: bigint;
  let rx: Receiver;
  let rxSeller: Receiver;
  const hooks: string[] = [];
  const balance = async (account: string, currency: string) => json<{ posted: string; available: string }>(await h.get(`/v1/accounts/${encodeURIComponent(account)}/${currency}/balance`));
  const xmlPost = (url: string, body: string, key: IssuedKey) => h.app.inject({ method: "POST", url, payload: body, headers: { "content-type": "application/xml", authorization: `Bearer ${key.key}` } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox"), WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "1000" } });
    rx = await startReceiver();
    rxSeller = await startReceiver();
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    // Two sales, released to the sellers' available balances: a CNY seller and a USD seller.
    for (const [seller, id] of [["S-POP-SZ-01", "sz"], ["S-POP-HK-02", "hk"]] as const) {
      const c = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `cap-${id}`, settlementId: `ORD-${id}`, sellerId: seller, amount: "149900" }));
      expect(c.statusCode, c.body).toBe(201);
      const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "release", gatewayEventId: `rel-${id}`, settlementId: `ORD-${id}`, sellerId: seller, amount: "0", gatewayFee: "0", occurredAt: `${DAY}T10:00:00.000Z` }), originalEventId: `cap-${id}` });
      expect(r.statusCode, r.body).toBe(201);
    }
    // The acquirer remits the BRL receivable at the day's rate: the platform's bank holds USD.
    const receivable = BigInt((await balance("gateway:adyen:receivable", "BRL")).posted);
    const usdPerBrl = historicalUsdRate("BRL", DAY).rate;
    settled = divideRounded(receivable * 10n ** 8n, BigInt(Math.round(Number(usdPerBrl) * 1e8)), "half-even");
    const remit = await h.signedPost("/v1/remittances", { gateway: "adyen", remittanceId: "ADY-PO-1", currency: "BRL", amount: receivable.toString(), settledCurrency: "USD", settledAmount: settled.toString(), occurredAt: `${DAY}T18:00:00.000Z` });
    expect(remit.statusCode, remit.body).toBe(201);
  });
  afterAll(async () => {
    await rx.close();
    await rxSeller.close();
    h.services.webhooks.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("puts sellers on the rail (admin), names a bad field, and takes them off the vault", async () => {
    const bad = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-SZ-01/bank-account", payload: { ...CN_ACCOUNT, accountNumber: null, iban: "DE89370400440532013001" }, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect([bad.statusCode, problemCode(bad)]).toEqual([400, "ENT_PAYOUT_INVALID_REQUEST"]);
    expect(bad.body).toMatch(/iban.*check digits/);
    const asFinance = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-SZ-01/bank-account", payload: CN_ACCOUNT, headers: { authorization: `Bearer ${financeWrite.key}` } });
    expect(asFinance.statusCode).toBe(403);
    const unknown = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-NOPE/bank-account", payload: CN_ACCOUNT, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect([unknown.statusCode, problemCode(unknown)]).toEqual([404, "ENT_PAYOUT_SELLER_NOT_FOUND"]);
    for (const [seller, account] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: account, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    }
    expect(json(await h.get("/v1/sellers/S-POP-SZ-01/bank-account"))).toMatchObject({ ...CN_ACCOUNT, iban: null });
    expect(problemCode(await h.get("/v1/sellers/S-FULL-GZ-01/bank-account"))).toBe("ENT_PAYOUT_BANK_ACCOUNT_NOT_FOUND");
    const vault = await h.services.bank!.vaultSellers(DEMO_SELLERS);
    expect(vault.map((s) => s.id)).not.toContain("S-POP-SZ-01");
    expect(vault).toHaveLength(DEMO_SELLERS.length - 2);
  });

  it("subscribes operators' endpoints to bank payout events; a gateway key cannot subscribe to them", async () => {
    for (const t of BANK_PAYOUT_EVENTS) {
      const r = await h.signedPost("/v1/webhooks/endpoints", { url: rx.url, eventTypes: [t] }, h.keys.gateway);
      expect([r.statusCode, problemCode(r)]).toEqual([403, "ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN"]);
    }
    for (const [url, filter] of [[rx.url, undefined], [rxSeller.url, { sellerId: "S-POP-SZ-01" }]] as const) {
      const r = await h.post("/v1/webhooks/endpoints", { url, eventTypes: BANK_PAYOUT_EVENTS, ...(filter === undefined ? {} : { filter }) }, h.keys.admin);
      expect(r.statusCode, r.body).toBe(201);
      hooks.push(json<{ endpoint: { id: string } }>(r).endpoint.id);
    }
  });

  let cny: BankPayoutJson;
  let usd: BankPayoutJson;
  let firstUsd: BankPayoutJson;
  let fileXml: string;

  it("instructs each seller's whole available balance in one pain.001, valid against the schema, reserved in the ledger", async () => {
    const availableCny = (await balance("seller:S-POP-SZ-01:available", "CNY")).available;
    const availableUsd = (await balance("seller:S-POP-HK-02:available", "USD")).available;
    expect(BigInt(availableCny)).toBeGreaterThan(0n);
    expect((await h.post("/v1/payouts/bank/runs", {}, financeWrite)).statusCode).toBe(403);
    const run = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const body = json<{ file: { id: string; count: number; ctrlSum: string; writtenAt: string | null }; payouts: BankPayoutJson[] }>(run);
    expect(body.file).toMatchObject({ count: 2 });
    expect(body.file.writtenAt).not.toBeNull();
    cny = body.payouts.find((p) => p.currency === "CNY")!;
    usd = body.payouts.find((p) => p.currency === "USD")!;
    expect([cny.sellerId, cny.amount, cny.status, cny.fileId]).toEqual(["S-POP-SZ-01", availableCny, "instructed", body.file.id]);
    expect([usd.sellerId, usd.amount]).toEqual(["S-POP-HK-02", availableUsd]);
    // Reserved: nothing left to pay, the amount in transit, no FX and no cash moved yet.
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe("0");
    fileXml = await readFile(join(dir, "outbox", `${body.file.id}.xml`), "utf8");
    const xsd = await readFile(new URL("../fixtures/iso20022/pain.001.001.10.xsd", import.meta.url), "utf8");
    const v = await validateXML({ xml: [{ fileName: "f.xml", contents: fileXml }], schema: [{ fileName: "pain.001.001.10.xsd", contents: xsd }] });
    expect(v.errors.map((e) => e.rawMessage)).toEqual([]);
    // One CNY instruction for the CNY seller: its amount, in CNY, no conversion on our side.
    expect(fileXml).toContain(`<EndToEndId>${cny.endToEndId}</EndToEndId></PmtId><Amt><InstdAmt Ccy="CNY">${(Number(cny.amount) / 100).toFixed(2)}</InstdAmt>`);
    const download = await h.get(`/v1/payouts/bank/files/${body.file.id}`);
    expect([download.statusCode, download.headers["content-type"], download.body]).toEqual([200, "application/xml; charset=utf-8", fileXml]);
    // Nothing more is due while these are in flight.
    const again = json<{ file: unknown; skipped: Array<{ reason: string }> }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin));
    expect(again.file).toBeNull();
    expect(again.skipped.map((s) => s.reason)).toEqual(["in_flight", "in_flight"]);
  });

  it("the bank's camt.054 makes the converted transfer final with realised FX and returns the other to the seller", async () => {
    const cashBefore = BigInt((await balance("platform:cash:bank", "USD")).posted);
    const positionCny = BigInt((await balance("fx:CNY-USD", "CNY")).posted);
    const notification = answer(fileXml, { messageId: "HSBC-054-1", account: platform, accountCurrency: "USD", rates: { CNY: "0.1380" }, returns: { [usd.endToEndId]: "AC04" } });
    expect((await xmlPost("/v1/payouts/bank/confirmations", notification, h.keys.finance)).statusCode).toBe(403);
    const r = await xmlPost("/v1/payouts/bank/confirmations", notification, financeWrite);
    expect(r.statusCode, r.body).toBe(200);
    const results = json<{ messageId: string; version: string; results: Array<{ endToEndId: string; outcome: string; detail?: string }> }>(r);
    expect(results.version).toBe("camt.054.001.08");
    expect(Object.fromEntries(results.results.map((x) => [x.endToEndId, x.outcome]))).toEqual({ [cny.endToEndId]: "final", [usd.endToEndId]: "rejected" });
    const paid = json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${cny.id}`));
    const debited = divideRounded(BigInt(cny.amount) * 1380n, 10_000n, "half-even");
    expect(paid).toMatchObject({ status: "final", settled: { currency: "USD", amount: debited.toString() } });
    expect(BigInt((await balance("platform:cash:bank", "USD")).posted)).toBe(cashBefore - debited);
    expect((await balance("platform:payouts:in_transit", "CNY")).posted).toBe("0");
    // The CNY left the position the captures built, at its booked rate; the rest is realised FX.
    expect(BigInt((await balance("fx:CNY-USD", "CNY")).posted)).toBe(positionCny - BigInt(cny.amount));
    const cash = json<{ metadata: Record<string, string> }>(await h.get(`/v1/transactions/${paid.ledger["cashTransactionId"]}`));
    // At the mid rate of the booking instant (or, with none in force, the whole difference realised:
    // `midMissing` says why): the booked value less the mid value realised, the bank's debit against
    // the mid value its spread (test/payouts/booking.unit.test.ts has the figures).
    const conversion = BigInt(cash.metadata["conversion"] ?? "0");
    expect(BigInt(cash.metadata["bookedUsd"]!) - debited).toBe(BigInt(cash.metadata["realised"]!) - conversion);
    expect(cash.metadata["midRate"] ?? cash.metadata["midMissing"]).toBeDefined();
    // The bank's rate, as the two rounded amounts imply it.
    expect(Number(cash.metadata["appliedRate"])).toBeCloseTo(0.138, 5);
    // What it paid: the capture released to the seller, line by line, summing to the payout.
    const settles = json<{ matches: boolean; total: string; lines: Array<{ what: string; settlementId: string | null }> }>(await h.get(`/v1/payouts/bank/${cny.id}/settles`));
    expect([settles.matches, settles.total]).toEqual([true, cny.amount]);
    expect(settles.lines.map((l) => l.settlementId)).toContain("ORD-sz");
    const returned = json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${usd.id}`));
    expect(returned).toMatchObject({ status: "rejected", reason: "returned by the bank (AC04: closed account)" });
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).toBe(usd.amount);

    // The same notification again books nothing.
    const twice = json<{ results: Array<{ outcome: string }> }>(await xmlPost("/v1/payouts/bank/confirmations", notification, financeWrite));
    expect(twice.results.map((x) => x.outcome).sort()).toEqual(["already_final", "already_rejected"]);
    expect(BigInt((await balance("platform:cash:bank", "USD")).posted)).toBe(cashBefore - debited);

    // The account was returned to: not paid again (a second return, maybe charges) until it is set
    // again confirmed as checked (the same details alone keep the hold: test/payouts/bank-returns.test.ts).
    const held = json<{ file: unknown; skipped: Array<{ sellerId: string; reason: string }> }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin));
    expect(held.file).toBeNull();
    expect(held.skipped).toContainEqual(expect.objectContaining({ sellerId: "S-POP-HK-02", reason: "account_returned" }));
    expect(json<{ hold: unknown }>(await h.get("/v1/sellers/S-POP-HK-02/bank-account")).hold).toEqual({ payoutId: usd.id, sellerId: "S-POP-HK-02", endToEndId: usd.endToEndId, reason: "returned by the bank (AC04: closed account)" });
    const same = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-HK-02/bank-account", payload: HK_ACCOUNT, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect([same.statusCode, problemCode(same)], same.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    const reset = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-HK-02/bank-account", payload: { ...HK_ACCOUNT, confirmReturnedAccount: true }, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(json<{ hold: unknown }>(reset).hold).toBeNull();
    expect(json<{ hold: unknown }>(await h.get("/v1/sellers/S-POP-HK-02/bank-account")).hold).toBeNull();
  });

  it("announces each bank payout instructed, then final or rejected, in order under bank_payout:<id>; a seller filter gets its seller's only", async () => {
    firstUsd = usd;
    const dispatcher = h.services.webhooks.dispatcher;
    const until = Date.now() + 15_000;
    try {
      while (rx.received.length < 4 || rxSeller.received.length < 2) {
        if (Date.now() > until) throw new Error(`webhook deliveries did not complete in time: ${rx.received.length} and ${rxSeller.received.length}`);
        await dispatcher.tick();
        await sleep(10);
      }
    } finally {
      await dispatcher.drain();
    }
    expect(typesBySubject(rx)).toEqual({
      [`bank_payout:${cny.id}`]: ["bank_payout.instructed", "bank_payout.final"],
      [`bank_payout:${usd.id}`]: ["bank_payout.instructed", "bank_payout.rejected"],
    });
    expect(typesBySubject(rxSeller)).toEqual({ [`bank_payout:${cny.id}`]: ["bank_payout.instructed", "bank_payout.final"] });
    // As /openapi.json's `webhooks` describes them.
    expectValidBodies([...bodies(rx), ...bodies(rxSeller)]);
    const paid = json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${cny.id}`));
    const data = (subject: string, type: string) => bodies(rx).find((b) => b.subject === subject && b.type === type)!.data;
    const view = (p: BankPayoutJson) => ({ id: p.id, sellerId: p.sellerId, currency: p.currency, amount: p.amount, endToEndId: p.endToEndId, fileId: p.fileId, returned: null, returnedAt: null, paid: null });
    expect(data(`bank_payout:${cny.id}`, "bank_payout.instructed")).toEqual({ ...view(cny), status: "instructed", settled: null, reason: null });
    expect(data(`bank_payout:${cny.id}`, "bank_payout.final")).toEqual({ ...view(cny), status: "final", settled: paid.settled, reason: null });
    expect(paid.settled).not.toBeNull();
    expect(data(`bank_payout:${usd.id}`, "bank_payout.rejected")).toEqual({ ...view(usd), status: "rejected", settled: null, reason: "returned by the bank (AC04: closed account)" });
    // The events carry the seller for filters, and no gateway: no gateway key's endpoint can match them.
    const written = (await outbox(h.db.sql)).filter((e) => e.type.startsWith("bank_payout."));
    expect(written).toHaveLength(4);
    for (const e of written) expect([e.seller_id, e.gateway]).toEqual([e.data["sellerId"], null]);
    for (const id of hooks) expect((await h.post(`/v1/webhooks/endpoints/${id}/disable`, {}, h.keys.admin)).statusCode).toBe(200);
  });

  it("reports what it cannot book: an unknown id, another amount, not a camt.054", async () => {
    const account = { ...platform, accountCurrency: "USD" };
    const odd = camt054({ messageId: "HSBC-054-2", account, entries: [{ endToEndId: "ENT-BP-999999", currency: "USD", amount: 5n }] });
    expect(json<{ results: Array<{ outcome: string }> }>(await xmlPost("/v1/payouts/bank/confirmations", odd, financeWrite)).results[0]!.outcome).toBe("unmatched");
    // Read in the encoding the document names: the same notification in UTF-16 (a BOM, the declaration saying so).
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(odd.replace('encoding="UTF-8"', 'encoding="UTF-16"'), "utf16le")]);
    const decoded = await h.app.inject({ method: "POST", url: "/v1/payouts/bank/confirmations", payload: utf16, headers: { "content-type": "application/xml", authorization: `Bearer ${financeWrite.key}` } });
    expect(decoded.statusCode, decoded.body).toBe(200);
    expect(json<{ messageId: string }>(decoded).messageId).toBe("HSBC-054-2");
    const empty = await xmlPost("/v1/payouts/bank/confirmations", "", financeWrite);
    expect([empty.statusCode, problemCode(empty)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    const run = json<{ payouts: BankPayoutJson[] }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin));
    expect(run.payouts.map((p) => p.sellerId)).toEqual(["S-POP-HK-02"]);
    usd = run.payouts[0]!;
    const short = camt054({ messageId: "HSBC-054-3", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) - 1n }] });
    const r = json<{ results: Array<{ outcome: string; detail: string }> }>(await xmlPost("/v1/payouts/bank/confirmations", short, financeWrite));
    expect(r.results[0]).toMatchObject({ outcome: "mismatch" });
    expect(json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${usd.id}`)).status).toBe("instructed");
    const notXml = await xmlPost("/v1/payouts/bank/confirmations", fileXml, financeWrite);
    expect([notXml.statusCode, problemCode(notXml)]).toEqual([422, "ENT_PAYOUT_BANK_STATEMENT_INVALID"]);
  });

  it("applies a notification dropped in the inbox, and writes again a file lost before the outbox", async () => {
    const file = (await h.services.bank!.files(1))[0]!;
    await rm(join(dir, "outbox", `${file.id}.xml`));
    await h.db.sql.q(`UPDATE bank_payout_files SET written_at = NULL WHERE id = $1`, file.id);
    const account = { ...platform, accountCurrency: "USD" };
    await mkdir(join(dir, "inbox"), { recursive: true });
    await writeFile(join(dir, "inbox", "camt054-usd.xml"), camt054({ messageId: "HSBC-054-4", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) }] }));
    await writeFile(join(dir, "inbox", "garbage.xml"), "<not-a-camt/>");
    // The worker's tick and a run answered through the API write the same file at once (each its
    // own temporary file): neither fails on the other's rename, nothing temporary is left.
    await Promise.all([h.services.bank!.tick(), h.services.bank!.writeFiles(), h.services.bank!.writeFiles()]);
    expect(await readFile(join(dir, "outbox", `${file.id}.xml`), "utf8")).toBe(file.xml);
    expect((await readdir(join(dir, "outbox"))).filter((n) => n.endsWith(".partial"))).toEqual([]);
    expect(json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${usd.id}`))).toMatchObject({ status: "final", settled: { currency: "USD", amount: usd.amount } });
    expect((await readdir(join(dir, "inbox", "processed"))).some((n) => n.endsWith("camt054-usd.xml"))).toBe(true);
    const failed = await readdir(join(dir, "inbox", "failed"));
    expect(failed.some((n) => n.endsWith("garbage.xml.error.txt"))).toBe(true);
    expect((await readdir(join(dir, "inbox"))).filter((n) => n.endsWith(".xml"))).toEqual([]);
    const list = json<{ items: BankPayoutJson[] }>(await h.get("/v1/payouts/bank?sellerId=S-POP-HK-02"));
    expect(list.items.map((p) => p.status)).toEqual(["final", "rejected"]);
  });

  it("two instances planning at once never instruct a seller twice", async () => {
    const c = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "cap-sz-2", settlementId: "ORD-sz-2", sellerId: "S-POP-SZ-01", amount: "999900" }));
    expect(c.statusCode, c.body).toBe(201);
    const rel = await h.signedPost("/v1/settlements/events", { ...capture({ type: "release", gatewayEventId: "rel-sz-2", settlementId: "ORD-sz-2", sellerId: "S-POP-SZ-01", amount: "0", gatewayFee: "0", occurredAt: `${DAY}T11:00:00.000Z` }), originalEventId: "cap-sz-2" });
    expect(rel.statusCode, rel.body).toBe(201);
    const other = createServices(h.db, h.config);
    const outcomes = await Promise.allSettled([h.services.bank!.run("a"), other.bank!.run("b"), h.services.bank!.run("c")]);
    const instructed = outcomes.flatMap((o) => (o.status === "fulfilled" ? o.value.payouts : []));
    expect(instructed.map((p) => p.sellerId)).toEqual(["S-POP-SZ-01"]);
    for (const o of outcomes) if (o.status === "rejected") expect(String((o.reason as { code?: string }).code)).toBe("ENT_PAYOUT_PLANNER_BUSY");
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe("0");
    // Beneath the lease, the database itself refuses a second payout in flight for the seller.
    const store = new BankStore(h.db.sql);
    expect(await store.insertPlanned({ sellerId: "S-POP-SZ-01", currency: "CNY", amount: 1n, account: platform, createdBy: "test", tag: await store.installationTag() }, () => ({}))).toBeNull();

    // A converted debit 20% away from what the CNY was booked at is not booked; the bank's real one is.
    const p = instructed[0]!;
    const file = (await h.services.bank!.file(p.fileId!)).xml;
    const far = answer(file, { messageId: "HSBC-054-9", account: platform, accountCurrency: "USD", rates: { CNY: "0.1656" } });
    const refused = json<{ results: Array<{ outcome: string; detail: string }> }>(await xmlPost("/v1/payouts/bank/confirmations", far, financeWrite)).results[0]!;
    expect(refused.outcome).toBe("mismatch");
    expect(refused.detail).toMatch(/more than 10% from the \d+\.\d{2} USD it was booked at/);
    const near = answer(file, { messageId: "HSBC-054-10", account: platform, accountCurrency: "USD", rates: { CNY: "0.1381" } });
    // The bank paid more than the cash the ledger holds (the second sale, six times the first, is not
    // remitted yet): the booking waits, reported, and goes through on the worker's next tick once
    // the cash is there.
    expect(BigInt((await balance("platform:cash:bank", "USD")).posted)).toBeLessThan(divideRounded(BigInt(p.amount) * 1381n, 10_000n, "half-even"));
    expect(json<{ results: Array<{ outcome: string }> }>(await xmlPost("/v1/payouts/bank/confirmations", near, financeWrite)).results[0]!.outcome).toBe("exception");
    const waiting = json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${p.id}`));
    expect(waiting.status).toBe("instructed");
    expect(waiting.reason).toMatch(/^cash booking refused/);
    const receivable = BigInt((await balance("gateway:adyen:receivable", "BRL")).posted);
    const usdPerBrl = historicalUsdRate("BRL", DAY).rate;
    const remit = await h.signedPost("/v1/remittances", { gateway: "adyen", remittanceId: "ADY-PO-2", currency: "BRL", amount: receivable.toString(), settledCurrency: "USD", settledAmount: divideRounded(receivable * 10n ** 8n, BigInt(Math.round(Number(usdPerBrl) * 1e8)), "half-even").toString(), occurredAt: `${DAY}T19:00:00.000Z` });
    expect(remit.statusCode, remit.body).toBe(201);
    await h.services.bank!.tick();
    expect(json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${p.id}`))).toMatchObject({ status: "final", reason: null });
  });

  it("reconciles the bank's camt.053 with the remittances and bank payouts, once; a planted entry, a missing page and a gap show", async () => {
    const account = { ...platform, accountCurrency: "USD" };
    const cnyPaid = json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${cny.id}`));
    const statement = camt053({
      messageId: "HSBC-053-1",
      statementId: "STMT-2024-12-02",
      sequence: 1,
      account,
      day: DAY,
      opening: 1_000_000n,
      entries: [
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: settled, side: "credit", remittanceInfo: "ADYEN N.V. PAYOUT ADY-PO-1 MERCHANT ENTREPOT", info: "SWIFT MT103 ADYEN NV AMSTERDAM" },
        { endToEndId: cny.endToEndId, currency: "USD", amount: BigInt(cnyPaid.settled!.amount) },
        { endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) },
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: 2_500n, side: "credit", info: "INTEREST CREDIT NOV 2024" },
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: 99n, side: "credit", status: "PDNG", info: "PENDING" },
      ],
    });
    const xsd = await readFile(new URL("../fixtures/iso20022/camt.053.001.08.xsd", import.meta.url), "utf8");
    const v = await validateXML({ xml: [{ fileName: "s.xml", contents: statement }], schema: [{ fileName: "camt.053.001.08.xsd", contents: xsd }] });
    expect(v.errors.map((e) => e.rawMessage)).toEqual([]);
    expect((await xmlPost("/v1/cash/statements", statement, h.keys.finance)).statusCode).toBe(403);
    // Another bank account's statement debiting the payout's EndToEndId is refused whole: it neither
    // reconciles the platform's cash nor takes the match the platform's own statement needs.
    const foreign = camt053({ messageId: "CITI-053-1", statementId: "STMT-2024-12-02", sequence: 1, account: { ...account, accountNumber: "111222333444", bic: "CITIUS33", country: "US" }, day: DAY, opening: 1_000_000n, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: BigInt(cnyPaid.settled!.amount) }] });
    const refused = await xmlPost("/v1/cash/statements", foreign, financeWrite);
    expect([refused.statusCode, problemCode(refused)], refused.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
    expect(json<{ items: unknown[] }>(await h.get("/v1/cash/statements")).items).toHaveLength(0);
    const r = await xmlPost("/v1/cash/statements", statement, financeWrite);
    expect(r.statusCode, r.body).toBe(201);
    const [s] = json<{ statements: Array<Record<string, unknown> & { entries: Array<{ match: { kind: string; ref: string } | null; exception: string | null }> }> }>(r).statements;
    expect(s).toMatchObject({ statementId: "STMT-2024-12-02", currency: "USD", opening: "1000000", difference: "0", gap: null, matched: 3, unmatched: 1 });
    // The second remittance is booked but not on the bank's statement yet.
    expect((s!["inTransit"] as Array<{ ref: string }>).map((r) => r.ref)).toEqual(["adyen:ADY-PO-2"]);
    expect(s!.entries.map((e) => [e.match?.kind ?? null, e.match?.ref ?? null, e.exception])).toEqual([
      ["remittance", "adyen:ADY-PO-1", null],
      ["bank_payout", cny.endToEndId, null],
      ["bank_payout", usd.endToEndId, null],
      [null, null, "unmatched"],
      [null, null, null],
    ]);
    // The same file again is the same import; the same entries in another statement match nothing twice.
    expect((await xmlPost("/v1/cash/statements", statement, financeWrite)).statusCode).toBe(200);
    const next = camt053({ messageId: "HSBC-053-2", statementId: "STMT-2024-12-04", sequence: 3, account, day: "2024-12-04", opening: 5_000_000n, entries: [{ endToEndId: "NOTPROVIDED", currency: "USD", amount: settled, side: "credit", remittanceInfo: "ADYEN N.V. PAYOUT ADY-PO-1" }], closing: 4_000_000n });
    const [later] = json<{ statements: Array<Record<string, unknown>> }>(await xmlPost("/v1/cash/statements", next, financeWrite)).statements;
    expect(later).toMatchObject({ matched: 0, unmatched: 1, gap: { previousStatementId: "STMT-2024-12-02" }, difference: (4_000_000n - 5_000_000n - settled).toString() });
    expect(json<{ items: unknown[] }>(await h.get("/v1/cash/statements")).items).toHaveLength(2);
    const pain = await xmlPost("/v1/cash/statements", fileXml, financeWrite);
    expect([pain.statusCode, problemCode(pain)]).toEqual([422, "ENT_CASH_STATEMENT_INVALID"]);

    // The unmatched entries wait in one queue; the interest credit is booked by its resolution.
    const queue = json<{ items: Array<{ statementId: string; entry: { index: number; amount: string }; status: string }>; openByAge: Record<string, number> }>(await h.get("/v1/cash/exceptions"));
    expect(queue.items.map((x) => [x.entry.amount, x.status])).toEqual([
      ["2500", "open"],
      [settled.toString(), "open"],
    ]);
    // Aged from the bank's booking dates (2 and 4 Dec 2024), not from today's import.
    expect(queue.openByAge).toEqual({ "0-7": 0, "8-30": 0, "over-30": 2 });
    const interest = queue.items[0]!;
    const url = `/v1/cash/statements/${interest.statementId}/entries/${interest.entry.index}/resolution`;
    const body = { note: "November interest", adjustment: { postings: [{ account: "platform:cash:bank", currency: "USD", direction: "debit", amount: "2500" }, { account: "platform:reconciliation:bank_interest", currency: "USD", direction: "credit", amount: "2500" }] } };
    const cashBefore = BigInt((await balance("platform:cash:bank", "USD")).posted);
    expect((await h.post(url, body, h.keys.finance)).statusCode).toBe(403);
    const resolved = await h.post(url, body, financeWrite);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect(BigInt((await balance("platform:cash:bank", "USD")).posted)).toBe(cashBefore + 2500n);
    expect((await h.post(url, body, financeWrite)).statusCode).toBe(200);
    const other = await h.post(url, { note: "something else" }, financeWrite);
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_CASH_RESOLUTION_CONFLICT"]);
    const matched = await h.post(`/v1/cash/statements/${interest.statementId}/entries/1/resolution`, { note: "x" }, financeWrite);
    expect([matched.statusCode, problemCode(matched)]).toEqual([409, "ENT_CASH_NOT_AN_EXCEPTION"]);
    expect(BigInt((await balance("platform:cash:bank", "USD")).posted)).toBe(cashBefore + 2500n);
    expect(json<{ items: unknown[] }>(await h.get("/v1/cash/exceptions?status=open")).items).toHaveLength(1);

    // A finance analyst's real file of another bank's account (PostFinance's published sample, a CHF
    // account): not the platform's, refused whole (test/cash/statements.test.ts reads it where it is).
    const real = await readFile(new URL("../fixtures/iso20022/postfinance-camt.053.001.04.xml", import.meta.url), "utf8");
    const pf = await xmlPost("/v1/cash/statements", real, financeWrite);
    expect([pf.statusCode, problemCode(pf)], pf.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
    expect(json<{ items: unknown[] }>(await h.get("/v1/cash/statements")).items).toHaveLength(2);

    // Two instances importing the same new file at once: one records it, the other answers exists.
    const twin = camt053({ messageId: "HSBC-053-9", statementId: "STMT-2024-12-05", account, day: "2024-12-05", opening: 4_000_000n, entries: [{ endToEndId: "NOTPROVIDED", currency: "USD", amount: 700n, side: "credit", info: "FEE REBATE" }] });
    const second = createServices(h.db, h.config);
    const both = await Promise.all([h.services.cash.importStatement(twin, "a"), second.cash.importStatement(twin, "b")]);
    expect(both.map((x) => x.status).sort()).toEqual(["created", "exists"]);
    expect(both[0].statements[0]!.id).toBe(both[1].statements[0]!.id);
  });

  it("writes no bank payout event while no active endpoint wants one", async () => {
    // Since the endpoints were disabled, a second USD payout and a second CNY payout were
    // instructed and made final: the outbox still holds the first run's four events only.
    const later = json<{ items: BankPayoutJson[] }>(await h.get("/v1/payouts/bank?status=final")).items.filter((p) => p.id !== cny.id);
    expect(later.length).toBeGreaterThanOrEqual(2);
    const written = (await outbox(h.db.sql)).filter((e) => e.type.startsWith("bank_payout."));
    expect(written.map((e) => e.subject).sort()).toEqual([`bank_payout:${cny.id}`, `bank_payout:${cny.id}`, `bank_payout:${firstUsd.id}`, `bank_payout:${firstUsd.id}`].sort());
  });
});
