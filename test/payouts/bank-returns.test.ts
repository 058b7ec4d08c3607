/**
 * The bank rail's returns as banks send them, on both engines: a full return after final (days
 * after the debit, pacs.004 / camt.054 credit with RtrInf) is booked back to the seller as a
 * correcting transaction of its own, once, and announced; a return credited net of the bank's
 * itemised charges gives the seller the instructed amount and books the charges as an expense;
 * charges not itemised or not adding up stay mismatches; an account the bank returned a payout from
 * is not paid again until another account is set, or the same one confirmed checked (set again as
 * it was, renamed, after removal or keyed in another way, it stays held); the bank statement's debit and return credit both match
 * the returned payout. And the ids the rail issues carry the
 * installation's tag (a new database never repeats one), while ids issued before it still match.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { major } from "../../service/payouts/bank/matching.js";
import { BankStore, bankEndToEndId, bankFilePrefix } from "../../service/payouts/bank/store.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt053, camt054 } from "../support/camt054.js";
import { freshDatabase, testDatabaseKinds } from "../support/db.js";
import { DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";
import { expectValidBodies, tapWebhooks, type WebhookTap } from "../webhooks/contract.js";

const kinds = await testDatabaseKinds();
const account = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };

interface PayoutJson extends BankPayoutJson {
  returnedAt: string | null;
  account: { accountNumber: string | null };
  returned: { currency: string; amount: string } | null;
  exceptions?: Array<{ code: string; status: string }>;
}

describe.each(kinds)("bank returns on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  let tag: string;
  let tap: WebhookTap;
  const { posted, balance, confirm, sale, remit, fileOf, usdAt } = bankKit(() => ({ h, financeWrite }));
  const available = async (acct: string, currency: string) => (await balance(acct, currency)).available;
  const putAccount = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
  const accountOf = async (seller: string) => json<{ setAt: string; hold: { payoutId: string; endToEndId: string; reason: string | null } | null }>(await h.get(`/v1/sellers/${seller}/bank-account`));
  const payout = async (id: string) => json<PayoutJson>(await h.get(`/v1/payouts/bank/${id}`));
  const run = async (): Promise<[PayoutJson, PayoutJson]> => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    const ps = json<{ payouts: PayoutJson[] }>(r).payouts.sort((a, b) => a.currency.localeCompare(b.currency));
    expect(ps.map((p) => p.currency)).toEqual(["CNY", "USD"]);
    return ps as [PayoutJson, PayoutJson];
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-rtn-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox"), WEBHOOK_ALLOW_PRIVATE: "true" } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: acct, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    }
    // An operator's endpoint for everything: the bank payout events are written while one wants them.
    tap = await tapWebhooks(h.db.sql);
    [{ tag }] = (await h.db.sql.q<Array<{ tag: string }>>(`SELECT tag FROM bank_rail_installation`)) as [{ tag: string }];
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
  /** The bank's notification that booked both payouts final. */
  let debits: string;

  it("issues MsgIds and EndToEndIds carrying the database's tag, within Max35Text; another database has another tag", async () => {
    expect(tag).toMatch(/^[0-9A-F]{8}$/);
    [cny, usd] = await run();
    for (const p of [cny, usd]) expect(p.endToEndId).toBe(`ENT-BP-${tag}-${p.id}`);
    expect(cny.fileId).toMatch(new RegExp(`^ENT-${tag}-\\d{8}-1$`));
    expect(cny.fileId).toBe(`${bankFilePrefix(tag, cny.fileId!.slice(13, 21))}1`);
    const xml = await fileOf(cny);
    expect(xml).toContain(`<MsgId>${cny.fileId}</MsgId>`);
    expect(xml).toContain(`<EndToEndId>${cny.endToEndId}</EndToEndId>`);
    // The largest id there can be still fits the schema's 35 characters, in the characters banks take.
    const longest = bankEndToEndId(tag, 2n ** 63n - 1n);
    expect(longest.length).toBeLessThanOrEqual(35);
    expect(longest).toMatch(/^[A-Za-z0-9-]+$/);
    expect(`${bankFilePrefix(tag, DAY)}${10n ** 12n}`.length).toBeLessThanOrEqual(35);
    // A new database (migrated from scratch, as a replaced one is) makes its own tag.
    const other = await freshDatabase(kind, { template: false });
    try {
      const [row] = await other.sql.q<Array<{ tag: string }>>(`SELECT tag FROM bank_rail_installation`);
      expect(row?.tag).toMatch(/^[0-9A-F]{8}$/);
      expect(row?.tag).not.toBe(tag);
    } finally {
      await other.close();
    }
  }, 120_000);

  it("still matches a confirmation naming an id issued before the tag (ENT-BP-<id>)", async () => {
    // The USD payout as a version before the tag issued it.
    const legacy = `ENT-BP-${usd.id}`;
    await h.db.sql.q(`UPDATE bank_payouts SET end_to_end_id = $2 WHERE id = $1`, BigInt(usd.id), legacy);
    usd = await payout(usd.id);
    expect(usd.endToEndId).toBe(legacy);
    debits = camt054({
      messageId: "HSBC-054-D1",
      account,
      entries: [
        { endToEndId: legacy, currency: "USD", amount: BigInt(usd.amount) },
        { endToEndId: cny.endToEndId, currency: "USD", amount: usdAt(cny.amount, 1380n), instructed: { currency: "CNY", amount: BigInt(cny.amount) }, rate: "0.1380" },
      ],
    });
    expect((await confirm(debits)).map((r) => [r.payoutId, r.outcome])).toEqual([
      [usd.id, "final"],
      [cny.id, "final"],
    ]);
    expect((await available("seller:S-POP-HK-02:available", "USD"))).toBe("0");
  });

  it("books a full return after final back to the seller as a transaction of its own, once, and announces bank_payout.returned", async () => {
    const before = { usd: await payout(usd.id), cny: await payout(cny.id), cash: await posted("platform:cash:bank", "USD") };
    const creditedCny = usdAt(cny.amount, 1370n);
    const returns = camt054({
      messageId: "HSBC-054-RT1",
      account,
      entries: [
        { endToEndId: usd.endToEndId, currency: "USD", amount: BigInt(usd.amount), returnReason: "AC04" },
        { endToEndId: cny.endToEndId, currency: "USD", amount: creditedCny, instructed: { currency: "CNY", amount: BigInt(cny.amount) }, rate: "0.1370", returnReason: "AC04" },
      ],
    });
    const results = await confirm(returns);
    expect(results.map((r) => [r.payoutId, r.outcome, r.code, r.exceptionId])).toEqual([
      [usd.id, "returned", undefined, undefined],
      [cny.id, "returned", undefined, undefined],
    ]);
    for (const [p, was] of [[usd, before.usd], [cny, before.cny]] as const) {
      const now = await payout(p.id);
      expect(now).toMatchObject({ status: "returned", reason: "returned by the bank after final (AC04: closed account)", settled: was.settled, exceptions: [] });
      // The cash booking is left as it was; the return is its own journal transaction.
      const returnTransactionId = now.ledger["returnTransactionId"];
      expect(now.ledger).toEqual({ ...was.ledger, returnTransactionId });
      expect(was.ledger["returnTransactionId"]).toBeNull();
      expect(returnTransactionId).toMatch(/^\d+$/);
      expect(returnTransactionId).not.toBe(was.ledger["cashTransactionId"]);
      expect(now.returnedAt).not.toBeNull();
    }
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(usd.amount);
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(cny.amount);
    expect(await posted("platform:cash:bank", "USD")).toBe(before.cash + BigInt(usd.amount) + creditedCny);
    expect(json<{ open: number }>(await h.get("/v1/payouts/bank/exceptions")).open).toBe(0);

    // The same notification again (or the bank's duplicate), or the same bank entries in another
    // notification: nothing more is booked.
    expect((await confirm(returns)).map((r) => r.outcome)).toEqual(["already_returned", "already_returned"]);
    const resent = returns.replace("<GrpHdr><MsgId>HSBC-054-RT1</MsgId>", "<GrpHdr><MsgId>HSBC-054-RT1-COPY</MsgId>");
    expect(resent).not.toBe(returns);
    expect((await confirm(resent)).map((r) => r.outcome)).toEqual(["already_returned", "already_returned"]);
    // The debits they were booked final with, sent again after the return: already booked, no exception.
    expect((await confirm(debits)).map((r) => [r.outcome, r.code])).toEqual([
      ["already_final", undefined],
      ["already_final", undefined],
    ]);
    expect(json<{ open: number }>(await h.get("/v1/payouts/bank/exceptions")).open).toBe(0);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(usd.amount);
    expect(await posted("platform:cash:bank", "USD")).toBe(before.cash + BigInt(usd.amount) + creditedCny);
    // Another credit for a payout already returned is not its return: recorded, nothing booked.
    const second = camt054({ messageId: "HSBC-054-RT2", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: 5_000n, returnReason: "AC04", instructed: { currency: "USD", amount: BigInt(usd.amount) } }] });
    const [again] = await confirm(second);
    expect([again!.outcome, again!.code]).toEqual(["exception", "returned_after_final"]);
    expect(again!.detail).toBe(`credited 50.00 USD for a payout already returned (${major(BigInt(usd.amount), "USD")} was, bank entry HSBC-054-RT1-1): a second return is the bank's to explain; nothing is booked`);
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(usd.amount);
    expect(json<{ open: number }>(await h.get("/v1/payouts/bank/exceptions")).open).toBe(1);
    const booked = await h.services.ledger.listTransactions({ metadata: { kind: "bank_payout_returned" }, limit: 10 });
    expect(booked.items.map((t) => t.metadata["bankPayoutId"]).sort()).toEqual([cny.id, usd.id].sort());

    const events = await h.db.sql.q<Array<{ type: string; subject: string; data: Record<string, unknown> }>>(`SELECT type, subject, data FROM webhook_events WHERE type LIKE 'bank_payout.%' ORDER BY id`);
    const announced = (p: PayoutJson) => events.filter((e) => e.subject === `bank_payout:${p.id}`).map((e) => e.type);
    expect(announced(cny)).toEqual(["bank_payout.instructed", "bank_payout.final", "bank_payout.returned"]);
    expect(announced(usd)).toEqual(["bank_payout.instructed", "bank_payout.final", "bank_payout.returned", "bank_payout.exception_opened"]);
    expect(events.find((e) => e.type === "bank_payout.returned" && e.subject === `bank_payout:${usd.id}`)?.data).toMatchObject({
      status: "returned",
      reason: "returned by the bank after final (AC04: closed account)",
      returned: { currency: "USD", amount: usd.amount },
      returnedAt: expect.any(String) as unknown,
    });
    // Delivered as /openapi.json's `webhooks` describes them.
    const seen = expectValidBodies(await tap.deliverAll());
    for (const t of ["bank_payout.returned", "bank_payout.exception_opened"]) expect(seen).toContain(t);

    // Another entry of the bank (its own AcctSvcrRef) crediting the same amount for the CNY payout:
    // a second credit, whatever its amount, as a second debit is; recorded, nothing booked.
    const cashBefore = await posted("platform:cash:bank", "USD");
    const other = camt054({ messageId: "HSBC-054-RT3", account, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: creditedCny, instructed: { currency: "CNY", amount: BigInt(cny.amount) }, rate: "0.1370", returnReason: "AC04" }] });
    const [third] = await confirm(other);
    expect([third!.outcome, third!.code]).toEqual(["exception", "returned_after_final"]);
    expect(third!.detail).toContain("bank entry HSBC-054-RT1-2");
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(cny.amount);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore);
  });

  it("matches the bank statement's debit and its return's credit to the returned payout, each once", async () => {
    const [u, c] = [await payout(usd.id), await payout(cny.id)];
    expect(c.returned).toEqual({ currency: "USD", amount: usdAt(cny.amount, 1370n).toString() });
    const statement = camt053({
      messageId: "HSBC-053-RT1",
      statementId: "STMT-RT-1",
      account,
      day: "2024-12-06",
      opening: 10_000_000n,
      entries: [
        { endToEndId: u.endToEndId, currency: "USD", amount: BigInt(u.settled!.amount) },
        { endToEndId: c.endToEndId, currency: "USD", amount: BigInt(c.settled!.amount) },
        { endToEndId: u.endToEndId, currency: "USD", amount: BigInt(u.returned!.amount), returnReason: "AC04" },
        { endToEndId: c.endToEndId, currency: "USD", amount: BigInt(c.returned!.amount), returnReason: "AC04" },
        // A credit naming the payout for another amount is not its return.
        { endToEndId: c.endToEndId, currency: "USD", amount: 1n, side: "credit" },
      ],
    });
    const r = await h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: statement, headers: { "content-type": "application/xml", authorization: `Bearer ${financeWrite.key}` } });
    expect(r.statusCode, r.body).toBe(201);
    const [st] = json<{ statements: Array<{ entries: Array<{ match: { kind: string; ref: string; transactionId: string | null } | null; exception: string | null }> }> }>(r).statements;
    expect(st!.entries.map((e) => [e.match?.kind ?? null, e.match?.ref ?? null, e.match?.transactionId ?? null, e.exception])).toEqual([
      ["bank_payout", u.endToEndId, u.ledger["cashTransactionId"], null],
      ["bank_payout", c.endToEndId, c.ledger["cashTransactionId"], null],
      ["bank_return", u.endToEndId, u.ledger["returnTransactionId"], null],
      ["bank_return", c.endToEndId, c.ledger["returnTransactionId"], null],
      [null, null, null, "unmatched"],
    ]);
  });

  let cny2: PayoutJson;
  let usd2: PayoutJson;

  it("takes a return net of the bank's itemised charges: the seller gets the instructed amount, the charges are an expense; unitemised or unequal charges are a mismatch", async () => {
    await sale("S-POP-SZ-01", "149900");
    await sale("S-POP-HK-02", "149900");
    await remit("ADY-PO-2");
    // Both accounts had a payout returned: the rail does not pay them again until they are set again.
    const held = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(held.statusCode, held.body).toBe(201);
    const skipped = json<{ file: unknown; skipped: Array<{ sellerId: string; reason: string; detail?: string }> }>(held);
    expect(skipped.file).toBeNull();
    const why = Object.fromEntries(skipped.skipped.filter((x) => x.reason === "account_returned").map((x) => [x.sellerId, x.detail]));
    expect(why).toEqual({
      "S-POP-SZ-01": `the bank returned payout ${cny.endToEndId} to this account (returned by the bank after final (AC04: closed account)): set another account, or this one again with confirmReturnedAccount once it is checked, to resume`,
      "S-POP-HK-02": `the bank returned payout ${usd.endToEndId} to this account (returned by the bank after final (AC04: closed account)): set another account, or this one again with confirmReturnedAccount once it is checked, to resume`,
    });
    // The accounts were checked with the sellers: set again, confirmed.
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT]] as const) {
      const r = await putAccount(seller, { ...acct, confirmReturnedAccount: true });
      expect(r.statusCode, r.body).toBe(200);
    }
    [cny2, usd2] = await run();
    const amount = BigInt(usd2.amount);
    const odd = camt054({
      messageId: "HSBC-054-CH1",
      account,
      entries: [
        // Net of 15.00 USD, the original amount beside it, the charges not itemised.
        { endToEndId: usd2.endToEndId, currency: "USD", amount: amount - 1_500n, returnReason: "AC04", instructed: { currency: "USD", amount } },
        // Itemised, but they do not make the instructed amount.
        { endToEndId: usd2.endToEndId, currency: "USD", amount: amount - 1_500n, returnReason: "AC04", instructed: { currency: "USD", amount }, charges: [{ amount: 1_000n }] },
        // Itemised in another currency than the account's.
        { endToEndId: usd2.endToEndId, currency: "USD", amount: amount - 1_500n, returnReason: "AC04", instructed: { currency: "USD", amount }, charges: [{ amount: 1_500n, currency: "HKD" }] },
      ],
    });
    expect((await confirm(odd)).map((r) => [r.outcome, r.code])).toEqual([
      ["mismatch", "instructed_mismatch"],
      ["mismatch", "instructed_mismatch"],
      ["mismatch", "charges_mismatch"],
    ]);
    expect(await payout(usd2.id)).toMatchObject({ status: "instructed", ledger: { voidTransactionId: null } });
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe("0");

    // Before final: the reserve is voided (the seller gets the whole amount), the bank kept 15.00.
    const cashBefore = await posted("platform:cash:bank", "USD");
    const net = camt054({
      messageId: "HSBC-054-CH2",
      account,
      entries: [{ endToEndId: usd2.endToEndId, currency: "USD", amount: amount - 1_500n, returnReason: "AC04", instructed: { currency: "USD", amount }, charges: [{ amount: 1_000n, type: "RETURN FEE" }, { amount: 500n }] }],
    });
    expect((await confirm(net)).map((r) => [r.outcome, r.detail])).toEqual([["rejected", "returned by the bank (AC04: closed account), net of 15.00 USD charges"]]);
    expect(await payout(usd2.id)).toMatchObject({ status: "rejected", reason: "returned by the bank (AC04: closed account), net of 15.00 USD charges" });
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(usd2.amount);
    expect(await posted("platform:expense:bank_charges", "USD")).toBe(1_500n);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - 1_500n);
    expect((await confirm(net)).map((r) => r.outcome)).toEqual(["already_rejected"]);
    expect(await posted("platform:expense:bank_charges", "USD")).toBe(1_500n);

    // After final, converted: the bank debited USD for the CNY, then returned it less 10.00 USD.
    const debit = camt054({
      messageId: "HSBC-054-CH3",
      account,
      entries: [{ endToEndId: cny2.endToEndId, currency: "USD", amount: usdAt(cny2.amount, 1380n), instructed: { currency: "CNY", amount: BigInt(cny2.amount) }, rate: "0.1380" }],
    });
    expect((await confirm(debit)).map((r) => r.outcome)).toEqual(["final"]);
    // A credit of 10.00 USD naming the whole instruction is not its return: far from the debit.
    const debited = BigInt((await payout(cny2.id)).settled!.amount);
    const token = camt054({
      messageId: "HSBC-054-CH3B",
      account,
      entries: [{ endToEndId: cny2.endToEndId, currency: "USD", amount: 1_000n, instructed: { currency: "CNY", amount: BigInt(cny2.amount) }, rate: "0.0066", returnReason: "AC04" }],
    });
    const [tiny] = await confirm(token);
    expect([tiny!.outcome, tiny!.code]).toEqual(["exception", "returned_after_final"]);
    expect(tiny!.detail).toContain(`credited 10.00 USD for ${major(BigInt(cny2.amount), "CNY")}: more than 10% from the ${major(debited, "USD")} the bank debited for it`);
    expect(await payout(cny2.id)).toMatchObject({ status: "final" });
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe("0");
    const gross = usdAt(cny2.amount, 1375n);
    const cashFinal = await posted("platform:cash:bank", "USD");
    const late = camt054({
      messageId: "HSBC-054-CH4",
      account,
      entries: [{ endToEndId: cny2.endToEndId, currency: "USD", amount: gross - 1_000n, instructed: { currency: "CNY", amount: BigInt(cny2.amount) }, rate: "0.1375", returnReason: "AC04", charges: [{ amount: 1_000n }] }],
    });
    expect((await confirm(late)).map((r) => [r.outcome, r.exceptionId])).toEqual([["returned", undefined]]);
    const back = await payout(cny2.id);
    expect(back).toMatchObject({ status: "returned", reason: "returned by the bank after final (AC04: closed account), net of 10.00 USD charges" });
    expect(back.exceptions?.map((x) => [x.code, x.status])).toEqual([["returned_after_final", "open"]]);
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(cny2.amount);
    expect(await posted("platform:expense:bank_charges", "USD")).toBe(2_500n);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashFinal + gross - 1_000n);
  });

  it("keeps the hold when the returned account is set again, under another name or after removal, until it is confirmed checked or another account is given", async () => {
    // Both accounts had a payout returned again (usd2 before final, cny2 after).
    const hk = await accountOf("S-POP-HK-02");
    expect(hk.hold).toMatchObject({ payoutId: usd2.id, endToEndId: usd2.endToEndId });
    for (const body of [HK_ACCOUNT, { ...HK_ACCOUNT, holderName: "KOWLOON STATIONERY LIMITED" }, { ...HK_ACCOUNT, confirmReturnedAccount: false }]) {
      const r = await putAccount("S-POP-HK-02", body);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
      const p = json<{ detail: string; errors: Array<{ field: string }>; details: { hold: { payoutId: string; endToEndId: string } } }>(r);
      expect(p.errors.map((e) => e.field)).toEqual(["confirmReturnedAccount"]);
      expect(p.details.hold).toMatchObject({ payoutId: usd2.id, endToEndId: usd2.endToEndId });
      expect(p.detail).toContain(`the bank returned payout ${usd2.endToEndId} from this account`);
    }
    // Nothing changed: the same hold, the same setAt, and a run still skips the seller.
    expect(await accountOf("S-POP-HK-02")).toEqual(hk);
    await sale("S-POP-HK-02", "149900");
    const skipped = json<{ skipped: Array<{ sellerId: string; reason: string }> }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin)).skipped;
    expect(skipped.filter((x) => x.reason === "account_returned").map((x) => x.sellerId).sort()).toEqual(["S-POP-HK-02", "S-POP-SZ-01"]);

    // Removed and set again, the same account is still the one the bank returned a payout from.
    const del = await h.app.inject({ method: "DELETE", url: "/v1/sellers/S-POP-SZ-01/bank-account", headers: { authorization: `Bearer ${h.keys.admin.key}` } });
    expect(del.statusCode, del.body).toBe(204);
    const again = await putAccount("S-POP-SZ-01", CN_ACCOUNT);
    expect([again.statusCode, problemCode(again)], again.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    expect((await h.get("/v1/sellers/S-POP-SZ-01/bank-account")).statusCode).toBe(404);
    // Another account is not held.
    const other = await putAccount("S-POP-SZ-01", { ...CN_ACCOUNT, accountNumber: "6222029876543210987" });
    expect(other.statusCode, other.body).toBe(200);
    expect(json<{ hold: unknown }>(other).hold).toBeNull();

    // Confirmed as checked: the hold is lifted; the same details again, unconfirmed, change nothing.
    const confirmed = await putAccount("S-POP-HK-02", { ...HK_ACCOUNT, confirmReturnedAccount: true });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const lifted = json<{ setAt: string; hold: unknown }>(confirmed);
    expect(lifted.hold).toBeNull();
    expect(lifted.setAt > hk.setAt).toBe(true);
    const same = await putAccount("S-POP-HK-02", HK_ACCOUNT);
    expect(same.statusCode, same.body).toBe(200);
    expect(json<{ setAt: string }>(same).setAt).toBe(lifted.setAt);

    // A payout the ledger refused to reserve was never instructed: it is no return, and holds nothing.
    const store = new BankStore(h.db.sql);
    const refused = await store.insertPlanned({ sellerId: "S-POP-HK-02", currency: "USD", amount: 1n, account: { ...HK_ACCOUNT, iban: null, clearingSystem: null, clearingMember: null }, createdBy: "test", tag }, () => ({}));
    expect(await store.markRejected(refused!.id, null, "reserve refused by the ledger: ENT_LEDGER_INSUFFICIENT_FUNDS")).toBe(true);
    expect((await accountOf("S-POP-HK-02")).hold).toBeNull();
  });

  it("does not hold the account a seller gave while a payout to the one it replaced was in flight, when the bank returns that payout", async () => {
    // S-POP-SZ-01 is on its other account, S-POP-HK-02 confirmed: both are paid.
    const [, usd3] = await run();
    expect(usd3.account).toMatchObject({ accountNumber: HK_ACCOUNT.accountNumber });
    // The seller moves to another account while the payout is with the bank, which then returns it.
    const moved = await putAccount("S-POP-HK-02", { ...HK_ACCOUNT, accountNumber: "012-345678-002" });
    expect(moved.statusCode, moved.body).toBe(200);
    const returned = camt054({ messageId: "HSBC-054-MV1", account, entries: [{ endToEndId: usd3.endToEndId, currency: "USD", amount: BigInt(usd3.amount), returnReason: "AC04" }] });
    expect((await confirm(returned)).map((r) => r.outcome)).toEqual(["rejected"]);
    expect(await payout(usd3.id)).toMatchObject({ status: "rejected" });
    // The return speaks for the old account, not the new one: no hold, and the next run pays the new one.
    expect((await accountOf("S-POP-HK-02")).hold).toBeNull();
    const next = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(next.statusCode, next.body).toBe(201);
    const body = json<{ payouts: PayoutJson[]; skipped: Array<{ sellerId: string; reason: string }> }>(next);
    expect(body.skipped.filter((x) => x.sellerId === "S-POP-HK-02")).toEqual([]);
    expect(body.payouts.filter((p) => p.sellerId === "S-POP-HK-02").map((p) => [p.amount, p.account.accountNumber])).toEqual([[usd3.amount, "012-345678-002"]]);
    // Put back on the old account, it is held again until confirmed: that payout was returned from it.
    const back = await putAccount("S-POP-HK-02", HK_ACCOUNT);
    expect([back.statusCode, problemCode(back)], back.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    // So is an account returned before the seller moved off it (S-POP-SZ-01's first account, cny2).
    const first = await putAccount("S-POP-SZ-01", CN_ACCOUNT);
    expect([first.statusCode, problemCode(first)], first.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    expect(json<{ details: { hold: { endToEndId: string } } }>(first).details.hold.endToEndId).toBe(cny2.endToEndId);
  });

  it("holds the returned account however it is keyed in again: separators, the bank's BIC without its branch, the bank by its clearing code", async () => {
    // S-POP-SZ-01's first account (cny2 returned from it after final, the seller since moved) and
    // S-POP-HK-02's first (usd3, returned before final) are held: written otherwise, they still are.
    const variants = [
      ["S-POP-SZ-01", cny2, { ...CN_ACCOUNT, accountNumber: "6222-0212-3456-7890-123" }],
      ["S-POP-SZ-01", cny2, { ...CN_ACCOUNT, bic: "ICBKCNBJ" }],
      ["S-POP-SZ-01", cny2, { ...CN_ACCOUNT, bic: null }],
      ["S-POP-SZ-01", cny2, { ...CN_ACCOUNT, holderName: "SHENZHEN GADGET WORKS", accountNumber: "6222-021234567890123", bic: "icbkcnbjxxx", clearingSystem: null, clearingMember: null }],
      ["S-POP-HK-02", null, { ...HK_ACCOUNT, accountNumber: "012345678001" }],
      ["S-POP-HK-02", null, { ...HK_ACCOUNT, bic: "HSBCHKHH" }],
    ] as const;
    const hkHold = json<{ details: { hold: { endToEndId: string } } }>(await putAccount("S-POP-HK-02", HK_ACCOUNT)).details.hold.endToEndId;
    const before = { sz: await accountOf("S-POP-SZ-01"), hk: await accountOf("S-POP-HK-02") };
    for (const [seller, held, body] of variants) {
      const r = await putAccount(seller, body);
      expect([r.statusCode, problemCode(r)], `${seller} ${JSON.stringify(body)}: ${r.body}`).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
      expect(json<{ details: { hold: { endToEndId: string } } }>(r).details.hold.endToEndId).toBe(held?.endToEndId ?? hkHold);
    }
    expect({ sz: await accountOf("S-POP-SZ-01"), hk: await accountOf("S-POP-HK-02") }).toEqual(before);

    // The account on file keyed in again otherwise (the same account, stored as given) while a payout
    // to it is with the bank, which then returns it: the account is held all the same.
    const [inFlight] = json<{ items: PayoutJson[] }>(await h.get("/v1/payouts/bank?sellerId=S-POP-HK-02&status=instructed")).items;
    expect(inFlight?.account.accountNumber).toBe("012-345678-002");
    const rekeyed = await putAccount("S-POP-HK-02", { ...HK_ACCOUNT, accountNumber: "012345678002", bic: "HSBCHKHH" });
    expect(rekeyed.statusCode, rekeyed.body).toBe(200);
    expect(json<{ accountNumber: string; hold: unknown }>(rekeyed)).toMatchObject({ accountNumber: "012345678002", hold: null });
    const returned = camt054({ messageId: "HSBC-054-RK1", account, entries: [{ endToEndId: inFlight!.endToEndId, currency: "USD", amount: BigInt(inFlight!.amount), returnReason: "AC04" }] });
    expect((await confirm(returned)).map((r) => r.outcome)).toEqual(["rejected"]);
    expect((await accountOf("S-POP-HK-02")).hold).toMatchObject({ payoutId: inFlight!.id, endToEndId: inFlight!.endToEndId });
    const next = json<{ payouts: PayoutJson[]; skipped: Array<{ sellerId: string; reason: string }> }>(await h.post("/v1/payouts/bank/runs", {}, h.keys.admin));
    expect(next.payouts.filter((p) => p.sellerId === "S-POP-HK-02")).toEqual([]);
    expect(next.skipped).toContainEqual(expect.objectContaining({ sellerId: "S-POP-HK-02", reason: "account_returned" }));
    // And keyed in the way it was instructed, it is the account returned.
    const back = await putAccount("S-POP-HK-02", { ...HK_ACCOUNT, accountNumber: "012-345678-002" });
    expect([back.statusCode, problemCode(back)], back.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);

    // The same number at another bank is another account: set, nothing held.
    const other = await putAccount("S-POP-SZ-01", { ...CN_ACCOUNT, bic: "BKCHCNBJ", clearingMember: "104584000003" });
    expect(other.statusCode, other.body).toBe(200);
    expect(json<{ hold: unknown }>(other).hold).toBeNull();
  });
});
