/**
 * What the bank said it paid stays paid, on both engines:
 * - a booked debit the bank reported for a payout (an exception, open or resolved by a note) keeps
 *   the payout from being cancelled, and keeps a partial settlement from giving back what another
 *   reported debit paid: a note never unlocks paying the seller twice;
 * - a converted debit is held against the published mid rate when the fx:P-USD position holds no P
 *   owed to value it by (a KRW seller while the gateway's unpaid KRW is larger), and left for an
 *   operator when there is no rate either: never booked unchecked;
 * - one account number at one bank is one account whichever branch code names the bank (CNAPS: the
 *   first 3 digits are the bank), for the hold after a return and for one account, one seller.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { convertMinor } from "../../service/money/index.js";
import { addressIn, bankKit, CN_ACCOUNT, HK_ACCOUNT, PLATFORM_ACCOUNT, type BankPayoutJson } from "../support/bank.js";
import { camt054 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const account = { ...PLATFORM_ACCOUNT, accountCurrency: "USD" };
const KR_SELLER = { id: "S-KR-BANK-01", name: "Seoul Lighting Co", program: "pop", payoutCurrency: "KRW", homeCountry: "KR", gateways: ["adyen"] };
const KR_ACCOUNT = { holderName: "Seoul Lighting Co", accountNumber: "110-345-678901", bic: "SHBKKRSE", country: "KR", address: addressIn("Seoul", "KR") };
/** Another ICBC branch's CNAPS code (102: ICBC), no BIC: the same bank as CN_ACCOUNT's 102584002170. */
const OTHER_BRANCH = { ...CN_ACCOUNT, bic: null, clearingSystem: "CNAPS", clearingMember: "102100099996" };

interface ExceptionJson {
  id: string;
  code: string;
  status: string;
}

