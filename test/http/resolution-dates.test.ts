/**
 * When a resolution's adjusting entry is effective, over HTTP on both engines, as a controller
 * closing December 2024 needs it: a gateway cost from an Adyen report row and a bank fee from a
 * camt.053 are booked when they happened (the row's instant, the bank's booking day), not on the
 * day of the resolution; `adjustment.effectiveAt` overrides (never in the future); an instant in a
 * closed period is booked at the close instant with its own kept. The cash queue ages an entry
 * from its booking date, and a parked unidentified credit sits on a credit-normal suspense account.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { camt053 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenRow, capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
/** Every period before this is closed by the tests that need a closed period (whichever runs first). */
const CLOSED_BEFORE = new Date("2024-12-10T00:00:00.000Z");

/** A gateway's own correction row (no event of ours): 5.00 EUR deducted at `at` (CET), under its own reference. */
const correction = (at: string) =>
  adyenRow({ "Creation Date": at, Type: "DepositCorrection", "Modification Reference": `dc-${at.slice(0, 10)}`, "Gross Currency": "", "Exchange Rate": "", "Net Currency": "EUR", "Net Debit (NC)": "5.00", "Payment Method": "" });

const REPORT = [
  ADYEN_COLUMNS.join(","),
  adyenRow({ "Psp Reference": "PSP-1", "Modification Reference": "evt-1", "Merchant Reference": "ORD-BR-1", "Gross Credit (GC)": "149.90", "Net Credit (NC)": "145.56", "Commission (NC)": "4.34" }),
  correction("2024-12-18 09:30:00"),
  correction("2024-12-19 09:30:00"),
  correction("2024-12-05 09:30:00"),
].join("\r\n");

interface Transaction {
  id: string;
  effectiveAt: string;
  metadata: Record<string, string>;
}
interface Item {
  seq: number;
  category: string;
  lines: number[];
  evidence: { proposedAdjustment: { postings: Array<Record<string, string>> } };
}

