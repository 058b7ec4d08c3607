/**
 * Importing the platform's bank statement (camt.053) over HTTP on both engines, with the files a
 * finance analyst sent: a statement sent again with other bytes, batch bookings, an entry booked
 * DBIT with a CRDT detail, an entry in another currency, a Latin-1 file, and the adjusting entries a
 * resolution may post.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { createServices } from "../../service/services.js";
import { accountSpec } from "../../service/settlement/index.js";
import { camt053 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const account = { holderName: "Entrepot Marketplace Ltd", iban: null, accountNumber: "400123456838", bic: "HSBCHKHHHKH", clearingSystem: null, clearingMember: null, country: "HK", accountCurrency: "USD" };
const fixture = (name: string) => readFile(new URL(`./fixtures/${name}`, import.meta.url));

interface Entry {
  index: number;
  side: string;
  currency: string;
  amount: string;
  texts: string[];
  exception: string | null;
}
interface Statement {
  id: string;
  statementId: string;
  difference: string;
  unmatched: number;
  entries: Entry[];
}

describe.each(kinds)("cash statements on %s", (kind) => {
  let h: Harness;
  let financeWrite: IssuedKey;
  const xmlPost = (body: string | Buffer, headers: Record<string, string> = {}) =>
    h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: body, headers: { "content-type": "application/xml", authorization: `Bearer ${financeWrite.key}`, ...headers } });
  const statementsOf = (r: { body: string }) => json<{ status: string; statements: Statement[] }>(r as never).statements;
  const count = async () => json<{ items: unknown[] }>(await h.get("/v1/cash/statements?limit=200")).items.length;

  beforeAll(async () => {
    h = await openHarness({ kind, programData: false });
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => {
    await h.close();
  });

  describe("when the same statement comes again in another file", () => {
    const entries = Array.from({ length: 7 }, (_, i) => ({ endToEndId: "NOTPROVIDED", currency: "USD", amount: BigInt(1_000 * (i + 1)), side: "credit" as const, info: `CREDIT ${i + 1}` }));
    const createdAt = new Date("2026-12-05T20:00:00Z");
    const original = camt053({ messageId: "DUP-1", statementId: "STMT-DUP-1", sequence: 41, account, day: "2026-12-05", opening: 0n, entries, createdAt });

    it("answers exists with the statement it imported first (other bytes, same content)", async () => {
      const first = await xmlPost(original);
      expect(first.statusCode, first.body).toBe(201);
      const [s] = statementsOf(first);
      const before = await count();
      const resent = original.replaceAll("><", ">\r\n<");
      expect(resent).not.toBe(original);
      const again = await xmlPost(resent);
      expect(again.statusCode, again.body).toBe(200);
      expect(json<{ status: string }>(again).status).toBe("exists");
      expect(statementsOf(again).map((x) => x.id)).toEqual([s!.id]);
      expect(await count()).toBe(before);
    });

    it("refuses the same statement id with other content: 409 naming the earlier statement; another id with the same sequence number is another statement", async () => {
      const changed = camt053({ messageId: "DUP-1", statementId: "STMT-DUP-1", sequence: 41, account, day: "2026-12-05", opening: 0n, entries: entries.slice(1), createdAt });
      const r = await xmlPost(changed);
      expect([r.statusCode, problemCode(r)]).toEqual([409, "ENT_CASH_STATEMENT_CONFLICT"]);
      expect(r.body).toMatch(/STMT-DUP-1/);
      // Banks restart ElctrncSeqNb (yearly, say): the sequence number is no identity.
      const sameSequence = camt053({ messageId: "DUP-2", statementId: "STMT-DUP-1B", sequence: 41, account, day: "2026-12-05", opening: 0n, entries, createdAt });
      expect((await xmlPost(sameSequence)).statusCode).toBe(201);
    });

    it("two instances importing two files of one new statement at once record it once", async () => {
      const twin = camt053({ messageId: "DUP-9", statementId: "STMT-DUP-9", sequence: 90, account, day: "2026-12-06", opening: 0n, entries, createdAt });
      const other = createServices(h.db, h.config);
      const both = await Promise.all([h.services.cash.importStatement(twin, "a"), other.cash.importStatement(twin.replaceAll("><", ">\n<"), "b")]);
      expect(both.map((x) => x.status).sort()).toEqual(["created", "exists"]);
      expect(both[0].statements[0]!.id).toBe(both[1].statements[0]!.id);
      // Beneath the service, the database itself refuses a second row for the statement id.
      const insert = (statementId: string, sequence: string | null) =>
        h.db.sql.q(
          `INSERT INTO cash_statements (file_sha256, message_id, statement_id, account, currency, sequence, opening, closing, unmatched, report, imported_by) VALUES (repeat('0', 64), 'X', $1, '400123456838', 'USD', $2, 0, 0, 0, '{}'::jsonb, 'test')`,
          statementId,
          sequence,
        );
      await expect(insert("STMT-DUP-9", null)).rejects.toThrow(/unique|duplicate/i);
      const changed = camt053({ messageId: "DUP-10", statementId: "STMT-DUP-10", sequence: 100, account, day: "2026-12-07", opening: 0n, entries, createdAt });
      const changedToo = camt053({ messageId: "DUP-11", statementId: "STMT-DUP-10", sequence: 100, account, day: "2026-12-07", opening: 0n, entries: entries.slice(2), createdAt });
      const outcomes = await Promise.allSettled([h.services.cash.importStatement(changed, "a"), other.cash.importStatement(changedToo, "b")]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      expect((refused.reason as { code: string }).code).toBe("ENT_CASH_STATEMENT_CONFLICT");
    });
  });

  it("moves the balance by the entry's indicator: PostFinance's entry 2 (DBIT, its detail CRDT) is a debit", async () => {
    // A real file of a CHF account without Acct/Ccy: imported where that account is the platform's
    // (another instance's configuration), its currency the one its balances are in.
    const real = await fixture("../../fixtures/iso20022/postfinance-camt.053.001.04.xml");
    const chf = createServices(h.db, { ...h.config, bank: { ...h.config.bank, account: { ...h.config.bank.account, iban: "CH29 0900 0000 2500 9423 9", accountNumber: null, bic: "POFICHBEXXX", country: "CH", accountCurrency: "CHF", address: { ...h.config.bank.account.address, townName: "Bern", country: "CH" } } } });
    const r = await chf.cash.importStatement(real, "test");
    expect(r.status).toBe("created");
    const [s] = r.statements;
    expect(s!.currency).toBe("CHF");
    expect(s!.entries[1]).toMatchObject({ side: "debit", amount: "7770" });
    expect(s!.entries[3]!.valueDate).toBe("2020-11-25");
    // What is left is the 1,537.00 value-dated the next day, which the bank left out of its closing.
    expect(s!.difference).toBe("-153700");
  });

  describe("when a statement is not of the platform's account (BANK_ACCOUNT_*, USD)", () => {
    const entries = [{ endToEndId: "NOTPROVIDED", currency: "USD", amount: 1_000n, side: "credit" as const, info: "A CREDIT" }];
    const statement = (id: string, acct: typeof account) => camt053({ messageId: `ACC-${id}`, statementId: `STMT-ACC-${id}`, account: acct, day: "2026-12-08", opening: 0n, entries });

    it("refuses another account, another currency or balances in another currency: 422 naming the field, the accounts in details, nothing recorded", async () => {
      const before = await count();
      const foreign = await xmlPost(statement("1", { ...account, accountNumber: "111222333444", bic: "CITIUS33", country: "US" }));
      expect([foreign.statusCode, problemCode(foreign)], foreign.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
      const body = json<{ errors: Array<{ field: string }>; details: Record<string, string> }>(foreign);
      expect(body.errors.map((e) => e.field)).toEqual(["Stmt/Acct/Id"]);
      expect(body.details).toEqual({ statement: "STMT-ACC-1", account: "111222333444", currency: "USD", expectedAccount: "400123456838", expectedCurrency: "USD" });
      const eur = await xmlPost(statement("2", { ...account, accountCurrency: "EUR" }).replaceAll("USD", "EUR"));
      expect([eur.statusCode, problemCode(eur)], eur.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
      expect(json<{ errors: Array<{ field: string }>; details: Record<string, string> }>(eur)).toMatchObject({ errors: [{ field: "Stmt/Acct/Ccy" }], details: { currency: "EUR", expectedCurrency: "USD" } });
      // Without Acct/Ccy the account's currency is its balances'.
      const bare = statement("3", { ...account, accountCurrency: "EUR" }).replaceAll("USD", "EUR").replace("<Ccy>EUR</Ccy>", "");
      expect(bare).not.toContain("<Ccy>");
      const r = await xmlPost(bare);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["Stmt/Bal/Amt/@Ccy"]);
      // One statement of another account refuses the whole file.
      const two = statement("4", account).replace(/<Stmt>[\s\S]*<\/Stmt>/, (m) => m + m.replace("STMT-ACC-4", "STMT-ACC-5").replace("<Id>400123456838</Id>", "<Id>999888777666</Id>"));
      expect(two.match(/<Stmt>/g)).toHaveLength(2);
      const whole = await xmlPost(two);
      expect([whole.statusCode, problemCode(whole)], whole.body).toEqual([422, "ENT_CASH_STATEMENT_ACCOUNT"]);
      expect(whole.body).toMatch(/statement 2 is for account \\"999888777666\\"/);
      expect(await count()).toBe(before);
    });

    it("takes the platform's account however the bank writes it, with or without Acct/Ccy", async () => {
      const spaced = await xmlPost(statement("6", { ...account, accountNumber: "400-123456-838" }));
      expect(spaced.statusCode, spaced.body).toBe(201);
      const bare = await xmlPost(statement("7", account).replace("<Ccy>USD</Ccy>", ""));
      expect(bare.statusCode, bare.body).toBe(201);
      expect(statementsOf(bare)[0]).toMatchObject({ currency: "USD" });
    });
  });

  describe("when an entry is a batch booking (several transaction details)", () => {
    it("counts the entry once, and matches the details by their own amounts (AmtDtls/TxAmt, .001.02)", async () => {
      const r = await xmlPost(await fixture("batch_v02.xml"));
      expect(r.statusCode, r.body).toBe(201);
      const [s] = statementsOf(r);
      expect(s!.difference).toBe("0");
      expect(s!.entries.map((e) => [e.index, e.side, e.amount, e.exception])).toEqual([
        [1, "credit", "6000", "unmatched"],
        [2, "credit", "4000", "unmatched"],
      ]);
      expect(s!.entries[0]!.texts).toContain("PAYMENT A");
      expect(s!.entries[0]!.texts).not.toContain("PAYMENT B");
    });

    it("is one item of the entry's amount when the details carry no amounts", async () => {
      const r = await xmlPost(await fixture("batch_noamt.xml"));
      expect(r.statusCode, r.body).toBe(201);
      const [s] = statementsOf(r);
      expect([s!.difference, s!.unmatched]).toEqual(["0", 1]);
      expect(s!.entries.map((e) => [e.index, e.amount])).toEqual([[1, "10000"]]);
      expect(s!.entries[0]!.texts).toEqual(expect.arrayContaining(["PAYMENT A", "PAYMENT B"]));
    });
  });

  it("refuses an entry in another currency than the account's: 422 naming the entry, nothing recorded", async () => {
    const before = await count();
    const r = await xmlPost(await fixture("mixccy.xml"));
    expect([r.statusCode, problemCode(r)]).toEqual([422, "ENT_CASH_ENTRY_CURRENCY"]);
    expect(r.body).toMatch(/S-M1.*entry 1.*EUR.*USD/);
    expect(await count()).toBe(before);
  });

  describe("when the file is not UTF-8", () => {
    it("reads it in the encoding its XML declaration names (ISO-8859-1)", async () => {
      const r = await xmlPost(await fixture("latin1.xml"));
      expect(r.statusCode, r.body).toBe(201);
      expect(statementsOf(r)[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    });

    it("honours the Content-Type's charset over the declaration (RFC 7303)", async () => {
      const text = (await fixture("latin1.xml")).toString("latin1").replace("S-K3", "S-K5").replace("<ElctrncSeqNb>1<", "<ElctrncSeqNb>5<");
      const wrong = await xmlPost(Buffer.from(text, "latin1"), { "content-type": "application/xml; charset=utf-8" });
      expect([wrong.statusCode, problemCode(wrong)]).toEqual([422, "ENT_CASH_STATEMENT_INVALID"]);
      expect(wrong.body).toMatch(/not valid UTF-8/);
      const right = await xmlPost(Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"'), "latin1"), { "content-type": "application/xml; charset=ISO-8859-1" });
      expect(right.statusCode, right.body).toBe(201);
      expect(statementsOf(right)[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    });

    it("refuses an encoding it cannot read, naming it", async () => {
      const odd = (await fixture("latin1.xml")).toString("latin1").replace("ISO-8859-1", "X-MAC-KLINGON").replace("S-K3", "S-K4");
      const r = await xmlPost(Buffer.from(odd, "latin1"));
      expect([r.statusCode, problemCode(r)]).toEqual([422, "ENT_CASH_STATEMENT_INVALID"]);
      expect(r.body).toMatch(/unsupported encoding \\"X-MAC-KLINGON\\"/);
    });
  });

  describe("when an exception is resolved", () => {
    let statement: string;
    beforeAll(async () => {
      const xml = camt053({
        messageId: "RES-1",
        statementId: "STMT-RES-1",
        account,
        day: "2026-12-05",
        opening: 1_000_000n,
        entries: [
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 2_500n, side: "credit", info: "INTEREST CREDIT" },
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 1_500n, side: "debit", info: "ACCOUNT FEE" },
        ],
      });
      const r = await xmlPost(xml);
      expect(r.statusCode, r.body).toBe(201);
      statement = statementsOf(r)[0]!.id;
    });
    const url = (index: number) => `/v1/cash/statements/${statement}/entries/${index}/resolution`;
    const posting = (account: string, currency: string, direction: "debit" | "credit", amount: string) => ({ account, currency, direction, amount });

    it("refuses an adjusting entry that does not move platform:cash:bank by the entry, or that touches a seller", async () => {
      const refused: Array<[unknown[], RegExp]> = [
        [[posting("platform:cash:bank", "USD", "debit", "1"), posting("platform:reconciliation:bank_interest", "USD", "credit", "1")], /platform:cash:bank by 25\.00 USD \(2500 minor units\)/],
        [[posting("platform:cash:bank", "USD", "credit", "2500"), posting("platform:reconciliation:bank_interest", "USD", "debit", "2500")], /debit platform:cash:bank/],
        [[posting("platform:cash:bank", "EUR", "debit", "2500"), posting("platform:reconciliation:bank_interest", "EUR", "credit", "2500")], /EUR/],
        [[posting("platform:reconciliation:a", "USD", "debit", "2500"), posting("platform:reconciliation:b", "USD", "credit", "2500")], /platform:cash:bank/],
        [[posting("platform:cash:bank", "USD", "debit", "2500"), posting("seller:S-POP-SZ-01:available", "USD", "credit", "2500")], /seller:S-POP-SZ-01:available/],
      ];
      for (const [postings, message] of refused) {
        const r = await h.post(url(1), { note: "interest", adjustment: { postings } }, financeWrite);
        expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_CASH_ADJUSTMENT_INVALID"]);
        expect(r.body).toMatch(message);
      }
      expect(json<{ items: Array<{ status: string }> }>(await h.get("/v1/cash/exceptions?status=resolved")).items).toEqual([]);
    });

    it("opens no lookalike or free-text account: the name after platform:suspense: or platform:reconciliation: is 400 naming the posting", async () => {
      const names = ["platform:suspense:unidentified_receipts ", 'platform:suspense:a b"/../x?y#z', "platform:suspense:<img src=x onerror=alert(10)>", "platform:reconciliation:Bank_Charges", "platform:reconciliation:\u0430bc"];
      for (const name of names) {
        const r = await h.post(url(1), { note: "interest", adjustment: { postings: [posting("platform:cash:bank", "USD", "debit", "2500"), posting(name, "USD", "credit", "2500")] } }, financeWrite);
        expect([r.statusCode, problemCode(r)], `${name}: ${r.body}`).toEqual([400, "ENT_REQUEST_VALIDATION"]);
        expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["adjustment.postings.1.account"]);
      }
      const accounts = json<{ items: Array<{ code: string }> }>(await h.get("/v1/accounts?ownerType=platform&limit=500")).items.map((a) => a.code);
      expect(accounts.filter((c) => c.startsWith("platform:suspense:") || c.startsWith("platform:reconciliation:"))).toEqual([]);
      expect(json<{ items: unknown[] }>(await h.get("/v1/cash/exceptions?status=resolved")).items).toEqual([]);
    });

    it("answers the ledger's refusal of an entry within the scope as the resolution's: 422 naming adjustment.postings.<i>", async () => {
      // The attacker's case: an account the scope allows but the ledger does not have (a receivable
      // in a currency it was never booked in) was 404 ENT_LEDGER_ACCOUNT_NOT_FOUND naming postings.1.account.
      const r = await h.post(url(1), { note: "interest", adjustment: { postings: [posting("platform:cash:bank", "USD", "debit", "2500"), posting("gateway:adyen:receivable", "USD", "credit", "2500")] } }, financeWrite);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_CASH_ADJUSTMENT_INVALID"]);
      const body = json<{ errors: Array<{ field: string }>; details: { ledgerCode: string } }>(r);
      expect(body.errors.map((e) => e.field)).toEqual(["adjustment.postings.1.account"]);
      expect(body.details.ledgerCode).toBe("ENT_LEDGER_ACCOUNT_NOT_FOUND");
    });

    it("posts one that books the entry: Dr platform:cash:bank for a credit, Cr for a debit", async () => {
      // The statement says how many of its unmatched entries are still open, as of each read.
      const counts = async () => {
        const one = json<{ unmatched: number; open: number }>(await h.get(`/v1/cash/statements/${statement}`));
        const listed = json<{ items: Array<{ id: string; unmatched: number; open: number }> }>(await h.get("/v1/cash/statements")).items.find((s) => s.id === statement);
        expect([listed?.unmatched, listed?.open]).toEqual([one.unmatched, one.open]);
        return [one.unmatched, one.open];
      };
      expect(await counts()).toEqual([2, 2]);
      const credit = await h.post(url(1), { note: "interest", adjustment: { postings: [posting("platform:cash:bank", "USD", "debit", "2500"), posting("platform:reconciliation:bank_interest", "USD", "credit", "2500")] } }, financeWrite);
      expect(credit.statusCode, credit.body).toBe(201);
      expect(await counts()).toEqual([2, 1]);
      const debit = await h.post(url(2), { note: "fee", adjustment: { postings: [posting("platform:reconciliation:bank_charges", "USD", "debit", "1500"), posting("platform:cash:bank", "USD", "credit", "1500")] } }, financeWrite);
      expect(debit.statusCode, debit.body).toBe(201);
    });
  });
  describe("when a resolution credits a gateway's receivable", () => {
    const RECEIVABLE = "gateway:cashrace:receivable";
    let statement: string;
    beforeAll(async () => {
      // What the gateway owes, as its captures would have booked it.
      await h.services.ledger.post({
        idempotencyKey: "test:cashrace:owed",
        accounts: [accountSpec(RECEIVABLE, "USD"), accountSpec("platform:revenue:commission", "USD")],
        postings: [
          { account: RECEIVABLE, currency: "USD", direction: "debit", amount: 10_000n },
          { account: "platform:revenue:commission", currency: "USD", direction: "credit", amount: 10_000n },
        ],
      });
      const amounts = [6_000n, 6_000n, 12_000n, 3_000n];
      const xml = camt053({ messageId: "RACE-1", statementId: "STMT-RACE-1", account, day: "2026-12-05", opening: 0n, entries: amounts.map((amount, i) => ({ endToEndId: "NOTPROVIDED", currency: "USD", amount, side: "credit" as const, info: `CASHRACE PAYOUT ${i + 1}` })) });
      const r = await xmlPost(xml);
      expect(r.statusCode, r.body).toBe(201);
      statement = statementsOf(r)[0]!.id;
    });
    const url = (index: number) => `/v1/cash/statements/${statement}/entries/${index}/resolution`;
    const bank = (amount: bigint) => ({ account: "platform:cash:bank", currency: "USD", direction: "debit" as const, amount });
    const clears = (amount: bigint) => ({ account: RECEIVABLE, currency: "USD", direction: "credit" as const, amount });
    const owed = async () => (await h.services.ledger.balance(RECEIVABLE, "USD")).posted;

    it("lets two resolutions racing on one receivable on two instances clear at most what it holds", async () => {
      const other = createServices(h.db, h.config);
      const outcomes = await Promise.allSettled([
        h.services.cash.resolve(BigInt(statement), 1, { note: "gateway payout", adjustment: { postings: [bank(6_000n), clears(6_000n)] }, by: "a" }),
        other.cash.resolve(BigInt(statement), 2, { note: "gateway payout", adjustment: { postings: [bank(6_000n), clears(6_000n)] }, by: "b" }),
      ]);
      expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value.status : (o.reason as { code: string }).code)).sort()).toEqual(["ENT_CASH_RESOLUTION_EXCEEDS_RECEIVABLE", "created"]);
      expect(await owed()).toBe(4_000n);
      other.webhooks.close();
    });

    it("refuses one that credits more than the receivable holds: 422 naming the posting, the balance and the amount, nothing booked", async () => {
      const r = await h.post(url(3), { note: "gateway payout", adjustment: { postings: [bank(12_000n), clears(12_000n)].map((p) => ({ ...p, amount: p.amount.toString() })) } }, financeWrite);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_CASH_RESOLUTION_EXCEEDS_RECEIVABLE"]);
      const body = json<{ errors: Array<{ field: string }>; details: Record<string, string> }>(r);
      expect(body.errors.map((e) => e.field)).toEqual(["adjustment.postings.1.amount"]);
      expect(body.details).toEqual({ account: RECEIVABLE, currency: "USD", balance: "4000", amount: "12000" });
      expect(await owed()).toBe(4_000n);
      const open = json<{ items: Array<{ statementId: string; entry: { index: number } }> }>(await h.get("/v1/cash/exceptions?status=open")).items.filter((x) => x.statementId === statement);
      expect(open.map((x) => x.entry.index).sort().slice(1)).toEqual([3, 4]); // and the race's loser, 1 or 2
    });

    it("books the excess where the request says: the receivable up to its balance and the rest in suspense, or beyond it with exceedsReceivable", async () => {
      const split = await h.post(url(3), { note: "payout of 120.00, the gateway owed 40.00", adjustment: { postings: [bank(12_000n), clears(4_000n), { account: "platform:suspense:unidentified_receipts", currency: "USD", direction: "credit", amount: 8_000n }].map((p) => ({ ...p, amount: p.amount.toString() })) } }, financeWrite);
      expect(split.statusCode, split.body).toBe(201);
      expect(await owed()).toBe(0n);
      const request = { note: "overpaid by the gateway: netted against its next payout", adjustment: { postings: [bank(3_000n), clears(3_000n)].map((p) => ({ ...p, amount: p.amount.toString() })), exceedsReceivable: true } };
      // Beyond the receivable "the note says why": spaces alone say nothing (400 naming note, nothing booked).
      const blank = await h.post(url(4), { ...request, note: "   " }, financeWrite);
      expect([blank.statusCode, problemCode(blank), blank.body.includes('"field":"note"')]).toEqual([400, "ENT_REQUEST_VALIDATION", true]);
      expect(await owed()).toBe(0n);
      const beyond = await h.post(url(4), request, financeWrite);
      expect(beyond.statusCode, beyond.body).toBe(201);
      const resolution = json<{ resolution: { adjustment: { exceedsReceivable?: boolean }; journalTransactionId: string } }>(beyond).resolution;
      expect(resolution.adjustment.exceedsReceivable).toBe(true);
      expect(json<{ metadata: Record<string, string> }>(await h.get(`/v1/transactions/${resolution.journalTransactionId}`)).metadata).toMatchObject({ exceedsReceivable: "true" });
      expect(await owed()).toBe(-3_000n);
      expect((await h.post(url(4), request, financeWrite)).statusCode).toBe(200);
    });
  });
});
