/**
 * A bank payout the bank executed in part, or not at all, gets a definite outcome, on both engines:
 * an `instructed_mismatch` debit whose InstdAmt is below the instruction (the bank paid 400.00 of
 * 489.25 CNY) is settled by an operator by what the bank did: its debit booked for the part paid,
 * the rest back in the seller's available balance, the payout `partially_paid` and announced, the
 * bank statement's debit matched, and the next run pays the rest. An instructed payout the bank
 * never executed is cancelled (its reserve voided), never once a debit is booked or reported. Each
 * step is idempotent, and each refusal has its code.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt053, camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";
import { expectValidBodies, tapWebhooks, type WebhookTap } from "../webhooks/contract.js";

const kinds = await testDatabaseKinds();
const account = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };

interface PayoutJson extends BankPayoutJson {
  paid: { currency: string; amount: string } | null;
  exceptions?: Array<{ id: string; code: string; status: string; resolution: { note: string; journalTransactionId: string | null } | null }>;
}
interface ExceptionJson {
  id: string;
  code: string;
  status: string;
  resolution: { note: string; resolvedBy: string; journalTransactionId: string | null } | null;
}

describe.each(kinds)("bank payouts paid in part or cancelled on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  let tap: WebhookTap;
  const { posted, balance, confirm, sale, remit, usdAt } = bankKit(() => ({ h, financeWrite }));
  const available = async (acct: string, currency: string) => BigInt((await balance(acct, currency)).available);
  const payout = async (id: string) => json<PayoutJson>(await h.get(`/v1/payouts/bank/${id}`));
  const as = (key: IssuedKey) => ({ authorization: `Bearer ${key.key}` });
  const resolve = (id: string, body: object, key: IssuedKey = financeWrite) => h.app.inject({ method: "POST", url: `/v1/payouts/bank/exceptions/${id}/resolution`, payload: body, headers: as(key) });
  const cancel = (id: string, body: object, key: IssuedKey = financeWrite) => h.app.inject({ method: "POST", url: `/v1/payouts/bank/${id}/cancellation`, payload: body, headers: as(key) });
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<{ payouts: PayoutJson[]; skipped: Array<{ sellerId: string; reason: string }> }>(r);
  };
  const events = async (p: { id: string }) =>
    (await h.db.sql.q<Array<{ type: string; data: Record<string, unknown> }>>(`SELECT type, data FROM webhook_events WHERE subject = $1 ORDER BY id`, `bank_payout:${p.id}`)).map((e) => e);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-part-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox"), WEBHOOK_ALLOW_PRIVATE: "true" } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: acct, headers: as(h.keys.admin) });
      expect(r.statusCode, r.body).toBe(200);
    }
    tap = await tapWebhooks(h.db.sql);
    await sale("S-POP-SZ-01", "149900");
    await sale("S-POP-HK-02", "149900");
    await remit("ADY-PO-1");
  });
  afterAll(async () => {
    await tap?.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  let cny: PayoutJson;
  let usd: PayoutJson;
  const paid = 40_000n;
  const debited = 5_497n;

  it("settles the bank's debit of part of a payout by what the bank did: the part paid booked, the rest back to the seller, the payout partially_paid", async () => {
    const first = await run();
    [cny, usd] = first.payouts.sort((a, b) => a.currency.localeCompare(b.currency)) as [PayoutJson, PayoutJson];
    expect([cny.currency, usd.currency]).toEqual(["CNY", "USD"]);
    const amount = BigInt(cny.amount);
    expect(amount).toBeGreaterThan(paid);
    const cashBefore = await posted("platform:cash:bank", "USD");

    // The bank paid 400.00 CNY of the instruction, debiting 54.97 USD.
    const partial = camt054({ messageId: "HSBC-054-P1", account, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: debited, instructed: { currency: "CNY", amount: paid }, rate: "0.137425" }] });
    const [r] = await confirm(partial);
    expect([r!.outcome, r!.code, r!.detail]).toEqual(["mismatch", "instructed_mismatch", `instructed ${(Number(amount) / 100).toFixed(2)} CNY, the bank reports 400.00 CNY`]);
    expect((await payout(cny.id)).status).toBe("instructed");

    // The operator settles it by what the bank did.
    const settled = await resolve(r!.exceptionId!, { note: "ICBC confirms 400.00 CNY paid, 89.25 not executed (quota)", action: "book_partial_debit" });
    expect(settled.statusCode, settled.body).toBe(201);
    const x = json<ExceptionJson>(settled);
    const now = await payout(cny.id);
    expect(now).toMatchObject({
      status: "partially_paid",
      paid: { currency: "CNY", amount: paid.toString() },
      settled: { currency: "USD", amount: debited.toString() },
      reason: `partly paid by the bank: 400.00 CNY of ${(Number(amount) / 100).toFixed(2)} CNY; ${(Number(amount - paid) / 100).toFixed(2)} CNY not paid, back to the seller's available balance`,
    });
    expect(now.ledger["cashTransactionId"]).toMatch(/^\d+$/);
    expect(now.ledger["commitTransactionId"]).toMatch(/^\d+$/);
    expect(x).toMatchObject({ status: "resolved", resolution: { note: "ICBC confirms 400.00 CNY paid, 89.25 not executed (quota)", resolvedBy: `api-key:${financeWrite.id}`, journalTransactionId: now.ledger["cashTransactionId"] } });

    // The seller has what the bank did not pay; in transit is empty; the cash is what the bank debited.
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(amount - paid);
    expect(await posted("platform:payouts:in_transit", "CNY")).toBe(0n);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - debited);
    const tx = await h.services.ledger.getTransaction(now.ledger["cashTransactionId"]!);
    expect(tx?.metadata).toMatchObject({ kind: "bank_payout_partial", paidAmount: paid.toString(), unpaidAmount: (amount - paid).toString(), settledAmount: debited.toString(), exceptionId: x.id });
    expect(tx?.description).toContain(`partly paid by the bank: 400.00 CNY of ${(Number(amount) / 100).toFixed(2)} CNY, the bank debited 54.97 USD;`);
    // The seller's statement says what happened: the part not paid, back in available.
    const sellerStatement = json<{ accounts: Array<{ account: string; currency: string; lines: Array<{ transactionId: string; what: string; change: string; description: string | null; payoutId: string | null }> }> }>(
      await h.get("/v1/sellers/S-POP-SZ-01/statements?from=2020-01-01T00:00:00.000Z&to=2100-01-01T00:00:00.000Z"),
    );
    const lines = sellerStatement.accounts.find((a) => a.account === "seller:S-POP-SZ-01:available" && a.currency === "CNY")!.lines.filter((l) => l.transactionId === tx!.id);
    expect(lines.map((l) => [l.what, l.change])).toEqual([["bank_payout_partial", (amount - paid).toString()]]);
    expect(lines[0]!.description).toBe(tx!.description);
    // Every line of this payout (its reserve, its commit, the part given back) names it, in JSON as in the CSV.
    const payoutLines = sellerStatement.accounts.flatMap((a) => a.lines).filter((l) => l.what.startsWith("bank_payout"));
    expect(payoutLines.length).toBeGreaterThanOrEqual(3);
    expect(new Set(payoutLines.map((l) => l.payoutId))).toEqual(new Set([cny.endToEndId]));
    // Balanced per currency (the ledger refuses anything else; checked here all the same).
    const sums = new Map<string, bigint>();
    for (const p of tx!.postings) sums.set(p.currency, (sums.get(p.currency) ?? 0n) + (p.direction === "debit" ? p.amount : -p.amount));
    expect([...sums.values()].every((v) => v === 0n)).toBe(true);

    // The same request again changes nothing; another note is a conflict.
    const again = await resolve(r!.exceptionId!, { note: "ICBC confirms 400.00 CNY paid, 89.25 not executed (quota)", action: "book_partial_debit" });
    expect(again.statusCode, again.body).toBe(200);
    expect(json<ExceptionJson>(again)).toEqual(x);
    const other = await resolve(r!.exceptionId!, { note: "another note", action: "book_partial_debit" });
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_PAYOUT_BANK_EXCEPTION_CONFLICT"]);
    // The bank's debit sent again (the same file, or another) is the one the payout was settled with.
    expect((await confirm(partial)).map((y) => [y.outcome, y.exceptionId])).toEqual([["already_partially_paid", undefined]]);
    const resent = partial.replace("<MsgId>HSBC-054-P1</MsgId>", "<MsgId>HSBC-054-P1-COPY</MsgId>");
    expect((await confirm(resent)).map((y) => y.outcome)).toEqual(["already_partially_paid"]);
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(amount - paid);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - debited);
    // A full debit arriving after is a second debit, never booked.
    const full = camt054({ messageId: "HSBC-054-P2", account, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: 6_700n, instructed: { currency: "CNY", amount }, rate: "0.1369" }] });
    expect((await confirm(full)).map((y) => [y.outcome, y.code])).toEqual([["exception", "debited_again"]]);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - debited);

    // Announced with what was paid, as /openapi.json describes it.
    const announced = await events(cny);
    expect(announced.map((e) => e.type)).toEqual(["bank_payout.instructed", "bank_payout.exception_opened", "bank_payout.partially_paid", "bank_payout.exception_resolved", "bank_payout.exception_opened"]);
    expect(announced.find((e) => e.type === "bank_payout.partially_paid")?.data).toMatchObject({ status: "partially_paid", paid: { currency: "CNY", amount: paid.toString() }, settled: { currency: "USD", amount: debited.toString() } });
    expect(expectValidBodies(await tap.deliverAll())).toContain("bank_payout.partially_paid");

    // The bank statement's debit is the payout's, matched to the booking.
    const statement = camt053({ messageId: "HSBC-053-P1", statementId: "STMT-P-1", account, day: "2024-12-06", opening: 10_000_000n, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: debited }] });
    const st = await h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: statement, headers: { "content-type": "application/xml", ...as(financeWrite) } });
    expect(st.statusCode, st.body).toBe(201);
    const [entries] = json<{ statements: Array<{ entries: Array<{ match: { kind: string; ref: string; transactionId: string | null } | null; exception: string | null }> }> }>(st).statements;
    expect(entries!.entries.map((e) => [e.match?.kind ?? null, e.match?.transactionId ?? null, e.exception])).toEqual([["bank_payout", now.ledger["cashTransactionId"], null]]);
  });

  it("cancels an instructed payout the bank never executed: the reserve back to the seller, once; never once the bank debited it", async () => {
    // Settled in part: its outcome is booked.
    const closed = await cancel(cny.id, { note: "bank refused by phone" });
    expect([closed.statusCode, problemCode(closed)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN"]);

    const amount = BigInt(usd.amount);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(0n);
    const note = "HSBC refused the transfer by phone (Ms Chan, 10:42): beneficiary bank unreachable";
    const r = await cancel(usd.id, { note });
    expect(r.statusCode, r.body).toBe(201);
    const p = json<PayoutJson>(r);
    expect(p).toMatchObject({ status: "cancelled", reason: `cancelled by api-key:${financeWrite.id}: ${note}`, settled: null, paid: null });
    expect(p.ledger["voidTransactionId"]).toMatch(/^\d+$/);
    expect(p.ledger["commitTransactionId"]).toBeNull();
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(amount);
    // The same request again changes nothing; another note is refused.
    const again = await cancel(usd.id, { note });
    expect(again.statusCode, again.body).toBe(200);
    expect(json<PayoutJson>(again)).toEqual(p);
    const other = await cancel(usd.id, { note: "something else" });
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN"]);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(amount);
    // A debit of the bank after is never booked: the operator's to look into.
    const late = camt054({ messageId: "HSBC-054-C1", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount }] });
    expect((await confirm(late)).map((y) => [y.outcome, y.code])).toEqual([["exception", "debited_not_instructed"]]);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(amount);
    expect((await events(usd)).map((e) => e.type)).toEqual(["bank_payout.instructed", "bank_payout.cancelled", "bank_payout.exception_opened"]);
    expect(expectValidBodies(await tap.deliverAll())).toContain("bank_payout.cancelled");
    // No such payout.
    const none = await cancel("999999", { note });
    expect([none.statusCode, problemCode(none)]).toEqual([404, "ENT_PAYOUT_NOT_FOUND"]);
  });

  it("pays the rest on the next run, and the cancelled payout again; refuses what is not a part paid, and a cancel of a payout the bank debited", async () => {
    const next = await run();
    expect(next.skipped.filter((s) => s.reason === "in_flight")).toEqual([]);
    const byCurrency = Object.fromEntries(next.payouts.map((p) => [p.currency, p]));
    const rest = byCurrency["CNY"]!;
    const usd2 = byCurrency["USD"]!;
    expect(rest.amount).toBe((BigInt(cny.amount) - paid).toString());
    expect(usd2.amount).toBe(usd.amount);
    // What each pays is what the seller had: the part not paid, the cancelled reserve.
    for (const p of [rest, usd2]) {
      const settles = json<{ total: string; matches: boolean }>(await h.get(`/v1/payouts/bank/${p.id}/settles`));
      expect(settles).toMatchObject({ total: p.amount, matches: true });
    }

    // Refusals: more than instructed, a rate far from the booked one, an exception of another kind, references beside an action.
    const odd = camt054({
      messageId: "HSBC-054-R1",
      account,
      entries: [
        { endToEndId: rest.endToEndId, currency: "USD", amount: 2_000n, instructed: { currency: "CNY", amount: BigInt(rest.amount) + 100n }, rate: "0.1380" },
        { endToEndId: rest.endToEndId, currency: "USD", amount: 9_000n, instructed: { currency: "CNY", amount: 1_000n }, rate: "9.0000" },
        { endToEndId: "ENT-BP-NOT-OURS-1", currency: "USD", amount: 1_000n },
        { endToEndId: rest.endToEndId, currency: "USD", amount: 500n, instructed: { currency: "CNY", amount: 3_600n }, rate: "0.1389" },
      ],
    });
    const results = await confirm(odd);
    expect(results.map((y) => [y.outcome, y.code])).toEqual([
      ["mismatch", "instructed_mismatch"],
      ["mismatch", "instructed_mismatch"],
      ["unmatched", "unknown_end_to_end_id"],
      ["mismatch", "instructed_mismatch"],
    ]);
    const [above, far, stray, part] = results.map((y) => y.exceptionId!) as [string, string, string, string];
    const tooMuch = await resolve(above, { note: "n", action: "book_partial_debit" });
    expect([tooMuch.statusCode, problemCode(tooMuch)]).toEqual([422, "ENT_PAYOUT_BANK_PARTIAL_AMOUNT"]);
    expect(json<{ detail: string }>(tooMuch).detail).toContain("more than was instructed");
    const rate = await resolve(far, { note: "n", action: "book_partial_debit" });
    expect([rate.statusCode, problemCode(rate)]).toEqual([422, "ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE"]);
    expect(json<{ detail: string }>(rate).detail).toContain("more than 10% from the");
    const unmatched = await resolve(stray, { note: "n", action: "book_partial_debit" });
    expect([unmatched.statusCode, problemCode(unmatched)]).toEqual([422, "ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE"]);
    const withRef = await resolve(part, { note: "n", action: "book_partial_debit", journalTransactionId: "1" });
    expect([withRef.statusCode, problemCode(withRef)]).toEqual([400, "ENT_PAYOUT_INVALID_REQUEST"]);
    const wrongAction = await resolve(part, { note: "n", action: "book_everything" });
    expect(wrongAction.statusCode).toBe(400);
    // Nothing of it booked; every exception still open.
    expect(await payout(rest.id)).toMatchObject({ status: "instructed", paid: null, settled: null });
    expect(json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${part}`)).status).toBe("open");

    // The bank reported a debit for it: not cancelled (settle it by what the bank did, or resolve it first).
    const reported = await cancel(rest.id, { note: "the bank says it never paid" });
    expect([reported.statusCode, problemCode(reported)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);
    expect(json<{ detail: string }>(reported).detail).toContain(`exception ${[above, far, part].sort((a, b) => Number(a) - Number(b)).join(", ")}`);
    expect(await payout(rest.id)).toMatchObject({ status: "instructed", ledger: { voidTransactionId: null } });

    // The bank debits it in full: final; the exceptions left are no partial payment of it any more.
    const full = camt054({ messageId: "HSBC-054-R2", account, entries: [{ endToEndId: rest.endToEndId, currency: "USD", amount: usdAt(rest.amount, 1378n), instructed: { currency: "CNY", amount: BigInt(rest.amount) }, rate: "0.1378" }] });
    expect((await confirm(full)).map((y) => y.outcome)).toEqual(["final"]);
    const late = await resolve(part, { note: "n", action: "book_partial_debit" });
    expect([late.statusCode, problemCode(late)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN"]);
    const finalCancel = await cancel(rest.id, { note: "too late" });
    expect([finalCancel.statusCode, problemCode(finalCancel)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN"]);

    // A debit booked whose cash waits (the reserve committed): never cancelled.
    await h.db.sql.q(`UPDATE bank_payouts SET commit_tx_id = pending_tx_id WHERE id = $1`, BigInt(usd2.id));
    const committed = await cancel(usd2.id, { note: "n" });
    expect([committed.statusCode, problemCode(committed)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);
    await h.db.sql.q(`UPDATE bank_payouts SET commit_tx_id = NULL WHERE id = $1`, BigInt(usd2.id));
    // A finance:read key cannot.
    const reader = await h.services.apiKeys.create({ name: "auditor", scopes: ["finance:read"] });
    const forbidden = await cancel(usd2.id, { note: "n" }, reader);
    expect(forbidden.statusCode).toBe(403);
    usd2Id = usd2.id;
  });

  let usd2Id: string;

  it("settles a partial debit of a payout in the account's currency, also when its exception was resolved before by a note alone", async () => {
    const p = await payout(usd2Id);
    expect(p.status).toBe("instructed");
    const amount = BigInt(p.amount);
    const part = amount - 1_000n;
    const cashBefore = await posted("platform:cash:bank", "USD");
    const sellerBefore = await available("seller:S-POP-HK-02:available", "USD");
    const [r] = await confirm(camt054({ messageId: "HSBC-054-U1", account, entries: [{ endToEndId: p.endToEndId, currency: "USD", amount: part }] }));
    expect([r!.outcome, r!.code]).toEqual(["mismatch", "instructed_mismatch"]);
    // The operator closes it with a note, as before: nothing is booked, the payout stays instructed.
    const noted = await resolve(r!.exceptionId!, { note: "bank paid 10.00 less, asked why" });
    expect(noted.statusCode, noted.body).toBe(201);
    expect(await payout(usd2Id)).toMatchObject({ status: "instructed", settled: null });

    // Settled by what the bank did all the same: the note stays, the resolution names the booking.
    const settled = await resolve(r!.exceptionId!, { note: "paid 10.00 short: the rest back to the seller", action: "book_partial_debit" });
    expect(settled.statusCode, settled.body).toBe(201);
    const now = await payout(usd2Id);
    expect(now).toMatchObject({ status: "partially_paid", paid: { currency: "USD", amount: part.toString() }, settled: { currency: "USD", amount: part.toString() } });
    expect(json<ExceptionJson>(settled).resolution).toMatchObject({ note: "bank paid 10.00 less, asked why", journalTransactionId: now.ledger["cashTransactionId"] });
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(sellerBefore + 1_000n);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - part);
    expect(await posted("platform:payouts:in_transit", "USD")).toBe(0n);
    const tx = await h.services.ledger.getTransaction(now.ledger["cashTransactionId"]!);
    expect(tx?.metadata).toMatchObject({ kind: "bank_payout_partial", note: "paid 10.00 short: the rest back to the seller" });
    expect(tx?.postings.map((x) => [x.account, x.direction, x.amount]).sort()).toEqual(
      [
        ["platform:payouts:in_transit", "debit", amount],
        ["seller:S-POP-HK-02:available", "credit", 1_000n],
        ["platform:cash:bank", "credit", part],
      ].sort(),
    );
    const again = await resolve(r!.exceptionId!, { note: "paid 10.00 short: the rest back to the seller", action: "book_partial_debit" });
    expect(again.statusCode, again.body).toBe(200);
    const other = await resolve(r!.exceptionId!, { note: "other", action: "book_partial_debit" });
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_PAYOUT_BANK_EXCEPTION_CONFLICT"]);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(sellerBefore + 1_000n);
  });
});
