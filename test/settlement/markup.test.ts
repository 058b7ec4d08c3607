/**
 * The configured FX markup is taken on every conversion, quoted or not (a seller's proceeds no
 * longer depend on whether the gateway asked for a quote), and every leg records the mid rate and
 * the markup it applied, in the breakdown and in the journal metadata.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("FX markup on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind, { markupBps: 150 });
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
  }, 120_000);
  afterAll(async () => h?.close());

  it("converts an unquoted capture at mid less the markup, like a quote, with the mid rate and markup as evidence", async () => {
    const at = new Date("2025-03-02T10:00:00Z");
    const unquoted = await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "mk-1", settlementId: "ORD-MK-1", occurredAt: at }));
    const quote = await h.fx.quote({ base: "BRL", quote: "USD", at: new Date("2025-03-02T09:59:50Z"), gateway: "adyen" });
    const quoted = await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "mk-2", settlementId: "ORD-MK-2", occurredAt: at, fxQuoteId: quote.id }));
    const [brlU, cnyU] = unquoted.settlement.fx;
    // 0.18 x (1 - 0.015) = 0.1773; 7.2 x 0.985 = 7.092
    expect([brlU!.rate, brlU!.midRate, brlU!.markupBps]).toEqual(["0.1773", "0.18", 150]);
    expect([cnyU!.rate, cnyU!.midRate, cnyU!.markupBps]).toEqual(["7.092", "7.2", 150]);
    expect(quoted.settlement.fx[0]!.rate).toBe(quote.allInRate);
    // Both legs are as old as the rate they were made of, quoted or not (not the quote's instant).
    expect([quoted.settlement.fx[0]!.asOf, brlU!.asOf]).toEqual(["2025-03-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z"]);
    // The same all-in rate either way: the seller gets the same proceeds.
    expect(Number(quote.allInRate)).toBeCloseTo(0.1773, 10);
    expect(quoted.settlement.breakdown.lines.sellerMain).toBe(unquoted.settlement.breakdown.lines.sellerMain);
    expect(unquoted.transaction.metadata).toMatchObject({ "fx.BRL-USD.rate": "0.1773", "fx.BRL-USD.midRate": "0.18", "fx.BRL-USD.markupBps": "150" });
    // Stored and read back with the evidence.
    const again = await h.settlement.getSettlement(unquoted.settlement.id);
    expect(again.fx[0]).toMatchObject({ midRate: "0.18", markupBps: 150 });
  });
});