describe.each(kinds)("when resolutions are booked, on %s", (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  let runId: string;
  let items: Item[];

  async function closeEarlyDecember(): Promise<void> {
    if ((await h.services.ledger.periodCloses()).closedBefore === null) await h.services.ledger.closePeriod({ before: CLOSED_BEFORE, note: "books to 9 Dec closed" });
  }
  /** The gateway cost item of the report's line `line` (the header is line 1). */
  const costOn = (line: number) => items.find((i) => i.category === "gateway_cost" && i.lines[0] === line)!;
  const resolveCost = (item: Item, extra: Record<string, unknown> = {}) =>
    h.post(`/v1/reconciliation/runs/${runId}/exceptions/${item.seq}/resolution`, { note: "Adyen deducted 5.00 EUR", adjustment: { postings: item.evidence.proposedAdjustment.postings, ...extra } }, writer);

  beforeAll(async () => {
    h = await openHarness({ kind });
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    await publishDayRates(h);
    const booked = await h.signedPost("/v1/settlements/events", capture());
    if (booked.statusCode !== 201) throw new Error(booked.body);
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: REPORT, headers: { "content-type": "text/csv", authorization: `Bearer ${writer.key}` } });
    if (imported.statusCode !== 201) throw new Error(imported.body);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id], from: "2024-12-01T00:00:00Z", to: "2025-01-01T00:00:00Z" }, writer);
    if (run.statusCode !== 201) throw new Error(run.body);
    runId = json<{ id: string }>(run).id;
    items = json<{ items: Item[] }>(await h.get(`/v1/reconciliation/runs/${runId}`, writer)).items;
  }, 120_000);
  afterAll(async () => h?.close());

  describe("a gateway reconciliation's adjusting entry", () => {
    it("moves the run's gateway's receivable and the platform's reconciliation and suspense accounts only, within the events' amount bound", async () => {
      const item = costOn(5);
      const pair = (account: string, amount = "500") => [
        { account: "platform:reconciliation:gateway_costs", currency: "EUR", direction: "debit", amount },
        { account, currency: "EUR", direction: "credit", amount },
      ];
      const refused = async (postings: object[], field: string) => {
        const r = await h.post(`/v1/reconciliation/runs/${runId}/exceptions/${item.seq}/resolution`, { note: "x", adjustment: { postings } }, writer);
        expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_RECON_ADJUSTMENT_INVALID"]);
        expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual([field]);
      };
      // A seller's balance (paid out at the next run), a tax payable, another gateway's receivable, the bank cash.
      await refused(pair("seller:S-POP-SZ-01:available"), "adjustment.postings.1.account");
      await refused(pair("tax:ES:EU_IOSS:payable"), "adjustment.postings.1.account");
      await refused(pair("gateway:stripe:receivable"), "adjustment.postings.1.account");
      await refused(pair("platform:cash:bank"), "adjustment.postings.1.account");
      await refused(pair("platform:revenue:commission"), "adjustment.postings.1.account");
      // More than any event may move (MAX_AMOUNT_MINOR, 10^15 by default).
      await refused(pair("gateway:adyen:receivable", "1000000000000001"), "adjustment.postings.0.amount");
      // Nothing was booked, and the item is still open to its right resolution.
      expect((await h.services.ledger.listTransactions({ metadata: { source: "reconciliation", itemSeq: String(item.seq) }, limit: 5 })).items).toEqual([]);
      expect(json<{ items: Array<{ seq: number; resolution: unknown }> }>(await h.get(`/v1/reconciliation/runs/${runId}`, writer)).items.find((i) => i.seq === item.seq)?.resolution ?? null).toBeNull();
    });

    it("is effective at the report row's instant, and the same resolution again is the same entry", async () => {
      const r = await resolveCost(costOn(3));
      expect(r.statusCode, r.body).toBe(201);
      const tx = json<{ transaction: Transaction }>(r).transaction;
      // 2024-12-18 09:30 CET: December's books, whatever day it was resolved.
      expect(tx.effectiveAt).toBe("2024-12-18T08:30:00.000Z");
      expect(tx.metadata).not.toHaveProperty("originalEffectiveAt");
      const again = await resolveCost(costOn(3));
      expect(again.statusCode, again.body).toBe(200);
      expect(json<{ transaction: Transaction }>(again).transaction).toMatchObject({ id: tx.id, effectiveAt: tx.effectiveAt });
      // December's trial balance has it: the receivable is 5.00 EUR lower at the month's end.
      const receivable = await h.services.ledger.balance("gateway:adyen:receivable", "EUR", new Date("2025-01-01T00:00:00Z"), "effective");
      expect(receivable.posted).toBe(-500n);
    });

    it("is effective at the instant requested, which must not be in the future (400 naming adjustment.effectiveAt)", async () => {
      const item = costOn(4);
      const future = await resolveCost(item, { effectiveAt: new Date(Date.now() + 86_400_000).toISOString() });
      expect([future.statusCode, problemCode(future)], future.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<{ errors: Array<{ field: string }> }>(future).errors.map((e) => e.field)).toEqual(["adjustment.effectiveAt"]);
      const r = await resolveCost(item, { effectiveAt: "2024-12-31T23:00:00+01:00" });
      expect(r.statusCode, r.body).toBe(201);
      const body = json<{ resolution: { adjustment: { effectiveAt: string } }; transaction: Transaction }>(r);
      expect(body.transaction.effectiveAt).toBe("2024-12-31T22:00:00.000Z");
      expect(body.resolution.adjustment.effectiveAt).toBe("2024-12-31T22:00:00.000Z");
      // Part of the request: the same entry without it is another resolution.
      expect(problemCode(await resolveCost(item))).toBe("ENT_RECON_RESOLUTION_CONFLICT");
    });

    it("of an event in a closed period is booked at the close instant, its own instant kept", async () => {
      await closeEarlyDecember();
      const r = await resolveCost(costOn(5));
      expect(r.statusCode, r.body).toBe(201);
      const tx = json<{ transaction: Transaction }>(r).transaction;
      expect(tx.effectiveAt).toBe(CLOSED_BEFORE.toISOString());
      expect(tx.metadata["originalEffectiveAt"]).toBe("2024-12-05T08:30:00.000Z");
    });
  });

  describe("a cash statement's exceptions", () => {
    const account = { holderName: "Entrepot Marketplace Ltd", iban: null, accountNumber: "400123456838", bic: "HSBCHKHHHKH", clearingSystem: null, clearingMember: null, country: "HK", accountCurrency: "USD" };
    let statement: string;
    const url = (index: number) => `/v1/cash/statements/${statement}/entries/${index}/resolution`;
    const posting = (account: string, direction: "debit" | "credit", amount: string) => ({ account, currency: "USD", direction, amount });
    const unidentified = { note: "parked until the payer is known", adjustment: { postings: [posting("platform:cash:bank", "debit", "12345"), posting("platform:suspense:unidentified_receipts", "credit", "12345")] } };
    /** The interest credit booked: cash the fees can be taken from (the same request again is the same resolution). */
    const interest = () => h.post(url(4), { note: "December interest", adjustment: { postings: [posting("platform:cash:bank", "debit", "5000"), posting("platform:reconciliation:bank_interest", "credit", "5000")] } }, writer);

    beforeAll(async () => {
      const xml = camt053({
        messageId: "DEC-21",
        statementId: "STMT-2024-12-21",
        account,
        day: "2024-12-21",
        opening: 0n,
        entries: [
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 12_345n, side: "credit", info: "UNIDENTIFIED CREDIT", bookingDate: "2024-12-19" },
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 1_250n, side: "debit", info: "ACCOUNT FEE DEC" },
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 100n, side: "debit", info: "WIRE FEE", bookingDate: "2024-12-06" },
          { endToEndId: "NOTPROVIDED", currency: "USD", amount: 5_000n, side: "credit", info: "INTEREST DEC", bookingDate: "2024-12-20" },
        ],
      });
      const r = await h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: xml, headers: { "content-type": "application/xml", authorization: `Bearer ${writer.key}` } });
      if (r.statusCode !== 201) throw new Error(r.body);
      statement = json<{ statements: Array<{ id: string }> }>(r).statements[0]!.id;
    });

    it("book the bank's movement and what it was for: no other account, no leg beside the bank's, no amount past the bound", async () => {
      const refused = async (postings: object[], field: string) => {
        const r = await h.post(url(1), { note: "x", adjustment: { postings } }, writer);
        expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_CASH_ADJUSTMENT_INVALID"]);
        expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual([field]);
      };
      const bank = posting("platform:cash:bank", "debit", "12345");
      // A tax payable or the platform's revenue is no bank entry's counterpart.
      await refused([bank, posting("tax:ES:EU_IOSS:payable", "credit", "12345")], "adjustment.postings.1.account");
      // A pair of legs riding along: the bank's credit booked, and a receivable moved against a cost.
      await refused(
        [bank, posting("platform:suspense:unidentified_receipts", "credit", "12345"), posting("platform:reconciliation:y", "debit", "100000"), posting("gateway:adyen:receivable", "credit", "100000")],
        "adjustment.postings.2.direction",
      );
      await refused([posting("platform:cash:bank", "debit", "1000000000000001"), posting("platform:suspense:unidentified_receipts", "credit", "1000000000000001")], "adjustment.postings.0.amount");
    });

    it("age from the bank's booking date, not the import, in the API's buckets", async () => {
      const q = json<{ items: Array<{ statementId: string; entry: { index: number }; agedFrom: string; ageDays: number }>; openByAge: Record<string, number> }>(await h.get("/v1/cash/exceptions?status=open", writer));
      const mine = q.items.filter((x) => x.statementId === statement);
      const day = (iso: string) => Math.floor((Date.now() - Date.parse(iso)) / 86_400_000);
      // Oldest first: the entry booked on the 6th, then the 19th, the 20th, the 21st.
      expect(mine.map((x) => [x.entry.index, x.agedFrom])).toEqual([
        [3, "2024-12-06T00:00:00.000Z"],
        [1, "2024-12-19T00:00:00.000Z"],
        [4, "2024-12-20T00:00:00.000Z"],
        [2, "2024-12-21T00:00:00.000Z"],
      ]);
      // (Either side of a midnight between the server's clock and this one.)
      for (const x of mine) expect(Math.abs(x.ageDays - day(x.agedFrom))).toBeLessThanOrEqual(1);
      expect(mine.every((x) => x.ageDays > 30)).toBe(true);
      expect(q.openByAge["over-30"]).toBeGreaterThanOrEqual(mine.length);
      expect(json<{ items: unknown[] }>(await h.get("/v1/cash/exceptions?status=open&age=0-7", writer)).items).toEqual([]);
    });

    it("are booked on the bank's booking day: December's closing cash holds them", async () => {
      const credit = await interest();
      expect(credit.statusCode, credit.body).toBe(201);
      const fee = await h.post(url(2), { note: "December account fee", adjustment: { postings: [posting("platform:reconciliation:bank_charges", "debit", "1250"), posting("platform:cash:bank", "credit", "1250")] } }, writer);
      expect(fee.statusCode, fee.body).toBe(201);
      const txOf = async (r: typeof fee) => json<Transaction>(await h.get(`/v1/transactions/${json<{ resolution: { journalTransactionId: string } }>(r).resolution.journalTransactionId}`, writer));
      expect((await txOf(credit)).effectiveAt).toBe("2024-12-20T00:00:00.000Z");
      expect((await txOf(fee)).effectiveAt).toBe("2024-12-21T00:00:00.000Z");
      // The same request again is the same resolution.
      const again = await h.post(url(2), { note: "December account fee", adjustment: { postings: [posting("platform:reconciliation:bank_charges", "debit", "1250"), posting("platform:cash:bank", "credit", "1250")] } }, writer);
      expect(again.statusCode, again.body).toBe(200);
      // Every cash booking of the statement is December's: the cash at its end is the cash now.
      const endOfDecember = await h.services.ledger.balance("platform:cash:bank", "USD", new Date("2025-01-01T00:00:00Z"), "effective");
      expect(endOfDecember.posted).toBe((await h.services.ledger.balance("platform:cash:bank", "USD")).posted);
      expect(endOfDecember.posted).toBeGreaterThanOrEqual(5_000n - 1_250n - 100n);
    });

    it("park an unidentified credit on a credit-normal suspense account, which is not against its normal side", async () => {
      const r = await h.post(url(1), unidentified, writer);
      expect([201, 200], r.body).toContain(r.statusCode);
      expect((await h.services.ledger.getAccount("platform:suspense:unidentified_receipts", "USD"))?.normalBalance).toBe("credit");
      const usd = (await h.services.ledger.balanceSummary()).find((s) => s.currency === "USD")!;
      // The Overview's "check" lists: the parked credit is not among the accounts against their normal side.
      expect(usd.againstNormal.flatMap((g) => g.largest.map((a) => a.account))).not.toContain("platform:suspense:unidentified_receipts");
    });

    it("take an effectiveAt that is not in the future, and book a closed period's entry at the close instant", async () => {
      const body = (effectiveAt?: string) => ({ note: "wire fee", adjustment: { postings: [posting("platform:reconciliation:bank_charges", "debit", "100"), posting("platform:cash:bank", "credit", "100")], ...(effectiveAt === undefined ? {} : { effectiveAt }) } });
      const future = await h.post(url(3), body(new Date(Date.now() + 60_000).toISOString()), writer);
      expect([future.statusCode, problemCode(future)], future.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<{ errors: Array<{ field: string }> }>(future).errors.map((e) => e.field)).toEqual(["adjustment.effectiveAt"]);
      // The cash must hold the fee first.
      await interest();
      await closeEarlyDecember();
      const r = await h.post(url(3), body(), writer);
      expect(r.statusCode, r.body).toBe(201);
      const tx = json<Transaction>(await h.get(`/v1/transactions/${json<{ resolution: { journalTransactionId: string } }>(r).resolution.journalTransactionId}`, writer));
      expect(tx.effectiveAt).toBe(CLOSED_BEFORE.toISOString());
      expect(tx.metadata["originalEffectiveAt"]).toBe("2024-12-06T00:00:00.000Z");
    });
  });
});
