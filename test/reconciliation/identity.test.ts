/**
 * An exception's identity across runs, with real-shaped Adyen "Settlement details report" files: two
 * charges of the same amount (DepositCorrection rows without a reference of their own, in other
 * batches on other days) are two exceptions, each booked once; the same row seen again (the same
 * report run again, or a later report that repeats it) still carries its resolution. On PGlite and
 * PostgreSQL, with the real ledger and settlement services.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { createLedger } from "../../service/ledger/index.js";
import type { Ledger } from "../../service/ledger/types.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { ReconciliationService, ReconRepository, type AdjustmentRequest, type ReconItem } from "../../service/reconciliation/index.js";
import { PrismaSettlementRepository, SettlementService } from "../../service/settlement/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { bodyOf } from "./harness.js";

const kinds = await testDatabaseKinds();

const HEADER =
  "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number,Reserved4,Reserved5,Reserved6,Reserved7,Reserved8,Reserved9,Reserved10";
const correction = (when: string, batch: number) => `EntrepotMarketplace,EntrepotMarketplaceEUR,,,,${when},CET,DepositCorrection,,,,,,EUR,5.00,,,,,,,,${batch},,,,,,,`;
const report = (...rows: string[]) => [HEADER, ...rows].join("\r\n") + "\r\n";
const DEC18 = { from: new Date("2024-12-18T00:00:00Z"), to: new Date("2024-12-19T00:00:00Z") };
const DEC27 = { from: new Date("2024-12-27T00:00:00Z"), to: new Date("2024-12-28T00:00:00Z") };

describe.each(kinds)("exception identity across runs on %s", (kind) => {
  let db: TestDatabase;
  let ledger: Ledger;
  let recon: ReconciliationService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    ledger = createLedger(db);
    const fx = new FxService(new PrismaFxRepository(db.prisma));
    const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
    recon = new ReconciliationService({ repository: new ReconRepository(db.sql), settlement, ledger });
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  async function runOver(text: string, period: { from: Date; to: Date }): Promise<{ runId: string; item: ReconItem }> {
    const imported = await recon.importReport({ format: "adyen_settlement_details", body: bodyOf(text) });
    const run = await recon.run({ importIds: [imported.import.id], ...period });
    const items = (await recon.listItems(run.id)).filter((i) => i.category === "gateway_cost");
    expect(items).toHaveLength(1);
    return { runId: run.id, item: items[0]! };
  }

  const proposed = (item: ReconItem): AdjustmentRequest => {
    const p = (item.evidence as { proposedAdjustment: { postings: Array<{ account: string; currency: string; direction: "debit" | "credit"; amount: string }> } }).proposedAdjustment;
    return { postings: p.postings.map((x) => ({ ...x, amount: BigInt(x.amount) })) };
  };

  it("books a second charge of the same amount in another batch on its own, and carries each resolution to its own row only", async () => {
    const first = await runOver(report(correction("2024-12-18 20:00:00", 200)), DEC18);
    const booked = await recon.resolve(first.runId, first.item.seq, { note: "Adyen deposit correction batch 200", adjustment: proposed(first.item) });
    expect(booked.status).toBe("created");

    // Another charge: same amount, no reference of its own, batch 300, nine days later.
    const second = await runOver(report(correction("2024-12-27 20:00:00", 300)), DEC27);
    expect(await recon.listResolutions(second.runId)).toEqual([]);
    const again = await recon.resolve(second.runId, second.item.seq, { note: "Adyen deposit correction batch 300", adjustment: proposed(second.item) });
    expect(again.status).toBe("created");
    expect(again.transaction!.id).not.toBe(booked.transaction!.id);
    expect((await ledger.listTransactions({ metadata: { source: "reconciliation" } })).items).toHaveLength(2);

    // The batch 200 row seen again, in a later report that repeats it beside another row: carried.
    const repeat = await recon.importReport({
      format: "adyen_settlement_details",
      body: bodyOf(report(correction("2024-12-18 20:00:00", 200), correction("2024-12-28 09:00:00", 301))),
    });
    const rerun = await recon.run({ importIds: [repeat.import.id], ...DEC18 });
    const [seen] = (await recon.listItems(rerun.id)).filter((i) => i.category === "gateway_cost");
    const carried = await recon.listResolutions(rerun.id);
    expect(carried).toHaveLength(1);
    expect(carried[0]).toMatchObject({ itemSeq: seen!.seq, journalTransactionId: booked.transaction!.id });
    expect(carried[0]!.note).toMatch(new RegExp(`^carried from run ${first.runId} item ${first.item.seq}: `));
    let code = "";
    try {
      await recon.resolve(rerun.id, seen!.seq, { note: "booked again?", adjustment: proposed(seen!) });
    } catch (e) {
      if (!isAppError(e)) throw e;
      code = e.code;
    }
    expect(code).toBe("ENT_RECON_RESOLUTION_CONFLICT");
    expect((await ledger.listTransactions({ metadata: { source: "reconciliation" } })).items).toHaveLength(2);

    // The exception queue lists the two charges apart, both resolved.
    const queue = await recon.listExceptions({ category: "gateway_cost" });
    expect(queue.entries.map((e) => e.status)).toEqual(["resolved", "resolved"]);
  });
});
