/**
 * The bank rail's camt.054 against what could go wrong with it, on both engines: a credit that is
 * not a full return never voids a payout; every entry that is not applied is recorded where an
 * operator sees it (on the payout, in a queue, resolved once with a note) and the inbox says so; a
 * debit in another currency than the platform account's is a mismatch, the bank's correct
 * notification then books, and a stored cash booking that can never go through neither wedges the
 * payout nor outlives the bank's return; a second debit of a final payout (another bank entry, even
 * of the same amount) is recorded while the same entry again changes nothing; a notification for
 * another account is refused whole; a seller's bank account names an assigned ISO 3166 country, and
 * an unknown seller is one.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { major } from "../../service/payouts/bank/matching.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { requestToJson } from "../../service/payouts/booking.js";
import { bankLedgerKeys, cashRequest } from "../../service/payouts/bank/booking.js";
import { BankStore } from "../../service/payouts/bank/store.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { answer, camt053, camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";
import { expectValidBodies, tapWebhooks } from "../webhooks/contract.js";

const kinds = await testDatabaseKinds();
const account = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };

interface PayoutJson extends BankPayoutJson {
  exceptions?: ExceptionJson[];
}
interface ExceptionJson {
  id: string;
  payoutId: string | null;
  endToEndId: string | null;
  messageId: string | null;
  outcome: string;
  code: string;
  detail: string;
  entry: { side: string; currency: string; amount: string; returnReason: string | null } | null;
  receivedBy: string;
  receivedAt: string;
  status: string;
  resolution: { note: string; resolvedBy: string; resolvedAt: string; journalTransactionId: string | null; cashEntry: { statementId: string; index: number } | null } | null;
}

describe.each(kinds)("bank notifications on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { balance, confirm, sale, remit, fileOf, usdAt } = bankKit(() => ({ h, financeWrite }));
  const xmlPost = (body: string, key: IssuedKey = financeWrite) =>
    h.app.inject({ method: "POST", url: "/v1/payouts/bank/confirmations", payload: body, headers: { "content-type": "application/xml", authorization: `Bearer ${key.key}` } });
  const payout = async (id: string) => json<PayoutJson>(await h.get(`/v1/payouts/bank/${id}`));
  const run = async (): Promise<PayoutJson[]> => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<{ payouts: PayoutJson[] }>(r).payouts;
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-ntf-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox"), WEBHOOK_ALLOW_PRIVATE: "true" } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    await sale("S-POP-SZ-01", "149900");
    await sale("S-POP-HK-02", "149900");
    await remit("ADY-PO-1");
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a country ISO 3166 does not assign (400 naming it), and answers an unknown seller's bank account as an unknown seller", async () => {
    for (const country of ["ZZ", "XX", "UK"]) {
      const r = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-SZ-01/bank-account", payload: { ...CN_ACCOUNT, country }, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect([r.statusCode, problemCode(r)], country).toEqual([400, "ENT_PAYOUT_INVALID_REQUEST"]);
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["country"]);
    }
    const get = await h.get("/v1/sellers/S-NOPE/bank-account");
    expect([get.statusCode, problemCode(get)]).toEqual([404, "ENT_PAYOUT_SELLER_NOT_FOUND"]);
    const del = await h.app.inject({ method: "DELETE", url: "/v1/sellers/S-NOPE/bank-account", headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect([del.statusCode, problemCode(del)]).toEqual([404, "ENT_PAYOUT_SELLER_NOT_FOUND"]);
    // A known seller without one is still told so.
    expect(problemCode(await h.get("/v1/sellers/S-FULL-GZ-01/bank-account"))).toBe("ENT_PAYOUT_BANK_ACCOUNT_NOT_FOUND");
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: acct, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    }
  });

  let cny: PayoutJson;
  let usd: PayoutJson;

  it("voids a payout only for a full return of the instruction: a stray, partial or unconverted credit is a mismatch", async () => {
    [cny, usd] = (await run()).sort((a, b) => a.currency.localeCompare(b.currency)) as [PayoutJson, PayoutJson];
    expect([cny.currency, usd.currency]).toEqual(["CNY", "USD"]);
    const stray = camt054({
      messageId: "HSBC-054-R1",
      account,
      entries: [
        // The tester's: one cent of USD naming the CNY payout, no instructed amount.
        { endToEndId: cny.endToEndId, currency: "USD", amount: 1n, side: "credit" },
        // The instructed CNY beside it, but one cent credited: nowhere near what the CNY is worth.
        { endToEndId: cny.endToEndId, currency: "USD", amount: 1n, side: "credit", returnReason: "AC04", instructed: { currency: "CNY", amount: BigInt(cny.amount) } },
        // CNY credited to a USD account.
        { endToEndId: cny.endToEndId, currency: "CNY", amount: BigInt(cny.amount), returnReason: "AC04" },
        // Part of the USD payout back.
        { endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) - 100n, returnReason: "AC04" },
      ],
    });
    const results = await confirm(stray);
    expect(results.map((r) => [r.endToEndId, r.outcome, r.code])).toEqual([
      [cny.endToEndId, "mismatch", "no_instructed_amount"],
      [cny.endToEndId, "mismatch", "rate_out_of_range"],
      [cny.endToEndId, "mismatch", "not_account_currency"],
      [usd.endToEndId, "mismatch", "instructed_mismatch"],
    ]);
    for (const p of [cny, usd]) expect(await payout(p.id)).toMatchObject({ status: "instructed", ledger: { voidTransactionId: null } });
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe("0");
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).toBe("0");

    // The bank's real debit books the CNY payout; a genuine full return (RtrInf AC04) gives the USD back.
    const real = answer(await fileOf(cny), { messageId: "HSBC-054-R2", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" }, returns: { [usd.endToEndId]: "AC04" } });
    expect(Object.fromEntries((await confirm(real)).map((r) => [r.endToEndId, r.outcome]))).toEqual({ [cny.endToEndId]: "final", [usd.endToEndId]: "rejected" });
    expect(await payout(cny.id)).toMatchObject({ status: "final", settled: { currency: "USD", amount: usdAt(cny.amount, 1380n).toString() } });
    expect(await payout(usd.id)).toMatchObject({ status: "rejected", reason: "returned by the bank (AC04: closed account)" });
    expect((await balance("seller:S-POP-HK-02:available", "USD")).available).toBe(usd.amount);
  });

  it("records every entry it does not apply, on the payout and in a queue an operator resolves once; the inbox says so", async () => {
    // An operator's endpoint hears of each exception as it is recorded and when it is resolved.
    const tap = await tapWebhooks(h.db.sql, { eventTypes: ["bank_payout.exception_opened", "bank_payout.exception_resolved"] });
    const announced = async () =>
      h.db.sql.q<Array<{ type: string; subject: string; seller_id: string | null; gateway: string | null; data: Record<string, unknown> }>>(
        `SELECT type, subject, seller_id, gateway, data FROM webhook_events WHERE type LIKE 'bank_payout.exception_%' ORDER BY id`,
      );
    const onCny = (await payout(cny.id)).exceptions!;
    expect(onCny.map((x) => [x.outcome, x.code, x.messageId, x.status])).toEqual([
      ["mismatch", "no_instructed_amount", "HSBC-054-R1", "open"],
      ["mismatch", "rate_out_of_range", "HSBC-054-R1", "open"],
      ["mismatch", "not_account_currency", "HSBC-054-R1", "open"],
    ]);
    expect(onCny[0]).toMatchObject({ payoutId: cny.id, endToEndId: cny.endToEndId, entry: { side: "credit", currency: "USD", amount: "1" }, receivedBy: `api-key:${financeWrite.id}` });
    expect(onCny[0]!.detail).toMatch(/without the instructed CNY amount/);

    // A late partial return after final (a full one is booked: test/payouts/bank-returns.test.ts), a
    // debit of the returned payout, an unknown id.
    const half = BigInt(cny.amount) / 2n;
    const late = camt054({
      messageId: "HSBC-054-R3",
      account,
      entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: usdAt(half.toString(), 1380n), instructed: { currency: "CNY", amount: half }, rate: "0.1380", returnReason: "AC04" }],
    });
    const after = camt054({ messageId: "HSBC-054-R4", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) }, { endToEndId: "ENT-BP-999999", currency: "USD", amount: 5n }] });
    const r3 = await confirm(late);
    const r4 = await confirm(after);
    expect([...r3, ...r4].map((r) => [r.outcome, r.code])).toEqual([
      ["exception", "returned_after_final"],
      ["exception", "debited_not_instructed"],
      ["unmatched", "unknown_end_to_end_id"],
    ]);
    expect([...r3, ...r4].every((r) => r.exceptionId !== undefined)).toBe(true);
    expect((await payout(cny.id)).status).toBe("final");
    expect(r3[0]!.detail).toMatch(/^credited after the payout was booked final, but not its full return \(instructed \d+\.\d{2} CNY, the bank reports \d+\.\d{2} CNY\)/);
    expect((await payout(usd.id)).exceptions!.map((x) => [x.code, x.entry?.side])).toEqual([
      ["instructed_mismatch", "credit"],
      ["debited_not_instructed", "debit"],
    ]);

    // The same notification again records nothing new: the same exception answers.
    const again = await confirm(after);
    expect(again.map((r) => r.exceptionId)).toEqual(r4.map((r) => r.exceptionId));

    // From the inbox: the file is processed, its result and the queue name what was not applied.
    await mkdir(join(dir, "inbox"), { recursive: true });
    await writeFile(join(dir, "inbox", "camt054-odd.xml"), camt054({ messageId: "HSBC-054-R5", account, entries: [{ endToEndId: "ENT-BP-888888", currency: "USD", amount: 7n }] }));
    const [inbox] = await h.services.bank!.processInbox();
    expect(inbox).toMatchObject({ file: "camt054-odd.xml", messageId: "HSBC-054-R5", exceptions: 1 });
    expect((await readdir(join(dir, "inbox", "processed"))).some((n) => n.endsWith("camt054-odd.xml"))).toBe(true);

    const queue = json<{ items: ExceptionJson[]; open: number; nextCursor: string | null }>(await h.get("/v1/payouts/bank/exceptions?status=open"));
    expect(queue.open).toBe(8);
    expect(queue.items.map((x) => x.code)).toEqual([
      "unknown_end_to_end_id",
      "unknown_end_to_end_id",
      "debited_not_instructed",
      "returned_after_final",
      "instructed_mismatch",
      "not_account_currency",
      "rate_out_of_range",
      "no_instructed_amount",
    ]);
    expect(queue.items[0]).toMatchObject({ payoutId: null, endToEndId: "ENT-BP-888888", messageId: "HSBC-054-R5", receivedBy: "inbox:camt054-odd.xml" });

    // Resolved once with a note; the same note again is the same resolution, another one a conflict.
    const target = queue.items.find((x) => x.code === "returned_after_final")!;
    const url = `/v1/payouts/bank/exceptions/${target.id}/resolution`;
    const note = { note: "the bank recalled its partial credit" };
    expect((await h.post(url, note, h.keys.finance)).statusCode).toBe(403);
    const resolved = await h.post(url, note, financeWrite);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect(json<ExceptionJson>(resolved)).toMatchObject({ status: "resolved", resolution: { note: note.note, resolvedBy: `api-key:${financeWrite.id}` } });
    expect((await h.post(url, note, financeWrite)).statusCode).toBe(200);
    const other = await h.post(url, { note: "something else" }, financeWrite);
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_PAYOUT_BANK_EXCEPTION_CONFLICT"]);
    const missing = await h.post("/v1/payouts/bank/exceptions/999999/resolution", note, financeWrite);
    expect([missing.statusCode, problemCode(missing)]).toEqual([404, "ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND"]);
    const empty = await h.post(url, { note: "" }, financeWrite);
    expect([empty.statusCode, problemCode(empty)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    expect(json<{ items: ExceptionJson[] }>(await h.get("/v1/payouts/bank/exceptions?status=resolved")).items.map((x) => x.id)).toEqual([target.id]);
    expect(json<{ open: number }>(await h.get("/v1/payouts/bank/exceptions")).open).toBe(7);
    // A finance reader sees how it was resolved: who, when, the note, on the exception and the payout.
    const one = json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${target.id}`));
    expect(one).toMatchObject({ id: target.id, status: "resolved", resolution: { note: note.note, resolvedBy: `api-key:${financeWrite.id}`, journalTransactionId: null, cashEntry: null } });
    expect(Date.parse(one.resolution!.resolvedAt)).toBeGreaterThan(Date.parse(one.receivedAt) - 1);
    expect((await payout(cny.id)).exceptions!.find((x) => x.id === target.id)?.resolution).toEqual(one.resolution);
    const unknown = await h.get("/v1/payouts/bank/exceptions/999999");
    expect([unknown.statusCode, problemCode(unknown)]).toEqual([404, "ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND"]);

    // Announced: the four recorded since the endpoint was subscribed (the replay added none), under
    // the payout's subject (or the exception's, for an unknown id), and the one resolution.
    const events = await announced();
    expect(events.map((e) => [e.type, e.subject, e.data["code"]])).toEqual([
      ["bank_payout.exception_opened", `bank_payout:${cny.id}`, "returned_after_final"],
      ["bank_payout.exception_opened", `bank_payout:${usd.id}`, "debited_not_instructed"],
      ["bank_payout.exception_opened", `bank_payout_exception:${r4[1]!.exceptionId}`, "unknown_end_to_end_id"],
      ["bank_payout.exception_opened", `bank_payout_exception:${queue.items[0]!.id}`, "unknown_end_to_end_id"],
      ["bank_payout.exception_resolved", `bank_payout:${cny.id}`, "returned_after_final"],
    ]);
    expect(events[0]).toMatchObject({ seller_id: cny.sellerId, gateway: null, data: { payoutId: cny.id, outcome: "exception", status: "open", resolutionNote: null } });
    expect(events[0]!.data["resolution"]).toBeNull();
    // The resolution as the API shows it: the note, who, when (to the millisecond), what it names.
    expect(events[4]!.data).toEqual({ ...events[4]!.data, id: target.id, status: "resolved", resolutionNote: note.note, resolution: one.resolution });

    // Resolved naming what settled it: a journal transaction and the cash statement entry (the cash
    // queue books adjusting entries); each must exist.
    const debited = queue.items.find((x) => x.code === "debited_not_instructed")!;
    const statement = camt053({ messageId: "HSBC-053-X1", statementId: "STMT-X-1", account, day: "2024-12-06", opening: 10_000_000n, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount) }] });
    const imported = await h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: statement, headers: { "content-type": "application/xml", authorization: `Bearer ${financeWrite.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const [st] = json<{ statements: Array<{ id: string; entries: Array<{ index: number }> }> }>(imported).statements;
    const cashEntry = { statementId: st!.id, index: st!.entries[0]!.index };
    const journalTransactionId = (await payout(usd.id)).ledger["voidTransactionId"]!;
    const refUrl = `/v1/payouts/bank/exceptions/${debited.id}/resolution`;
    const withRefs = { note: "the bank reversed its debit; our side in the cash queue", journalTransactionId, cashEntry };
    for (const [body, field] of [[{ ...withRefs, journalTransactionId: "999999999" }, "journalTransactionId"], [{ ...withRefs, cashEntry: { ...cashEntry, index: 99 } }, "cashEntry"], [{ ...withRefs, cashEntry: { statementId: "999999", index: 1 } }, "cashEntry"]] as const) {
      const bad = await h.post(refUrl, body, financeWrite);
      expect([bad.statusCode, problemCode(bad)], bad.body).toEqual([400, "ENT_PAYOUT_INVALID_REQUEST"]);
      expect(json<{ errors: Array<{ field: string }> }>(bad).errors.map((e) => e.field)).toEqual([field]);
    }
    expect(json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${debited.id}`)).status).toBe("open");
    const named = await h.post(refUrl, withRefs, financeWrite);
    expect(named.statusCode, named.body).toBe(201);
    expect(json<ExceptionJson>(named).resolution).toMatchObject({ note: withRefs.note, journalTransactionId, cashEntry });
    expect(json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${debited.id}`)).resolution).toMatchObject({ journalTransactionId, cashEntry, resolvedBy: `api-key:${financeWrite.id}` });
    expect((await h.post(refUrl, withRefs, financeWrite)).statusCode).toBe(200);
    // Announced once, naming the journal transaction and the cash statement entry (the replay adds none).
    const refsResolved = (await announced()).filter((e) => e.type === "bank_payout.exception_resolved");
    expect(refsResolved.map((e) => e.data["id"])).toEqual([target.id, debited.id]);
    const namedNow = json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${debited.id}`)).resolution;
    expect(refsResolved[1]!.data["resolution"]).toEqual({ note: withRefs.note, resolvedBy: `api-key:${financeWrite.id}`, resolvedAt: namedNow!.resolvedAt, journalTransactionId, cashEntry });
    // Delivered as /openapi.json's `webhooks` describes them.
    try {
      expect([...expectValidBodies(await tap.deliverAll())].sort()).toEqual(["bank_payout.exception_opened", "bank_payout.exception_resolved"]);
    } finally {
      await tap.close();
    }
    expect((await h.post(`/v1/webhooks/endpoints/${tap.endpointId}/disable`, {}, h.keys.admin)).statusCode).toBe(200);
    const noRefs = await h.post(refUrl, { note: withRefs.note }, financeWrite);
    expect([noRefs.statusCode, problemCode(noRefs)]).toEqual([409, "ENT_PAYOUT_BANK_EXCEPTION_CONFLICT"]);

    // Documented in /openapi.json.
    const doc = json<{ paths: Record<string, Record<string, unknown>> }>(await h.app.inject({ url: "/openapi.json" }));
    expect(doc.paths["/v1/payouts/bank/exceptions"]?.["get"]).toBeDefined();
    expect(doc.paths["/v1/payouts/bank/exceptions/{id}/resolution"]?.["post"]).toBeDefined();
    expect(JSON.stringify(doc.paths["/v1/payouts/bank/exceptions/{id}/resolution"])).toContain("journalTransactionId");
    expect(doc.paths["/v1/payouts/bank/exceptions/{id}"]?.["get"]).toBeDefined();
    expect(JSON.stringify(doc.paths["/v1/payouts/bank/{id}"])).toContain("returned_after_final");
  });

  it("reports a debit in another currency than the account's and books the bank's correct one after it; the correct debit wins over a refused one", async () => {
    // Only the CNY seller from here on: the USD seller goes back to the vault.
    const off = await h.app.inject({ method: "DELETE", url: "/v1/sellers/S-POP-HK-02/bank-account", headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect(off.statusCode, off.body).toBe(204);
    await sale("S-POP-SZ-01", "149900");
    const [p] = await run();
    const cnyDebit = camt054({ messageId: "HSBC-054-C1", account, entries: [{ endToEndId: p!.endToEndId, currency: "CNY", amount: BigInt(p!.amount) }] });
    expect((await confirm(cnyDebit)).map((r) => [r.outcome, r.code])).toEqual([["mismatch", "not_account_currency"]]);
    // Nothing stored as the payout's cash booking, nothing committed.
    expect(await payout(p!.id)).toMatchObject({ status: "instructed", settled: null, ledger: { commitTransactionId: null, cashTransactionId: null } });
    const correct = answer(await fileOf(p!), { messageId: "HSBC-054-C2", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } });
    expect((await confirm(correct)).map((r) => r.outcome)).toEqual(["final"]);
    expect(await payout(p!.id)).toMatchObject({ status: "final", settled: { currency: "USD", amount: usdAt(p!.amount, 1380n).toString() } });

    // A debit the ledger refuses (more than the cash it holds: the sale is not remitted yet) waits;
    // the bank's corrected notification, once the cash is there, is the one booked, and the waiting
    // exception is closed by it.
    await sale("S-POP-SZ-01", "999900");
    const [q] = await run();
    const wrong = answer(await fileOf(q!), { messageId: "HSBC-054-C3", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1390" } });
    const [refused] = await confirm(wrong);
    expect([refused!.outcome, refused!.code]).toEqual(["exception", "cash_refused"]);
    expect(await payout(q!.id)).toMatchObject({ status: "instructed", settled: { currency: "USD", amount: usdAt(q!.amount, 1390n).toString() } });
    await remit("ADY-PO-2");
    const fixed = answer(await fileOf(q!), { messageId: "HSBC-054-C4", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } });
    expect((await confirm(fixed)).map((r) => r.outcome)).toEqual(["final"]);
    const booked = await payout(q!.id);
    expect(booked).toMatchObject({ status: "final", reason: null, settled: { currency: "USD", amount: usdAt(q!.amount, 1380n).toString() } });
    expect(booked.exceptions!.map((x) => [x.code, x.status])).toEqual([["cash_refused", "resolved"]]);
    expect(booked.exceptions![0]!.resolution).toMatchObject({ resolvedBy: "system", journalTransactionId: booked.ledger["cashTransactionId"] });
  });

  it("clears a stored cash booking that can never go through, and books the bank's return of a committed payout back to the seller", async () => {
    await sale("S-POP-SZ-01", "149900");
    const [p] = await run();
    // What the code before this fix left behind for a debit reported in CNY: the reserve committed
    // and a CNY cash booking stored, which the USD account can never book.
    const store = new BankStore(h.db.sql);
    const row = (await store.get(BigInt(p!.id)))!;
    const committed = await h.services.ledger.commitPending(row.pendingTxId!, bankLedgerKeys.commit(row.id));
    await store.setCommitTx(row.id, committed.transaction.id);
    const legacy = cashRequest({ ...row, settledCurrency: "CNY", settled: row.amount, bookingDate: null }, null);
    await store.setCashRequest(row.id, requestToJson(legacy), { currency: "CNY", amount: row.amount });
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe("0");

    await h.services.bank!.tick();
    const cleared = await payout(p!.id);
    expect(cleared).toMatchObject({ status: "instructed", settled: null });
    expect(cleared.reason).toMatch(/CNY/);
    expect(cleared.exceptions!.map((x) => [x.outcome, x.code, x.status])).toEqual([["exception", "cash_cleared", "open"]]);

    // The bank returns the transfer: the committed reserve cannot be voided, so the return is booked
    // back to the seller, who is paid again once the account (AC01: a wrong number) is set again.
    const inTransit = BigInt((await balance("platform:payouts:in_transit", "CNY")).posted);
    const returned = answer(await fileOf(p!), { messageId: "HSBC-054-L1", account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" }, returns: { [p!.endToEndId]: "AC01" } });
    expect((await confirm(returned)).map((r) => r.outcome)).toEqual(["rejected"]);
    const back = await payout(p!.id);
    expect(back).toMatchObject({ status: "rejected", reason: "returned by the bank (AC01: incorrect account number)", settled: null, ledger: { cashTransactionId: null } });
    expect(back.ledger["voidTransactionId"]).not.toBeNull();
    expect(back.exceptions!.map((x) => [x.code, x.status])).toEqual([["cash_cleared", "resolved"]]);
    expect((await balance("seller:S-POP-SZ-01:available", "CNY")).available).toBe(p!.amount);
    expect(BigInt((await balance("platform:payouts:in_transit", "CNY")).posted)).toBe(inTransit - BigInt(p!.amount));
    const held = json<{ payouts: unknown[]; skipped: Array<{ sellerId: string; reason: string }> }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin));
    expect(held.payouts).toEqual([]);
    expect(held.skipped).toContainEqual(expect.objectContaining({ sellerId: "S-POP-SZ-01", reason: "account_returned" }));
    const reset = await h.app.inject({ method: "PUT", url: "/v1/sellers/S-POP-SZ-01/bank-account", payload: { ...CN_ACCOUNT, confirmReturnedAccount: true }, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect(reset.statusCode, reset.body).toBe(200);
    const next = await run();
    expect(next.map((x) => [x.sellerId, x.amount])).toEqual([["S-POP-SZ-01", p!.amount]]);
  });

  it("refuses a notification for another account than the platform's (422 naming it; the inbox moves it to failed/), applying nothing", async () => {
    const [p] = json<{ items: PayoutJson[] }>(await h.get("/v1/payouts/bank?status=instructed")).items;
    const cashBefore = (await balance("platform:cash:bank", "USD")).posted;
    const entries = [{ endToEndId: p!.endToEndId, currency: "USD", amount: usdAt(p!.amount, 1380n), instructed: { currency: "CNY", amount: BigInt(p!.amount) }, rate: "0.1380" }];
    const foreign = camt054({ messageId: "HSBC-054-A1", account: { ...PLATFORM_ACCOUNT, accountNumber: "999999999", accountCurrency: "EUR" }, entries });
    const r = await xmlPost(foreign);
    expect([r.statusCode, problemCode(r)]).toEqual([422, "ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT"]);
    expect(json<{ detail: string; errors: Array<{ field: string }> }>(r)).toMatchObject({ errors: [{ field: "Ntfctn/Acct/Id" }] });
    expect(json<{ detail: string }>(r).detail).toContain("999999999");
    const otherCcy = camt054({ messageId: "HSBC-054-A2", account: { ...PLATFORM_ACCOUNT, accountCurrency: "EUR" }, entries });
    const c = await xmlPost(otherCcy);
    expect([c.statusCode, problemCode(c)]).toEqual([422, "ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT"]);
    expect(json<{ errors: Array<{ field: string }> }>(c).errors.map((e) => e.field)).toEqual(["Ntfctn/Acct/Ccy"]);
    await writeFile(join(dir, "inbox", "camt054-foreign.xml"), foreign);
    const [inbox] = await h.services.bank!.processInbox();
    expect(inbox).toMatchObject({ file: "camt054-foreign.xml" });
    expect(inbox!.error).toContain("999999999");
    const failed = await readdir(join(dir, "inbox", "failed"));
    const reason = failed.find((n) => n.endsWith("camt054-foreign.xml.error.txt"))!;
    expect(await readFile(join(dir, "inbox", "failed", reason), "utf8")).toContain("999999999");
    expect(await payout(p!.id)).toMatchObject({ status: "instructed", settled: null, exceptions: [] });
    expect((await balance("platform:cash:bank", "USD")).posted).toBe(cashBefore);
  });

  it("records a second debit of a final payout, another bank entry of the same amount, as an exception; the same entry again changes nothing", async () => {
    const [p] = json<{ items: PayoutJson[] }>(await h.get("/v1/payouts/bank?status=instructed")).items;
    const file = await fileOf(p!);
    const debit = (messageId: string) => answer(file, { messageId, account: PLATFORM_ACCOUNT, accountCurrency: "USD", rates: { CNY: "0.1380" } });
    const first = debit("HSBC-054-DD1");
    expect(first).toContain("<AcctSvcrRef>HSBC-054-DD1-1</AcctSvcrRef>");
    expect((await confirm(first)).map((r) => r.outcome)).toEqual(["final"]);
    const booked = await payout(p!.id);
    expect(booked).toMatchObject({ status: "final", exceptions: [] });
    const cash = (await balance("platform:cash:bank", "USD")).posted;

    // The same notification again, and the same bank entry in another notification: already final.
    const resent = first.replace("<GrpHdr><MsgId>HSBC-054-DD1</MsgId>", "<GrpHdr><MsgId>HSBC-054-DD1-COPY</MsgId>");
    expect(resent).not.toBe(first);
    for (const xml of [first, resent]) {
      expect((await confirm(xml)).map((r) => [r.outcome, r.code, r.exceptionId])).toEqual([["already_final", undefined, undefined]]);
    }

    // Another entry of the bank (its own AcctSvcrRef) debiting the same amount: the account was debited
    // twice. Nothing is booked; an operator sees it.
    const twice = debit("HSBC-054-DD2");
    const [again] = await confirm(twice);
    expect([again!.outcome, again!.code]).toEqual(["exception", "debited_again"]);
    expect(again!.exceptionId).toBeDefined();
    // In major units, as the rail's other details say amounts.
    const amount = major(BigInt(booked.settled!.amount), "USD");
    expect(again!.detail).toBe(`debited ${amount} (bank entry HSBC-054-DD2-1), but the payout was booked final with the bank's debit of ${amount} (bank entry HSBC-054-DD1-1): a second debit is the bank's to explain`);
    // That notification again is the same exception, recorded once.
    expect((await confirm(twice)).map((r) => r.exceptionId)).toEqual([again!.exceptionId]);
    const now = await payout(p!.id);
    expect(now).toMatchObject({ status: "final", settled: booked.settled, ledger: booked.ledger });
    expect(now.exceptions!.map((x) => [x.code, x.messageId, x.status])).toEqual([["debited_again", "HSBC-054-DD2", "open"]]);
    expect((await balance("platform:cash:bank", "USD")).posted).toBe(cash);
    // The cash booking names the bank entry it booked.
    expect((await h.services.ledger.getTransaction(booked.ledger["cashTransactionId"]!))?.metadata["bankReference"]).toBe("HSBC-054-DD1-1");
  });
});