describe.each(kinds)("a debit the bank reported, a rate with nothing booked to hold it by, an account under another branch code, on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { posted, balance, confirm, sale, remit, usdAt } = bankKit(() => ({ h, financeWrite }));
  const available = async (acct: string, currency: string) => BigInt((await balance(acct, currency)).available);
  const as = (key: IssuedKey) => ({ authorization: `Bearer ${key.key}` });
  const payout = async (id: string) => json<BankPayoutJson>(await h.get(`/v1/payouts/bank/${id}`));
  const resolve = (id: string, body: object) => h.app.inject({ method: "POST", url: `/v1/payouts/bank/exceptions/${id}/resolution`, payload: body, headers: as(financeWrite) });
  const cancel = (id: string, note: string) => h.app.inject({ method: "POST", url: `/v1/payouts/bank/${id}/cancellation`, payload: { note }, headers: as(financeWrite) });
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: as(h.keys.admin) });
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<{ payouts: BankPayoutJson[] }>(r).payouts;
  };

  let cny: BankPayoutJson;
  let usd: BankPayoutJson;
  let krw: BankPayoutJson;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-debit-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    expect((await h.post("/v1/sellers", KR_SELLER, h.keys.admin)).statusCode).toBe(201);
    for (const [seller, acct] of [["S-POP-SZ-01", CN_ACCOUNT], ["S-POP-HK-02", HK_ACCOUNT], [KR_SELLER.id, KR_ACCOUNT]] as const) {
      const r = await put(seller, acct);
      expect(r.statusCode, r.body).toBe(200);
    }
    await sale("S-POP-SZ-01", "449900");
    await sale("S-POP-HK-02", "449900");
    await sale(KR_SELLER.id, "249900");
    await remit("ADY-PO-1");
    // A Korean buyer's KRW for another seller, not remitted yet: the gateway owes the platform more
    // KRW than the platform owes its KRW seller, so fx:KRW-USD holds no KRW owed to value a payout by.
    const kr = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "cap-kr-1", settlementId: "ORD-KR-1", sellerId: "S-POP-HK-02", market: "KR", currency: "KRW", amount: "3000000", gatewayFee: "90000" }));
    expect(kr.statusCode, kr.body).toBe(201);
    const payouts = await run();
    const by = Object.fromEntries(payouts.map((p) => [p.currency, p]));
    [cny, usd, krw] = [by["CNY"]!, by["USD"]!, by["KRW"]!];
    expect([cny, usd, krw].every((p) => p !== undefined && p.status === "instructed")).toBe(true);
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("never cancels a payout the bank reported a booked debit for, also once that exception is resolved by a note; the part paid is still settled", async () => {
    const amount = BigInt(cny.amount);
    // The bank paid 300.00 CNY of it, debiting 41.23 USD.
    const [r] = await confirm(camt054({ messageId: "BANK-054-D1", account, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: 4_123n, instructed: { currency: "CNY", amount: 30_000n }, rate: "0.137433", bookingDate: DAY }] }));
    expect([r!.outcome, r!.code]).toEqual(["mismatch", "instructed_mismatch"]);
    const open = await cancel(cny.id, "bank says not executed");
    expect([open.statusCode, problemCode(open)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);

    // Resolved by a note alone: the debit stays reported, the cancel stays refused.
    const noted = await resolve(r!.exceptionId!, { note: "asked ICBC about the 300.00 CNY" });
    expect(noted.statusCode, noted.body).toBe(201);
    const afterNote = await cancel(cny.id, "bank says not executed");
    expect([afterNote.statusCode, problemCode(afterNote)], afterNote.body).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);
    expect(json<{ detail: string }>(afterNote).detail).toContain(`exception ${r!.exceptionId!}; resolved by a note: ${r!.exceptionId!})`);
    expect(await payout(cny.id)).toMatchObject({ status: "instructed", ledger: { voidTransactionId: null } });
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(0n);

    // What the bank did is settled: 300.00 paid, the rest back to the seller, once.
    const settled = await resolve(r!.exceptionId!, { note: "ICBC: 300.00 CNY paid", action: "book_partial_debit" });
    expect(settled.statusCode, settled.body).toBe(201);
    expect(await payout(cny.id)).toMatchObject({ status: "partially_paid", settled: { currency: "USD", amount: "4123" } });
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(amount - 30_000n);
  });

  it("never settles a part paid while another debit of the bank is reported for the payout: the rest given back could be what that one paid", async () => {
    const amount = BigInt(usd.amount);
    const first = camt054({ messageId: "BANK-054-U1", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: amount - 1_000n, bookingDate: DAY }] });
    const [x1] = await confirm(first);
    // The same entry sent again in another file (the same AcctSvcrRef): one debit, not two.
    const [copy] = await confirm(first.replace("<MsgId>BANK-054-U1</MsgId>", "<MsgId>BANK-054-U1-COPY</MsgId>"));
    const [x2] = await confirm(camt054({ messageId: "BANK-054-U2", account, entries: [{ endToEndId: usd.endToEndId, currency: "USD", amount: 1_000n, bookingDate: DAY }] }));
    expect([x1, copy, x2].map((x) => [x!.outcome, x!.code])).toEqual([
      ["mismatch", "instructed_mismatch"],
      ["mismatch", "instructed_mismatch"],
      ["mismatch", "instructed_mismatch"],
    ]);
    expect(copy!.exceptionId).not.toBe(x1!.exceptionId);
    const noted = await resolve(x2!.exceptionId!, { note: "a stray 10.00 debit? asked the bank" });
    expect(noted.statusCode, noted.body).toBe(201);

    const before = await available("seller:S-POP-HK-02:available", "USD");
    const part = await resolve(x1!.exceptionId!, { note: "paid 10.00 short", action: "book_partial_debit" });
    expect([part.statusCode, problemCode(part)], part.body).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);
    const detail = json<{ detail: string }>(part).detail;
    expect(detail).toContain(`(exception ${x2!.exceptionId!})`);
    expect(detail).not.toContain(copy!.exceptionId!);
    expect(await payout(usd.id)).toMatchObject({ status: "instructed", settled: null });
    expect(await available("seller:S-POP-HK-02:available", "USD")).toBe(before);
    expect(json<ExceptionJson>(await h.get(`/v1/payouts/bank/exceptions/${x1!.exceptionId!}`)).status).toBe("open");
    const cancelled = await cancel(usd.id, "n");
    expect([cancelled.statusCode, problemCode(cancelled)]).toEqual([409, "ENT_PAYOUT_BANK_PAYOUT_DEBITED"]);
  });

  it("holds a converted debit against the published mid rate when the position holds no P owed; without a rate, leaves it for an operator", async () => {
    const amount = BigInt(krw.amount);
    // The precondition: fx:KRW-USD holds no KRW owed (its KRW balance is not a debit).
    expect(await posted("fx:KRW-USD", "KRW")).toBeLessThanOrEqual(0n);
    const mid = convertMinor(amount, "KRW", "USD", (await h.services.fx.latestRate("KRW", "USD", new Date(`${DAY}T00:00:00.000Z`))).rate, "half-even");
    const usdRate = historicalUsdRate("KRW", DAY).rate;
    expect(Number(usdRate)).toBeGreaterThan(1000);
    const cashBefore = await posted("platform:cash:bank", "USD");
    expect(cashBefore).toBeGreaterThan(2n * mid);
    const entry = (messageId: string, usdAmount: bigint, bookingDate: string) =>
      camt054({ messageId, account, entries: [{ endToEndId: krw.endToEndId, currency: "USD", amount: usdAmount, instructed: { currency: "KRW", amount }, rate: (Number(usdAmount) / 100 / Number(amount)).toFixed(8), bookingDate }] });

    // Booked on a day no rate is published for: nothing to check it by, left for an operator.
    const [none] = await confirm(entry("BANK-054-K0", mid, "2019-06-03"));
    expect([none!.outcome, none!.code]).toEqual(["exception", "no_reference_rate"]);
    // Twice what the KRW is worth at the mid rate: a mismatch, never booked.
    const [twice] = await confirm(entry("BANK-054-K1", 2n * mid, DAY));
    expect([twice!.outcome, twice!.code]).toEqual(["mismatch", "rate_out_of_range"]);
    expect(twice!.detail).toContain("more than 10% from the");
    expect(twice!.detail).toContain("published mid rate");
    expect(await payout(krw.id)).toMatchObject({ status: "instructed", settled: null });
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore);

    // Near the mid rate: booked final.
    const fair = (mid * 10_150n) / 10_000n;
    const [ok] = await confirm(entry("BANK-054-K2", fair, DAY));
    expect(ok!.outcome).toBe("final");
    expect(await payout(krw.id)).toMatchObject({ status: "final", settled: { currency: "USD", amount: fair.toString() } });
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore - fair);
  });

  it("takes the same account number at another branch code of the same bank for the same account: in use by another seller, held after a return", async () => {
    // Another seller, the same ICBC account under another branch's CNAPS code and no BIC.
    const inUse = await put("S-FULL-GZ-01", { ...OTHER_BRANCH, holderName: "Guangzhou Apparel Factory" });
    expect([inUse.statusCode, problemCode(inUse)], inUse.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_IN_USE"]);
    // Another bank's CNAPS code (104: Bank of China) is another account.
    const boc = await put("S-FULL-GZ-01", { ...OTHER_BRANCH, holderName: "Guangzhou Apparel Factory", clearingMember: "104584000003" });
    expect(boc.statusCode, boc.body).toBe(200);

    // The bank returns the next payout to the ICBC account: the account is held under any branch code.
    const [rest] = (await run()).filter((p) => p.sellerId === "S-POP-SZ-01");
    expect(rest?.status).toBe("instructed");
    const [back] = await confirm(
      camt054({ messageId: "BANK-054-RT1", account, entries: [{ endToEndId: rest!.endToEndId, currency: "USD", amount: usdAt(rest!.amount, 1378n), instructed: { currency: "CNY", amount: BigInt(rest!.amount) }, rate: "0.1378", returnReason: "AC04", bookingDate: DAY }] }),
    );
    expect(back!.outcome).toBe("rejected");
    const held = await put("S-POP-SZ-01", OTHER_BRANCH);
    expect([held.statusCode, problemCode(held)], held.body).toEqual([409, "ENT_PAYOUT_BANK_ACCOUNT_HELD"]);
    const confirmed = await put("S-POP-SZ-01", { ...OTHER_BRANCH, confirmReturnedAccount: true });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
  });

  it("books the bank's return of the part a partially paid payout paid, by an operator's action, once", async () => {
    expect(await payout(cny.id)).toMatchObject({ status: "partially_paid" });
    const cashBefore = await posted("platform:cash:bank", "USD");
    const sellerBefore = await available("seller:S-POP-SZ-01:available", "CNY");
    // The beneficiary's bank sends the 300.00 CNY paid back (closed account), 41.00 USD credited.
    const [r] = await confirm(camt054({ messageId: "BANK-054-PR1", account, entries: [{ endToEndId: cny.endToEndId, currency: "USD", amount: 4_100n, instructed: { currency: "CNY", amount: 30_000n }, rate: "0.136667", returnReason: "AC04", bookingDate: DAY }] }));
    expect([r!.outcome, r!.code]).toEqual(["exception", "returned_after_final"]);
    // Not another exception's action: a part-paid debit is not a return.
    const wrong = await resolve(r!.exceptionId!, { note: "n", action: "book_partial_debit" });
    expect([wrong.statusCode, problemCode(wrong)]).toEqual([422, "ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE"]);

    const booked = await resolve(r!.exceptionId!, { note: "ICBC: account closed, 300.00 CNY back", action: "book_return" });
    expect(booked.statusCode, booked.body).toBe(201);
    const now = await payout(cny.id);
    expect(now).toMatchObject({ status: "returned" });
    expect(json<{ resolution: { journalTransactionId: string } }>(booked).resolution.journalTransactionId).toBe(now.ledger["returnTransactionId"]);
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(sellerBefore + 30_000n);
    expect(await posted("platform:cash:bank", "USD")).toBe(cashBefore + 4_100n);
    const tx = await h.services.ledger.getTransaction(now.ledger["returnTransactionId"]!);
    expect(tx?.metadata).toMatchObject({ kind: "bank_payout_returned", exceptionId: r!.exceptionId!, creditedAmount: "4100", returnedPart: "30000" });
    // The same request again changes nothing; the same credit sent again is the return booked.
    const again = await resolve(r!.exceptionId!, { note: "ICBC: account closed, 300.00 CNY back", action: "book_return" });
    expect(again.statusCode, again.body).toBe(200);
    expect(await available("seller:S-POP-SZ-01:available", "CNY")).toBe(sellerBefore + 30_000n);
  });
});
