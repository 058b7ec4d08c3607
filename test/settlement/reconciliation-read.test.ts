/**
 * SettlementService.iterateForReconciliation: the compact read of a gateway's records over a time
 * window, page by page (keyset), that reconciliation uses instead of the settlements table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReconciliationRecord } from "../../service/settlement/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, followUp } from "./fixtures.js";
import { openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("iterateForReconciliation on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    const validFrom = new Date("2025-03-01T00:00:00Z");
    const validUntil = new Date("2025-04-01T00:00:00Z");
    await h.fx.publishRates([
      { base: "BRL", quote: "USD", rate: "0.18", source: "test", asOf: validFrom, validFrom, validUntil },
      { base: "USD", quote: "CNY", rate: "7.2", source: "test", asOf: validFrom, validFrom, validUntil },
    ]);
    const caps = Array.from({ length: 5 }, (_, i) =>
      capture({ gatewayEventId: `cap-${i}`, settlementId: `ORD-${i}`, sellerId: "S-POP-SZ-01", category: "electronics", occurredAt: new Date(Date.UTC(2025, 2, 2 + i, 10)) }),
    );
    for (const c of caps) await h.settlement.postEvent(c);
    await h.settlement.postEvent(followUp("refund", "ref-1", { amount: 1000n }, caps[1]));
    await h.settlement.postEvent(followUp("release", "rel-1", {}, caps[2]));
    await h.settlement.postEvent(capture({ gateway: "stripe", gatewayEventId: "ch_1", settlementId: "ORD-S", sellerId: "S-POP-SZ-01", category: "electronics", occurredAt: new Date("2025-03-03T10:00:00Z") }));
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  async function all(opts: Parameters<typeof h.settlement.iterateForReconciliation>[0]): Promise<ReconciliationRecord[][]> {
    const pages: ReconciliationRecord[][] = [];
    for await (const page of h.settlement.iterateForReconciliation(opts)) pages.push(page);
    return pages;
  }

  it("reads one gateway's reported event types in [from, to), in pages, with amounts, journal ids and the recorded FX rate", async () => {
    const pages = await all({ gateway: "adyen", from: new Date("2025-03-03T00:00:00Z"), to: new Date("2025-03-06T10:00:00Z"), batchSize: 2 });
    expect(pages.map((p) => p.length)).toEqual([2, 2]);
    const rows = pages.flat();
    expect(rows.map((r) => r.gatewayEventId)).toEqual(["cap-1", "cap-2", "cap-3", "ref-1"]);
    const cap1 = rows[0]!;
    expect(cap1).toMatchObject({ type: "capture", settlementId: "ORD-1", currency: "BRL", amount: 10_000n, gatewayFee: 350n, buyerToUsdRate: "0.18", market: "BR", originalEventId: null });
    expect(cap1.journalTransactionId).toMatch(/^\d+$/);
    expect(cap1.occurredAt.toISOString()).toBe("2025-03-03T10:00:00.000Z");
    expect(rows[3]).toMatchObject({ type: "refund", amount: 1000n, originalEventId: "cap-1" });
    // Releases are internal: not what a gateway reports.
    expect(rows.some((r) => r.type === "release")).toBe(false);
  });

  it("filters by gateway and by type", async () => {
    const stripe = (await all({ gateway: "stripe", from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-04-01T00:00:00Z") })).flat();
    expect(stripe.map((r) => r.gatewayEventId)).toEqual(["ch_1"]);
    const refunds = (await all({ gateway: "adyen", from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-04-01T00:00:00Z"), types: ["refund"] })).flat();
    expect(refunds.map((r) => r.gatewayEventId)).toEqual(["ref-1"]);
  });
});
