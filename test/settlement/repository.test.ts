/** The settlement tables through Prisma on a fresh database of each kind (PGlite, PostgreSQL). */
import { describe, expect, it } from "vitest";
import { FEE_SCHEDULES, MARKETS, PrismaSettlementRepository, TAX_RULES, planCapture, selectSchedule, selectTaxRule } from "../../service/settlement/index.js";
import { attachmentOf, type NewSettlementRecord } from "../../service/settlement/repository.js";
import { accountSpec } from "../../service/settlement/accounts.js";
import { createLedger } from "../../service/ledger/index.js";
import { freshDatabase, testDatabaseKinds } from "../support/db.js";
import { capture, rate } from "./fixtures.js";

const kinds = await testDatabaseKinds();
const seller = { id: "S-POP-1", name: "Pop", program: "pop" as const, payoutCurrency: "CNY", homeCountry: "CN" };

describe.each(kinds)("PrismaSettlementRepository on %s", (kind) => {
  it("round-trips program data idempotently and records with exact amounts and evidence", async () => {
    const db = await freshDatabase(kind);
    try {
      const repo = new PrismaSettlementRepository(db.prisma, db.sql);
      for (let i = 0; i < 2; i++) {
        await repo.saveMarkets(MARKETS);
        expect(await repo.saveTaxRules(TAX_RULES)).toEqual([]);
        expect(await repo.saveSchedules(FEE_SCHEDULES)).toEqual([]);
        await repo.saveSellers([seller]);
      }
      // A published version never changes: loaded again with other content (a later release's demo
      // data on a kept database), it stays as it was and its id is answered.
      const ioss = TAX_RULES.find((r) => r.id === "tax-ES-ioss-2021")!;
      expect(await repo.saveTaxRules([{ ...ioss, collectedBy: "seller", rateBps: 1000 }])).toEqual(["tax-ES-ioss-2021"]);
      const semi = FEE_SCHEDULES.find((x) => x.id === "semi-BR-2024")!;
      expect(await repo.saveSchedules([{ ...semi, commissionBps: semi.commissionBps + 1 }])).toEqual(["semi-BR-2024"]);
      expect(await repo.listMarkets()).toHaveLength(MARKETS.length);
      expect((await repo.listSchedules()).find((s) => s.id === "semi-BR-2024")).toEqual(FEE_SCHEDULES.find((s) => s.id === "semi-BR-2024"));
      expect((await repo.listTaxRules()).find((r) => r.id === "tax-ES-ioss-2021")).toEqual(TAX_RULES.find((r) => r.id === "tax-ES-ioss-2021"));
      expect(await repo.getSeller("S-POP-1")).toEqual({ ...seller, gateways: [] }); // onboarded without gateways: it accepts none

      const event = { ...capture(), amount: 123_456_789_012_345_678_901_234_567n };
      const schedule = selectSchedule(FEE_SCHEDULES, "pop", "BR", "home", event.occurredAt);
      const taxRule = selectTaxRule(TAX_RULES, "BR", event.occurredAt);
      if (schedule === null || taxRule === null) throw new Error("data");
      const plan = planCapture({ event, seller, schedule, taxRule, rates: { buyerToUsd: rate("BRL", "USD", "0.18", "Q-9"), usdToPayout: rate("USD", "CNY", "7.2") } });
      const rec: NewSettlementRecord = {
        eventKey: plan.idempotencyKey,
        captureKey: plan.idempotencyKey,
        sequence: 0,
        event,
        program: "pop",
        breakdown: plan.breakdown,
        refundedDelta: 0n,
        requestHash: "a".repeat(64),
        journalRequest: { idempotencyKey: plan.idempotencyKey, postings: plan.postings, metadata: plan.metadata, effectiveAt: plan.effectiveAt },
      };
      // The record is written by the ledger in its journal transaction's commit (ledger_attach).
      const ledger = createLedger(db);
      const post = (r: NewSettlementRecord) => {
        const accounts = [...new Map(r.journalRequest.postings.map((p) => [`${p.account}/${p.currency}`, accountSpec(p.account, p.currency)])).values()];
        return ledger.postBatch([{ ...r.journalRequest, accounts, attachment: attachmentOf(r) }]);
      };
      const [booked] = await post(rec);
      if (booked?.status !== "created") throw new Error(JSON.stringify(booked));
      const stored = await repo.findByEventKey(rec.eventKey);
      expect(stored?.status).toBe("posted");
      expect(stored?.journalTransactionId).toBe(booked.transaction.id);
      expect(stored?.event).toEqual(event);
      expect(stored?.breakdown).toEqual(plan.breakdown);
      // One settlement, one transaction: the record has the transaction's id and booking instant.
      expect(stored?.id).toBe(booked.transaction.id);
      expect(stored?.createdAt).toEqual(booked.transaction.bookedAt);
      // Another writer's record at the same capture sequence, or under the same event key: the
      // ledger refuses the item, and neither its record nor its transaction is written.
      for (const other of [
        { ...rec, eventKey: "other", journalRequest: { ...rec.journalRequest, idempotencyKey: "other" } },
        { ...rec, captureKey: "other", journalRequest: { ...rec.journalRequest, idempotencyKey: "other-2" } },
      ]) {
        const [refused] = await post(other);
        expect(refused).toMatchObject({ status: "error", error: { code: "ENT_LEDGER_RECORD_CONFLICT" } });
      }
      const counts = await db.sql.q<Array<{ n: bigint }>>(`SELECT count(*) AS n FROM ledger_transactions`);
      expect(counts[0]?.n).toBe(1n); // only the first: the refused items left no transaction behind
      expect((await repo.listChain(rec.eventKey)).map((r) => r.sequence)).toEqual([0]);

      // Every optional field set: the lookup by event key (the raw runner's named statement) reads
      // what Prisma reads (findById), exactly, and a batch lookup answers the keys that exist.
      const full = {
        ...event,
        gatewayEventId: "cap-full",
        fxQuoteId: "Q-9",
        originalEventId: "cap-0",
        supplyPrice: 98_765_432_109_876_543_210n,
        listingPrice: 12_345n,
        listingCurrency: "EUR",
        returnReason: "supplier_defect" as const,
        shipFrom: "CN",
        shipToRegion: "BR-SP",
        shipping: 990n,
        weightGrams: 2_600,
      };
      const fullRec: NewSettlementRecord = {
        ...rec,
        eventKey: "full",
        captureKey: "full",
        event: full,
        refundedDelta: 77n,
        journalRequest: { ...rec.journalRequest, idempotencyKey: "full" },
      };
      const [fullBooked] = await post(fullRec);
      if (fullBooked?.status !== "created") throw new Error(JSON.stringify(fullBooked));
      const byKey = await repo.findByEventKey("full");
      expect(byKey?.event).toEqual(full);
      expect(byKey?.refundedDelta).toBe(77n);
      expect(byKey).toEqual(await repo.findById(fullBooked.transaction.id));
      expect(stored).toEqual(await repo.findById(booked.transaction.id));
      const many = await repo.findByEventKeys(["full", rec.eventKey, "absent", "full"]);
      expect([...many.keys()].sort()).toEqual(["full", rec.eventKey].sort());
      expect(many.get("full")).toEqual(byKey);
      expect(await repo.findByEventKey("absent")).toBeNull();
      await ledger.drain();
    } finally {
      await db.close();
    }
  }, 60_000);
});
