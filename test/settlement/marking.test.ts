/**
 * Marking settlement rows posted from concurrent batches that share rows (a gateway redelivering
 * an event while its first delivery is still in flight): row locks must be taken in one order, or
 * PostgreSQL aborts one batch with a deadlock (40P01). Found by the HTTP bench; kept as a test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture } from "./fixtures.js";
import { openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("marking overlapping batches posted on %s", (kind) => {
  let h: SettlementHarness;
  const keys: Array<{ eventKey: string; journalTransactionId: string }> = [];

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([
      { base: "BRL", quote: "USD", rate: "0.18", source: "test", asOf: new Date("2025-03-01T00:00:00Z"), validFrom: new Date("2025-03-01T00:00:00Z"), validUntil: new Date("2025-04-01T00:00:00Z") },
      { base: "USD", quote: "CNY", rate: "7.2", source: "test", asOf: new Date("2025-03-01T00:00:00Z"), validFrom: new Date("2025-03-01T00:00:00Z"), validUntil: new Date("2025-04-01T00:00:00Z") },
    ]);
    const events = Array.from({ length: 200 }, (_, i) =>
      capture({ gatewayEventId: `mark-${i}`, settlementId: `MARK-${i}`, sellerId: "S-POP-SZ-01" }),
    );
    const results = await h.settlement.postEvents(events);
    for (const r of results) {
      if (r.status === "error") throw new Error(r.error.message);
      keys.push({ eventKey: r.settlement.eventKey, journalTransactionId: r.transaction.id });
    }
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it("never deadlocks when two batches mark the same rows in opposite orders", async () => {
    const reversed = [...keys].reverse();
    for (let round = 0; round < 10; round++) {
      await expect(Promise.all([h.repository.setPostedMany(keys), h.repository.setPostedMany(reversed), h.repository.markPostedMany(keys)])).resolves.toBeDefined();
    }
  });
});
