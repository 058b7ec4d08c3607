/**
 * Importing gateway reports: malformed files give clear errors — a file that is not the format at
 * all is refused naming the missing columns; malformed records are listed with their line and
 * column, never dropped silently, while the valid rows are kept. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { createLedger } from "../../service/ledger/index.js";
import { ReconciliationService, ReconRepository, type ImportError } from "../../service/reconciliation/index.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { PrismaSettlementRepository, SettlementService } from "../../service/settlement/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { bodyOf, fixture, lineOf } from "./harness.js";

const kinds = await testDatabaseKinds();
const ADYEN = fixture("adyen_settlement_detail_report_batch_42.csv");
const STRIPE = fixture("stripe_balance_change_from_activity.itemized.csv");

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> | undefined }> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return { code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error("expected a failure");
}

/** The Adyen fixture's header and first lines, with `edit` applied to one data line. */
function adyenWith(edits: Record<number, (line: string) => string>, extra: string[] = []): string {
  const lines = ADYEN.split("\r\n").filter((l) => l !== "");
  return [...lines.map((l, i) => (edits[i + 1] ? edits[i + 1]!(l) : l)), ...extra].join("\r\n") + "\r\n";
}

describe.each(kinds)("report imports on %s", (kind) => {
  let db: TestDatabase;
  let recon: ReconciliationService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    const ledger = createLedger(db);
    const fx = new FxService(new PrismaFxRepository(db.prisma));
    const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
    recon = new ReconciliationService({ repository: new ReconRepository(db.sql), settlement, ledger, maxStoredErrors: 3 });
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  it("imports both fixtures: rows counted per record type, period spanned, no errors", async () => {
    const a = await recon.importReport({ format: "adyen_settlement_details", fileName: "batch_42.csv", body: bodyOf(ADYEN, 10) });
    expect(a.status).toBe("created");
    expect(a.import).toMatchObject({ gateway: "adyen", rowCount: 19, errorCount: 0, lineCount: 20, fileName: "batch_42.csv" });
    expect(a.import.summary.recordTypes).toEqual({ Settled: 13, Refunded: 1, Chargeback: 1, ChargebackReversed: 1, Fee: 1, DepositCorrection: 1, MerchantPayout: 1 });
    expect(a.import.minOccurredAt?.toISOString()).toBe("2025-03-03T09:00:00.000Z"); // 10:00 CET
    const s = await recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(STRIPE) });
    expect(s.import).toMatchObject({ gateway: "stripe", rowCount: 14, errorCount: 0 });
    expect(s.import.summary.currencies).toEqual({ USD: 11, BRL: 2, EUR: 1 });
  });

  it("refuses a file of another format as a whole, naming the missing columns", async () => {
    const f = await failure(recon.importReport({ format: "adyen_settlement_details", body: bodyOf(STRIPE) }));
    expect(f.code).toBe("ENT_RECON_REPORT_FORMAT");
    expect(f.message).toContain("Psp Reference");
    expect((f.details?.["missing"] as string[]).length).toBe(23);
    const g = await failure(recon.importReport({ format: "stripe_itemized_balance", body: bodyOf("balance_transaction_id,created_utc,currency,gross,net\n") }));
    expect(g.message).toMatch(/lacks 2 required columns: fee, reporting_category/);
    expect((await failure(recon.importReport({ format: "stripe_itemized_balance", body: bodyOf("") }))).code).toBe("ENT_RECON_REPORT_FORMAT");
    expect((await failure(recon.importReport({ format: "paypal", body: bodyOf("x") }))).code).toBe("ENT_RECON_UNKNOWN_FORMAT");
  });

  it("lists each malformed record with its line and column and keeps the valid ones", async () => {
    const ghost = lineOf(ADYEN, "8825000000009999");
    const refund = lineOf(ADYEN, "8835000000000002");
    const krw = lineOf(ADYEN, "8825000000000010");
    const e5 = lineOf(ADYEN, "8825000000000005");
    const text = adyenWith(
      {
        2: (l) => l.replace(",27.90,", ',"27,90",'), // bad amount (decimal comma)
        [refund]: (l) => l.replace(",EUR,10.00,", ",XYZ,10.00,"), // unknown currency
        [krw]: (l) => l.replace(",39000,", ",39000.5,"), // KRW has no minor unit
        [e5]: (l) => l.slice(0, l.lastIndexOf(",")), // one column short
        [ghost]: (l) => l.replace("2025-03-05 14:00:00,CET", "2025-02-30 14:00:00,IST"), // impossible date, ambiguous zone
      },
      ['EntrepotMarketplace,EntrepotMarketplaceEU,8815000000007777,"ORD-AD-77,Settled'], // unterminated quote at the end
    );
    const r = await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(text, 64) });
    const imp = r.import;
    expect(imp.rowCount).toBe(19 - 5);
    // 6 records refused (the ghost row has two errors): rows, not cells, with every error listed.
    expect(imp.errorCount).toBe(6);
    expect(imp.summary).toMatchObject({ errorEntries: 7, errorsStored: 3, errorCap: 3 });
    const stored = await recon.listImportErrors(imp.id, { limit: 10 });
    expect(stored).toHaveLength(3);
    // The cap (3 here) only limits what is stored; every error is counted. Re-read them all:
    const all: ImportError[] = [];
    const { ReportReader } = await import("../../service/reconciliation/index.js");
    const reader = new ReportReader("adyen_settlement_details", 0, { row: () => undefined, error: (e) => all.push(e) });
    reader.pushBytes(Buffer.from(text));
    reader.end();
    expect(all.map((e) => [e.line, e.column, e.code])).toEqual([
      [2, "Gross Credit (GC)", "amount"],
      [refund, "Gross Currency", "currency"],
      [e5, null, "column_count"],
      [krw, "Gross Credit (GC)", "precision"],
      [ghost, "Creation Date", "date"],
      [ghost, "TimeZone", "timezone"],
      [21, null, "unterminated_quote"],
    ]);
    expect(stored).toEqual(all.slice(0, 3).map((e, seq) => ({ ...e, seq })));
    expect(all[0]!.message).toContain('"27,90" has a decimal comma');
    expect(all[3]!.message).toContain("more decimals than KRW has (0)");
    expect(all[2]!.message).toBe("expected 30 columns (as in the header), found 29");
  });

  it("refuses only the line of a stray quote and reads the rows after it (the next quote of the file does not swallow them)", async () => {
    // An analyst's file: line 6 ends in a free-text cell with a stray quote; the file's next quote is
    // on the payout line (20), which closed it: lines 7-20 were one malformed record.
    const text = adyenWith({ 6: (l) => `${l.slice(0, l.indexOf("visaclassic,"))}visaclassic,"buyer said ""hi"" , ok,200` });
    const r = await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(text, 100) });
    expect(r.import).toMatchObject({ rowCount: 18, errorCount: 1 });
    const errors = await recon.listImportErrors(r.import.id);
    expect(errors.map((e) => [e.line, e.code])).toEqual([[6, "quote"]]);
    expect(errors[0]!.message).toContain("text after the closing quote of field 22 on line 20");
    expect(errors[0]!.message).toContain("line 6 is refused, reading resumes at line 7");
    expect(r.import.summary.recordTypes).toMatchObject({ Settled: 12, MerchantPayout: 1, DepositCorrection: 1 });
  });

  it("refuses a record with a NUL in a cell at its line and column, and a run over the import goes through", async () => {
    // A reference with a NUL byte in it: PostgreSQL holds no NUL in text or JSON, and the run that
    // carried the row into its evidence answered 500 (every run of the import, for good).
    const text = adyenWith({ 5: (l) => l.replace("ORD-AD-", "ORD-\u0000AD-") });
    expect(text).toContain("\u0000");
    const imp = (await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(text) })).import;
    expect(imp).toMatchObject({ rowCount: 18, errorCount: 1 });
    const errors = await recon.listImportErrors(imp.id);
    expect(errors.map((e) => [e.line, e.code, e.column])).toEqual([[5, "nul", "Merchant Reference"]]);
    const run = await recon.run({ importIds: [imp.id], from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-03-10T00:00:00Z") });
    expect(run.summary.refusedAtImport).toMatchObject({ rows: 1, imports: [{ importId: imp.id, rows: 1, lines: [5] }] });
  });

  it("answers exists for the same report re-saved with LF line ends, without a byte order mark or with blank lines at its end", async () => {
    const original = await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(ADYEN) });
    expect(original.import.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const copy of [ADYEN.replaceAll("\r\n", "\n"), `\uFEFF${ADYEN}\r\n\r\n`, ADYEN.replaceAll("\r\n", "\n").trimEnd()]) {
      const again = await recon.importReport({ format: "adyen_settlement_details", fileName: "resaved.csv", body: bodyOf(copy) });
      expect(again.status).toBe("exists");
      expect(again.import.id).toBe(original.import.id);
    }
    // The same content under another gateway is the conflict identical bytes are.
    expect((await failure(recon.importReport({ format: "adyen_settlement_details", gateway: "adyen-eu", body: bodyOf(ADYEN.replaceAll("\r\n", "\n")) }))).code).toBe("ENT_RECON_DUPLICATE_IMPORT");
    // Other content is another import.
    const other = await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(ADYEN.replace("ORD-AD-4,", "ORD-AD-44,")) });
    expect(other.status).toBe("created");
  });

  it("says in a run which rows its imports refused, where they may explain an exception (a payout batch that does not add up)", async () => {
    const text = adyenWith({ 4: (l) => l.replace("2025-03-03 12:00:00", "2024-13-45 25:00:00") });
    const imp = (await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(text) })).import;
    expect(imp).toMatchObject({ rowCount: 18, errorCount: 1 });
    const run = await recon.run({ importIds: [imp.id], from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-03-10T00:00:00Z") });
    const note = `1 row was refused at import and is not in this run (import ${imp.id}, line 4): check it first, a refused row may be the one missing here`;
    expect(run.summary.refusedAtImport).toMatchObject({ rows: 1, imports: [{ importId: imp.id, rows: 1, lines: [4] }] });
    expect(run.summary.refusedAtImport.note).toContain(note);
    const items = await recon.listItems(run.id);
    const payout = items.find((i) => i.rule === "payout_batch")!;
    expect(payout.evidence["reason"]).toBe(`the payout differs from the net of the rows it pays out. ${run.summary.refusedAtImport.note}`);
    expect(payout.evidence["refusedAtImport"]).toEqual({ rows: 1, imports: [{ importId: imp.id, rows: 1, lines: [4] }] });
  });

  it("checks Stripe rows: signs by category, UTC instants, customer-facing currency", async () => {
    const head = STRIPE.split("\n")[0]!;
    const ok = STRIPE.split("\n")[1]!;
    const text = [
      head,
      ok.replace(",29.99,1.17,28.82,charge,", ",-29.99,1.17,-31.16,charge,"),
      ok.replace("2025-03-03 09:00:00", "03/03/2025 09:00"),
      ok.replace(",usd,", ",usdx,"),
      ok.replace(",,,po_", ",12.00,zzz,po_"),
      ok.replace("txn_1QEntrepot0001", "txn_fine"),
    ].join("\n");
    const r = await recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(text) });
    expect(r.import.rowCount).toBe(1);
    const errors = await recon.listImportErrors(r.import.id);
    expect(errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [2, "gross", "sign"],
      [3, "created_utc", "date"],
      [4, "currency", "currency"],
    ]);
    expect(r.import.errorCount).toBe(4); // the fourth (line 5, customer_facing_currency) is counted, beyond the cap of 3
  });

  it("imports Stripe's default time-zone variant with the zone named, keeps it for runs, and refuses a conflicting zone", async () => {
    const local = [
      "balance_transaction_id,created,currency,gross,fee,net,reporting_category,source_id",
      "txn_tz_1,2025-03-03 18:00:00,usd,29.99,1.17,28.82,charge,ch_tz_1", // 09:00 UTC in Tokyo
      "txn_tz_2,2025-03-04 18:30:00,usd,-5.00,0.00,-5.00,refund,re_tz_2",
    ].join("\n");
    const refused = await failure(recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(local) }));
    expect(refused.code).toBe("ENT_RECON_REPORT_FORMAT");
    expect(refused.message).toMatch(/\?timezone=/);
    expect((await failure(recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(local), timeZone: "Mars/Olympus" }))).code).toBe("ENT_RECON_REPORT_FORMAT");
    const ok = await recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(local), timeZone: "Asia/Tokyo" });
    expect(ok.import).toMatchObject({ rowCount: 2, errorCount: 0, summary: { timeZone: "Asia/Tokyo" } });
    expect(ok.import.minOccurredAt?.toISOString()).toBe("2025-03-03T09:00:00.000Z");
    expect((await recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(local), timeZone: "Asia/Tokyo" })).status).toBe("exists");
    expect((await failure(recon.importReport({ format: "stripe_itemized_balance", body: bodyOf(local), timeZone: "Europe/Paris" }))).code).toBe("ENT_RECON_DUPLICATE_IMPORT");
    // A run reads the stored file again in the stored zone.
    const run = await recon.run({ importIds: [ok.import.id], from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-03-10T00:00:00Z") });
    expect(run.summary.reportRows).toBe(2);
  });

  it("refuses a file larger than the configured maximum", async () => {
    const small = new ReconciliationService({ repository: new ReconRepository(db.sql), settlement: { iterateForReconciliation: async function* () {} }, ledger: createLedger(db), maxImportBytes: 1000 });
    expect((await failure(small.importReport({ format: "adyen_settlement_details", body: bodyOf(ADYEN) }))).code).toBe("ENT_RECON_IMPORT_TOO_LARGE");
  });
});
